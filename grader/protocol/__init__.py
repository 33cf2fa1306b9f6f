"""The protocol between the grader and its workers (wire.py; its bounds in bounds.py): plain data as JSON plus raw tensor bytes,
decoded within bounds and never by running code. Imported by both sides; imports neither.
"""
