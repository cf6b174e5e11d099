# Sourced by gpu_check.sh and gpu_profile.sh from the repository root: the output folder, and scam from this
# source tree, with Python packages missing on the GPU machine installed from wheels in .whl/ (into /tmp/site).
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
if ls .whl/*.whl > /dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
