#!/usr/bin/env bash
# The prepared GPU check (issue 26): see tools/gpu_check.py for the steps and the JSON it writes.
#
#   tools/gpu_check.sh OUT                  on a CUDA machine: every step, at most 6 minutes
#   tools/gpu_check.sh --device cpu OUT     the rehearsal on the CPU, under 10 minutes
#   tools/gpu_check.sh --prepare [DIR]      beforehand, with a network: peers + wheels into .peer/
#
# The Python that runs it: $PY if set (e.g. a GPU machine's own python3 with its CUDA torch),
# else the project's .venv, else python3. It needs torch; the rest comes from the prepared wheels.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PY:-}" ]; then
    if [ -x "$root/.venv/bin/python" ]; then PY="$root/.venv/bin/python"; else PY=python3; fi
fi
exec "$PY" "$root/tools/gpu_check.py" --python "$PY" "$@"
