"""Trusted side (staff tooling): the student bundle, and the checks it must pass before release.

    bundling.py       build_bundle: assignment/ stubs + tests/public/ + what those tests import +
                      handout.md, a student pyproject.toml and README, `python -m submit`
                      (student/submit.py) with the stubs' names and signatures (stub_api): a folder and a .zip
    leak_check.py     find_leaks: reference code, hidden tests, rubric or solution files that reached it,
                      and the formulas and answers students must derive (rules.toml's [[formula]]);
                      allowed: the staff's named exceptions (rules.toml's [[allow]])
    behaviour.py      find_behaviour_leaks: any function of the bundle that can stand in for an API
                      function (passes its public tests, or gives the reference's answers): run by
                      leak_probe.py in a scratch copy of the bundle, in a fresh interpreter
    leak_probe.py     the probe, a script importing nothing of grader: one pytest session over the
                      public suite on the reference, and step 4 (each candidate in the function's place)
    probe_recording.py   step 1: which public tests call each API function, and copies of their calls
    probe_candidates.py  step 2: the bundle's functions and classes whose signatures take those calls
    probe_replay.py      step 3: each candidate called next to the reference on the same copies
    probe_values.py      the probe's values as plain data, compared without trusting them
    probe_limits.py      the probe's time limit on a call, and the file descriptors it closed put back
    install_check.py  check_install: unzip it into a fresh virtual environment, install it with the
                      student's one command, and run its `pytest`: the public suite must run, and fail

Staff tooling never imports student code; the bundle's code is only parsed here (ast), and run
only by the probe, in a child process.
"""
