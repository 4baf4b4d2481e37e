#!/usr/bin/env bash
# make images: builds hookflow's cluster images on this machine, with no
# image registry (nothing is pulled; every FROM is a local image or scratch):
#
#   hookflow-debian:dev    Debian bookworm minbase + PostgreSQL 15, made by
#                          debootstrap from the Debian mirror (debian/)
#   hookflow-postgres:dev  PostgreSQL on the base (postgres/)
#   hookflow-temporal:dev  Temporal server + SQL schema tool at go.mod's
#                          version, on the base (temporal/)
#   hookflow:dev           hookflow, static, on scratch (hookflow/)
#   hookflow-receiver:dev  the cluster tests' webhook receiver (receiver/)
#
#   deploy/images/build.sh [debian|postgres|temporal|hookflow|receiver ...]
#
# With no argument it builds all five; an image's base is built first when
# needed. Each image carries the label org.hookflow.inputs, a hash of its
# inputs (the files of its directory, the binaries built for it, its base
# image's id); an image whose label matches is left as it is. The Go
# binaries are always built (Go's cache makes that cheap) and hashed.
#
# Environment: TAG (default dev), FORCE=1 (rebuild every image asked for),
# VERSION (hookflow's version string; default `git describe`), GO (go),
# DEBIAN_MIRROR / DEBIAN_SUITE (see debian/mkbase.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
src=$root/deploy/images
tag=${TAG:-dev}
label=org.hookflow.inputs
GO=${GO:-go}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0
version=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}

all=(debian postgres temporal hookflow receiver)
[ $# -gt 0 ] || set -- "${all[@]}"
declare -A want=()
for i in "$@"; do
	case " ${all[*]} " in *" $i "*) ;; *) echo "build.sh: unknown image $i (want: ${all[*]})" >&2; exit 2 ;; esac
	want[$i]=1
	case $i in postgres | temporal | hookflow) want[debian]=1 ;; esac
done

name() { if [ "$1" = hookflow ]; then echo "hookflow:$tag"; else echo "hookflow-$1:$tag"; fi; }
base=$(name debian)

stage=$(mktemp -d "${TMPDIR:-/tmp}/hookflow-images.XXXXXX")
debian_pid=
replaced=() # ids of the images this run replaced, removed at the end
# On a failure elsewhere, let a base build in flight finish (and be labelled:
# the next run reuses it) before the staging directory goes.
trap 'if [ -n "$debian_pid" ]; then wait "$debian_pid" || true; fi; rm -rf "$stage"' EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
start_all=$(now)

# hash_dir DIR: every file's and link's path, mode and content.
hash_dir() {
	(
		cd "$1"
		find . \( -type f -o -type l \) -printf '%m %p %l\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	) | sha256sum | cut -d' ' -f1
}
inputs_of() { docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true; }
image_id() { docker image inspect -f '{{ .Id }}' "$1"; }

# build_image NAME CONTEXT [BASE]: docker build unless the inputs are unchanged.
build_image() {
	local image t inputs
	image=$(name "$1")
	t=$(now)
	inputs=$({
		hash_dir "$2"
		if [ -n "${3:-}" ]; then image_id "$3"; fi
	} | sha256sum | cut -d' ' -f1)
	if [ "${FORCE:-}" != 1 ] && [ "$(inputs_of "$image")" = "$inputs" ]; then
		printf '%-28s up to date (%s)\n' "$image" "$(since "$t")"
		return
	fi
	replaced+=("$(docker image inspect -f '{{ .Id }}' "$image" 2>/dev/null || true)")
	local args=(--label "$label=$inputs" --tag "$image")
	if [ -n "${3:-}" ]; then args+=(--build-arg "BASE=$3"); fi
	if ! docker build "${args[@]}" "$2" >"$stage/$1.log" 2>&1; then
		cat "$stage/$1.log" >&2
		echo "build.sh: docker build of $image failed" >&2
		exit 1
	fi
	printf '%-28s built in %s\n' "$image" "$(since "$t")"
}

# 1. The base, in the background: debootstrap waits on the network and the
#    disk while the Go builds below use the CPU.
if [ -n "${want[debian]:-}" ]; then
	debian_inputs=$({
		hash_dir "$src/debian"
		echo "${DEBIAN_SUITE:-bookworm}"
	} | sha256sum | cut -d' ' -f1)
	if [ "${FORCE:-}" != 1 ] && [ "$(inputs_of "$base")" = "$debian_inputs" ]; then
		printf '%-28s up to date\n' "$base"
	else
		replaced+=("$(docker image inspect -f '{{ .Id }}' "$base" 2>/dev/null || true)")
		echo "$base: debootstrap in the background (log: $stage/debian.log)"
		(
			t=$(now)
			"$src/debian/mkbase.sh" "$base" "$label=$debian_inputs" >"$stage/debian.log" 2>&1
			printf '%-28s built in %s\n' "$base" "$(since "$t")"
		) &
		debian_pid=$!
	fi
fi
wait_debian() {
	if [ -n "$debian_pid" ]; then
		if ! wait "$debian_pid"; then
			cat "$stage/debian.log" >&2
			echo "build.sh: building $base failed" >&2
			exit 1
		fi
		debian_pid=
	fi
}

# 2. The Go binaries, static.
gobuild() {
	local t=$(now) out=$1
	shift
	mkdir -p "$(dirname "$out")"
	"$GO" build -trimpath -buildvcs=false -o "$out" "$@"
	printf '%-28s go build in %s\n' "$(basename "$out")" "$(since "$t")"
}
if [ -n "${want[hookflow]:-}" ]; then
	gobuild "$stage/hookflow/rootfs/hookflow" -tags nodev -ldflags "-s -w -X main.version=$version" ./cmd/hookflow
	mkdir -p "$stage/hookflow/rootfs/etc" "$stage/hookflow/rootfs/usr/local/bin" "$stage/hookflow/rootfs/tmp"
	chmod 1777 "$stage/hookflow/rootfs/tmp"
	ln -s /hookflow "$stage/hookflow/rootfs/usr/local/bin/hookflow"
	echo 'nonroot:x:65532:65532:nonroot:/:/sbin/nologin' >"$stage/hookflow/rootfs/etc/passwd"
	echo 'nonroot:x:65532:' >"$stage/hookflow/rootfs/etc/group"
fi
if [ -n "${want[receiver]:-}" ]; then
	gobuild "$stage/receiver/receiver" -ldflags "-s -w" ./tests/cluster/receiver
fi
if [ -n "${want[temporal]:-}" ]; then
	# The packages are go.mod tools (`tool` directives), at the version the
	# module pins; disable_grpc_modules as Temporal's own Makefile builds.
	gobuild "$stage/temporal/temporal-server" -tags disable_grpc_modules -ldflags "-s -w" go.temporal.io/server/cmd/server
	gobuild "$stage/temporal/temporal-sql-tool" -tags disable_grpc_modules -ldflags "-s -w" go.temporal.io/server/cmd/tools/sql
	server_dir=$("$GO" list -m -f '{{ .Dir }}' go.temporal.io/server)
	mkdir -p "$stage/temporal/schema"
	cp -R --no-preserve=mode "$server_dir/schema/postgresql/v12/temporal" "$server_dir/schema/postgresql/v12/visibility" "$stage/temporal/schema/"
fi

# 3. The images, each from its directory plus what was built for it.
for i in postgres temporal hookflow receiver; do
	[ -n "${want[$i]:-}" ] || continue
	mkdir -p "$stage/$i"
	cp -R "$src/$i/." "$stage/$i/"
	case $i in
	receiver) build_image "$i" "$stage/$i" ;;
	*)
		wait_debian
		build_image "$i" "$stage/$i" "$base"
		;;
	esac
done
wait_debian

# The images replaced are untagged now: remove them, unless a container (or
# an image not rebuilt) still uses one.
for id in "${replaced[@]}"; do
	if [ -n "$id" ] && [ "$(docker image inspect -f '{{ len .RepoTags }}' "$id" 2>/dev/null)" = 0 ]; then
		docker rmi "$id" >/dev/null 2>&1 || true
	fi
done

echo "images done in $(since "$start_all")"
for i in "${all[@]}"; do
	[ -n "${want[$i]:-}" ] || continue
	docker image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' "$(name "$i")"
done
