#!/usr/bin/env bash
# npm run bench:gpu — the engine against diffusers on one GPU (bench/README.md says how to call it on
# the GPU machine). Phases, in order, default all; each may be its own call on a warm machine, since
# they share $BENCH_GPU_DIR (default /tmp/sd15-bench; the ONNX export is kept there, marked done):
#   export   SD1.5-architecture random weights -> sd15-fp32/ and sd15-fp16/ ONNX folders (sd15.py)
#   torch    diffusers eager / torch.compile / DeepCache helper rows (torch_bench.py)
#   cuda     the engine's CUDA rows;  converted  the engine's fp16 conversion of the fp32 folder (minutes, first run)
#   webgpu   WebGPU + the embedded model;  tf32off   fp32, TF32 off
#   report   the table with PSNR (the images stay here): $OUT/results-gpu.md + .json (OUT defaults to bench/)
# Each phase checks what it needs from earlier calls (the export, the CUDA provider) and says what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${BENCH_GPU_DIR:-/tmp/sd15-bench}
DEST=${OUT:-bench}
PHASES=${*:-export torch cuda converted webgpu tf32off report}
mkdir -p "$WORK/images"

# torch brings its own CUDA libraries: the kit's LD_LIBRARY_PATH (for onnxruntime) can shadow them
PY_LD_PATH=${LD_LIBRARY_PATH-}
# the GPU machine's kit (node, onnxruntime-node, diffusers); its Python part alone when only that travelled
if [ -f .devkit/setup.sh ] && { [ -f .devkit/node.xz ] || [ -x /tmp/devkit/bin/node ]; }; then
  set +eu; source .devkit/setup.sh; set -eu
elif [ -f .devkit/diffusers-src.tar.xz ] || [ -d /tmp/devkit/site/diffusers ]; then
  mkdir -p /tmp/devkit/site
  [ -d /tmp/devkit/site/diffusers ] || { tar xJf .devkit/diffusers-src.tar.xz -C /tmp/devkit/site; cp .devkit/deepcache_helper.py /tmp/devkit/site/; }
  export PYTHONPATH="/tmp/devkit/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
fi
# the kit's CUDA provider, assembled by setup.sh once every part was staged (bench/README.md)
KIT_CUDA=/tmp/devkit/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so
need_cuda() {
  if [ -d /tmp/devkit/node_modules ] && [ ! -f "$KIT_CUDA" ]; then
    echo "$1: the CUDA provider is not assembled (staged parts: $(ls /tmp/devkit/cuda-stash 2>/dev/null | grep -c '^part\.') of $(cat /tmp/devkit/cuda-stash/count 2>/dev/null || echo '?')); stage .devkit-cuda-N first"; exit 1
  fi
}
BUNDLE=.benchkit/bench-gpu.mjs
case " $PHASES " in *" cuda "*|*" converted "*|*" webgpu "*|*" tf32off "*|*" report "*)
  command -v node >/dev/null || { echo "no node: carry .devkit/setup.sh with .devkit/node.xz, or stage node first (bench/README.md)"; exit 1; }
  [ -f "$BUNDLE" ] || node bench/gpu/build.mjs ;;
esac
engine() {  # one engine process for a group of rows
  node "$BUNDLE" engine --group "$1" --models "$WORK" --embedded assets/models/emoji-sd --params bench/gpu/params.json \
    --images "$WORK/images" --out "$WORK/engine-$1.json" --budget "$2"
}

for phase in $PHASES; do
  t0=$SECONDS
  case $phase in
    export)
      if [ -f "$WORK/exported" ]; then echo "export: kept from an earlier call ($WORK)"
      else LD_LIBRARY_PATH=$PY_LD_PATH python3 bench/gpu/sd15.py export "$WORK" && date -u > "$WORK/exported"; fi ;;
    torch) LD_LIBRARY_PATH=$PY_LD_PATH python3 bench/gpu/torch_bench.py "$WORK/torch.json" "$WORK/images" "${TORCH_BUDGET_S:-200}" ;;
    cuda|converted|webgpu|tf32off)
      [ -f "$WORK/exported" ] || { echo "$phase: no ONNX export in $WORK (run the export phase first, on this machine)"; exit 1; }
      case $phase in
        cuda) need_cuda cuda; engine cuda "${CUDA_BUDGET_S:-200}" ;;
        converted) need_cuda converted; engine converted "${CONVERTED_BUDGET_S:-300}" ;;
        webgpu) need_cuda webgpu; engine webgpu-embedded "${WEBGPU_BUDGET_S:-150}" ;;
        tf32off) need_cuda tf32off; NVIDIA_TF32_OVERRIDE=0 engine tf32off "${TF32OFF_BUDGET_S:-60}" ;;
      esac ;;
    report)
      ls "$WORK"/engine-*.json >/dev/null 2>&1 || { echo "report: no engine rows in $WORK (run cuda / converted / webgpu / tf32off first, on this machine)"; exit 1; }
      node "$BUNDLE" report --torch "$WORK/torch.json" --engine "$WORK"/engine-*.json --params bench/gpu/params.json \
        --images "$WORK/images" --md "$DEST/results-gpu.md" --json "$DEST/results-gpu.json" --command "${BENCH_COMMAND:-npm run bench:gpu}" ;;
    *) echo "unknown phase $phase (export torch cuda converted webgpu tf32off report)"; exit 2 ;;
  esac
  echo "== $phase: $((SECONDS - t0)) s"
done
