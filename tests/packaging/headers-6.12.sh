#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Install the newest Linux 6.12 headers Debian offers for bookworm and print
# their kernel release (e.g. 6.12.117+deb12-amd64) on stdout.
#
# Bookworm gets 6.12 in two places: bookworm-security (linux-6.12, names
# 6.12.N+deb12) and bookworm-backports (older builds named +bpo, later
# +deb12).  The machine's own apt sources are tried first.  If they have no
# 6.12, bookworm-backports is added -- not by editing /etc/apt (other jobs
# may be using apt at the same time), but by running apt with a private
# source list and index directory: the machine's own deb822 sources plus a
# bookworm-backports stanza derived from them (same URIs and keyring), so no
# mirror name is written anywhere.
#
# The 6.12 header packages depend on the matching linux-image, so that gets
# installed too (with initramfs-tools); nothing boots it.
#
#   tests/packaging/headers-6.12.sh [SERIES]     SERIES defaults to 6.12

set -euo pipefail

series=${1:-6.12}
sources=${VKT_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}
arch=$(dpkg --print-architecture)
flavour=$arch
lock=(-o DPkg::Lock::Timeout=600)

log() { echo "headers-$series: $*" >&2; }

# linux-headers-6.12.117+deb12-amd64 or linux-headers-6.12.22+bpo-amd64, not
# the -cloud or -rt flavours.
re="^linux-headers-${series//./\\.}\\.[0-9]+\\+(deb[0-9]+|bpo)-$flavour\$"

# Already installed?  Then there is nothing to fetch.
installed() {
	{ dpkg-query -W -f '${Status} ${Package}\n' "linux-headers-$series.*-$flavour" \
		2>/dev/null || true; } | awk '$3 == "installed" { print $4 }' | grep -E "$re" |
		sed 's/^linux-headers-//' | sort -V | tail -n1 || true
}

kver=$(installed)
if [[ -n $kver && -d /lib/modules/$kver/build ]]; then
	echo "$kver"
	exit 0
fi

newest() {
	apt-cache "$@" pkgnames "linux-headers-$series." | grep -E "$re" |
		sort -V | tail -n1 || true
}

install_headers() {
	log "installing $pkg"
	DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" "$@" -y -q \
		--no-install-recommends install "$pkg" >&2 || return 1
	kver=${pkg#linux-headers-}
	[[ -d /lib/modules/$kver/build ]] || { log "/lib/modules/$kver/build missing"; return 1; }
	echo "$kver"
}

pkg=$(newest)
if [[ -n $pkg ]]; then
	# Stale indexes name versions the mirror no longer has.
	install_headers || { apt-get "${lock[@]}" -qq update >&2 && install_headers; }
	exit 0
fi

[[ -r $sources ]] || { log "no $sources to derive bookworm-backports from"; exit 1; }

state=$(mktemp -d "${TMPDIR:-/tmp}/vhost-kt-bpo.XXXXXX")
trap 'rm -rf "$state"' EXIT
mkdir -p "$state/parts" "$state/lists/partial"
cp "$sources" "$state/parts/debian.sources"

# The stanza whose Suites has plain "bookworm" gives URIs and Signed-By.
awk -v RS= '$0 ~ /\nSuites:[^\n]*[ \t]bookworm([ \t]|\n|$)/ { print; exit }' "$sources" |
	awk '
	/^URIs:/ || /^Signed-By:/ || /^Components:/ || /^Types:/ { print; next }
	END { print "Suites: bookworm-backports" }
	' > "$state/parts/backports.sources"
grep -q '^URIs:' "$state/parts/backports.sources" ||
	{ log "no bookworm stanza with URIs in $sources"; exit 1; }

apt_private=(-o Dir::Etc::SourceList=/dev/null
	     -o "Dir::Etc::SourceParts=$state/parts"
	     -o "Dir::State::Lists=$state/lists")

log "apt-get update (private index, bookworm + bookworm-backports)"
apt-get "${lock[@]}" "${apt_private[@]}" -qq update >&2

pkg=$(newest "${apt_private[@]}")
[[ -n $pkg ]] || { log "no linux-headers-$series.* in bookworm-backports either"; exit 1; }
install_headers "${apt_private[@]}"
