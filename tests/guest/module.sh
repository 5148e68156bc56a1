#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Foundation: vhost_kt loads and unloads cleanly in both default modes, its
# device nodes come and go, its parameters show, the compat layer detected
# the right vhost_task flavour, and it coexists with stock vhost_net.
. "$VKT_REPO/tests/guest/lib.sh"
ctl() { python3 "$VKT_REPO/tests/guest/vhostctl.py" "$@"; }
P=/sys/module/vhost_kt/parameters

want_api=$(vkt_vhost_task_api)
if vkt_have_vhost_task; then
	default=Y
else
	default=N
fi

# Default load.
dmesg -C
vkt_check "vhost_kt loads with defaults" vkt_load_module
api=$(dmesg | sed -n 's/.*vhost_kt: .*vhost_task API \([a-z-]*\).*/\1/p' | tail -1)
vkt_check_eq "compat detected the vhost_task API of $VKT_KVER" "$want_api" "$api"
if vkt_have_vhost_task; then
	vkt_check "series $VKT_SERIES: the running kernel has vhost_task" \
		grep -qw vhost_task_create /proc/kallsyms
else
	vkt_check "series $VKT_SERIES: the running kernel has no vhost_task" \
		sh -c '! grep -qw vhost_task_create /proc/kallsyms'
fi
vkt_check_eq "inherit_owner_default shows the default" "$default" "$(cat $P/inherit_owner_default)"
vkt_check_eq "fork_from_owner_default is the same setting" "$default" "$(cat $P/fork_from_owner_default)"
vkt_check "/dev/vhost-kt-net is a char device" test -c /dev/vhost-kt-net
vkt_check "/dev/vhost-kt-net-kthread is a char device" test -c /dev/vhost-kt-net-kthread
if vkt_have_vhost_task; then
	vkt_check "/dev/vhost-kt-net-task is a char device" test -c /dev/vhost-kt-net-task
else
	vkt_check "no task-mode node without vhost_task" test ! -e /dev/vhost-kt-net-task
fi
vkt_check "/dev/vhost-net was not created by vhost_kt" test ! -e /dev/vhost-net
for n in /dev/vhost-kt-net*; do
	mm=$(stat -c '%t:%T' "$n")
	# 10:ee is VHOST_NET_MINOR (238), 10:f1 is vhost-vsock's (241).
	vkt_check "$n is a dynamic misc minor ($mm), not a stock one" \
		test "$mm" != a:ee -a "$mm" != a:f1 -a "${mm%%:*}" = a
done
vkt_check "vhost_kt unloads" vkt_unload_module
vkt_check "device nodes are gone after unload" test ! -e /dev/vhost-kt-net -a ! -e /dev/vhost-kt-net-kthread
vkt_check "module is gone from sysfs" test ! -d /sys/module/vhost_kt

# kthread mode as the default.
vkt_check "vhost_kt loads with inherit_owner_default=N" vkt_load_module inherit_owner_default=N
vkt_check_eq "inherit_owner_default=N shows" N "$(cat $P/inherit_owner_default 2>&1)"
vkt_check_eq "an opened device reports kthread mode" "get-mode ok 0" "$(ctl /dev/vhost-kt-net get-mode)"
vkt_check "vhost_kt unloads" vkt_unload_module
vkt_check "loads with upstream's name fork_from_owner_default=0" vkt_load_module fork_from_owner_default=0
vkt_check_eq "the alias set inherit_owner_default" N "$(cat $P/inherit_owner_default 2>&1)"
vkt_check "vhost_kt unloads" vkt_unload_module

if ! vkt_have_vhost_task; then
	dmesg -C
	if vkt_load_module inherit_owner_default=Y 2>/dev/null; then
		vkt_fail "task mode is refused at load without vhost_task"
		vkt_unload_module
	else
		vkt_ok "task mode is refused at load without vhost_task"
	fi
	vkt_check "the refusal is explained in the kernel log" sh -c 'dmesg | grep -q "vhost_kt: task mode needs vhost_task"'
fi

# Beside the stock modules, both in use at once.
vkt_check "stock vhost_net loads" vkt_modprobe vhost_net
vkt_check "vhost_kt loads beside stock vhost_net" vkt_load_module
ctl /dev/vhost-net set-owner sleep:2 >"$VKT_TMP/stock.out" &
stock=$!
sleep 0.5
vkt_check_eq "VHOST_SET_OWNER on vhost-kt-net while stock is in use" "set-owner ok" \
	"$(ctl /dev/vhost-kt-net set-owner)"
wait $stock
vkt_check_eq "VHOST_SET_OWNER on stock /dev/vhost-net while vhost_kt is loaded" \
	"set-owner ok" "$(head -1 "$VKT_TMP/stock.out")"
vkt_check "vhost_kt unloads while stock vhost_net stays" vkt_unload_module
vkt_check_eq "stock /dev/vhost-net still works after vhost_kt unloads" "set-owner ok" \
	"$(ctl /dev/vhost-net set-owner)"
vkt_check "stock vhost_net unloads" rmmod vhost_net
vkt_done
