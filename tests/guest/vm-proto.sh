#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Scratch: L2 boot timing experiments (to be removed).
. "$VKT_REPO/tests/guest/lib.sh"
. "$VKT_REPO/tests/guest/vmlib.sh"
trap vkt_vm_stop_all EXIT
vkt_l2_setup || { vkt_skip l2 "$VKT_L2_WHY"; vkt_done; exit; }
vkt_modprobe vhost_net
one() {
	VKT_L2_QEMU_EXTRA=$1
	VKT_L2_APPEND=$2
	t0=$(date +%s.%N)
	vkt_vm_start p /dev/vhost-net 192.0.2.1/24 192.0.2.2/24 && vkt_ok "boot $1 $2"
	t1=$(date +%s.%N)
	vkt_diag "$1 $2: $(echo "$t1 - $t0" | bc) s; $(vkt_vm_console p | grep ready)"
	vkt_diag "$(vkt_vm_console p | grep -v '^vkt-l2-ready')"
	vkt_vm_stop p
}
one "-bios /usr/share/qemu/qboot.rom" "printk.time=1 loglevel=7"
one "-bios /usr/share/qemu/qboot.rom" "i8042.noaux i8042.nokbd i8042.nopnp"
one "" ""
vkt_done
