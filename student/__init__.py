"""What the student bundle ships besides the stubs: `python -m submit` and `questions.py`.

The grader imports `student.questions` too (the draws of the written part's numbers and the
reading of an answers file): one copy of that code, the repository's, never a student's.
"""
