#!/usr/bin/env bash
# One short GPU session, prepared in advance (issue 11: the general denoiser larger and longer).
#
# A GPU is lent in short leases (15 minutes of device time in all, 10 minutes a command): this script
# does in one command what only a GPU can, and leaves the rest (BM3D baselines, the book) to the CPU.
#
#   here, before the lease:  bash benchmarks/gpu_session.sh prepare
#       downloads the packages the GPU image lacks as Python 3.12 wheels into .whl/ (ignored by git)
#       and writes the commit into .whl/COMMIT, since the tree sent to the GPU has no .git
#   on the GPU machine:      OUT=<folder> MINUTES=5 bash benchmarks/gpu_session.sh run
#       1. trains a wider general denoiser from random weights (CHANNELS, default 64 128 256 256;
#          BATCH, default 256) for MINUTES -> $OUT/denoiser_general_gpu.pt (record: device, commit, images/s)
#       2. scores it against the shipped model on the validation pseudo-proteins (general-select)
#          -> $OUT/general_selection.json (the test proteins and apoferritin take no part)
#       3. times inference on the GPU -> $OUT/denoise.json
#   back here: if step 2 says it replaces the shipped model, follow benchmarks/README.md ("A new general
#   model replaces ...") and re-record general-eval and cluster-eval on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=(mrcfile==1.5.4 starfile==0.5.13 gemmi==0.7.5 bm3d==4.0.3 bm4d==4.2.5 pywavelets==1.10.0)

case "${1:-}" in
prepare)
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    mkdir -p .whl
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl "${WHEELS[@]}"
    # the commit as cdae_lite.runtime.git_commit words it: "-dirty" when tracked files outside results/ differ
    commit=$(git rev-parse HEAD)
    if [ -n "$(git status --porcelain --untracked-files=no -- . ':(exclude)results')" ]; then
        commit="$commit-dirty"
        echo "warning: uncommitted changes; the GPU records will name $commit (stated)" >&2
    fi
    echo "$commit" > .whl/COMMIT
    ls .whl
    echo "now: run with carry [\".whl\"]: OUT=\$OUT MINUTES=5 bash benchmarks/gpu_session.sh run"
    ;;
run)
    : "${OUT:?set OUT to the folder that comes back}"
    MINUTES=${MINUTES:-5}
    CHANNELS=${CHANNELS:-64 128 256 256}
    BATCH=${BATCH:-256}
    DEVICE=${DEVICE:-cuda}  # DEVICE=cpu tries the script here first, with MINUTES=0.1 and CHANNELS="8 16 16 16"
    if [ -d .whl ]; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site .whl/*.whl
        export PYTHONPATH=/tmp/site
        [ -f .whl/COMMIT ] && export CDAE_COMMIT=$(cat .whl/COMMIT)
    fi
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 CDAE_PROFILE=full
    mkdir -p "$OUT"
    { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"; } \
        | tee "$OUT/gpu.txt"
    start=$(date +%s)
    # shellcheck disable=SC2086  # CHANNELS is four words on purpose
    python3 -m cdae_lite.paper general --profile full --device "$DEVICE" --minutes "$MINUTES" \
        --channels $CHANNELS --batch-size "$BATCH" --out "$OUT/denoiser_general_gpu.pt" 2>&1 | tr '\r' '\n' | tail -n 20
    echo "trained in $(( $(date +%s) - start )) s"
    python3 -m cdae_lite.paper general-select --profile full --device "$DEVICE" --init "$OUT/denoiser_general_gpu.pt" \
        --out "$OUT/general_selection.json" --notes "benchmarks/gpu_session.sh: $(head -1 "$OUT/gpu.txt" 2>/dev/null)"
    python3 benchmarks/denoise.py --devices "$DEVICE" --sizes 64 --json "$OUT/denoise.json"
    echo "session finished in $(( $(date +%s) - start )) s"
    ;;
*)
    echo "usage: bash benchmarks/gpu_session.sh prepare | run   (see the comment at the top)" >&2
    exit 2
    ;;
esac
