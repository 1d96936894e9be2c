#!/bin/sh
# Makes sure this Debian machine has what the tests need from apt: Debian's Chromium at
# /usr/bin/chromium for the Playwright e2e suite (Playwright's own browser download does not work on
# these machines, docs/protocols.md §7), and the Vulkan loader (libvulkan1) with which Dawn for Node
# runs WebGPU on Chromium's SwiftShader in the unit tests (src/backend/webgpu.node.ts). Does nothing
# when both are there; otherwise installs them with apt-get (as root, or through sudo).
set -eu
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
has_vulkan() {
  ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || [ -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libvulkan.so.1 ]
}
if [ -x "$CHROMIUM" ] && has_vulkan; then
  exit 0
fi
PACKAGES=""
[ -x "$CHROMIUM" ] || PACKAGES="chromium fonts-dejavu-core"
has_vulkan || PACKAGES="$PACKAGES libvulkan1"
echo "ensure-chromium: installing$PACKAGES with apt-get" >&2
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-chromium: not root and no sudo: install them yourself (apt-get install -y$PACKAGES) or set CHROMIUM_PATH" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
if [ ! -x "$CHROMIUM" ]; then
  echo "ensure-chromium: apt-get finished but $CHROMIUM is still missing" >&2
  exit 1
fi
"$CHROMIUM" --version >&2 || true
