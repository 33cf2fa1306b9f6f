"""Trusted side (staff tooling): grading a class, each submission through grader/core's sandbox.

    batch.py             the driver: discover a class's submissions, plan what is left, record each grade as it arrives
    executors.py         where the per-submission jobs run: local grading processes, or a Ray cluster
    interrupts.py        Ctrl-C and SIGTERM stop a staff command at once, never mid-write
    gradebook.py         the gradebook, one SQLite file that a whole class's grading goes into
    gradebook_schema.py  the gradebook's schema as migrations, each applied once, in order
    changeset.py         regrades as change sets that staff review before they count
    outcomes.py          the words for what happened: graded / unreadable / grader error; faults apart from flags
    scores.py            the class's scores as the console shows them (fits its width)
    gradescope.py        Gradescope's autograder.zip, and what runs inside it: one submission -> results.json
"""
