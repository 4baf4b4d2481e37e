#!/usr/bin/env bash
# Builds the base image (hookflow-debian:dev) without any registry: a Debian
# bookworm minbase root filesystem made by debootstrap from the configured
# Debian mirror, with the packages listed in ./packages, trimmed, and
# `docker import`ed.
#
#   mkbase.sh IMAGE [LABEL=VALUE ...]
#
# Environment: DEBIAN_MIRROR (default: the first Debian mirror in apt's
# sources, else http://deb.debian.org/debian), DEBIAN_SUITE (bookworm).
# Needs root (debootstrap, chroot): uses sudo when not root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${1:?usage: mkbase.sh IMAGE [LABEL=VALUE ...]}
shift
suite=${DEBIAN_SUITE:-bookworm}

as_root=()
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "mkbase.sh: debootstrap needs root (or sudo)" >&2; exit 1; }
	as_root=(sudo)
fi

if ! command -v debootstrap >/dev/null && [ ! -x /usr/sbin/debootstrap ]; then
	echo "mkbase.sh: installing debootstrap from Debian's packages" >&2
	"${as_root[@]}" apt-get update -qq >&2
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
fi
debootstrap=$(command -v debootstrap || echo /usr/sbin/debootstrap)

# The mirror apt already uses (deb822 .sources or one-line .list), so the
# build needs no network beyond it.
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -n -e 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}\([[:space:]].*\)\{0,1\}$/\1/p' \
			-e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\2/p' |
		head -n 1) || true
	mirror=${mirror:-http://deb.debian.org/debian}
fi
packages=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/packages" | tr -s '[:space:]' ',' | sed 's/,$//')

work=$(mktemp -d "${TMPDIR:-/var/tmp}/hookflow-rootfs.XXXXXX")
rootfs=$work/rootfs
cleanup() {
	# debootstrap mounts /proc, /sys (and, inside a container, binds /dev)
	# under the target; a failed run can leave them. Unmount, deepest
	# first, and never let rm cross into another file system.
	local m
	for m in $(grep -o " $rootfs/[^ ]*" /proc/mounts | sort -r || true); do
		"${as_root[@]}" umount -l "$m" || true
	done
	"${as_root[@]}" rm -rf --one-file-system "$work"
}
trap cleanup EXIT

echo "debootstrap $suite (minbase + $packages) from $mirror" >&2
if ! "${as_root[@]}" "$debootstrap" --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
	tail -n 30 "$work/debootstrap.log" >&2
	[ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
	exit 1
fi

# Trim what an image never uses. PostgreSQL's JIT (LLVM, 130 MB) is optional
# and off in hookflow-postgres (jit=off): without libLLVM the server simply
# has no JIT provider. The cluster the package creates at install time goes:
# hookflow-postgres runs initdb on its first start.
"${as_root[@]}" chroot "$rootfs" dpkg --purge --force-depends libllvm14 >/dev/null
"${as_root[@]}" sh -ec '
	cd "$1"
	rm -rf usr/lib/postgresql/*/lib/llvmjit* usr/lib/postgresql/*/lib/bitcode
	rm -rf etc/postgresql/*/main var/lib/postgresql/*/main
	rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* var/log/* \
		usr/share/doc/* usr/share/man/* usr/share/info/* usr/share/locale/* usr/share/lintian
	# Docker provides these at run time.
	rm -f etc/hostname etc/resolv.conf
	: > etc/hosts
' trim "$rootfs"

changes=(
	--change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	--change 'ENV LANG=C.UTF-8'
	--change 'CMD ["/bin/bash"]'
)
for l in "$@"; do changes+=(--change "LABEL $l"); done
"${as_root[@]}" tar --numeric-owner --xattrs -C "$rootfs" -c . | docker import "${changes[@]}" - "$image" >/dev/null
