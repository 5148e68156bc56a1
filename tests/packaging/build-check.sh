#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The quick packaging check that CI runs: build the .deb with
# dpkg-buildpackage and the .rpm with rpmbuild, run lintian, and check what
# they ship.  tests/packaging/run.sh goes further (dkms and apt installs
# for real) and changes the machine, so it is run by hand.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
version=$(tr -d '[:space:]' <"$top/VERSION")
out=$(mktemp -d "${TMPDIR:-/tmp}/vkt-pkg.XXXXXX")
trap 'rm -rf "$out"' EXIT
n=0 failed=0
check() {
	local desc=$1
	shift
	n=$((n + 1))
	if "$@" >"$out/last.log" 2>&1; then
		echo "ok $n - $desc"
	else
		failed=$((failed + 1))
		echo "not ok $n - $desc"
		tail -15 "$out/last.log" | sed 's/^/#   /'
	fi
}
deb=$out/vhost-kt-dkms_${version}_all.deb
rpm=$out/vhost-kt-dkms-$version-1.noarch.rpm
check "dpkg-buildpackage builds $(basename "$deb")" bash "$top/packaging/build.sh" deb "$out"
# Exit status, not grep: a lintian that fails to run must fail too.
check "lintian has no errors or warnings" lintian --fail-on error,warning "$deb"
check "the .deb ships dkms.conf with the version filled" \
	sh -c "dpkg-deb --fsys-tarfile '$deb' | tar -xO ./usr/src/vhost-kt-$version/dkms.conf | grep -q 'PACKAGE_VERSION=\"$version\"'"
for f in ./lib/udev/rules.d/60-vhost-kt.rules ./etc/modprobe.d/vhost-kt.conf \
	 ./usr/lib/modules-load.d/vhost-kt.conf ./usr/src/vhost-kt-$version/src/main.c; do
	check "the .deb ships $f" sh -c "dpkg -c '$deb' | grep -q ' $f\$'"
done
check "the .deb ships no tests and no binaries" \
	sh -c "! dpkg -c '$deb' | grep -E '/tests/|\.ko\$|\.o\$'"
check "rpmbuild builds $(basename "$rpm")" bash "$top/packaging/build.sh" rpm "$out"
check "the .rpm ships the udev rule, dkms tree and modules-load.d file" \
	sh -c "rpm -qlp '$rpm' | grep -q 60-vhost-kt.rules && rpm -qlp '$rpm' | grep -q /usr/src/vhost-kt-$version/dkms.conf && rpm -qlp '$rpm' | grep -q modules-load.d/vhost-kt.conf"
check "the .rpm runs dkms in its scriptlets" sh -c "rpm -qp --scripts '$rpm' | grep -q 'dkms install'"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
