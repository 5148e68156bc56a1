#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Two queue pairs: an L2 guest with a multi-queue virtio-net (mq=on; its
# init enables both pairs with l2-channels, the guest has one CPU) over a
# multi-queue tap, one vhost fd per pair (fds= and vhostfds=), on stock
# vhost_net and on vhost_kt's default node, one after the other.  Each pair gets
# its own worker; both rx queues must see packets.
. "$VKT_REPO/tests/guest/lib.sh"
. "$VKT_REPO/tests/guest/vmlib.sh"
vkt_vm_test_init
stock_mode=$(vkt_stock_mode)

declare -A label mode
names=()
if vkt_check "stock vhost_net loads" vkt_modprobe vhost_net; then
	vkt_vm_add s /dev/vhost-net 192.0.2.1/24 192.0.2.2/24 2
	names+=(s)
	label[s]="stock vhost-net, 2 queues"
	mode[s]=$stock_mode
fi
if vkt_check "vhost_kt loads" vkt_load_module; then
	vkt_vm_add k /dev/vhost-kt-net 198.51.100.1/24 198.51.100.2/24 2
	names+=(k)
	label[k]="vhost-kt-net, 2 queues"
	mode[k]=kthread
	[ "$(cat /sys/module/vhost_kt/parameters/inherit_owner_default)" = Y ] && mode[k]=task
fi
vkt_vm_boot_all
[ ! -d /sys/module/vhost_kt ] || vkt_check "vhost_kt unloads" vkt_unload_module
rmmod vhost_net vhost 2>/dev/null
vkt_done
