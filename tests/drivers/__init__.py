"""Drivers: our code that runs NEXT TO the implementation under test.

`impl.run(driver, **inputs)` runs one of these with the implementation: in the test's own
process for students (`pytest`), inside the sandboxed worker, beside student code, under the
grader. A driver builds inputs (models, optimizers, data, files), drives the student's
objects and returns what they did as plain data. In the worker it is as rewritable as the
student's own code, so what it returns is a claim, compared by the test with an expectation
computed on the trusted side (tests/oracles/, the reference, PyTorch, or numbers shipped in
tests/public/expected_values.json): no driver computes an expected value, holds an oracle or
imports one (tests/project/test_drivers.py checks this).

`fresh_process`: a driver that must find nothing of the calls before it. The grader runs it in
a new worker with an empty scratch folder, so all that reaches it from an earlier call is what
the trusted side passes on (a checkpoint file's bytes, a state_dict, sent back by that call): a
round trip then shows what really crossed, not a value remembered and returned twice.
"""


def fresh_process(driver):
    """Mark `driver` to be run in a process that has run nothing of the test before it."""
    driver.fresh_process = True
    return driver
