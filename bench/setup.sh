#!/usr/bin/env bash
# Create the peer servers' virtualenvs for `make bench` (never for install/test/CI):
#   bench/.venv-mlserver  B3: MLServer 1.7.1 + onnxruntime   (bench/requirements-mlserver.txt)
#   bench/.venv-pytriton  B4: nvidia-pytriton 0.7.0 (Triton 2.51, numpy<2) + onnxruntime
#                             (bench/requirements-pytriton.txt)
# Each is rebuilt only when its pinned requirements file is newer than the venv's stamp.
# A failed install leaves no stamp; the bench then reports that baseline as not run, with
# the error, instead of dropping it.
set -uo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
status=0
for name in mlserver pytriton; do
  venv=".venv-$name"
  req="requirements-$name.txt"
  stamp="$venv/.installed"
  if [[ -f "$stamp" && "$stamp" -nt "$req" ]]; then
    echo "bench/$venv: up to date"
    continue
  fi
  echo "bench/$venv: installing $req"
  rm -f "$stamp"
  if "$PYTHON" -m venv "$venv" \
    && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip \
    && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" \
      >"$venv/install.log" 2>&1; then
    touch "$stamp"
  else
    echo "bench/$venv: install FAILED (see bench/$venv/install.log); that baseline will be reported as not run" >&2
    status=1
  fi
done
# A failed peer install must not stop the rest of the benchmark (exit 0 either way).
[[ $status == 0 ]] || echo "bench/setup.sh: some peer venvs failed; the report will say why" >&2
exit 0
