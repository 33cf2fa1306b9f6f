"""The grader: scores submissions without trusting them.

Trusted side (never imports student code), each layer importing only the ones below it:
    commands/   the CLI, one module per `python -m grader` command
    staff/      the course's workflow, one folder per job: course.toml, a class into the gradebook, reports,
                written marks, similarity, QA of the suites, the release
    core/       one submission: intake, the sandbox, the suites' plugin, rubric, results.json
Untrusted side (runs next to student code, in the sandbox): worker/.
The protocol between them, imported by both: protocol/ (the wire).
"""

__version__ = "0.1.0"

# The grader runs from its checkout: the reference (solutions/), the suites (tests/) and the seam
# between them and the code under test (seam/) are never packaged (a wheel would put them in
# site-packages, which the sandbox binds), so they are importable from the checkout beside this
# package, whatever the working directory.
import os as _os
import sys as _sys

_CHECKOUT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not all(_os.path.isfile(_os.path.join(_CHECKOUT, *path)) for path in (("tests", "conftest.py"), ("seam", "__init__.py"))):
    raise ImportError(
        f"the grader in {_CHECKOUT} is not a checkout (no tests/ and seam/ beside it): install it with "
        "`pip install -e .` from the project's checkout; wheels carry neither the reference nor the suites"
    )
if _CHECKOUT not in _sys.path:
    _sys.path.append(_CHECKOUT)
