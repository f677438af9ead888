#!/usr/bin/env bash
# On the lent 16-core machine, from a copy of the project with .whl/ carried (wheels.sh):
# `course grade`'s scaling table, stock nbgrader beside it.
#
#   bash deploy/device/scale.sh                      # 128 submissions, 1, 4 and 16 workers
#   N=128 COUNTS="1 2 4 8 16" bash deploy/device/scale.sh --stock-n 2
#
# Arguments after the script's name go to the benchmark. PYTHON picks the interpreter
# (default python3, the machine's own, with its torch); WHEELS the carried wheels (.whl).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-python3}
wheels=${WHEELS:-.whl}
if [ -d "$wheels" ]; then
  site=${SITE:-/tmp/site}
  if ! log=$("$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$site" "$wheels"/*.whl 2>&1); then
    echo "$log" >&2
    exit 1
  fi
  # --target installs leave the kernelspec and nbgrader's scripts under the target.
  export PYTHONPATH="$site:$PWD" PATH="$site/bin:$PATH" JUPYTER_PATH="$site/share/jupyter"
fi
export PYTHONUNBUFFERED=1
echo "cores: $(nproc) · python: $("$python" -c 'import sys, torch, nbgrader; print(sys.version.split()[0], "· torch", torch.__version__, "· nbgrader", nbgrader.__version__)')"
# 128 submissions, 16 workers: one worker alone takes ~3 minutes there; the stock sample is
# kept small so that the whole table fits in one 10-minute call.
# shellcheck disable=SC2086
exec "$python" -m autograder.grading.benchmark --scale --n "${N:-128}" \
  --counts ${COUNTS:-1 4 16} --stock-n 4 "$@"
