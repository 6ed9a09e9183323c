#!/usr/bin/env bash
# Installs the Debian 12 packages trainer needs to build, test and train, if any are missing.
# libopenblas0-openmp matters: without it LibTorch runs on the reference BLAS, 10x+ slower.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache
  libtorch-dev libgloo-dev libopenblas0-openmp
  libcli11-dev libyaml-cpp-dev libspdlog-dev doctest-dev zlib1g-dev
  dataset-fashion-mnist python3-sklearn fortunes
  python3-jsonschema python3-yaml
  protobuf-compiler python3-protobuf
  python3-torch python3-numpy
)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install_deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
echo "install_deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
