#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Where worker threads live.  Task mode: a thread of the owner, in its
# /proc/<pid>/task, named vhost-<pid>, counted in the owner's RLIMIT_NPROC.
# Kthread mode: a child of kthreadd without an mm of its own, named
# vhost-<owner pid>, in the owner's cgroup, not counted in RLIMIT_NPROC.
# Workers are found through vhost-kt's debugfs listing and, independently,
# through /proc.
. "$VKT_REPO/tests/guest/lib.sh"
T=/dev/vhost-kt-test
DBG=/sys/kernel/debug/vhost_kt/devices
CG=/sys/fs/cgroup/vkt-test
CTL="python3 $VKT_REPO/tests/guest/vhostctl.py"

load() {
	vkt_load_module "$@" && insmod "$VKT_BUILD/vhost_kt_test.ko" &&
		test -c /dev/vhost-kt-test
}
unload() { rmmod vhost_kt_test && vkt_unload_module; }

# wait_line FILE PATTERN: up to 30 s for PATTERN to show up in FILE.
wait_line() {
	local i
	for i in $(seq 300); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# Worker tids of owner PID from debugfs, space separated.  A task-mode
# worker is listed with tid 0 until its thread first runs (SET_OWNER does
# not wait for that), so this waits up to 10 s for every tid to be known.
dbg_tids() {
	local i l
	for i in $(seq 100); do
		l=$(sed -n "s/^owner=$1 mode=[a-z]* workers=//p" "$DBG" | tr ',' '\n')
		grep -q '^[0-9]*:0\b' <<<"$l" || break
		sleep 0.1
	done
	sed -n 's/^[0-9]*:\([0-9]*\).*/\1/p' <<<"$l" | sort -n | paste -sd' '
}
dbg_mode() { sed -n "s/^owner=$1 mode=\([a-z]*\) .*/\1/p" "$DBG"; }
# Threads of PID named vhost-PID, from /proc only.
proc_task_tids() {
	local t
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "vhost-$1" ] && basename "$t"
	done | sort -n | paste -sd' '
}
# Processes (kthreads are listed as such) named vhost-PID, from /proc only.
proc_kthreads() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = "vhost-$1" ] && basename "$p"
	done | sort -n | paste -sd' '
}
status_field() { sed -n "s/^$2:[[:space:]]*//p" /proc/"$1"/status 2>/dev/null; }

# start_owner TAG [PRE-OPS...]: an owner process in cgroup $CG holding the
# device open until $VKT_TMP/TAG.go exists; sets $pid.
start_owner() {
	local tag=$1
	shift
	rm -f "$VKT_TMP/$tag.go" "$VKT_TMP/$tag.out"
	sh -c "echo \$\$ >$CG/cgroup.procs && exec $CTL $T pid $* set-owner wait:$VKT_TMP/$tag.go" \
		>"$VKT_TMP/$tag.out" 2>&1 &
	wait_line "$VKT_TMP/$tag.out" '^set-owner ' || true
	pid=$(sed -n 's/^pid ok //p' "$VKT_TMP/$tag.out")
}
stop_owner() {
	touch "$VKT_TMP/$1.go"
	wait
}

mkdir -p $CG
vkt_check "cgroup $CG exists" test -d $CG

# /proc/<pid>/fdinfo/<fd> of a vhost-net fd names the mode, the owner and
# the workers: the admin's answer to "which mode is this VM in" without
# debugfs.  vhostctl reads it in the owner and checks each worker's place.
fdinfo_check() {
	local node=$1 mode=$2 place=$3 out pid
	out=$($CTL "$node" pid set-owner fdinfo 2>&1)
	pid=$(sed -n 's/^pid ok //p' <<<"$out")
	vkt_check_eq "fdinfo of $node: mode, owner, worker vhost-<owner> as $place" \
		"fdinfo ok mode=$mode owner=$pid worker0=vhost-$pid,ppid=$4,$place" \
		"$(grep '^fdinfo' <<<"$out")"
}
vkt_check "vhost_kt loads for the fdinfo checks" vkt_load_module
fdinfo_check /dev/vhost-kt-net-kthread kthread own-process kthreadd
if vkt_have_vhost_task; then
	fdinfo_check /dev/vhost-kt-net-task task owner-thread owner-parent
else
	vkt_skip "fdinfo of /dev/vhost-kt-net-task" "kernel $VKT_KVER has no vhost_task"
fi
vkt_check "vhost_kt unloads after the fdinfo checks" vkt_unload_module

kthread_half() {
	local tids ptids tid
	start_owner kt set-mode:0
	vkt_check_eq "kthread mode: SET_OWNER from a process in $CG" "set-owner ok" \
		"$(grep '^set-owner' "$VKT_TMP/kt.out")"
	tids=$(dbg_tids "$pid")
	vkt_check_eq "kthread mode: debugfs lists the device as kthread mode" kthread "$(dbg_mode "$pid")"
	ptids=$(proc_kthreads "$pid")
	vkt_check_eq "kthread mode: /proc finds the same vhost-$pid thread as debugfs" "$tids" "$ptids"
	tid=${tids%% *}
	if [ -z "$tid" ]; then
		vkt_fail "kthread mode: a worker thread exists"
		vkt_diag "$(cat $DBG)"
		stop_owner kt
		return
	fi
	vkt_check_eq "kthread mode: worker's parent is kthreadd" 2 "$(status_field "$tid" PPid)"
	vkt_check_eq "kthread mode: worker is its own thread group" "$tid" "$(status_field "$tid" Tgid)"
	vkt_check_eq "kthread mode: worker has no mm of its own (no VmSize)" "" "$(status_field "$tid" VmSize)"
	vkt_check_eq "kthread mode: worker is named vhost-<owner pid>" "vhost-$pid" "$(cat /proc/"$tid"/comm)"
	vkt_check "kthread mode: worker is not a thread of the owner" test ! -e /proc/"$pid"/task/"$tid"
	vkt_check_eq "kthread mode: owner is in /vkt-test" "0::/vkt-test" "$(cat /proc/"$pid"/cgroup)"
	vkt_check_eq "kthread mode: worker is in the owner's cgroup" "$(cat /proc/"$pid"/cgroup)" \
		"$(cat /proc/"$tid"/cgroup)"
	stop_owner kt
	vkt_check "kthread mode: worker exits when the device is closed" vkt_wait_gone /proc/"$tid"
	vkt_check_eq "kthread mode: debugfs no longer lists the device" "" "$(grep "^owner=$pid " $DBG)"
}

task_half() {
	local tids ptids tid
	start_owner task set-mode:1
	vkt_check_eq "task mode: SET_OWNER from a process in $CG" "set-owner ok" \
		"$(grep '^set-owner' "$VKT_TMP/task.out")"
	tids=$(dbg_tids "$pid")
	vkt_check_eq "task mode: debugfs lists the device as task mode" task "$(dbg_mode "$pid")"
	ptids=$(proc_task_tids "$pid")
	vkt_check_eq "task mode: /proc/$pid/task has the same vhost-$pid thread as debugfs" "$tids" "$ptids"
	tid=${tids%% *}
	if [ -z "$tid" ]; then
		vkt_fail "task mode: a worker thread exists"
		vkt_diag "$(cat $DBG)"
		stop_owner task
		return
	fi
	vkt_check_eq "task mode: worker's thread group is the owner" "$pid" "$(status_field "$tid" Tgid)"
	vkt_check_eq "task mode: worker is named vhost-<owner pid>" "vhost-$pid" "$(cat /proc/"$tid"/comm)"
	vkt_check_eq "task mode: no kthread named vhost-$pid" "" "$(proc_kthreads "$pid" | grep -vx "$pid")"
	vkt_check_eq "task mode: worker is in the owner's cgroup" "$(cat /proc/"$pid"/cgroup)" \
		"$(cat /proc/"$tid"/cgroup)"
	stop_owner task
	vkt_check "task mode: worker exits when the device is closed" vkt_wait_gone /proc/"$tid"

	# A second worker: two vhost-<pid> threads, both listed.
	out=$(python3 - "$T" <<'PY' 2>&1
import os, subprocess, sys, time
sys.path.insert(0, os.environ['VKT_REPO'] + '/tests/guest')
import vhostctl as v
fd = os.open(sys.argv[1], os.O_RDWR)
v.run(fd, 'set-mode:1')
v.run(fd, 'set-owner')
w = v.run(fd, 'new-worker')
v.run(fd, 'attach-worker:1:%d' % w)
pid = os.getpid()
# Tids are 0 until the threads first run: give them up to 10 s.
for _ in range(100):
    dbg = [l for l in open('/sys/kernel/debug/vhost_kt/devices') if l.startswith('owner=%d ' % pid)]
    if not any(x.split(':')[1].startswith('0') for x in dbg[0].split('workers=')[1].split(',')):
        break
    time.sleep(0.1)
d = sorted(int(x.split(':')[1].rstrip('\n').split('(')[0])
           for x in dbg[0].split('workers=')[1].split(','))
p = sorted(int(t) for t in os.listdir('/proc/%d/task' % pid)
           if open('/proc/%d/task/%s/comm' % (pid, t)).read().strip() == 'vhost-%d' % pid)
print('debugfs=%d proc=%d same=%s' % (len(d), len(p), d == p))
PY
)
	vkt_check_eq "task mode: NEW_WORKER adds a second vhost-<pid> thread, listed by debugfs" \
		"debugfs=2 proc=2 same=True" "$out"
}

# RLIMIT_NPROC: the owner runs as nobody with its limit at what it has.
nproc_test() {
	local mode=$1 want=$2 desc=$3 out
	out=$($CTL $T set-mode:"$mode" setuid:65534:65534 rlimit-nproc:used set-owner get-mode 2>&1 |
		paste -sd';')
	out=$(sed 's/rlimit-nproc:used ok [0-9]*/rlimit-nproc:used ok/' <<<"$out")
	vkt_check_eq "$desc" "set-mode:$mode ok;setuid:65534:65534 ok;rlimit-nproc:used ok;$want;get-mode ok $mode" "$out"
}

vkt_check "vhost_kt and vhost_kt_test load" load
chmod 666 $T
kthread_half
nproc_test 0 "set-owner ok" "kthread mode: SET_OWNER succeeds at RLIMIT_NPROC (kthreads are not counted)"
if vkt_have_vhost_task; then
	task_half
	out=$($CTL $T set-mode:1 setuid:65534:65534 rlimit-nproc:used set-owner set-mode:0 set-owner 2>&1 |
		sed 's/rlimit-nproc:used ok [0-9]*/rlimit-nproc:used ok/' | paste -sd';')
	case $out in
	"set-mode:1 ok;setuid:65534:65534 ok;rlimit-nproc:used ok;set-owner errno EAGAIN;set-mode:0 ok;set-owner ok")
		vkt_ok "task mode: SET_OWNER at RLIMIT_NPROC fails with EAGAIN; the same device then works in kthread mode" ;;
	"set-mode:1 ok;setuid:65534:65534 ok;rlimit-nproc:used ok;set-owner errno ENOMEM;set-mode:0 ok;set-owner ok")
		# vhost_task_create() returns NULL, not the error, before 6.14.
		vkt_ok "task mode: SET_OWNER at RLIMIT_NPROC fails (ENOMEM: this kernel's vhost_task_create() hides EAGAIN); the same device then works in kthread mode" ;;
	*)
		vkt_fail "task mode: SET_OWNER at RLIMIT_NPROC fails, then kthread mode works"
		vkt_diag "$out" ;;
	esac
	vkt_check_eq "no device left in debugfs after the failed SET_OWNER" "" "$(cat $DBG)"
else
	vkt_skip "task mode worker placement" "kernel $VKT_KVER has no vhost_task"
	vkt_skip "task mode RLIMIT_NPROC" "kernel $VKT_KVER has no vhost_task"
fi
vkt_check "vhost_kt_test and vhost_kt unload" unload
rmdir $CG 2>/dev/null
vkt_diag "core-workers took ${SECONDS}s"
vkt_done
