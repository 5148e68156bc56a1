#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Fuzz vhost-kt's devices with tests/drivers/fuzz_vhost: a fixed-seed short
# run (about 60 s) over every node and the test backend, the racing phase
# (about 45 s) on the vhost-net nodes, then the recorded regression cases of
# tests/fuzz/regressions/.  fuzz-long.sh (make fuzz) is
# the long random-seed run.  Oopses and warnings are caught by the harness's
# kernel-log scan; the fuzzer itself checks errnos and EPERM for non-owners.
# Its iotlb phase starts with a fixed IOTLB miss round trip on every node
# (tests/fuzz/miss.c): poll() and read() a well-formed v1 and v2 MISS for
# unmapped rings and buffers, answer with UPDATEs, see the chain cross.
. "$VKT_REPO/tests/guest/lib.sh"
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
FUZZ=$VKT_BIN/fuzz_vhost
# fuzz-long.sh sets these for the long run; an empty seed means random.
SEED=${VKT_FUZZ_SEED-20261130}
SECONDS_TOTAL=${VKT_FUZZ_SECONDS:-60}
ITERATIONS=${VKT_FUZZ_ITERATIONS:-3000}
RACE_SECONDS=${VKT_FUZZ_RACE_SECONDS:-45}
REG=$VKT_REPO/tests/fuzz/regressions

if [ ! -x "$FUZZ" ]; then
	vkt_fail "fuzz_vhost is built ($FUZZ)"
	vkt_done
	exit
fi

# Task mode as the module default where the kernel has vhost_task, so the
# plain node exercises the other mode than -kthread.
def=N
vkt_have_vhost_task && def=Y
if ! { vkt_load_module inherit_owner_default=$def &&
	insmod "$VKT_BUILD/vhost_kt_test.ko"; }; then
	vkt_fail "vhost_kt and vhost_kt_test load"
	vkt_done
	exit
fi
devs=(/dev/vhost-kt-net /dev/vhost-kt-net-kthread)
[ -c /dev/vhost-kt-net-task ] && devs+=(/dev/vhost-kt-net-task)
[ -c /dev/vhost-kt-test ] && devs+=(/dev/vhost-kt-test)

# SECONDS_TOTAL=0 (a racing-only soak, see fuzz-long.sh) skips this run.
[ "$SECONDS_TOTAL" = 0 ] ||
vkt_run_tap timeout -k 5 $((SECONDS_TOTAL + 60)) "$FUZZ" ${SEED:+--seed "$SEED"} \
	--seconds "$SECONDS_TOTAL" --iterations "$ITERATIONS" "${devs[@]}"

# The racing phase (tests/fuzz/race.c) on every vhost-net node, so both
# worker modes where the kernel has both: threads and a forked child on one
# running device.  Its own time: it must not shrink the phases above.
net=()
for d in "${devs[@]}"; do
	case $d in *-net*) net+=("$d") ;; esac
done
# VKT_FUZZ_RACE_NODES: only these nodes (a soak of one mode).
[ -z "${VKT_FUZZ_RACE_NODES:-}" ] || read -ra net <<<"$VKT_FUZZ_RACE_NODES"
vkt_run_tap timeout -k 5 $((RACE_SECONDS + 180)) "$FUZZ" ${SEED:+--seed "$SEED"} \
	--phase race --seconds "$RACE_SECONDS" "${net[@]}"
# A test build with the IOTLB race window (VKT_RACE_WINDOW=y, see
# tests/README.md) must really have stalled in it.
hits=/sys/module/vhost_kt/parameters/race_window_hits
[ ! -r $hits ] || vkt_check "the race window was entered ($(cat $hits) stalls)" \
	test "$(cat $hits)" -gt 0

# Regression cases: one per line, `SEED PHASE ITERATIONS DEVICE...` (# for
# comments); each replays the sequence that once broke something.
for f in "$REG"/*.seeds; do
	[ -f "$f" ] || continue
	while read -r seed phase iters rest; do
		case $seed in ''|'#'*) continue ;; esac
		# shellcheck disable=SC2086
		vkt_run_tap timeout -k 5 120 "$FUZZ" --seed "$seed" --phase "$phase" \
			--iterations "$iters" --seconds 60 $rest
	done <"$f"
done
# Dedicated small C reproducers, built on the host next to fuzz_vhost.
for p in "$VKT_BIN"/fuzz_reg_*; do
	[ -x "$p" ] || continue
	vkt_run_tap timeout -k 5 60 "$p" "${devs[@]}"
done

# Teardown flushes with the backends detached: a worker destroyed with work
# still queued means something queued on it while it was going away.
vkt_check "no worker was destroyed with work pending" \
	sh -c '! dmesg | grep "stopped with work pending"'
vkt_check_eq "every device closed after fuzzing (debugfs lists nothing)" "" \
	"$(cat /sys/kernel/debug/vhost_kt/devices 2>/dev/null)"
vkt_check "vhost_kt_test unloads after fuzzing" rmmod vhost_kt_test
vkt_check "vhost_kt unloads after fuzzing" vkt_unload_module
vkt_done
