"""Trusted side (staff tooling): staff marks of the written explanations.

    written_marks.py  the marks, a gradebook table: who gave what for which text; stale once the text changes
    written_page.py   the marking page: one question across the class at a time, with the command that marks it
"""
