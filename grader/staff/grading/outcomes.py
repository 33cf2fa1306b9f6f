"""Trusted side (staff tooling): the words every staff output uses for what happened to a submission.

One vocabulary for the gradebook, grades.csv, the reports, the console and the README:

- outcome, exactly one per student:
  graded        the suites ran; the score stands (whatever the code did inside them);
  unreadable    the submission could not be read (an empty folder, no assignment/, a corrupt
                .zip): 0 points with the reason, kept until the submission changes;
  grader error  the grader itself failed: never a grade; the next run grades the student again.
- faults of the student's code, apart from integrity (a graded submission may have any):
  crash         the process running the code died (a signal, an exit in the middle of a call);
  hang          a call ran over its time limit and was stopped;
  memory        the code ran out of its memory allowance.
- integrity flags: everything else the sandbox or the intake saw (an import of the reference, a
  read outside the submission, a patched comparison, a manifest that does not match...), by kind.

A fault costs the tests it happened in and says nothing about honesty; an integrity flag is for
staff to look at. Flags arrive with a `kind` (grader/core, grader/worker); the kinds that are
faults are listed here, and every other kind, an unknown one included, counts as integrity.
"""

from __future__ import annotations

GRADED, UNREADABLE, GRADER_ERROR = "graded", "unreadable", "grader error"
OUTCOMES = (GRADED, UNREADABLE, GRADER_ERROR)
DECIDED = (GRADED, UNREADABLE)  # outcomes the next run keeps; a grader error is graded again

# flag kind -> the fault's word
FAULT_OF_KIND = {"crash": "crash", "exit": "crash", "timeout": "hang", "memory": "memory"}
FAULTS = ("crash", "hang", "memory")


def is_fault(flag: dict) -> bool:
    return str(flag.get("kind")) in FAULT_OF_KIND


def faults(flags: list[dict]) -> dict[str, int]:
    """fault word -> how many flags said so, in FAULTS' order."""
    counts = {word: 0 for word in FAULTS}
    for flag in flags:
        if is_fault(flag):
            counts[FAULT_OF_KIND[str(flag["kind"])]] += 1
    return {word: n for word, n in counts.items() if n}


def integrity(flags: list[dict]) -> list[dict]:
    """The flags that are not faults of the code."""
    return [flag for flag in flags if not is_fault(flag)]


def faults_text(counts: dict[str, int]) -> str:
    """`crash (2), hang (1)`; "" without faults."""
    return ", ".join(f"{word} ({n})" for word, n in counts.items())


def integrity_text(flags: list[dict]) -> str:
    """The integrity flags' kinds, each once, in order: `import-reference, read-outside`."""
    return ", ".join(sorted({str(flag.get("kind")) for flag in integrity(flags)}))
