#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Host-side tests of how vhost-kt installs: the .deb and .rpm and what they
# contain, `make install`, the DKMS life cycle (add, build, install, status,
# remove) for real against the installed 6.1 and 6.12 kernel headers, and
# installing and purging the .deb with apt.
#
# Needs root and changes the machine: it installs the packaging tools and
# Linux 6.12 headers (tests/packaging/headers-6.12.sh), and installs, then
# removes, vhost-kt through dkms, apt and rpm.  It refuses to run while a
# vhost-kt is already installed, so it never destroys someone's install.
#
#   tests/packaging/run.sh
#   VKT_KVER_61=6.1.0-57-amd64 VKT_KVER_612=<release> tests/packaging/run.sh
#
# Output is TAP; the last line counts passes and failures; the exit status is
# non-zero if anything failed.  A module that does not compile fails the
# build steps (and what depends on them) -- it is never skipped.

set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
version=$(tr -d '[:space:]' < "$top/VERSION")
k61=${VKT_KVER_61:-6.1.0-57-amd64}
apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)

work=$(mktemp -d "${TMPDIR:-/tmp}/vhost-kt-pkgtest.XXXXXX")
log=$work/log
out=$work/out

# Whatever of vhost-kt this run installed and a failed step left behind (a
# vhost-kt installed before the run makes it bail out, so this is ours).
cleanup() {
	if dpkg-query -W -f '${Status}' vhost-kt-dkms 2>/dev/null | grep -q ' installed'; then
		DEBIAN_FRONTEND=noninteractive "${apt[@]}" purge vhost-kt-dkms >/dev/null 2>&1
	fi
	if [[ -d $work/rpmdb ]] && rpm --dbpath "$work/rpmdb" -q vhost-kt-dkms >/dev/null 2>&1; then
		rpm --dbpath "$work/rpmdb" -e vhost-kt-dkms >/dev/null 2>&1
	fi
	if [[ -f $work/vhost-kt-$version/Makefile ]]; then
		make -C "$work/vhost-kt-$version" --no-print-directory dkms-remove >/dev/null 2>&1
	fi
	rm -rf "$work"
}
trap cleanup EXIT

n=0
passed=0
failed=0

ok() {
	n=$((n + 1)); passed=$((passed + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1)); failed=$((failed + 1))
	echo "not ok $n - $1"
	# The tail of the log says why.
	if [[ -s $log ]]; then
		tail -n "${2:-15}" "$log" | sed 's/^/#   /'
	fi
}

# check DESC CMD...: CMD's output goes to the log, shown when it fails.
check() {
	local desc=$1

	shift
	: > "$log"
	if "$@" >> "$log" 2>&1; then
		ok "$desc"
	else
		not_ok "$desc"
	fi
}

finish() {
	echo "1..$n"
	echo "$passed passed, $failed failed"
	[[ $failed -eq 0 ]]
	exit
}

bail() {
	echo "Bail out! $*"
	failed=$((failed + 1))
	finish
}

# none_match REGEX GREP-ARGS...: true if grep finds no line matching REGEX.
none_match() {
	local re=$1

	shift
	! grep -E "$re" "$@"
}

# gone PATH...: true if none of the paths exists (unmatched globs stay literal).
gone() {
	local p

	for p in "$@"; do
		if [[ -e $p || -L $p ]]; then
			echo "still there: $p"
			return 1
		fi
	done
}

dkms_status() {
	dkms status -m vhost-kt -v "$version" "$@" 2>/dev/null
}

# The kernel's module for release $1 as dkms installed it (maybe compressed).
dkms_module() {
	ls "/lib/modules/$1/updates/dkms/"vhost_kt.ko* 2>/dev/null | head -n1
}

modinfo_version() {
	[[ "$(modinfo -F version "$1" 2>/dev/null)" == "$version" ]]
}

### Preconditions ##########################################################

[[ $(id -u) -eq 0 ]] || bail "must run as root (installs packages)"
[[ -d /lib/modules/$k61/build ]] || bail "no headers for $k61 (linux-headers-$k61)"
if [[ -n $(dkms_status) || -e /usr/src/vhost-kt-$version ]]; then
	bail "vhost-kt $version is already installed here; remove it first"
fi

: > "$log"
if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" --no-install-recommends install \
	dkms debhelper dh-dkms dpkg-dev lintian rpm rpmlint kmod >> "$log" 2>&1; then
	tail "$log"
	bail "cannot install the packaging tools"
fi

### The Debian package #####################################################

# Everything below is built from one snapshot of the tree, the release
# tarball (which the RPM uses as Source0): others may be editing the checkout
# while this runs, and the checkout itself is not built in.
srcdir=$work/vhost-kt-$version
check "packaging/build.sh dist makes vhost-kt-$version.tar.gz" \
	"$top/packaging/build.sh" dist "$out"
tar -C "$work" -xzf "$out/vhost-kt-$version.tar.gz" 2>/dev/null
check "dist: the tarball has no build products and no .git" \
	sh -c "! tar -tzf '$out/vhost-kt-$version.tar.gz' | grep -E '/\.git/|\.(o|ko|cmd|mod|a|d)\$'"

check "make deb builds vhost-kt-dkms_${version}_all.deb" \
	make -C "$srcdir" --no-print-directory deb OUT="$out"
deb=$out/vhost-kt-dkms_${version}_all.deb
debroot=$work/deb
mkdir -p "$debroot"
dpkg-deb -x "$deb" "$debroot" 2>/dev/null
debsrc=$debroot/usr/src/vhost-kt-$version

check "deb: dkms.conf says PACKAGE_VERSION=\"$version\"" \
	grep -qx "PACKAGE_VERSION=\"$version\"" "$debsrc/dkms.conf"
check "deb: no #MODULE_VERSION# placeholder left" \
	none_match '#MODULE_VERSION#' -r "$debroot"
check "deb: dkms.conf builds vhost_kt into /updates/dkms" \
	grep -q 'DEST_MODULE_LOCATION\[0\]="/updates/dkms"' "$debsrc/dkms.conf"
check "deb: ships the module sources (Kbuild, VERSION, src/main.c, compat.h)" \
	test -f "$debsrc/Kbuild" -a -f "$debsrc/src/main.c" \
		-a -f "$debsrc/include/compat/compat.h" -a -f "$debsrc/VERSION"
check "deb: shipped VERSION is $version" \
	test "$(cat "$debsrc/VERSION" 2>/dev/null)" = "$version"
check "deb: udev rule 60-vhost-kt.rules as in packaging/udev" \
	cmp "$top/packaging/udev/60-vhost-kt.rules" \
		"$(ls "$debroot"/{usr/,}lib/udev/rules.d/60-vhost-kt.rules 2>/dev/null | head -n1)"
check "deb: udev rule gives vhost-kt-net* to group kvm, mode 0660" \
	grep -qE '^SUBSYSTEM=="misc", KERNEL=="vhost-kt-net\*", GROUP="kvm", MODE="0660"$' \
		"$top/packaging/udev/60-vhost-kt.rules"
check "deb: /etc/modprobe.d/vhost-kt.conf is a conffile" \
	sh -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xOf - ./conffiles | grep -qx /etc/modprobe.d/vhost-kt.conf"
check "deb: modprobe example sets nothing (every option commented)" \
	none_match '^[[:space:]]*[^#[:space:]]' "$debroot/etc/modprobe.d/vhost-kt.conf"
check "deb: modprobe example names every module parameter" \
	sh -c "for p in inherit_owner_default fork_from_owner_default lock_mode \
		max_mem_regions max_iotlb_entries; do
		grep -q \"^#options vhost_kt \$p=\" '$debroot/etc/modprobe.d/vhost-kt.conf' || exit 1
	done"
check "deb: modules-load.d file as in packaging/modules-load.d" \
	cmp "$top/packaging/modules-load.d/vhost-kt.conf" \
		"$debroot/usr/lib/modules-load.d/vhost-kt.conf"
check "deb: modules-load.d file loads vhost_kt and nothing else" \
	test "$(grep -v '^[[:space:]]*\(#\|$\)' "$top/packaging/modules-load.d/vhost-kt.conf")" = vhost_kt
check "deb: no tests/ (and no tests/kmod module)" \
	sh -c "! dpkg-deb -c '$deb' | grep -E '/tests?/|kmod'"
check "deb: no compiled files (ELF, .o, .ko, .cmd)" \
	sh -c "! dpkg-deb -c '$deb' | grep -E '\.(o|ko|cmd|mod|a|d)\$' &&
		! find '$debroot' -type f -exec sh -c 'head -c4 \"\$1\" | grep -q ELF' _ {} \; -print | grep ."
check "deb: depends on dkms" \
	sh -c "dpkg-deb -f '$deb' Depends | grep -q dkms"
check "deb: maintainer scripts hand the module to dkms (dh_dkms)" \
	sh -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xOf - ./postinst | grep -q 'DKMS_NAME=vhost-kt'"
check "deb: lintian --pedantic reports no error or warning" \
	sh -c "! lintian --pedantic '$deb' 2>&1 | grep -E '^(E|W):'"

### The RPM ################################################################

check "make rpm builds vhost-kt-dkms-${version}-1.noarch.rpm" \
	make -C "$srcdir" --no-print-directory rpm OUT="$out"
rpm=$out/vhost-kt-dkms-${version}-1.noarch.rpm
rpmroot=$work/rpm
mkdir -p "$rpmroot"
(cd "$rpmroot" && rpm2cpio "$rpm" | cpio -idm --quiet) 2>/dev/null
rpmsrc=$rpmroot/usr/src/vhost-kt-$version

check "rpm: noarch, version $version" \
	test "$(rpm -qp --qf '%{ARCH} %{VERSION}' "$rpm" 2>/dev/null)" = "noarch $version"
check "rpm: dkms.conf says PACKAGE_VERSION=\"$version\"" \
	grep -qx "PACKAGE_VERSION=\"$version\"" "$rpmsrc/dkms.conf"
check "rpm: same module sources as the deb" \
	diff -r "$debsrc" "$rpmsrc"
check "rpm: udev rule, modprobe example (config), license" \
	sh -c "rpm -qlp '$rpm' | grep -qx /usr/lib/udev/rules.d/60-vhost-kt.rules &&
		rpm -qcp '$rpm' | grep -qx /etc/modprobe.d/vhost-kt.conf &&
		rpm -qLp '$rpm' | grep -q /COPYING\$"
check "rpm: modules-load.d file (not config), same as the deb's" \
	sh -c "rpm -qlp '$rpm' | grep -qx /usr/lib/modules-load.d/vhost-kt.conf &&
		! rpm -qcp '$rpm' | grep -q modules-load &&
		cmp '$top/packaging/modules-load.d/vhost-kt.conf' \
			'$rpmroot/usr/lib/modules-load.d/vhost-kt.conf'"
check "rpm: no tests/, no compiled files" \
	sh -c "! rpm -qlp '$rpm' | grep -E '/tests?/|kmod|\.(o|ko|cmd|mod|a|d)\$' &&
		! find '$rpmroot' -type f -exec sh -c 'head -c4 \"\$1\" | grep -q ELF' _ {} \; -print | grep ."
check "rpm: %posttrans adds and installs with dkms, never failing" \
	sh -c "rpm -qp --scripts '$rpm' | sed -n '/^posttrans/,/^[a-z]* scriptlet/p' |
		grep -q 'dkms add' && rpm -qp --scripts '$rpm' | grep -q 'dkms install.*||'"
check "rpm: %preun removes from dkms only if dkms knows the module" \
	sh -c "rpm -qp --scripts '$rpm' | sed -n '/^preuninstall/,\$p' |
		grep -q 'dkms status' && rpm -qp --scripts '$rpm' | grep -q 'dkms remove.*--all'"
tar -C "$work" -xzf "$out/vhost-kt-$version.tar.gz" "vhost-kt-$version/packaging/rpm/vhost-kt.spec" \
	2>/dev/null
check "rpm: rpmlint reports nothing (package and filled spec)" \
	rpmlint -r "$top/packaging/rpm/vhost-kt.rpmlintrc" "$rpm" \
		"$work/vhost-kt-$version/packaging/rpm/vhost-kt.spec"

### BUILD_EXCLUSIVE_KERNEL #################################################

# dkms compares the kernel release with this regex; 6.1 is the oldest.
excl_match() {
	bash -c '. "$1/dkms.conf" || exit 2; [[ -n $BUILD_EXCLUSIVE_KERNEL ]] || exit 2
		[[ $2 =~ $BUILD_EXCLUSIVE_KERNEL ]]' _ "$debsrc" "$1"
}
excl_accepts() {
	local k

	for k; do excl_match "$k" || return 1; done
}
excl_refuses() {
	local k

	for k; do excl_match "$k"; [[ $? -eq 1 ]] || return 1; done
}
check "dkms.conf: kernels 6.1, 6.12, 7.2, 10.0 accepted" \
	excl_accepts 6.1.0-57-amd64 6.12.117+deb12-amd64 7.2.0-1-amd64 10.0.1
check "dkms.conf: kernels 6.0 and 5.10 refused" \
	excl_refuses 6.0.12-1-amd64 5.10.0-30-amd64

### make install (staged) ##################################################

stage=$work/root
check "make install INSTALL_MOD_PATH=... for $k61 (compiles the module)" \
	make -C "$srcdir" --no-print-directory -j1 install KDIR="/lib/modules/$k61/build" \
		INSTALL_MOD_PATH="$stage"
check "make install: updates/vhost_kt.ko under /lib/modules/$k61, version $version" \
	modinfo_version "$stage/lib/modules/$k61/updates/vhost_kt.ko"
check "make install: depmod lists it" \
	grep -q '^updates/vhost_kt.ko:' "$stage/lib/modules/$k61/modules.dep"
check "make install: udev rule installed" \
	test -f "$stage/etc/udev/rules.d/60-vhost-kt.rules"

### DKMS, by hand and through make dkms-install / dkms-remove ##############

: > "$log"
k612=${VKT_KVER_612:-$("$top/tests/packaging/headers-6.12.sh" 2> "$log")}
if [[ -n $k612 && -d /lib/modules/$k612/build ]]; then
	ok "Linux 6.12 headers installed: $k612"
else
	not_ok "Linux 6.12 headers installed"
	k612=
fi

check "make dkms-install (add, build, install for $k61)" \
	make -C "$srcdir" --no-print-directory dkms-install KDIR="/lib/modules/$k61/build"
check "dkms status: installed for $k61" \
	sh -c "dkms status -m vhost-kt -v '$version' -k '$k61' | grep -q ': installed'"
check "dkms: module in /lib/modules/$k61/updates/dkms, version $version" \
	modinfo_version "$(dkms_module "$k61")"
check "dkms: /usr/src/vhost-kt-$version/dkms.conf has the version filled" \
	grep -qx "PACKAGE_VERSION=\"$version\"" "/usr/src/vhost-kt-$version/dkms.conf"
if [[ -n $k612 ]]; then
	check "dkms build -k $k612" dkms build -m vhost-kt -v "$version" -k "$k612" -j 1
	check "dkms install -k $k612" dkms install -m vhost-kt -v "$version" -k "$k612"
	check "dkms status: installed for $k612" \
		sh -c "dkms status -m vhost-kt -v '$version' -k '$k612' | grep -q ': installed'"
	check "dkms: module for $k612 has version $version" \
		modinfo_version "$(dkms_module "$k612")"
fi
check "make dkms-remove" make -C "$srcdir" --no-print-directory dkms-remove
check "dkms status: vhost-kt gone" test -z "$(dkms_status)"
check "dkms: /usr/src/vhost-kt-$version and the modules removed" \
	gone "/usr/src/vhost-kt-$version" /lib/modules/*/updates/dkms/vhost_kt.ko*

### apt-get install / purge of the .deb ####################################

check "apt-get install ./vhost-kt-dkms_${version}_all.deb (dkms builds it)" \
	env DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "$deb"
check "after apt install: dkms status installed for $k61" \
	sh -c "dkms status -m vhost-kt -v '$version' -k '$k61' | grep -q ': installed'"
check "after apt install: module for $k61 has version $version" \
	modinfo_version "$(dkms_module "$k61")"
if [[ -n $k612 ]]; then
	check "after apt install: dkms status installed for $k612" \
		sh -c "dkms status -m vhost-kt -v '$version' -k '$k612' | grep -q ': installed'"
fi
check "apt-get purge vhost-kt-dkms" \
	env DEBIAN_FRONTEND=noninteractive "${apt[@]}" purge vhost-kt-dkms
check "after purge: dkms status empty" test -z "$(dkms_status)"
check "after purge: sources, modules, udev rule and modprobe file gone" \
	gone "/usr/src/vhost-kt-$version" /lib/modules/*/updates/dkms/vhost_kt.ko* \
		/{usr/,}lib/udev/rules.d/60-vhost-kt.rules /etc/modprobe.d/vhost-kt.conf \
		/usr/lib/modules-load.d/vhost-kt.conf

### The RPM's scriptlets, run by rpm itself ################################

# A private rpm database, so Debian's (normally empty) one is not touched.
# %posttrans builds for the running kernel; without its headers it must
# leave the module added to dkms and still succeed.
rpmdb=(--dbpath "$work/rpmdb")
rpm "${rpmdb[@]}" --initdb
check "rpm -i vhost-kt-dkms (private rpmdb): scriptlets succeed" \
	rpm "${rpmdb[@]}" -i --nodeps "$rpm"
check "after rpm -i: dkms knows vhost-kt $version" test -n "$(dkms_status)"
check "rpm -e vhost-kt-dkms: scriptlets succeed" rpm "${rpmdb[@]}" -e vhost-kt-dkms
check "after rpm -e: dkms status empty" test -z "$(dkms_status)"
check "after rpm -e: sources, udev rule and modprobe file gone" \
	gone "/usr/src/vhost-kt-$version" /usr/lib/udev/rules.d/60-vhost-kt.rules \
		/etc/modprobe.d/vhost-kt.conf /usr/lib/modules-load.d/vhost-kt.conf

finish
