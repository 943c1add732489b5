#!/usr/bin/env bash
# Check a bare CUDA machine, offline, in a few minutes: bash bench/gpu_check.sh  (see bench/gpu_check.py)
#
# The machine has Python 3.12, torch (CUDA), transformers, peft, accelerate and safetensors, and no network.
# What the studio needs beyond those travels with the repository as wheels in .cache/wheels/ (ignored by git;
# 46 MB, under the 64 MiB that may travel). Fetch them once on a machine with PyPI:
#   pip download bitsandbytes==0.50.2 --no-deps --only-binary=:all: --platform manylinux_2_24_x86_64 \
#       --python-version 3.12 -d .cache/wheels
#   pip download pytest==9.0.3 phonenumbers==9.0.43 pyap2==0.2.20 --only-binary=:all: \
#       --platform manylinux_2_24_x86_64 --python-version 3.12 -d .cache/wheels
# (bitsandbytes: 4-bit QLoRA; pytest: the GPU tests; phonenumbers and pyap2: the cleaning's privacy step,
# imported by training.) A package already installed is left as it is; one without a wheel is reported by
# gpu_check.py as a skipped row, or as the import that failed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
WHEELS=.cache/wheels
export HF_HUB_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

install() {  # install PACKAGE (module MODULE) from the carried wheels, unless it imports already
  local package=$1 module=$2
  if "$PYTHON" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$module') is None)"; then
    return 0
  fi
  if ls "$WHEELS"/"${package//-/_}"-*.whl >/dev/null 2>&1 || ls "$WHEELS"/"$package"-*.whl >/dev/null 2>&1; then
    echo "installing $package from $WHEELS"
    "$PYTHON" -m pip install -q --no-index --find-links "$WHEELS" "$package" \
      || echo "warning: $package did not install from $WHEELS"
  else
    echo "note: $package is not installed and $WHEELS has no wheel for it (see the top of this script)"
  fi
}

install bitsandbytes bitsandbytes
install pytest pytest
install phonenumbers phonenumbers
install pyap2 pyap
exec timeout 600 "$PYTHON" bench/gpu_check.py "$@"
