#!/usr/bin/env bash
# Install everything mpiflow builds with and its tests use, on Debian 12:
# compilers and CMake, Open MPI, hwloc, librdkafka and kcat, parallel HDF5
# and its tools, libyaml, xxhash, cmocka, libmicrohttpd, jansson, and a
# single-node Slurm (slurmctld, slurmd, munge, PMIx) for the Slurm test.
# Works as root (containers, many cluster images: no sudo needed) and as a
# user with sudo. The README's first command and .ci/run both call it.
set -euo pipefail
PACKAGES=(
  build-essential cmake pkg-config python3 bc time
  openmpi-bin libopenmpi-dev libhwloc-dev librdkafka-dev kcat
  libhdf5-openmpi-dev hdf5-tools libyaml-dev libxxhash-dev libcmocka-dev
  libmicrohttpd-dev libjansson-dev
  slurmctld slurmd slurm-client munge libpmix-dev
)
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "install-deps: not root and no sudo; as root run: apt-get install -y ${PACKAGES[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"
