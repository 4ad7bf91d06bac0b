#!/usr/bin/env bash
# Times a cold install of the lock (requirements/dev.lock) plus servicewire itself (editable)
# into a fresh venv, with each installer's cache emptied: PIP_CACHE_DIR and UV_CACHE_DIR point
# at new empty folders, removed afterwards. Run from the checkout (it downloads ~190 MB):
#
#   bash requirements/cold_install.sh pip           # pip install --require-hashes (the pip-tools way)
#   bash requirements/cold_install.sh uv            # pinned uv, uv pip sync --require-hashes (make test's way)
#   bash requirements/cold_install.sh uv-bytecode   # the same with --compile-bytecode, as pip does
#
# The time excludes creating the venv (the same for all three) and includes installing uv itself.
set -euo pipefail
tool=${1:?usage: cold_install.sh pip|uv|uv-bytecode}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PIP_CACHE_DIR=$work/pip-cache UV_CACHE_DIR=$work/uv-cache
python3 -m venv "$work/venv"
py=$work/venv/bin/python
start=$(date +%s.%N)
case $tool in
  pip)
    "$py" -m pip install -q --require-hashes -r requirements/dev.lock
    "$py" -m pip install -q --no-deps --no-build-isolation -e . ;;
  uv|uv-bytecode)
    compile=""; [ "$tool" = uv-bytecode ] && compile=--compile-bytecode
    "$py" -m pip install -q --require-hashes --no-deps -r requirements/installer.lock
    "$work/venv/bin/uv" pip sync -q $compile --python "$py" --require-hashes requirements/dev.lock
    "$work/venv/bin/uv" pip install -q $compile --python "$py" --no-deps --no-build-isolation -e . ;;
  *) echo "unknown tool $tool" >&2; exit 2 ;;
esac
end=$(date +%s.%N)
"$py" -c "import container, channels, registry, msgspec, pytest, mypy, twine"
printf '%s: %.1f s (load average %s)\n' "$tool" "$(echo "$end - $start" | bc)" "$(cut -d' ' -f1 /proc/loadavg)"
