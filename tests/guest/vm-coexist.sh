#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Stock vhost_net and vhost_kt side by side: one L2 guest on /dev/vhost-net
# and one on /dev/vhost-kt-net (kthread mode), with iperf3 through both at
# the same time; vhost_kt stays loaded while its VM runs and can go away
# while the stock one keeps working.
. "$VKT_REPO/tests/guest/lib.sh"
. "$VKT_REPO/tests/guest/vmlib.sh"
vkt_vm_test_init
if ! vkt_check "stock vhost_net loads" vkt_modprobe vhost_net ||
   ! vkt_check "vhost_kt loads with inherit_owner_default=N" \
	vkt_load_module inherit_owner_default=N; then
	vkt_done
	exit
fi
vkt_vm_launch s /dev/vhost-net 192.0.2.1/24 192.0.2.2/24
vkt_vm_launch k /dev/vhost-kt-net 198.51.100.1/24 198.51.100.2/24
ok=1
for n in s k; do
	if vkt_vm_wait "$n"; then
		vkt_ok "L2 $n boots ($(($(date +%s) - VKT_VM_T0[$n])) s)"
	else
		vkt_fail "L2 $n boots (${VKT_VM_WHY[$n]:-})"
		ok=
	fi
done
if [ -n "$ok" ]; then
	f=$VKT_L2_DIR
	vkt_iperf s 192.0.2.2 "$f/s.json" -t 5 >"$f/s.out" &
	a=$!
	vkt_iperf k 198.51.100.2 "$f/k.json" -t 5 >"$f/k.out" &
	b=$!
	sleep 2
	vkt_vm_workers s >"$f/s.w"
	vkt_vm_workers k >"$f/k.w"
	wait $a $b
	for n in s k; do
		other=0
		read -r bytes other bps _ <"$f/$n.out"
		what="stock vhost-net"
		[ $n = s ] || what="vhost-kt-net"
		if [ "${other:-0}" -gt 0 ]; then
			vkt_ok "$what VM moved $((other / 1024)) KiB ($(vkt_bps "$bps")) while the other ran"
		else
			vkt_fail "$what VM moved data while the other ran"
			vkt_diag "$(cat "$f/$n.out")"
		fi
		vkt_diag "$what workers: $(cat "$f/$n.w")"
	done
	vkt_check_eq "each VM has its own single worker" "1 1" "$(wc -l <"$f/s.w") $(wc -l <"$f/k.w")"
	vkt_check "the vhost-kt worker is a kthread" grep -q ' kthread 2 ' "$f/k.w"
	if rmmod vhost_kt 2>/dev/null; then
		vkt_fail "vhost_kt cannot be unloaded while a VM uses it"
	else
		vkt_ok "vhost_kt cannot be unloaded while a VM uses it"
	fi
fi
vkt_vm_finish k "vhost-kt-net VM"
vkt_check "vhost_kt unloads while the stock VM runs" vkt_unload_module
if [ -n "$ok" ]; then
	vkt_ping "the stock VM still pings" busybox ping -c 2 -w 20 192.0.2.2
	vkt_iperf s 192.0.2.2 "$VKT_L2_DIR/s2.json" -t 2 -R >"$VKT_L2_DIR/s2.out"
	bytes=0 other=0
	read -r bytes other bps _ <"$VKT_L2_DIR/s2.out"
	if [ "${other:-0}" -gt 0 ]; then
		vkt_ok "the stock VM still moves data ($((other / 1024)) KiB)"
	else
		vkt_fail "the stock VM still moves data"
	fi
fi
vkt_vm_finish s "stock vhost-net VM"
rmmod vhost_net vhost 2>/dev/null
vkt_done
