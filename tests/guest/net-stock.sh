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
vkt_modprobe -r vhost_net
vkt_done
