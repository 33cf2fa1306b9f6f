"""Trusted side: integrity flags, typed and bounded on arrival.

A flag the worker reports is a claim made by the student's process (its audit hook is
the student's to rewrite), so it is read here as data: its kind must be one of the
worker's own kinds (anything else is kept as `unknown-kind`), its detail is cut to a few
hundred characters, and the number kept is bounded per reply, per test and per
submission (what is left over is counted in one `too-many-flags` flag). Flags the trusted
side raises itself (a timeout, a SIGSYS, a refused reply, the intake's and the manifest's,
the rules' `tamper`) go through the same log and the same bounds.

Staff read every kept flag with its detail and test id (results.staff.json). The student
reads (results.json) a flag of a public test as it is, and a flag raised from the first
hidden test on as its kind and "hidden test N" only: a detail or a test id with its
parameters could spell out a hidden test's inputs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# What the worker's audit hook (grader/worker/audit.py) and loop (serve.py) report.
WORKER_KINDS = {
    "import-reference": "imported (or tried to) the reference, the tests or the grader",
    "read-outside": "read (or tried to) a file outside the submission and scratch",
    "write-outside": "wrote, deleted or changed (or tried to) a file outside scratch",
    "network": "opened (or tried to) a network socket",
    "subprocess": "started (or tried to) a process or program",
    "patched": "replaced a builtin or a comparison function in the worker",
    "exit": "called sys.exit()/raised SystemExit in a call",
    "unsafe-result": "returned something that is not plain data",
}
# What the trusted side sees for itself: no worker can raise or hide these.
GRADER_KINDS = {
    "timeout": "a call ran over its time limit and the worker was ended",
    "crash": "the worker died (a signal other than the filter's or the OOM killer's)",
    "exit": "the worker exited in the middle of a call",
    "syscall": "the seccomp filter killed the worker for a forbidden system call",
    "memory": "the worker ran out of memory (the cgroup's OOM kill, or a MemoryError)",
    "unsafe-result": "the decoder refused a reply (not plain data, or over a bound)",
    "link": "a symbolic link in the submission (never followed)",
    "special-file": "a named pipe, device or socket in the submission",
    "bad-submission": "a submission the intake refused (too many files, too big, a bomb)",
    "manifest-mismatch": "the files differ from those `python -m submit` packed",
    "tamper": "the staged source reaches into the grader rather than doing the assignment",
    "own-work": "the staged source delegates work the assignment asks to be the student's own",
    "unknown-kind": "the worker reported a kind outside its vocabulary (the text is in the detail, for staff)",
    "too-many-flags": "flags over the bounds were counted, not kept",
}
KINDS = {**GRADER_KINDS, **WORKER_KINDS}

MAX_KIND_CHARS = 100  # of an unknown kind's text, kept in the detail for staff
MAX_DETAIL_CHARS = 300
MAX_TEST_CHARS = 300
MAX_PER_REPLY = 20  # flags read from one reply; the rest are counted
MAX_PER_TEST = 10
MAX_PER_SUBMISSION = 100
HIDDEN_DETAIL = "raised during a hidden test (the detail is in the staff file)"


@dataclass
class FlagLog:
    """The flags of one submission: at most MAX_PER_SUBMISSION of them, and a count of the rest."""

    kept: list[dict] = field(default_factory=list)
    dropped: int = 0
    _per_test: Counter = field(default_factory=Counter)
    _seen: set = field(default_factory=set)

    def add(self, kind: str, detail: str, test: str | None, *, hidden: bool = False, source: str = "grader") -> None:
        """A flag the trusted side raises (`source` "grader"), or one read from a reply ("worker")."""
        if kind not in (WORKER_KINDS if source == "worker" else KINDS):
            detail = f"kind {str(kind)[:MAX_KIND_CHARS]!r}: {detail}"
            kind = "unknown-kind"
        entry = {
            "kind": kind,
            "detail": str(detail)[:MAX_DETAIL_CHARS],
            "test": None if test is None else str(test)[:MAX_TEST_CHARS],
            "hidden": bool(hidden),
            "source": source,
        }
        key = (entry["kind"], entry["detail"])
        if key in self._seen:
            return
        per_test = self._per_test[entry["test"]] if entry["test"] is not None else 0  # outside tests: the submission's bound only
        if len(self.kept) >= MAX_PER_SUBMISSION or per_test >= MAX_PER_TEST:
            self.dropped += 1
            return
        self._seen.add(key)
        self._per_test[entry["test"]] += 1
        self.kept.append(entry)

    def add_reported(self, reported, test: str | None, hidden: bool) -> None:
        """The flags one reply carries (a list the worker built: anything may be in it)."""
        if not isinstance(reported, list):
            self.add("unknown-kind", f"flags sent as a {type(reported).__name__}", test, hidden=hidden)
            return
        self.dropped += max(len(reported) - MAX_PER_REPLY, 0)
        for item in reported[:MAX_PER_REPLY]:
            item = item if isinstance(item, dict) else {}
            kind = item.get("kind")
            self.add(kind if isinstance(kind, str) else _text(kind), _text(item.get("detail")), test, hidden=hidden, source="worker")

    def extend(self, flags: list[dict], hidden: bool = False) -> None:
        """Flags the trusted side raised elsewhere ({"kind", "detail", "test"}: the intake's, the manifest's, the rules')."""
        for flag in flags:
            self.add(flag["kind"], flag.get("detail", ""), flag.get("test"), hidden=hidden or bool(flag.get("hidden")))

    def entries(self) -> list[dict]:
        """Every kept flag for staff, and one more saying how many were dropped."""
        if not self.dropped:
            return list(self.kept)
        summary = f"{self.dropped} more flag(s) over the bounds ({MAX_PER_REPLY} a reply, {MAX_PER_TEST} a test, {MAX_PER_SUBMISSION} a submission) were dropped"
        return [*self.kept, {"kind": "too-many-flags", "detail": summary, "test": None, "hidden": False, "source": "grader"}]

    def for_student(self, hidden_names: dict[str, str]) -> list[dict]:
        """The flags as results.json shows them. `hidden_names`: a hidden test's id -> "hidden test N" (its problem's numbering)."""
        return [_for_the_student(flag, hidden_names) for flag in self.entries()]


def _for_the_student(flag: dict, hidden_names: dict[str, str]) -> dict:
    if not flag["hidden"]:
        return {"kind": flag["kind"], "detail": flag["detail"], "test": flag["test"]}
    name = hidden_names.get(flag["test"], "a hidden test") if flag["test"] is not None else None
    return {"kind": flag["kind"], "detail": HIDDEN_DETAIL, "test": name}


def _text(value) -> str:
    return value[:MAX_DETAIL_CHARS] if isinstance(value, str) else f"<a {type(value).__name__}>"
