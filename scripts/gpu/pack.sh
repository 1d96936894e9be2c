#!/bin/sh
# Packs everything the GPU run needs into gpu-bundle/ (ignored by git), for a GPU server that has
# PyTorch with CUDA but no Node.js, no Vulkan loader and no package registry: this machine's node
# binary and Dawn for Node's dawn.node (xz-compressed), the Vulkan loader (libvulkan.so.1), the lab's
# side of the run bundled into one file (bench/gpu-run.ts, by scripts/gpu/bundle.mjs), PyTorch's side
# (bench/torch_gpu.py) and the script that runs both (scripts/gpu/run.sh). Not the run itself.
#
#   sh scripts/gpu/pack.sh && du -sh gpu-bundle    # then carry gpu-bundle/ over and run gpu-bundle/run.sh
set -eu
cd "$(dirname "$0")/../.."
OUT=gpu-bundle
LIBVULKAN=$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ { print $NF; exit }')
if [ -z "$LIBVULKAN" ]; then
  echo "pack: libvulkan.so.1 not found: apt-get install -y libvulkan1" >&2
  exit 1
fi
rm -rf "$OUT"
mkdir -p "$OUT/lib" "$OUT/node_modules/webgpu/dist/linux-x64"
xz -T2 -6 -c "$(command -v node)" >"$OUT/node.xz"
xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node >"$OUT/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
cp node_modules/webgpu/index.js node_modules/webgpu/package.json node_modules/webgpu/LICENSE.md "$OUT/node_modules/webgpu/"
cp -L "$LIBVULKAN" "$OUT/lib/libvulkan.so.1"
node scripts/gpu/bundle.mjs "$OUT/gpu-run.mjs"
cp bench/torch_gpu.py bench/torch_step.py scripts/gpu/run.sh "$OUT/"
du -sh "$OUT"
