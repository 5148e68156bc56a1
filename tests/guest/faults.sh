#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Faults under traffic, in kthread mode and (where the kernel has vhost_task)
# task mode: the owner SIGKILLed or exiting while its worker is busy, a
# forked child using the owner's fd, the tap fd closed by its owner,
# RESET_OWNER and backend detach, and rmmod while a device is open.  Every
# step is bounded (by `timeout`, or for the background owners whose pid the
# test needs, by their own --seconds) and checks something observable: exit
# status, errno, the worker gone from /proc, the module's refcount.
. "$VKT_REPO/tests/guest/lib.sh"
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
FT=$VKT_BIN/fuzz_traffic
DBG=/sys/kernel/debug/vhost_kt/devices
REF=/sys/module/vhost_kt/refcnt

vkt_require "fuzz_traffic is built ($FT)" test -x "$FT"
vkt_require "vhost_kt loads" vkt_load_module

# Worker thread ids of owner PID, from the debugfs listing.
tids() {
	sed -n "s/^owner=$1 mode=[a-z]* workers=//p" "$DBG" | tr ',' '\n' |
		sed -n 's/^[0-9]*:\([0-9]*\).*/\1/p'
}
# Wait up to 20 s for "# busy" from a background fuzz_traffic.
wait_busy() {
	local i
	for i in $(seq 200); do
		grep -q '^# busy' "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# killed_or_exit MODE kill|exit: the owner dies with its worker busy.
owner_dies() {
	local mode=$1 how=$2 l="$1 mode, owner $2" out=$VKT_TMP/ft.out pid t ok=1 rc
	if [ "$how" = kill ]; then
		"$FT" --mode "$mode" --at 1500 --seconds 50 --rx /dev/vhost-kt-net >"$out" 2>&1 &
	else
		# Busy until the worker has been looked at (--while), however
		# slow the guest; at most 60 s.
		touch "$VKT_TMP/ft.busy"
		"$FT" --mode "$mode" --at 2000 --action exit --seconds 60 --rx \
			--while "$VKT_TMP/ft.busy" /dev/vhost-kt-net >"$out" 2>&1 &
	fi
	pid=$!
	if ! wait_busy "$out" $pid; then
		vkt_fail "$l: traffic flows"
		vkt_diag "$(cat "$out")"
		kill -KILL $pid 2>/dev/null
		wait $pid
		return
	fi
	t=$(tids $pid)
	rm -f "$VKT_TMP/ft.busy"
	vkt_check "$l: the worker is listed while busy ($(echo $t))" test -n "$t"
	if [ "$how" = kill ]; then
		kill -KILL $pid
		vkt_check "$l: the owner dies within 15 s of SIGKILL" vkt_wait_dead $pid
		wait $pid
		rc=$?
		vkt_check_eq "$l: exit status is SIGKILL's" 137 $rc
	else
		wait $pid
		rc=$?
		vkt_check_eq "$l: the owner exits normally with the worker busy" 0 $rc
	fi
	for i in $t; do vkt_wait_gone /proc/"$i" || ok=; done
	if [ -n "$ok" ]; then
		vkt_ok "$l: the worker thread is gone from /proc"
	else
		vkt_fail "$l: the worker thread is gone from /proc"
		vkt_diag "$(for i in $t; do head -3 /proc/"$i"/status; done 2>&1)"
	fi
	vkt_check_eq "$l: the device was released (debugfs lists nothing)" "" "$(cat $DBG)"
}

vkt_test_modes "faults"

for m in "${modes[@]}"; do
	owner_dies "$m" kill
	owner_dies "$m" exit
	for a in fork close-tap detach reset-owner; do
		vkt_run_tap timeout -k 5 60 "$FT" --mode "$m" --at 1000 --action $a --rx \
			/dev/vhost-kt-net
	done
	vkt_check_eq "$m mode: nothing left open after the faults" "" "$(cat $DBG)"
done

# rmmod while a device is open: refused (in use), clean once it is closed.
base=$(cat $REF)
exec 7<>/dev/vhost-kt-net
vkt_check_eq "an open device holds a module reference" $((base + 1)) "$(cat $REF)"
out=$(rmmod vhost_kt 2>&1)
rc=$?
if [ $rc -ne 0 ] && [[ $out == *"in use"* || $out == *busy* || $out == *EBUSY* ]]; then
	vkt_ok "rmmod vhost_kt is refused while a device is open"
else
	vkt_fail "rmmod vhost_kt is refused while a device is open"
	vkt_diag "rc=$rc: $out"
fi
vkt_check "the module is still loaded after the refused rmmod" test -d /sys/module/vhost_kt
exec 7>&-
vkt_check_eq "the reference is dropped at close" "$base" "$(cat $REF)"
# The same with an owner and a busy worker, closed by SIGKILL.
"$FT" --at 1500 --seconds 50 /dev/vhost-kt-net-kthread >"$VKT_TMP/ft.out" 2>&1 &
pid=$!
if wait_busy "$VKT_TMP/ft.out" $pid; then
	out=$(rmmod vhost_kt 2>&1) && vkt_fail "rmmod refused while a worker is busy" ||
		vkt_ok "rmmod refused while a worker is busy"
else
	vkt_fail "traffic for the busy rmmod check"
fi
kill -KILL $pid 2>/dev/null
wait $pid
vkt_check "rmmod vhost_kt succeeds once everything is closed" \
	timeout 30 rmmod vhost_kt
vkt_check "the module is gone" vkt_wait_gone /sys/module/vhost_kt
vkt_done
