"""What the grader uses that Python 3.10 lacks (the project supports 3.10+: Gradescope's
Ubuntu 22.04 image ships 3.10). One place, so the rest imports these names plainly."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup

    import tomllib
else:  # the backports pyproject.toml installs there (exceptiongroup is pytest's own)
    import tomli as tomllib
    from exceptiongroup import BaseExceptionGroup

__all__ = ["BaseExceptionGroup", "add_note", "tomllib"]


def add_note(exception: BaseException, note: str) -> None:
    """`exception.add_note(note)`; on 3.10, the same `__notes__` list pytest prints."""
    if hasattr(exception, "add_note"):
        exception.add_note(note)
    else:
        exception.__notes__ = [*getattr(exception, "__notes__", []), note]
