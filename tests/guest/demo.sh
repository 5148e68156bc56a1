#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The demo: vhost_kt in kthread mode, its devices, and what its workers are,
# first for a bare owner process, then end to end for a real VM: an L2
# QEMU/KVM guest whose virtio-net datapath is /dev/vhost-kt-net (passed to
# QEMU as an fd), with iperf3 both ways and its worker threads shown.
. "$VKT_REPO/tests/guest/lib.sh"
. "$VKT_REPO/tests/guest/vmlib.sh"
trap vkt_vm_stop_all EXIT
ctl() { python3 "$VKT_REPO/tests/guest/vhostctl.py" "$@"; }

# One line per vhost worker of QEMU: what it is, who its parent is, where
# it is accounted.
show_workers() {
	local tid kind ppid tgid cg
	printf '   %-7s %-12s %-8s %-26s %-9s %s\n' TID NAME MODE PARENT TGID CGROUP
	while read -r tid kind ppid tgid cg; do
		printf '   %-7s %-12s %-8s %-26s %-9s %s\n' "$tid" "$(cat "/proc/$tid/comm")" "$kind" \
			"$ppid ($(cat "/proc/$ppid/comm" 2>/dev/null))" "$tgid" "$cg"
	done <"$1"
}

echo "== kernel $(uname -r)"
vkt_check "load vhost_kt inherit_owner_default=N" vkt_load_module inherit_owner_default=N
dmesg | grep 'vhost_kt:' | sed 's/^/   /'
echo "== device nodes"
ls -l /dev/vhost-kt-net* | sed 's/^/   /'
echo "== parameters"
grep -H . /sys/module/vhost_kt/parameters/* | sed 's/^/   /'
echo "== an owner process, its device and its worker"
ctl /dev/vhost-kt-net get-mode set-owner sleep:2 >"$VKT_TMP/demo.out" &
owner=$!
sleep 1
cat /sys/kernel/debug/vhost_kt/devices 2>/dev/null | sed 's/^/   /'
ps -eo pid,ppid,comm,args | awk -v p="$owner" '$3 ~ /^vhost-/ || $1 == p' | sed 's/^/   /'
wait $owner
sed 's/^/   /' "$VKT_TMP/demo.out"

echo "== a VM whose virtio-net datapath is /dev/vhost-kt-net"
if ! vkt_l2_setup; then
	vkt_skip "a VM on /dev/vhost-kt-net" "$VKT_L2_WHY"
elif ! vkt_vm_start d /dev/vhost-kt-net 192.0.2.1/24 192.0.2.2/24; then
	vkt_fail "an L2 VM boots on /dev/vhost-kt-net (${VKT_VM_WHY[d]:-})"
else
	pid=$(vkt_vm_pid d)
	vkt_ok "an L2 VM boots on /dev/vhost-kt-net ($(($(date +%s) - VKT_VM_T0[d])) s)"
	echo "   QEMU pid $pid, cgroup $(sed -n 's/^0:://p' "/proc/$pid/cgroup"):"
	tr '\0' ' ' <"/proc/$pid/cmdline" |
		grep -ao -- '-netdev [^ ]*\|-device virtio-net[^ ]*' | sed 's/^/     /'
	for fd in /proc/"$pid"/fd/*; do
		case $(readlink "$fd") in
		/dev/vhost*) echo "     fd ${fd##*/} -> $(readlink "$fd")" ;;
		esac
	done
	vkt_ping "L1 pings the VM" busybox ping -c 3 -w 20 192.0.2.2
	f=$VKT_L2_DIR/d
	vkt_iperf d 192.0.2.2 "$f/tx.json" -t 3 >"$f/tx" &
	sleep 1.5
	vkt_vm_workers d >"$f/w"
	wait $!
	vkt_iperf d 192.0.2.2 "$f/rx.json" -t 3 -R >"$f/rx"
	for dir in tx rx; do
		desc="L1 -> VM"
		[ $dir = tx ] || desc="VM -> L1"
		read -r bytes other bps _ <"$f/$dir"
		if [ "${other:-0}" -gt 0 ]; then
			vkt_ok "iperf3 $desc: $((other / 1024)) KiB in 3 s, $(vkt_bps "$bps")"
		else
			vkt_fail "iperf3 $desc moved data"
			vkt_diag "$(cat "$f/$dir")"
		fi
	done
	echo "   vhost workers of QEMU $pid while iperf3 ran:"
	show_workers "$f/w"
	vkt_check "the worker is a kthread (parent kthreadd) in QEMU's cgroup" \
		grep -q " kthread 2 [0-9]* $(sed -n 's/^0:://p' "/proc/$pid/cgroup")\$" "$f/w"
	echo "   threads of QEMU (no vhost worker among them in kthread mode):"
	for t in /proc/"$pid"/task/*; do
		printf '     %s %s\n' "${t##*/}" "$(cat "$t/comm")"
	done | head -12
	cat /sys/kernel/debug/vhost_kt/devices 2>/dev/null | sed 's/^/   /'
	vkt_vm_finish d "the VM"
fi
vkt_check "unload vhost_kt" vkt_unload_module
vkt_done
