"""Trusted side (staff tooling): the course's own settings, course.toml, and what follows from them.

    config.py       course.toml read and checked whole before anything runs: Course, its typed tables and defaults
    late.py         the late policy, per-student extensions, and submission times only from where staff put them
    logistics.py    the handout's course logistics, filled in from course.toml at release
    hint_policy.py  which misconception hints a student sees, and when (course.toml's [hints])
"""
