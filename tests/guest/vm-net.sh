#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Real VMs on each vhost-net implementation: an L2 QEMU/KVM guest whose
# virtio-net datapath is the vhost device under test (passed by fd, as
# libvirt does), pinged and driven with iperf3 in both directions, while its
# workers are checked from L1: kthread mode gives kernel threads
# vhost-<qemu pid> (children of kthreadd, no mm of their own) in QEMU's
# cgroup; task mode gives threads of QEMU with that name.  Stock vhost_net
# first (both of its modes where the kernel has fork_from_owner_default),
# then vhost_kt's kthread and task nodes, then two queue pairs on each.
. "$VKT_REPO/tests/guest/lib.sh"
. "$VKT_REPO/tests/guest/vmlib.sh"
trap vkt_vm_stop_all EXIT

L1=192.0.2.1/24
L2=192.0.2.2
T=$VKT_TMP/vm-net

# vm_case LABEL DEV MODE [QUEUES]: one L2 on DEV, expecting MODE workers.
vm_case() {
	local label=$1 dev=$2 mode=$3 nq=${4:-1} t0 pid w res bytes other ticks0 ticks1
	local ok tid kind ppid tgid cg qcg n line irq
	t0=$(date +%s)
	if ! vkt_vm_start c "$dev" "$L1" "$L2/24" "$nq"; then
		vkt_fail "$label: L2 boots with its virtio-net on $dev"
		vkt_vm_stop c
		return
	fi
	vkt_ok "$label: L2 boots with its virtio-net on $dev ($(($(date +%s) - t0)) s)"
	pid=$(vkt_vm_pid c)
	vkt_check "$label: L1 pings L2" busybox ping -c 3 -w 15 "$L2"
	vkt_check "$label: L2 pings L1" vkt_vm_cmd c 20 "ping -c 2 -w 10 ${L1%/*}"

	# L1 -> L2 while the workers are inspected, then L2 -> L1.
	mkdir -p "$T"
	vkt_vm_workers c >"$T/w0"
	ticks0=0
	while read -r tid _; do
		ticks0=$((ticks0 + $(vkt_thread_ticks "$tid")))
	done <"$T/w0"
	vkt_iperf c "$L2" "$T/tx.json" -t 3 -P "$nq" >"$T/tx" &
	sleep 1.5
	vkt_vm_workers c >"$T/w"
	wait $!
	ticks1=0
	while read -r tid _; do
		ticks1=$((ticks1 + $(vkt_thread_ticks "$tid")))
	done <"$T/w"
	for dir in tx rx; do
		[ $dir = rx ] && vkt_iperf c "$L2" "$T/rx.json" -t 3 -R -P "$nq" >"$T/rx"
		read -r bytes other res <"$T/$dir"
		if [ "${bytes:-0}" -gt 0 ] && [ "${other:-0}" -gt 0 ]; then
			vkt_ok "$label: iperf3 $([ $dir = tx ] && echo L1 '->' L2 || echo L2 '->' L1): $((other / 1024)) KiB, $(vkt_bps "$res")"
		else
			vkt_fail "$label: iperf3 $dir moved data"
			vkt_diag "$(cat "$T/$dir")"
		fi
	done

	# Worker placement, seen while traffic ran.
	qcg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
	n=$(wc -l <"$T/w")
	vkt_check_eq "$label: one vhost-$pid worker per queue pair" "$nq" "$n"
	ok=1
	while read -r tid kind ppid tgid cg; do
		line="tid $tid: $kind, parent $ppid, thread group $tgid, cgroup $cg"
		vkt_diag "worker $line"
		case $mode in
		kthread)
			[ "$kind" = kthread ] && [ "$ppid" = 2 ] && [ "$tgid" = "$tid" ] &&
				[ "$cg" = "$qcg" ] && ! grep -q '^VmSize' "/proc/$tid/status" ||
				{ ok=; vkt_diag "not a kthread of kthreadd in $qcg: $line"; }
			;;
		task)
			[ "$kind" = task ] && [ "$tgid" = "$pid" ] ||
				{ ok=; vkt_diag "not a thread of QEMU $pid: $line"; }
			;;
		esac
	done <"$T/w"
	if [ "$n" -gt 0 ] && [ -n "$ok" ]; then
		case $mode in
		kthread) vkt_ok "$label: workers are kthreads (parent kthreadd) in QEMU's cgroup $qcg" ;;
		task) vkt_ok "$label: workers are threads of QEMU (in /proc/$pid/task)" ;;
		esac
	else
		vkt_fail "$label: workers are in $mode mode"
	fi
	if [ "$ticks1" -gt "$ticks0" ]; then
		vkt_ok "$label: the workers ran during the transfer ($((ticks1 - ticks0)) ticks)"
	else
		vkt_fail "$label: the workers ran during the transfer"
	fi
	if [ "$nq" -gt 1 ]; then
		irq=$(vkt_vm_cmd c 10 "cat /proc/interrupts" | awk '/virtio.*-input\./ {
			s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; if (s > 10) n++ }
			END { print n + 0 }')
		vkt_check_eq "$label: L2 received on all $nq rx queues" "$nq" "$irq"
	fi
	if vkt_vm_console c | grep -E 'BUG:|WARNING:|Oops|Call Trace|virtio_net.*(error|bad|corrupt)' >"$T/bad"; then
		vkt_fail "$label: L2 kernel log is clean"
		vkt_diag "$(head -20 "$T/bad")"
	else
		vkt_ok "$label: L2 kernel log is clean"
	fi
	vkt_check "$label: QEMU exits on SIGTERM" vkt_vm_stop c
	sleep 0.2
	vkt_check_eq "$label: no vhost-$pid worker is left" "" \
		"$(grep -lx "vhost-$pid" /proc/[0-9]*/comm 2>/dev/null)"
	vkt_diag "$label: $(($(date +%s) - t0)) s"
}

if ! vkt_l2_setup; then
	vkt_skip "L2 guests" "$VKT_L2_WHY"
	vkt_done
	exit
fi
# VKT_VM_CASES (e.g. "stock kt mq") narrows the run when debugging by hand.
want() { [ -z "${VKT_VM_CASES:-}" ] || [[ " $VKT_VM_CASES " == *" $1 "* ]]; }

# Stock vhost_net.  Its mode switch is a parameter of vhost.ko (6.12.y with
# the backport, 6.17+); without it, 6.1 has kthreads and 6.4+ tasks.
fork_param=$(modinfo -b "$VKT_MODROOT" -k "$VKT_KVER" -p vhost 2>/dev/null | grep -c '^fork_from_owner_default')
if vkt_have_vhost_task || [ "$fork_param" -gt 0 ]; then
	stock_mode=task
else
	stock_mode=kthread
fi
if want stock; then
	vkt_check "stock vhost_net loads" vkt_modprobe vhost_net
	vm_case "stock vhost-net" /dev/vhost-net "$stock_mode"
	want mq && vm_case "stock vhost-net 2 queues" /dev/vhost-net "$stock_mode" 2
	rmmod vhost_net vhost
	if [ "$fork_param" -gt 0 ]; then
		vkt_check "stock vhost loads with fork_from_owner_default=0" \
			vkt_modprobe vhost fork_from_owner_default=0
		vkt_check "stock vhost_net loads" vkt_modprobe vhost_net
		vm_case "stock vhost-net fork_from_owner_default=0" /dev/vhost-net kthread
		rmmod vhost_net vhost
	else
		vkt_skip "stock vhost-net kthread mode by parameter" "vhost.ko of $VKT_KVER has no fork_from_owner_default"
	fi
fi

# vhost_kt, by device node.
if want kt; then
	if ! vkt_check "vhost_kt loads" vkt_load_module; then
		vkt_done
		exit
	fi
	vm_case "vhost-kt-net-kthread" /dev/vhost-kt-net-kthread kthread
	if [ -c /dev/vhost-kt-net-task ]; then
		vm_case "vhost-kt-net-task" /dev/vhost-kt-net-task task
	else
		vkt_skip "vhost-kt task mode" "no vhost_task in $VKT_KVER"
	fi
	if want mq; then
		kt_mode=$( [ "$(cat /sys/module/vhost_kt/parameters/inherit_owner_default)" = Y ] &&
			echo task || echo kthread)
		vm_case "vhost-kt-net 2 queues" /dev/vhost-kt-net "$kt_mode" 2
	fi
	vkt_check "vhost_kt unloads" vkt_unload_module
fi
vkt_done
