#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The DKMS life cycle per kernel of the matrix, ending in a guest of that
# kernel which loads the module dkms installed:
#
#   dkms add, build -k, install -k, status  (6.1, 6.12: this machine's dkms
#                                            with the harness's cached headers;
#                                            7.2: sid's dkms in the sid chroot)
#   boot the kernel (tests/vm/run-guest) with VKT_BUILD/vhost_kt.ko being
#   the file dkms installed, run the guest tests `module` and `net` on it
#   dkms remove, status
#
# Nothing of the machine's own state changes: dkms gets private trees
# (--dkmstree, --sourcetree, --installtree under the harness cache), runs
# with --no-depmod (depmod -b runs on the private tree instead), and sees a
# private /etc/dkms (bind-mounted in a mount namespace of its own) whose
# framework.conf names a signing key made for this run, so that it neither
# reads nor creates /var/lib/dkms/mok.key.  Only the harness cache changes:
# the sid chroot gets the dkms package on first use.  Needs root (mounts,
# chroot, guests), like the rest of the harness.
#
#   tests/packaging/dkms-guest.sh [SERIES...]      default: 6.1 6.12 7.2
#   VKT_DKMS_GUEST_TESTS="module" tests/packaging/dkms-guest.sh 6.12
#
# Prints TAP and a closing `N passed, N failed, N skipped` line (skips are
# the guest tests' own, e.g. task mode on 6.1); exits non-zero if anything
# failed.  A step that cannot run (no headers, no dkms) fails.

set -uo pipefail
. "$(dirname "$0")/../vm/common.sh"

version=$(tr -d '[:space:]' <"$VKT_TOP/VERSION")
guest_tests=${VKT_DKMS_GUEST_TESTS:-module net}
read -ra series <<<"${*:-$VKT_SERIES_ALL}"
mod=(-m vhost-kt -v "$version")
sid=$VKT_CACHE/sid

n=0 passed=0 failed=0 skipped=0
log=$(mktemp "${TMPDIR:-/tmp}/vkt-dkms-guest.XXXXXX")
work=
cleanup() {
	rm -f "$log"
	[[ -z $work ]] || rm -rf "$work"
	rmdir "$VKT_CACHE/build/dkms-guest" 2>/dev/null
}
trap cleanup EXIT

ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)); failed=$((failed + 1))
	echo "not ok $n - $1"
	[[ ! -s $log ]] || tail -n 15 "$log" | sed 's/^/#   /'
}
# check DESC CMD...: CMD's output goes to the log, shown when it fails.
check() {
	local desc=$1

	shift
	: >"$log"
	if "$@" >>"$log" 2>&1; then
		ok "$desc"
	else
		not_ok "$desc"
		return 1
	fi
}

# The dkms of the series (the machine's, or sid's in the chroot), with the
# run's private /etc/dkms and trees.  Paths are the same in and out of the
# chroot: the work directory is under $VKT_CACHE/build, which sid-chroot
# mounts at the same place.  --verbose also keeps dkms from leaving a
# progress-dot `sleep` behind, which made sid-chroot's umount fail (busy).
dkms_run() {
	local etc=$sid/etc/dkms run=("$VKT_TOP/tests/vm/sid-chroot" --run)

	if ! vkt_needs_chroot "$ser"; then
		etc=/etc/dkms
		run=()
	fi
	unshare -m --propagation private sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' \
		_ "$work/etc" "$etc" "${run[@]}" dkms --verbose "$@" \
		--dkmstree "$work/dkms" --sourcetree "$work/src" --installtree "$work/root/lib/modules"
}

dkms_installed() {
	dkms_run status "${mod[@]}" -k "$kver" | tee /dev/stderr | grep -q ': installed'
}

dkms_forgot() {
	local s

	s=$(dkms_run status "${mod[@]}") || return 1
	[[ -z $s ]] || { echo "dkms status: $s"; return 1; }
	! ls "$work/root/lib/modules/$kver/updates/dkms/"vhost_kt.ko* 2>/dev/null
}

# What the guest gets as VKT_BUILD: vhost_kt.ko is a link to the installed
# file (compressed or not: kmod's insmod reads both), bin/ the test programs
# of the harness build.
guest_dir() {
	mkdir -p "$work/guest" &&
		ln -s "$ko" "$work/guest/vhost_kt.ko" &&
		ln -s "$VKT_CACHE/build/$kver/bin" "$work/guest/bin"
}

# Run the guest tests and number their results into ours.
guest() {
	local line rc out=$work/guest.out seen=0 t

	VKT_GUEST_BUILD=$work/guest "$VKT_TOP/tests/vm/run-guest" "$ser" $guest_tests \
		>"$out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*"# SKIP"*) n=$((n + 1)); skipped=$((skipped + 1))
			echo "ok $n - $ser dkms:${line#ok*-}" ;;
		"ok "*) n=$((n + 1)); passed=$((passed + 1)); seen=$((seen + 1))
			echo "ok $n - $ser dkms:${line#ok*-}" ;;
		"not ok "*) n=$((n + 1)); failed=$((failed + 1))
			echo "not ok $n - $ser dkms:${line#not ok*-}" ;;
		"# vkt-test-begin "*|"# vkt-test-end "*|"# "*) echo "$line" ;;
		esac
	done < <(tr -d '\r' <"$out")
	for t in $guest_tests; do
		check "$ser: guest test $t ran to the end and exited 0" \
			grep -qx "# vkt-test-end $t rc=0" "$out"
	done
	: >"$log"
	if [[ $rc -ne 0 ]]; then
		tail -n 20 "$out" >"$log"
		not_ok "$ser: run-guest exits 0 (got $rc)"
	fi
	[[ $seen -gt 0 ]] || not_ok "$ser: the guest reported results"
}

one_series() {
	local hdr t0 t signer vm

	t0=$(date +%s)
	echo "# ---- $ser ----"
	check "$ser: kernel fetched" "$VKT_TOP/tests/vm/fetch-kernels" "$ser" || return
	kver=$(vkt_kver "$ser")
	# The harness build gives the guest its test programs (bin/); its
	# vhost_kt.ko is not used.
	check "$ser: test programs built (tests/vm/build-module)" \
		"$VKT_TOP/tests/vm/build-module" "$ser" || return
	if vkt_needs_chroot "$ser"; then
		hdr=/usr/src/linux-headers-$kver
		check "$ser: sid chroot has the headers" "$VKT_TOP/tests/vm/sid-chroot" "$kver" || return
		# sid-chroot runs apt there already; dkms is added on first use.
		[[ -x $sid/usr/sbin/dkms ]] ||
			check "$ser: dkms installed in the sid chroot" "$VKT_TOP/tests/vm/sid-chroot" \
				--run sh -c 'DEBIAN_FRONTEND=noninteractive apt-get -q -y \
					-o DPkg::Lock::Timeout=600 --no-install-recommends install dkms' ||
			return
		vm=sid
	else
		hdr=$(vkt_kdir "$ser")/root/usr/src/linux-headers-$kver
		vm=host
	fi
	echo "# $ser: $kver, $vm dkms $(dkms_version)"

	work=$VKT_CACHE/build/dkms-guest/$kver
	rm -rf "$work"
	mkdir -p "$work"/{dkms,src,etc,root/lib/modules/"$kver"}
	check "$ser: dkms source tree (packaging/build.sh dkms-tree)" \
		"$VKT_TOP/packaging/build.sh" dkms-tree "$work/src/vhost-kt-$version" || return
	check "$ser: a signing key for this run" openssl req -new -x509 -nodes -days 1 \
		-subj "/CN=vhost-kt dkms-guest test key" -newkey rsa:2048 \
		-keyout "$work/etc/mok.key" -outform DER -out "$work/etc/mok.pub" || return
	cat >"$work/etc/framework.conf" <<-EOF
	sign_file="$hdr/scripts/sign-file"
	mok_signing_key="$work/etc/mok.key"
	mok_certificate="$work/etc/mok.pub"
	EOF

	check "$ser: dkms add" dkms_run add "${mod[@]}" || return
	t=$(date +%s)
	check "$ser: dkms build -k $kver" dkms_run build "${mod[@]}" -k "$kver" \
		--kernelsourcedir "$hdr" -j 1 || { tail_make_log; return; }
	echo "# $ser: dkms build took $(($(date +%s) - t)) s"
	check "$ser: dkms install -k $kver" dkms_run install "${mod[@]}" -k "$kver" \
		--kernelsourcedir "$hdr" --no-depmod || return
	check "$ser: dkms status says installed for $kver" dkms_installed
	ko=$(ls "$work/root/lib/modules/$kver/updates/dkms/"vhost_kt.ko* 2>/dev/null | head -n1)
	check "$ser: module installed in <installtree>/$kver/updates/dkms (${ko##*/})" \
		test -n "$ko" || return
	check "$ser: its version is $version" test "$(modinfo -F version "$ko")" = "$version"
	check "$ser: its vermagic is $kver" \
		sh -c "modinfo -F vermagic '$ko' | grep -q '^$kver '"
	signer=$(modinfo -F signer "$ko" 2>/dev/null)
	check "$ser: dkms signed it with the run's key" \
		test "$signer" = "vhost-kt dkms-guest test key"
	check "$ser: depmod indexes it" sh -c "depmod -b '$work/root' '$kver' &&
		grep -q '^updates/dkms/vhost_kt.ko[.a-z]*:' '$work/root/lib/modules/$kver/modules.dep'"

	t=$(date +%s)
	check "$ser: guest build dir whose vhost_kt.ko is the dkms one" guest_dir &&
		guest
	echo "# $ser: guest ($guest_tests) took $(($(date +%s) - t)) s"

	check "$ser: dkms remove -k $kver" dkms_run remove "${mod[@]}" -k "$kver" --no-depmod
	check "$ser: dkms status empty, module file gone" dkms_forgot
	rm -rf "$work"
	work=
	echo "# $ser: $(($(date +%s) - t0)) s"
}

dkms_version() {
	if vkt_needs_chroot "$ser"; then
		"$VKT_TOP/tests/vm/sid-chroot" --run dkms --version 2>/dev/null
	else
		dkms --version
	fi | sed 's/^dkms-//'
}

tail_make_log() {
	local f

	f=$(ls "$work"/dkms/vhost-kt/"$version"/build/make.log 2>/dev/null | head -n1)
	[[ -z $f ]] || tail -n 20 "$f" | sed 's/^/#   make.log: /'
}

echo "TAP version 13"
if [[ $(id -u) -ne 0 ]]; then
	not_ok "runs as root (mount namespace, chroot, guests)"
elif ! command -v dkms >/dev/null || ! command -v unshare >/dev/null; then
	not_ok "dkms and unshare are installed (.ci/install-deps)"
else
	start=$(date +%s)
	for ser in "${series[@]}"; do
		one_series
		if [[ -n $work ]]; then
			# A step failed: what dkms has is gone with the tree.
			rm -rf "$work"
			work=
		fi
	done
	echo "# dkms-guest: $(($(date +%s) - start)) s for ${series[*]}"
fi
echo "1..$n"
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 && $passed -gt 0 ]]
