"""TRUSTED SIDE: grading one submission, end to end (intake, the sandbox, the suites' plugin, the rubric, results.json).

Nothing here runs student code: the worker (grader/worker/) does, behind the walls this package raises.
It never imports the staff's tools (grader/staff/) or the suites (tests/): tests/project/test_layout.py checks.
"""
