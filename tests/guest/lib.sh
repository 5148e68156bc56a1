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

# Whether the kernel has vhost_task (task mode) and which API, from its
# series rather than from the running kernel: a 6.12 or 7.x that lost it
# must fail the tests of task mode, not skip them.  module.sh checks that
# the running kernel and the module's compat probe agree.
vkt_have_vhost_task() { [ "$VKT_SERIES" != 6.1 ]; }
vkt_vhost_task_api() {
	case $VKT_SERIES in
	6.1) echo absent ;;
	6.8) echo three-argument ;;
	*) echo four-argument ;;
	esac
}

# Our module needs tun (and tap for macvtap backends) from the kernel.
vkt_load_module() {
	vkt_modprobe tun && vkt_modprobe tap && insmod "$VKT_BUILD/vhost_kt.ko" "$@"
}
vkt_unload_module() { rmmod vhost_kt; }

# vkt_require LABEL CMD...: what the rest of a test stands on.  If CMD
# fails, that is one failure and the test ends there.
vkt_require() {
	local l=$1
	shift
	"$@" && return 0
	vkt_fail "$l"
	vkt_done
	exit
}

# vkt_test_modes WHAT: the worker modes this kernel runs, in the array
# `modes`; where it has no vhost_task, task mode is a skip of WHAT.
vkt_test_modes() {
	modes=(kthread)
	if vkt_have_vhost_task; then
		modes+=(task)
	else
		vkt_skip "$1 in task mode" "no vhost_task in $VKT_KVER"
	fi
}

# Up to 15 s for process PID to be gone (or a zombie).
vkt_wait_dead() {
	local i s
	for i in $(seq 150); do
		s=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' /proc/"$1"/status 2>/dev/null)
		{ [ -z "$s" ] || [ "$s" = Z ]; } && return 0
		sleep 0.1
	done
	return 1
}

# Up to 15 s for PATH to vanish.
vkt_wait_gone() {
	local i
	for i in $(seq 150); do
		[ -e "$1" ] || return 0
		sleep 0.1
	done
	return 1
}

vkt_done() {
	echo "1..$_vkt_n"
	[ "$_vkt_failed" -eq 0 ]
}
