#!/usr/bin/env bash
# Install everything mpiflow builds with and its tests use, on Debian 12:
# compilers and CMake, Open MPI, hwloc, librdkafka and kcat, parallel HDF5
# and its tools, libyaml, xxhash, cmocka, libmicrohttpd, jansson, a
# single-node Slurm (slurmctld, slurmd, munge, PMIx) for the Slurm test,
# Node.js and Chromium, and the npm packages of package.json (the web
# dashboard's libraries, the browser test's driver).
# Works as root (containers, many cluster images: no sudo needed) and as a
# user with sudo. The README's first command calls it; .ci/run installs
# the same list (scripts/debian-packages.txt) itself.
set -euo pipefail
cd "$(dirname "$0")"
read -r -a PACKAGES <<<"$(grep -v '^#' debian-packages.txt | tr '\n' ' ')"
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
# npm: NodeSource's nodejs bundles it (and conflicts with Debian's npm
# package); Debian's nodejs needs the npm package.
command -v npm >/dev/null 2>&1 ||
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm
# The dashboard's JavaScript libraries (embedded into the binary at build
# time) and the browser test's driver, at the versions package-lock.json
# pins, into node_modules at the top of the source tree.
(cd .. && npm ci --no-audit --no-fund)
