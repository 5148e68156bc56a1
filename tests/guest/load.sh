#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Load: many open/SET_OWNER/close cycles in each mode without leaking
# memory, 64 devices (16 on the debug kernel) with traffic at once (modes
# mixed, one tap each), and the cgroup accounting of a busy kthread worker.
# Counts and times are bounded for TCG guests on a shared two-core machine.
. "$VKT_REPO/tests/guest/lib.sh"
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
FT=$VKT_BIN/fuzz_traffic
DBG=/sys/kernel/debug/vhost_kt/devices
CYCLES=${VKT_LOAD_CYCLES:-10000}
NDEV=${VKT_LOAD_DEVICES:-64}
# The debug kernel (KASAN, lockdep, kmemleak) is some ten times slower
# under TCG: fewer cycles there, still far more than any leak needs to show.
# Fewer devices too: starting 64 traffic processes took 199 s there, longer
# than each one's traffic lasts, so they were never all busy at once.
if [ -e /sys/kernel/debug/kmemleak ]; then
	CYCLES=${VKT_LOAD_CYCLES:-2000}
	NDEV=${VKT_LOAD_DEVICES:-16}
fi
CYCLE_SECONDS=${VKT_LOAD_SECONDS:-240}

vkt_require "fuzz_traffic is built ($FT)" test -x "$FT"
vkt_require "vhost_kt loads" vkt_load_module
vkt_test_modes "load"

mem_kb() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" /proc/meminfo; }
# Let RCU-freed objects and dead kthreads go, then count.
settle() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 2
	echo 3 >/proc/sys/vm/drop_caches
}

# Leak check tolerance: 2 MiB on SUnreclaim (unreclaimable slab: task
# structs, kmalloc) and on VmallocUsed (the device structure is kvzalloc'd).
# A leak of even one small object per cycle adds up past it in 10,000
# cycles (210 bytes a cycle); the rest is per-cpu slab and RCU batching
# noise, measured at a few hundred kB.
TOL_KB=2048
# The cycles run in $PAR processes at once: besides using both vCPUs, that
# has devices being set up while others are torn down.  Each process stops
# at its time limit, so a slow machine shows as fewer cycles (a failure),
# never as a hang.
PAR=4
for m in "${modes[@]}"; do
	"$FT" --open-cycles 200 --mode "$m" /dev/vhost-kt-net >/dev/null 2>&1
	settle
	su0=$(mem_kb SUnreclaim) vm0=$(mem_kb VmallocUsed)
	t0=$(date +%s)
	cpids=()
	for p in $(seq $PAR); do
		timeout -k 5 $((CYCLE_SECONDS + 30)) "$FT" --open-cycles $((CYCLES / PAR)) \
			--seconds $CYCLE_SECONDS --mode "$m" /dev/vhost-kt-net \
			>"$VKT_TMP/cycles$p.out" 2>&1 &
		cpids+=($!)
	done
	rc=0
	for pid in "${cpids[@]}"; do
		wait "$pid" || rc=$?
	done
	n=$(cat "$VKT_TMP"/cycles*.out | sed -n 's/^# cycles \([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	vkt_diag "$m mode: $n cycles in $(($(date +%s) - t0)) s by $PAR processes"
	vkt_check_eq "$m mode: open/SET_OWNER/close cycles without errors (exit status)" 0 $rc
	[ $rc -eq 0 ] || vkt_diag "$(cat "$VKT_TMP"/cycles*.out)"
	vkt_check_eq "$m mode: all $CYCLES open/SET_OWNER/close cycles done within ${CYCLE_SECONDS} s" \
		$((CYCLES / PAR * PAR)) "$n"
	settle
	su1=$(mem_kb SUnreclaim) vm1=$(mem_kb VmallocUsed)
	vkt_diag "$m mode: SUnreclaim ${su0} -> ${su1} kB, VmallocUsed ${vm0} -> ${vm1} kB"
	if [ -e /sys/kernel/debug/kmemleak ]; then
		# KASAN's quarantine keeps freed objects as slab for a while.
		vkt_skip "$m mode: no memory growth over ${n:-0} cycles" \
			"debug kernel: KASAN quarantine; its kmemleak scan after the tests checks leaks"
	elif [ $((su1 - su0)) -lt $TOL_KB ] && [ $((vm1 - vm0)) -lt $TOL_KB ]; then
		vkt_ok "$m mode: no memory growth over ${n:-0} cycles (SUnreclaim +$((su1 - su0)) kB, VmallocUsed +$((vm1 - vm0)) kB, tolerance $TOL_KB kB)"
	else
		vkt_fail "$m mode: no memory growth over ${n:-0} cycles (SUnreclaim +$((su1 - su0)) kB, VmallocUsed +$((vm1 - vm0)) kB, tolerance $TOL_KB kB)"
	fi
	vkt_check_eq "$m mode: no device left after the cycles" "" "$(cat $DBG)"
	left=$(grep -l '^vhost-' /proc/[0-9]*/comm 2>/dev/null | wc -l)
	vkt_check_eq "$m mode: no vhost- kthread left" 0 "$left"
done

# $NDEV devices at once, half on each mode's node (all kthread without
# vhost_task), each with its own tap, all carrying traffic.
pids=()
run=$VKT_TMP/load-running
: >"$run"
for i in $(seq 0 $((NDEV - 1))); do
	node=/dev/vhost-kt-net-kthread
	[ $((i % 2)) = 1 ] && [ -c /dev/vhost-kt-net-task ] && node=/dev/vhost-kt-net-task
	[ $((i % 4)) = 3 ] && [ ! -c /dev/vhost-kt-net-task ] && node=/dev/vhost-kt-net
	timeout -k 5 200 "$FT" --at 1000 --seconds 150 --while "$run" --rx --quiet \
		"$node" >"$VKT_TMP/dev$i.out" 2>&1 &
	pids+=($!)
done
# Each keeps its traffic going until $run is removed (at most 150 s): once
# all report busy (at most 120 s), all must be open at the same time.
for t in $(seq 120); do
	[ "$(grep -l '^# busy' "$VKT_TMP"/dev*.out 2>/dev/null | wc -l)" -ge $NDEV ] && break
	sleep 1
done
listed=$(grep -c '^owner=' $DBG)
vkt_diag "devices busy after ${t} s: $(grep -l '^# busy' "$VKT_TMP"/dev*.out | wc -l); listed: $listed; modes: $(sed -n 's/.* mode=\([a-z]*\).*/\1/p' $DBG | sort | uniq -c | tr '\n' ' ')"
vkt_check_eq "all $NDEV devices open and busy at once" $NDEV "$listed"
rm -f "$run"
fails=0
for i in "${!pids[@]}"; do
	if ! wait "${pids[i]}" || ! grep -q '^ok 1 ' "$VKT_TMP/dev$i.out"; then
		fails=$((fails + 1))
		[ $fails -le 3 ] && vkt_diag "device $i: $(cat "$VKT_TMP/dev$i.out")"
	fi
done
vkt_check_eq "$NDEV devices carried traffic at once, modes mixed (failures)" 0 $fails
sleep 1
vkt_check_eq "no device left after the $NDEV" "" "$(cat $DBG)"
vkt_check_eq "no tap left after the $NDEV" 0 "$(ls /sys/class/net | grep -c '^vktft')"

# Cgroup accounting: a busy kthread worker's CPU time is charged to the
# owner's cgroup, so that cgroup's usage grows by more than the owner's own
# CPU time (utime + stime of all its threads, which excludes the kthread).
CG=/sys/fs/cgroup/vkt-acct
mkdir -p $CG
echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
usage() { sed -n 's/^usage_usec //p' $CG/cpu.stat; }
u0=$(usage)
sh -c "echo \$\$ >$CG/cgroup.procs && exec $FT --mode kthread --seconds 10 /dev/vhost-kt-net" \
	>"$VKT_TMP/acct.out" 2>&1 &
pid=$!
sleep 5
tid=$(sed -n "s/^owner=$pid mode=kthread workers=[0-9]*:\([0-9]*\).*/\1/p" $DBG)
wcg=$([ -n "$tid" ] && cat /proc/"$tid"/cgroup)
wait $pid
rc=$?
u1=$(usage)
own=$(sed -n 's/^# owner-cpu-usec //p' "$VKT_TMP/acct.out")
vkt_check_eq "cgroup accounting: busy owner in $CG exits cleanly" 0 $rc
vkt_check_eq "cgroup accounting: the kthread worker ($tid) is in the owner's cgroup" "0::/vkt-acct" "$wcg"
vkt_diag "cgroup usage +$((u1 - u0)) us, owner's own CPU ${own:-?} us"
if [ -n "$own" ] && [ $((u1 - u0 - own)) -gt 200000 ]; then
	vkt_ok "cgroup accounting: the cgroup was charged the worker's time (usage +$((u1 - u0)) us > owner $own us + 0.2 s)"
else
	vkt_fail "cgroup accounting: the cgroup was charged the worker's time (usage +$((u1 - u0)) us, owner ${own:-?} us)"
	vkt_diag "$(cat "$VKT_TMP/acct.out")"
fi
rmdir $CG 2>/dev/null

vkt_check "vhost_kt unloads after the load tests" vkt_unload_module
vkt_done
