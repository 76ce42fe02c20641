#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine, as root: Node 22 (from the npm registry when the
# machine's is older), Debian's docker.io, docker-registry, apache2-utils and busybox-static,
# npm ci, a private dockerd (no bridge network, its own socket) and a registry on 127.0.0.1
# (stopped on exit), then npm test. .ci/run is this script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '\n==> %s\n' "$*"; }

# shellcheck source=scripts/node22.sh
source scripts/node22.sh
isg_node22
log "node $(node -v), npm $(npm -v 2>/dev/null); older Node for the old-Node test: ${IMAGESPEC_GAR_OLD_NODE:-none}"

# The engine, registry, htpasswd, a static busybox and debootstrap for the test base images, and Python's packaging.
missing=()
for pkg in docker.io docker-registry apache2-utils busybox-static python3-packaging debootstrap; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi
command -v gcloud >/dev/null || { echo "gcloud is not installed on this machine: the tests need the real Google Cloud SDK" >&2; exit 1; }

# Debian's python3 as a root file system: the real builds install and import Python packages in it.
# Cached under /tmp: a rerun skips the minutes debootstrap takes.
log "python base image tarball"
bash .ci/python-base.sh

log "npm ci"
npm ci --no-audit --no-fund

# shellcheck source=.ci/services.sh
source .ci/services.sh
services_dir=/tmp/imagespec-gar-ci.$$
trap 'isg_services_stop "$services_dir"' EXIT
log "starting dockerd and registry under $services_dir"
isg_services_start "$services_dir"
echo "IMAGESPEC_GAR_TEST_DOCKER_HOST=$IMAGESPEC_GAR_TEST_DOCKER_HOST"
echo "IMAGESPEC_GAR_TEST_REGISTRY=$IMAGESPEC_GAR_TEST_REGISTRY"

log "npm test"
npm test
