# SPDX-License-Identifier: GPL-2.0-only
# Helpers for guest test scripts (sourced).  Tests print TAP; the host
# runner counts `ok`/`not ok` lines and scans the kernel log afterwards.

: "${VKT_REPO:?not in a vhost-kt guest}"
VKT_BIN=$VKT_BUILD/bin
_vkt_n=0
_vkt_failed=0

vkt_ok()   { _vkt_n=$((_vkt_n + 1)); echo "ok $_vkt_n - $*"; }
vkt_fail() { _vkt_n=$((_vkt_n + 1)); _vkt_failed=$((_vkt_failed + 1)); echo "not ok $_vkt_n - $*"; }
# A skip is reported as such, never as a pass.
vkt_skip() { _vkt_n=$((_vkt_n + 1)); echo "ok $_vkt_n - $1 # SKIP ${2:-}"; }
vkt_diag() { sed 's/^/# /' <<<"$*"; }

# vkt_check DESC CMD...: pass if CMD exits 0; its output is shown on failure.
vkt_check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		vkt_ok "$desc"
	else
		vkt_fail "$desc"
		vkt_diag "$out"
	fi
}

# vkt_check_eq DESC EXPECTED ACTUAL
vkt_check_eq() {
	if [ "$2" = "$3" ]; then
		vkt_ok "$1"
	else
		vkt_fail "$1"
		vkt_diag "expected '$2', got '$3'"
	fi
}

# Run a TAP-printing program and renumber its results into this script's.
vkt_run_tap() {
	local line
	while IFS= read -r line; do
		case $line in
		"ok "*) _vkt_n=$((_vkt_n + 1)); echo "ok $_vkt_n -${line#ok * -}" ;;
		"not ok "*) _vkt_n=$((_vkt_n + 1)); _vkt_failed=$((_vkt_failed + 1))
			echo "not ok $_vkt_n -${line#not ok * -}" ;;
		1..*|"TAP version"*) ;;
		"vkt-rc 0") ;;
		"vkt-rc "*) _vkt_n=$((_vkt_n + 1)); _vkt_failed=$((_vkt_failed + 1))
			echo "not ok $_vkt_n - $1 exited with status ${line#vkt-rc }" ;;
		*) echo "# $line" ;;
		esac
	done < <("$@" 2>&1; echo "vkt-rc $?")
}

vkt_modprobe() { modprobe -d "$VKT_MODROOT" "$@"; }

# Ask the running kernel itself, not a config file.
vkt_have_vhost_task() { grep -qw vhost_task_create /proc/kallsyms; }

# Our module needs tun (and tap for macvtap backends) from the kernel.
vkt_load_module() {
	vkt_modprobe tun && vkt_modprobe tap && insmod "$VKT_BUILD/vhost_kt.ko" "$@"
}
vkt_unload_module() { rmmod vhost_kt; }

vkt_done() {
	echo "1..$_vkt_n"
	[ "$_vkt_failed" -eq 0 ]
}
