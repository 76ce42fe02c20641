#!/usr/bin/env bash
# A Debian bookworm root file system with a real Python (python3, venv, pip) for the build tests,
# made with debootstrap from Debian's own packages and kept as a tarball so reruns skip it.
#
#   .ci/python-base.sh [TARBALL]   build TARBALL (default /tmp/imagespec-gar-python-base.tar) unless it exists
#
# test/support/python-base.ts imports the tarball into the test engine; it never downloads anything.
set -euo pipefail
tarball=${1:-/tmp/imagespec-gar-python-base.tar}
[ -s "$tarball" ] && { echo "python base: $tarball (cached)"; exit 0; }
command -v debootstrap >/dev/null || { echo "debootstrap not found (apt-get install debootstrap)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "debootstrap needs root" >&2; exit 1; }
mirror=${IMAGESPEC_GAR_DEBIAN_MIRROR:-http://deb.debian.org/debian}
root=$(mktemp -d /tmp/imagespec-gar-python-base.XXXXXX)
# debootstrap mounts proc and sys inside; never let rm walk into them.
trap 'umount -l "$root/proc" "$root/sys" 2>/dev/null; rm -rf --one-file-system "$root" "$root.log"' EXIT
# passwd: useradd, which flytekit's recipe runs to create its user.
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,passwd bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
	{ tail -n 30 "$root.log" >&2; exit 1; }
# Trim what a test image never needs; the tar goes next to the target and is renamed into place.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" -cf "$tarball.partial" .
mv "$tarball.partial" "$tarball"
echo "python base: $tarball ($(du -h "$tarball" | cut -f1))"
