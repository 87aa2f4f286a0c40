#!/usr/bin/env bash
# Create the peer servers' virtualenvs for `make bench` (never for install/test/CI):
#   bench/.venv-mlserver  B3: MLServer 1.7.1 + onnxruntime   (bench/requirements-mlserver.txt)
#   bench/.venv-pytriton  B4: nvidia-pytriton 0.7.0 (Triton 2.51, numpy<2) + onnxruntime
#                             (bench/requirements-pytriton.txt)
#   bench/.venv-perf      perf_analyzer: the binary of the tritonclient 2.41.0 wheel and the
#                         CUDA runtime library it links (bench/requirements-perf.txt, no deps),
#                         with Debian's libb64-0d (apt-get, when missing)
# Each is rebuilt only when its pinned requirements file is newer than the venv's stamp.
# A failed install leaves no stamp; the bench then reports that baseline as not run, with
# the error, instead of dropping it.
set -uo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
status=0
# perf_analyzer links libb64.so.0d (Debian's libb64-0d).
if ! ldconfig -p 2>/dev/null | grep -q 'libb64\.so\.0d'; then
  echo "bench: installing libb64-0d (perf_analyzer needs it)"
  SUDO=""
  [[ $(id -u) == 0 ]] || SUDO="sudo"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq libb64-0d; } >/dev/null 2>&1 \
    || echo "bench: apt-get install libb64-0d FAILED; perf_analyzer points will be reported as not run" >&2
fi
for name in ${BENCH_VENVS:-perf mlserver pytriton}; do
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
    && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      $([[ $name == perf ]] && echo --no-deps) -r "$req" \
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
