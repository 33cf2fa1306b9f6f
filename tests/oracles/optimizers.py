"""Trusted expectations for problem 6: PyTorch's own optimizers through the very same driver.

tests/drivers/optimizers.py only drives whatever `optimizers` it is given; run here, in the
test's process, on torch.optim, it gives the trajectory PyTorch computes. (PyTorch's Adagrad
is another algorithm: AdaGrad's expectation is the reference's, or its formula.)
"""

import torch




class _TorchOptim:
    """PyTorch's own optimizers behind the implementation's interface (`TORCH.run(driver, ...)`),
    run here, in the test's process."""

    optimizers = torch.optim

    def run(self, driver, /, **inputs):
        return driver(self, **inputs)


TORCH = _TorchOptim()
