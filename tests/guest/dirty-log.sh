#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The dirty page log (tests/drivers/dirty_log): with VHOST_F_LOG_ALL and a
# bitmap from VHOST_SET_LOG_BASE, every guest page the device wrote (used
# ring of a VHOST_VRING_F_LOG queue, RX's or TX's, written buffer bytes) is
# marked and nothing else, by guest-physical address also under an IOTLB;
# the log eventfd fires; bad log arguments get upstream's errno.  Through the test
# backend and through vhost-net with a tap, in each worker mode the kernel
# has; then the same against the kernel's own vhost-net.
. "$VKT_REPO/tests/guest/lib.sh"
DL=$VKT_BIN/dirty_log

vkt_require "vhost_kt loads" vkt_load_module inherit_owner_default=N
vkt_require "vhost_kt_test loads" insmod "$VKT_BUILD/vhost_kt_test.ko"

vkt_test_modes "dirty log"

for m in "${modes[@]}"; do
	for dev in /dev/vhost-kt-test /dev/vhost-kt-net; do
		l="${dev#/dev/} $m"
		vkt_run_tap "$DL" --dev "$dev" --mode "$m" --label "$l"
		vkt_run_tap "$DL" --dev "$dev" --mode "$m" --iotlb --label "$l iotlb"
		vkt_run_tap "$DL" --dev "$dev" --mode "$m" --log-queue 1 --label "$l queue 1"
		vkt_run_tap "$DL" --dev "$dev" --mode "$m" --iotlb --log-queue 1 --label "$l iotlb queue 1"
		vkt_run_tap "$DL" --dev "$dev" --mode "$m" --errors --label "$l"
	done
done

# The same checks against the kernel's own vhost-net validate the test.
if vkt_modprobe vhost_net && [ -c /dev/vhost-net ]; then
	vkt_run_tap "$DL" --dev /dev/vhost-net --label "stock vhost-net"
	vkt_run_tap "$DL" --dev /dev/vhost-net --iotlb --label "stock vhost-net iotlb"
	vkt_run_tap "$DL" --dev /dev/vhost-net --log-queue 1 --label "stock vhost-net queue 1"
	vkt_run_tap "$DL" --dev /dev/vhost-net --iotlb --log-queue 1 --label "stock vhost-net iotlb queue 1"
	vkt_run_tap "$DL" --dev /dev/vhost-net --errors --label "stock vhost-net"
	vkt_modprobe -r vhost_net
else
	vkt_skip "dirty log of stock vhost-net" "no vhost_net in $VKT_KVER"
fi

vkt_check "vhost_kt_test unloads" rmmod vhost_kt_test
vkt_check "vhost_kt unloads" vkt_unload_module
vkt_done
