"""Oracles: the trusted side's expected values (PyTorch's own runs, measurements of real
networks), computed in the test's process. Never imported by a driver, never preloaded into
the sandbox's zygote (grader/core/zygote_fork.py refuses to fork with one loaded), never shipped
in the student bundle: the public suite gets its expectations as numbers
(tests/public/expected_values.json, written by `python -m tests.oracles.public_values`).
"""
