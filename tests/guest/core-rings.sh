#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The vhost core's split-ring path, driven through the test backend
# (tests/kmod, /dev/vhost-kt-test) by tests/drivers/vring_test: ring sizes
# from 1 to the 32768 maximum, 16-bit index wrap-around, several memory
# regions with holes, event_idx / indirect / version_1 on and off, IOTLB
# instead of a memory table, two queues on two workers, guest memory moved
# to a copy between two runs of traffic, malformed rings.
# Everything runs once with kthread workers and once with vhost_task
# workers (kernels that have vhost_task).
. "$VKT_REPO/tests/guest/lib.sh"
VT=$VKT_BIN/vring_test

load() {
	vkt_load_module "$@" && insmod "$VKT_BUILD/vhost_kt_test.ko" &&
		test -c /dev/vhost-kt-test
}
unload() { rmmod vhost_kt_test && vkt_unload_module; }

# matrix LABEL MODE: every ring case with the module default set to MODE.
matrix() {
	local l=$1 other=$2
	vkt_run_tap "$VT" --label "$l" --num 1 --count 300
	vkt_run_tap "$VT" --label "$l" --num 1 --count 300 --indirect 0
	vkt_run_tap "$VT" --label "$l" --num 2 --count 1000
	vkt_run_tap "$VT" --label "$l" --num 256 --count 5000
	vkt_run_tap "$VT" --label "$l" --num 1024 --count 5000 --regions 6
	vkt_run_tap "$VT" --label "$l" --num 32768 --count 40000 --max-len 256
	vkt_run_tap "$VT" --label "$l" --num 256 --count 3000 --base 65500
	vkt_run_tap "$VT" --label "$l" --num 1024 --count 3000 --base 65535 --regions 3
	vkt_run_tap "$VT" --label "$l" --num 256 --count 3000 --event-idx 0
	vkt_run_tap "$VT" --label "$l" --num 256 --count 3000 --indirect 0
	vkt_run_tap "$VT" --label "$l" --num 256 --count 3000 --version1 0
	vkt_run_tap "$VT" --label "$l" --num 128 --count 3000 --event-idx 0 --indirect 0 --version1 0 --base 65530
	vkt_run_tap "$VT" --label "$l" --num 256 --count 3000 --regions 16 --max-len 16384
	vkt_run_tap "$VT" --label "$l" --num 256 --count 3000 --iotlb 1 --regions 4
	vkt_run_tap "$VT" --label "$l" --num 256 --count 3000 --iotlb 2 --regions 4
	vkt_run_tap "$VT" --label "$l" --num 256 --count 3000 --vqs 2
	vkt_run_tap "$VT" --label "$l" --num 64 --count 5000 --always-kick --max-len 64
	vkt_run_tap "$VT" --label "$l" --seconds 5 --num 256 --vqs 2
	if [ -n "$other" ]; then
		vkt_run_tap "$VT" --label "$l, per-device $other" --num 256 --count 3000 --mode "$other"
	fi
	vkt_run_tap "$VT" --label "$l" --negative
}

vkt_check "vhost_kt (kthread default) and vhost_kt_test load" load inherit_owner_default=N
if vkt_have_vhost_task; then
	matrix "kthread mode" task
else
	matrix "kthread mode" ""
fi
vkt_check "vhost_kt_test and vhost_kt unload" unload

if vkt_have_vhost_task; then
	vkt_check "vhost_kt (task default) and vhost_kt_test load" load inherit_owner_default=Y
	matrix "task mode" kthread
	vkt_run_tap "$VT" --label "task mode" --num 256 --count 5000 --vqs 2 --new-worker
	vkt_check "vhost_kt_test and vhost_kt unload" unload
else
	vkt_skip "ring matrix in task mode" "kernel $VKT_KVER has no vhost_task"
fi
vkt_diag "core-rings took ${SECONDS}s"
vkt_done
