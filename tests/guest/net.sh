#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# vhost-kt-net data path: tests/drivers/net_test pushes frames of many
# sizes through the TX and RX rings of a tap-backed device and checks every
# byte, for several feature combinations, on every node and in both module
# default modes, and checks that each node's worker really is the task or
# kthread it promises.  net-stock.sh runs the same program against the
# kernel's own vhost-net.
. "$VKT_REPO/tests/guest/lib.sh"
. "$VKT_REPO/tests/guest/net-lib.sh"
net_have_test

if [ ! -f "$VKT_BUILD/vhost_kt.ko" ]; then
	vkt_fail "vhost_kt.ko is built"
	vkt_done
	exit
fi

for def in N Y; do
	if [ $def = Y ] && ! vkt_have_vhost_task; then
		vkt_skip "vhost-kt with default task mode" "no vhost_task in $VKT_KVER"
		continue
	fi
	if ! vkt_load_module inherit_owner_default=$def; then
		vkt_fail "vhost_kt loads with inherit_owner_default=$def"
		continue
	fi
	# The full matrix once, on the default node in the kthread default.
	if [ $def = Y ]; then w=task set=quick; else w=kthread set=all; fi
	net_combos /dev/vhost-kt-net "vhost-kt-net (default $w)" $w $set
	net_combos /dev/vhost-kt-net-kthread "vhost-kt-net-kthread (default $w)" kthread quick
	if [ -c /dev/vhost-kt-net-task ]; then
		net_combos /dev/vhost-kt-net-task "vhost-kt-net-task (default $w)" task quick
	fi
	# Two devices (two workers) busy at the same time, as with two VMs
	# or two queue pairs of one VM.
	"$NET_TEST" --label "two devices at once (default $w), first" \
		--frames 300 --cycles 3 --expect-worker $w /dev/vhost-kt-net \
		>"$VKT_TMP/net-a.tap" 2>&1 &
	pid=$!
	vkt_run_tap "$NET_TEST" --label "two devices at once (default $w), second" \
		--frames 300 --cycles 3 --no-mrg --expect-worker kthread \
		/dev/vhost-kt-net-kthread
	wait $pid
	rc=$?
	vkt_run_tap cat "$VKT_TMP/net-a.tap"
	vkt_check_eq "two devices at once (default $w), first: exit status" 0 $rc
	# RX busy polling also reads the TX queue of the pair (and, without
	# EVENT_IDX, writes its used flags), which here has no backend and
	# rings outside user space: accesses that must fail cleanly (TX's
	# error eventfd), never fault (a WARNING in the log).
	vkt_run_tap "$NET_TEST" --label "vhost-kt-net (default $w), RX busy poll beside unchecked TX rings" \
		--frames 200 --no-event-idx --poll-unbacked --expect-worker $w /dev/vhost-kt-net
	# The same under a device IOTLB that does not map TX's rings: the busy
	# loop reports misses, which allocates; with preemption off around it
	# a debug kernel would log "BUG: sleeping function called from
	# invalid context".
	vkt_run_tap "$NET_TEST" --label "vhost-kt-net (default $w), RX busy poll beside TX rings the IOTLB does not map" \
		--frames 200 --no-event-idx --poll-iotlb --expect-worker $w /dev/vhost-kt-net
	# A ring page fault in the busy loop is served, not reported as an
	# error (with preemption off around the loop it would be refused).
	vkt_run_tap "$NET_TEST" --label "vhost-kt-net (default $w), RX busy poll while TX's ring pages fault" \
		--frames 200 --poll-faults --expect-worker $w /dev/vhost-kt-net
	# tun refuses whole TX batches once its interface is deleted.
	vkt_run_tap "$NET_TEST" --label "vhost-kt-net (default $w), tap deleted" \
		--frames 100 --cycles 1 --delete-tap --expect-worker $w /dev/vhost-kt-net
	# The per-device ioctl, before SET_OWNER, also picks the mode.
	vkt_run_tap "$NET_TEST" --label "vhost-kt-net (default $w), fork-owner kthread" \
		--ping --mode kthread --expect-worker kthread /dev/vhost-kt-net
	if vkt_have_vhost_task; then
		vkt_run_tap "$NET_TEST" --label "vhost-kt-net (default $w), fork-owner task" \
			--ping --mode task --expect-worker task /dev/vhost-kt-net
	fi
	vkt_check "vhost_kt unloads after the net tests (default $w)" vkt_unload_module
done

# lock_mode: a node whose fixed mode is not the default refuses to open.
if vkt_have_vhost_task; then
	lock_def=Y other=kthread
else
	lock_def=N other=
fi
if vkt_load_module inherit_owner_default=$lock_def lock_mode=1; then
	if [ -n "$other" ]; then
		out=$( (exec 3<>/dev/vhost-kt-net-$other) 2>&1 )
		case $out in
		*"Operation not permitted"*)
			vkt_ok "lock_mode: opening vhost-kt-net-$other fails with EPERM" ;;
		*)
			vkt_fail "lock_mode: opening vhost-kt-net-$other fails with EPERM"
			vkt_diag "$out" ;;
		esac
	fi
	[ $lock_def = Y ] && w=task || w=kthread
	vkt_run_tap "$NET_TEST" --label "lock_mode: vhost-kt-net-$w still works" \
		--ping --expect-worker $w /dev/vhost-kt-net-$w
	vkt_check "vhost_kt unloads after the lock_mode test" vkt_unload_module
else
	vkt_fail "vhost_kt loads with lock_mode=1"
fi

vkt_done
