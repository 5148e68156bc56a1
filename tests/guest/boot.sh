#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The guest itself works: right kernel, host tools reachable, stock modules load.
. "$VKT_REPO/tests/guest/lib.sh"

vkt_check_eq "guest runs kernel $VKT_KVER" "$VKT_KVER" "$(uname -r)"
vkt_check "stock tun loads" vkt_modprobe tun
vkt_check "/dev/net/tun exists" test -c /dev/net/tun
vkt_check "cgroup v2 is mounted" test -f /sys/fs/cgroup/cgroup.controllers
vkt_check "tmp is writable" touch "$VKT_TMP/x"
vkt_done
