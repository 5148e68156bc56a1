#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Profile boot (bench/profile; never part of `make check`): bench_net tests
# run once per datapath, each preceded by sync(1), which the tbprof QEMU
# plugin on the host takes as the start of a new phase of its per-block
# instruction counts.  The guest's symbol table goes to the writable
# share "prof" so that the host can name the blocks.
. "$VKT_REPO/tests/guest/lib.sh"

TESTS=rxgso
SECS=1
DATAPATHS="stock-task kt-task stock-kthread kt-kthread"
OUT=/run/prof
BENCH=$VKT_BIN/bench_net

mkdir -p $OUT
if ! mount -t 9p -o trans=virtio,version=9p2000.L prof $OUT; then
	vkt_fail "the prof share mounts"
	vkt_done
	exit
fi
# shellcheck disable=SC1091 # written by bench/profile
[ -f $OUT/params ] && . $OUT/params
vkt_check "stock vhost_net loads" vkt_modprobe vhost_net
vkt_check "vhost_kt loads" vkt_load_module
vkt_check "the symbol table is saved" cp /proc/kallsyms $OUT/kallsyms

# "NS CPU-NS...": the clock and each CPU's busy time (schedstat's
# rq_cpu_time).  Under -icount the clock skips ahead while every vCPU is
# idle: time that no instruction count shows, but a rate includes.
clock_busy() {
	echo "$(date +%s%N) $(awk '/^cpu[0-9]/ { printf "%s ", $8 }' /proc/schedstat)"
}

phase=1
for dp in $DATAPATHS; do
	case $dp in
	stock-task)	dev=/dev/vhost-net opt="--mode task" ;;
	stock-kthread)	dev=/dev/vhost-net opt="--mode kthread" ;;
	kt-task)	dev=/dev/vhost-kt-net-task opt= ;;
	kt-kthread)	dev=/dev/vhost-kt-net-kthread opt= ;;
	*)		vkt_fail "datapath $dp is known"; continue ;;
	esac
	[ -c "$dev" ] || { vkt_skip "$dp" "no $dev"; continue; }
	sync
	echo "vkt-prof-phase $phase $dp"
	phase=$((phase + 1))
	t0=$(clock_busy)
	# shellcheck disable=SC2086
	if "$BENCH" $opt --pin --secs "$SECS" "$dev" $TESTS; then
		vkt_ok "$dp: $TESTS"
	else
		vkt_fail "$dp: $TESTS"
	fi
	echo "vkt-prof-times $dp $t0 $(clock_busy)"
done
sync
vkt_check "vhost_kt unloads" vkt_unload_module
umount $OUT
vkt_done
