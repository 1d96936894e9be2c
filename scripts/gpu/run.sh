#!/bin/sh
# The GPU run of issue 17, from the folder scripts/gpu/pack.sh made, on a GPU server with PyTorch on
# CUDA and possibly no Node.js, no Vulkan loader and no registry: unpacks node and dawn.node, points
# Dawn at the NVIDIA Vulkan driver, times the lab's WebGPU training steps (its kernels and stock
# tfjs-webgpu) and PyTorch's CUDA steps for ResNet-20, 56 and 110 at batch 128, and writes
# webgpu.jsonl, torch.jsonl and summary.txt to $OUT (else ./gpu-results). Each side has a time limit,
# so the whole run fits in about ten minutes. Not the packing (pack.sh).
#
#   sh gpu-bundle/run.sh            # DEPTHS=20 VARIANTS=lab sh gpu-bundle/run.sh for a shorter run
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
RESULTS=${OUT:-$PWD/gpu-results}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lab-gpu.XXXXXX")
DEPTHS=${DEPTHS:-20,56,110}
VARIANTS=${VARIANTS:-lab,stock}
mkdir -p "$RESULTS"
say() { echo "run.sh: $*" | tee -a "$RESULTS/summary.txt" >&2; }

unxz_to() { # unxz_to SRC DEST
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" >"$2"; else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}

# Node and Dawn for Node, unpacked beside a copy of the bundle (the bundle's folder may be read-only).
cp -r "$HERE/." "$WORK/"
unxz_to "$HERE/node.xz" "$WORK/node" && chmod +x "$WORK/node"
unxz_to "$HERE/node_modules/webgpu/dist/linux-x64/dawn.node.xz" "$WORK/node_modules/webgpu/dist/linux-x64/dawn.node"
say "node $("$WORK/node" --version 2>&1)"

# The Vulkan loader: the system's, else the one packed.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  export LD_LIBRARY_PATH="$WORK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "Vulkan loader: packed (no libvulkan.so.1 on this system)"
fi

# The NVIDIA Vulkan driver: its ICD file where the driver installed one, else one written here for
# the driver's library (libGLX_nvidia.so.0 holds the Vulkan entry points).
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  for f in /etc/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$f" ] && export VK_ICD_FILENAMES="$f" && break
  done
fi
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  LIB=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/ { print $NF; exit }')
  if [ -n "$LIB" ]; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$LIB" >"$WORK/nvidia_icd.json"
    export VK_ICD_FILENAMES="$WORK/nvidia_icd.json"
  fi
fi
say "Vulkan driver: ${VK_ICD_FILENAMES:-no NVIDIA ICD found; left to the lab (a GPU ICD, else SwiftShader)}"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$RESULTS/summary.txt"

cd "$WORK"
timeout "${LAB_TIMEOUT:-420}" ./node gpu-run.mjs --depths "$DEPTHS" --variants "$VARIANTS" --out "$RESULTS/webgpu.jsonl" >/dev/null 2>"$RESULTS/webgpu.log"
say "lab: exit $? ($(wc -l <"$RESULTS/webgpu.jsonl" 2>/dev/null || echo 0) records; log in webgpu.log)"
timeout "${TORCH_TIMEOUT:-180}" python3 torch_gpu.py --depths "$DEPTHS" >"$RESULTS/torch.jsonl" 2>"$RESULTS/torch.log"
say "torch: exit $? ($(wc -l <"$RESULTS/torch.jsonl") records)"

# One line per measurement: seconds per epoch (391 steps at batch 128 plus the test pass).
python3 - "$RESULTS" <<'PY' | tee -a "$RESULTS/summary.txt"
import json, os, sys
d = sys.argv[1]
for name in ("webgpu.jsonl", "torch.jsonl"):
    path = os.path.join(d, name)
    if not os.path.exists(path):
        continue
    for line in open(path):
        r = json.loads(line)
        if "secondsPerEpoch" in r:
            kind = r.get("variant") or r.get("format")
            extra = f", {r['dispatches']} dispatches" if "dispatches" in r else ""
            print(f"{r['what']:13} {r['model']:10} {kind:14} {r['medianMs']:9.2f} ms/step  {r['secondsPerEpoch']:8.2f} s/epoch{extra}")
        elif "error" in r:
            print(f"{r['what']:13} {r.get('model', ''):10} {r.get('variant', '')}: {r['error']}")
        else:
            print(json.dumps(r))
PY
rm -rf "$WORK"
