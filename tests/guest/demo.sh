#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The demo: vhost_kt in kthread mode, its devices, and what its workers are.
. "$VKT_REPO/tests/guest/lib.sh"
ctl() { python3 "$VKT_REPO/tests/guest/vhostctl.py" "$@"; }

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
vkt_check "unload vhost_kt" vkt_unload_module
vkt_done
