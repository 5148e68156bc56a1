#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The owner is SIGKILLed while its rings are busy (vring_test in a stress
# loop), in both worker modes: the process must die promptly, its worker
# threads must go, the device must be closed, and both modules must unload.
. "$VKT_REPO/tests/guest/lib.sh"
VT=$VKT_BIN/vring_test
DBG=/sys/kernel/debug/vhost_kt/devices

load() {
	vkt_load_module "$@" && insmod "$VKT_BUILD/vhost_kt_test.ko" &&
		test -c /dev/vhost-kt-test
}

dbg_tids() {
	sed -n "s/^owner=$1 mode=[a-z]* workers=//p" "$DBG" | tr ',' '\n' |
		sed -n 's/^[0-9]*:\([1-9][0-9]*\).*/\1/p'
}

# kill_busy LABEL MODULE-PARAM VRING_TEST-ARGS...
kill_busy() {
	local l=$1 param=$2 pid tids t i ok
	shift 2
	if ! load "$param"; then
		vkt_fail "$l: modules load"
		return
	fi
	"$VT" --seconds -1 --timeout 60000 "$@" >"$VKT_TMP/kill.out" 2>&1 &
	pid=$!
	# Busy: the backend has answered chains and workers are listed.
	for i in $(seq 100); do
		tids=$(dbg_tids $pid)
		[ -n "$tids" ] && grep -q '^ok 1 ' "$VKT_TMP/kill.out" && break
		sleep 0.1
	done
	sleep 1
	if [ -z "$tids" ] || ! kill -0 $pid 2>/dev/null; then
		vkt_fail "$l: vring_test runs and its workers are listed"
		vkt_diag "$(cat "$VKT_TMP/kill.out"; cat $DBG)"
		kill -KILL $pid 2>/dev/null
		wait $pid 2>/dev/null
		rmmod vhost_kt_test; vkt_unload_module
		return
	fi
	vkt_ok "$l: vring_test busy with workers $(echo $tids)"
	kill -KILL $pid
	vkt_check "$l: the owner dies within 15 s of SIGKILL" vkt_wait_dead $pid
	wait $pid 2>/dev/null
	ok=1
	for t in $tids; do
		vkt_wait_gone /proc/"$t" || ok=
	done
	if [ -n "$ok" ]; then
		vkt_ok "$l: worker threads are gone"
	else
		vkt_fail "$l: worker threads are gone"
		vkt_diag "$(for t in $tids; do cat /proc/"$t"/status 2>/dev/null | head -3; cat /proc/"$t"/stack 2>/dev/null; done)"
	fi
	vkt_check_eq "$l: the device was closed (debugfs lists nothing)" "" "$(cat $DBG)"
	vkt_check "$l: rmmod vhost_kt_test vhost_kt" rmmod vhost_kt_test vhost_kt
}

# orphan LABEL MODE(0|1): the owner is SIGKILLed while a forked child of
# it still holds the device open; the device lives on, ownerless in effect,
# until the child closes it.
orphan() {
	local l=$1 mode=$2 pid tids t ok i line
	if ! load; then
		vkt_fail "$l: modules load"
		return
	fi
	rm -f "$VKT_TMP/orphan.go"
	python3 "$VKT_REPO/tests/guest/vhostctl.py" /dev/vhost-kt-test pid set-mode:$mode set-owner \
		child:wait:"$VKT_TMP/orphan.go" >"$VKT_TMP/orphan.out" 2>&1 &
	pid=$!
	for i in $(seq 100); do
		tids=$(dbg_tids $pid)
		[ -n "$tids" ] && break
		sleep 0.1
	done
	sleep 0.5
	kill -KILL $pid
	vkt_check "$l: the owner dies within 15 s of SIGKILL" vkt_wait_dead $pid
	wait $pid 2>/dev/null
	line=$(grep "^owner=$pid " $DBG)
	# No worker found at all must fail, not pass as "all gone".
	[ -n "$tids" ] || vkt_diag "$l: no worker tid was found before the kill"
	if [ "$mode" = 1 ]; then
		ok=${tids:+1}
		for t in $tids; do
			vkt_wait_gone /proc/"$t" || ok=
		done
		vkt_check_eq "$l: task worker died with its owner (listed as killed)" "1 killed" \
			"${ok:-0} $(grep -q '(killed)' <<<"$line" && echo killed)"
	else
		vkt_check "$l: kthread worker lives while the device is open" \
			test -n "$tids" -a -d /proc/"${tids%% *}"
	fi
	vkt_check "$l: the device is still listed while the child holds it" test -n "$line"
	touch "$VKT_TMP/orphan.go"
	for i in $(seq 150); do
		[ -z "$(cat $DBG)" ] && break
		sleep 0.1
	done
	vkt_check_eq "$l: the device closes when the child exits" "" "$(cat $DBG)"
	ok=1
	for t in $tids; do
		vkt_wait_gone /proc/"$t" || ok=
	done
	vkt_check "$l: no worker thread left" test -n "$ok"
	vkt_check "$l: rmmod vhost_kt_test vhost_kt" rmmod vhost_kt_test vhost_kt
}

kill_busy "kthread mode" inherit_owner_default=N --num 256 --vqs 2
orphan "kthread mode, fd shared with a child" 0
kill_busy "kthread mode, big ring, several regions" inherit_owner_default=N --num 32768 --max-len 256 --regions 8
if vkt_have_vhost_task; then
	kill_busy "task mode" inherit_owner_default=Y --num 256 --vqs 2
	kill_busy "task mode, two workers" inherit_owner_default=Y --num 256 --vqs 2 --new-worker
	kill_busy "task mode, IOTLB on miss" inherit_owner_default=Y --num 256 --iotlb 2 --regions 4
	kill_busy "kthread device under a task default" inherit_owner_default=Y --num 256 --mode kthread
	orphan "task mode, fd shared with a child" 1
else
	vkt_skip "SIGKILL of a busy owner in task mode" "kernel $VKT_KVER has no vhost_task"
fi
vkt_diag "core-kill took ${SECONDS}s"
vkt_done
