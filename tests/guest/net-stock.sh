#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Validates tests/drivers/net_test itself against the kernel's own
# vhost-net: every feature combination must pass there, so a failure of
# the same test against vhost-kt (net.sh) points at vhost-kt.
. "$VKT_REPO/tests/guest/lib.sh"
. "$VKT_REPO/tests/guest/net-lib.sh"
net_have_test

if ! vkt_modprobe tun || ! vkt_modprobe vhost_net || [ ! -c /dev/vhost-net ]; then
	vkt_skip "stock vhost-net" "vhost_net is not available in $VKT_KVER"
	vkt_done
	exit
fi
# Stock kernels before 6.14 leave num_buffers alone without MRG_RXBUF.
net_combos /dev/vhost-net "stock vhost-net" "$(net_stock_worker)" all --lax-v1-num-buffers
if [ -e /sys/module/vhost/parameters/fork_from_owner_default ]; then
	vkt_run_tap "$NET_TEST" --label "stock vhost-net, fork-owner kthread" \
		--ping --mode kthread --expect-worker kthread /dev/vhost-net
	vkt_run_tap "$NET_TEST" --label "stock vhost-net, fork-owner task" \
		--ping --mode task --expect-worker task /dev/vhost-net
fi
# Stock's busy poll reads the other queue's ring with preemption off too;
# on a debug kernel (6.12-debug) an IOTLB miss there logs "BUG: sleeping
# function called from invalid context", which vhost-kt's net.sh case
# checks vhost-kt for.
vkt_run_tap "$NET_TEST" --label "stock vhost-net, RX busy poll beside TX rings the IOTLB does not map" \
	--frames 200 --no-event-idx --poll-iotlb /dev/vhost-net
vkt_run_tap "$NET_TEST" --label "stock vhost-net, RX busy poll while TX's ring pages fault" \
	--frames 200 --poll-faults /dev/vhost-net
vkt_modprobe -r vhost_net
vkt_done
