#!/usr/bin/env bash
# The GPU half of the kit's checks, in one call (issue 14): on a machine with torch (CUDA)
# preinstalled and no network, install the project without touching that torch, then run
# scripts/gpu_check.py: the suites on CUDA, the examples graded with the sandbox's worker
# on the GPU, measured_mfu against torch.matmul, the CUDA-only mutant, the sandbox's
# overhead and batch throughput with 1-16 workers. A table is printed last; logs and
# figures go to $OUT (default ./gpu-out). It stops itself inside 10 minutes.
#
#   scripts/gpu_check.sh --download-wheels   # HERE, with network: the packages the GPU image
#                                            # lacks (beartype) or has in another version
#                                            # (hypothesis: grading examples depend on it), into .whl/
#   scripts/gpu_check.sh [--write-results]   # THERE: the run (carry .whl); --write-results also
#                                            # prepends the table to bench/gpu-results.md
#   scripts/gpu_check.sh --cpu               # anywhere: the dry run, no CUDA, about a minute
#                                            # (installs nothing; tests/project/test_gpu_check.py runs it)
#
# On the device machine: run(command="scripts/gpu_check.sh", carry=[".whl"], timeout_s=600); the
# tree there does not come back, $OUT does: then, here,
#   python scripts/gpu_check.py --add-results FILES_AT/gpu-results.md   # prepends it to bench/gpu-results.md
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
PYTHON=${PYTHON:-$(command -v python3 || command -v python)}
WHEELS="beartype==0.23.1 hypothesis==6.155.2"

if [ "${1:-}" = --download-wheels ]; then
  mkdir -p .whl
  exec "$PYTHON" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl $WHEELS
fi

export OUT="${OUT:-$PWD/gpu-out}"
mkdir -p "$OUT"
dry=0
for arg in "$@"; do [ "$arg" = --cpu ] && dry=1; done

if [ "$dry" = 0 ]; then
  if ls .whl/*.whl >/dev/null 2>&1; then
    # A folder named *-packages: the sandbox binds such sys.path folders into the worker's root.
    site=/tmp/gpu-check/site-packages
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl \
      >"$OUT/install.log" 2>&1 || echo "the carried wheels did not install (see install.log)"
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
  fi
  # --no-deps and no index: the preinstalled torch (and everything else there) stays as it is.
  "$PYTHON" -m pip install -q --no-deps --no-build-isolation --no-index -e . >>"$OUT/install.log" 2>&1 \
    || echo "pip install -e . failed (see install.log): the checkout is used through PYTHONPATH"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

# The whole run inside 10 minutes: the budget counts the install already spent; timeout is the backstop.
exec timeout -k 10 $((580 - SECONDS)) "$PYTHON" scripts/gpu_check.py --budget $((550 - SECONDS)) "$@"
