"""Trusted side (staff tooling): the course's workflow built on grader/core, one folder per job.

    course/       course.toml, checked whole, and what follows from it: the late policy, the handout's
                  logistics, which hints students see
    grading/      a class graded into the gradebook (local or Ray jobs, reviewed regrades, the console's
                  scores), or one submission at a time inside Gradescope
    report/       a class's results -> what the LMS, the students and the staff read
    written/      staff marks of the written explanations (a gradebook table), and their marking page
    similarity/   which submissions of a class look copied from each other, and its report
    qa/           are the suites sound enough to release: run on our own code, mutants, the hints measured
    release/      the student bundle, and the checks it must pass before release
    templates/    the pages' Jinja templates and stylesheet (report/, written/ and similarity/ render them)

Staff tooling never runs student code itself: a submission is graded by grader/core, in the sandbox.
Imports run down the layers commands -> staff -> core (tests/project/test_layout.py); these package
files import nothing, so a module of one folder may import another folder's without a cycle.
"""
