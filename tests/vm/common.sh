# SPDX-License-Identifier: GPL-2.0-only
# Shared settings of the host-side harness.  Sourced, not run.
#
# Everything downloaded or built lives in $VKT_CACHE, outside the repo, and
# is reused by later runs:
#   apt/          a private apt state that sees bookworm(-security/-updates),
#                 bookworm-backports and sid from this machine's own mirror
#   kernels/<k>/  per series: kernel image, modules, headers, kbuild, a file
#                 `kver` naming the release
#   sid/          debootstrap chroot used to build for kernels that need a
#                 newer toolchain than this machine has
#   build/<kver>/ module builds, one tree per kernel release

VKT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VKT_CACHE=${VKT_CACHE:-/var/cache/vhost-kt}
VKT_SERIES_ALL="6.1 6.12 7.2"

vkt_log() { printf '[vhost-kt] %s\n' "$*" >&2; }
vkt_die() { printf '[vhost-kt] error: %s\n' "$*" >&2; exit 1; }

# The Debian archive URI, as configured on this machine (deb822 .sources or
# one-line sources.list).  Never hard-coded: CI machines use their own.
vkt_mirror() {
	local uri
	uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
	      awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' |
	      grep -v -- '-security' | grep '/debian/\?$' | head -1)
	if [ -z "$uri" ]; then
		uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null |
		      awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { print $i; break } }' |
		      grep -v -- '-security' | head -1)
	fi
	[ -n "$uri" ] || vkt_die "cannot find a Debian mirror in this machine's apt sources"
	echo "${uri%/}"
}

vkt_security_mirror() {
	{
		cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
			awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }'
		grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null |
			awk '{ for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; break } }' || true
	} | grep -- '-security' | head -1 | sed 's#/$##' || true
}

# apt with a private state directory, so the host's own apt setup is left
# alone and the harness works the same on a fresh machine.
VKT_APT_DIR=$VKT_CACHE/apt
vkt_apt() {
	apt-get -q -o Dir::State="$VKT_APT_DIR/state" \
		-o Dir::Cache="$VKT_APT_DIR/cache" \
		-o Dir::Etc::SourceList="$VKT_APT_DIR/sources.list" \
		-o Dir::Etc::SourceParts=/nonexistent \
		-o Acquire::Check-Valid-Until=false \
		-o APT::Architecture=amd64 -o APT::Sandbox::User=root "$@"
}
vkt_apt_cache() {
	apt-cache -o Dir::State="$VKT_APT_DIR/state" \
		-o Dir::Cache="$VKT_APT_DIR/cache" \
		-o Dir::Etc::SourceList="$VKT_APT_DIR/sources.list" \
		-o Dir::Etc::SourceParts=/nonexistent "$@"
}

vkt_kdir() { echo "$VKT_CACHE/kernels/$1"; }
vkt_kver() { cat "$VKT_CACHE/kernels/$1/kver" 2>/dev/null; }
vkt_needs_chroot() { [ "$1" = 7.2 ]; }
# Series built from source by tests/vm/debug-kernel rather than downloaded.
vkt_is_built() { [ "$1" = 6.12-debug ]; }
# Ubuntu 24.04's kernel, from packages in a folder rather than a mirror.
vkt_is_noble() { [ "$1" = 6.8 ]; }
vkt_noble_dir() { echo "${VKT_NOBLE_KERNELS:-$VKT_TOP/../shared/kernels}"; }

# Path of Debian's linux-source-6.12 tarball in the cache, downloaded first
# if needed (checkpatch and the debug kernel come from it).
vkt_linux_source() {
	local src=$VKT_CACHE/linux-source tmp
	if ! ls "$src"/linux-source-6.12*.tar.xz >/dev/null 2>&1; then
		"$VKT_TOP/tests/vm/fetch-kernels" --apt-only
		vkt_log "fetching linux-source-6.12"
		mkdir -p "$src"
		tmp=$(mktemp -d)
		(cd "$tmp" && vkt_apt download linux-source-6.12 >/dev/null)
		dpkg-deb --fsys-tarfile "$tmp"/linux-source-6.12_*.deb |
			tar -x -C "$tmp" --wildcards './usr/src/linux-source-6.12*.tar.xz'
		mv "$tmp"/usr/src/linux-source-6.12*.tar.xz "$src/"
		rm -rf "$tmp"
	fi
	ls "$src"/linux-source-6.12*.tar.xz | sort -V | tail -1
}
