"""The grader: scores submissions without trusting them.

Trusted side (never imports student code): cli, grade, plugin, sandbox, rubric, results.
Untrusted side (runs next to student code, in the sandbox): worker/.
The protocol between them, imported by both: wire.
"""

__version__ = "0.1.0"
