"""Trusted side (staff tooling): are the suites sound enough to release? Checked on the course's own code only.

    selfcheck.py      run the suites in-process on our own code (reference, stubs, mutants) and read the outcome
    validate.py       the reference earns every point, the stubs none, each mutant loses points in its own problem only
    mutation.py       a mutation run over the reference with mutmut 3: the mutants we did not think of
    hints_check.py    how good are the misconception hints? Measured on held-out slips, as grading does it
    record_plugin.py  the pytest plugin hints_check.py runs: grading's replies and hints, on our own code

No student code comes here: it is graded by grader/core, in the sandbox.
"""
