#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Real VMs on each vhost-net implementation: L2 QEMU/KVM guests whose
# virtio-net datapath is the vhost device under test (passed by fd, as
# libvirt does), pinged and driven with iperf3 both ways while their workers
# are checked from L1 (see vkt_vm_check in vmlib.sh).  Stock vhost_net in its
# default mode, vhost_kt's kthread and task nodes, one after another; then
# stock vhost_net with fork_from_owner_default=0 where the kernel has it.
. "$VKT_REPO/tests/guest/lib.sh"
. "$VKT_REPO/tests/guest/vmlib.sh"
vkt_vm_test_init

stock_mode=$(vkt_stock_mode)

declare -A label mode
names=()
if vkt_check "stock vhost_net loads" vkt_modprobe vhost_net; then
	vkt_vm_add s /dev/vhost-net 192.0.2.1/24 192.0.2.2/24
	names+=(s)
	label[s]="stock vhost-net ($stock_mode mode)"
	mode[s]=$stock_mode
fi
if vkt_check "vhost_kt loads" vkt_load_module; then
	vkt_vm_add k /dev/vhost-kt-net-kthread 198.51.100.1/24 198.51.100.2/24
	names+=(k)
	label[k]="vhost-kt-net-kthread"
	mode[k]=kthread
	if [ -c /dev/vhost-kt-net-task ]; then
		vkt_vm_add t /dev/vhost-kt-net-task 203.0.113.1/24 203.0.113.2/24
		names+=(t)
		label[t]="vhost-kt-net-task"
		mode[t]=task
	else
		vkt_skip "vhost-kt task mode" "no /dev/vhost-kt-net-task on $VKT_KVER (no vhost_task)"
	fi
fi
vkt_vm_boot_all
[ ! -d /sys/module/vhost_kt ] || vkt_check "vhost_kt unloads" vkt_unload_module
rmmod vhost_net vhost 2>/dev/null

if vkt_stock_has_fork_param; then
	l="stock vhost-net fork_from_owner_default=0"
	if vkt_check "stock vhost loads with fork_from_owner_default=0" \
		vkt_modprobe vhost fork_from_owner_default=0 && vkt_modprobe vhost_net; then
		if vkt_vm_start s /dev/vhost-net 192.0.2.1/24 192.0.2.2/24; then
			vkt_ok "$l: L2 boots ($(($(date +%s) - VKT_VM_T0[s])) s)"
			vkt_vm_check s "$l" kthread
		else
			vkt_fail "$l: L2 boots (${VKT_VM_WHY[s]:-})"
		fi
		vkt_vm_finish s "$l"
		rmmod vhost_net vhost
	fi
else
	vkt_skip "stock vhost-net kthread mode by parameter" \
		"vhost.ko of $VKT_KVER has no fork_from_owner_default"
fi
vkt_done
