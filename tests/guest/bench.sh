#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Benchmarks (bench/run, `make bench`; never part of `make check`): stock
# vhost_net and vhost_kt side by side, each in task and kthread mode, in one
# boot.  Every test runs on the four datapaths back to back, stock and
# vhost-kt of one mode next to each other, which of the two goes first
# alternating between rounds; a ratio thus compares runs seconds apart, not
# minutes, and slow drifts of a shared, emulated machine cancel out.  A
# short warm-up round comes first and is not reported.  Each run of
# tests/drivers/bench_net prints "metric NAME VALUE"; this script turns
# them into "vkt-bench ROUND DATAPATH NAME VALUE" lines for bench/run.
. "$VKT_REPO/tests/guest/lib.sh"

ROUNDS=6
SECS=1
# icount: QEMU counts instructions as time (bench/run sets -icount); wall.
CLOCK=wall
# bench_net --pin: driver on CPU 0, workers on CPU 1 during the datapath tests.
PIN=1
TESTS="tx64 tx1500 txgso rx64 rx1500 rxgso lat setup mq devs"
# bench/run's settings for this run: a file of its own, named in run.env.
[ -z "${VKT_GUEST_PARAMS:-}" ] || . "$VKT_GUEST_PARAMS"
# "-": no micro-benchmarks (a boot for the L2 VM cells only).
[ "$TESTS" != - ] || TESTS=
BENCH=$VKT_BIN/bench_net

[ -x "$BENCH" ] || { vkt_fail "bench_net is built"; vkt_done; exit; }
vkt_check "stock vhost_net loads" vkt_modprobe vhost_net
vkt_check "vhost_kt loads" vkt_load_module
# Stock task and kthread mode through the per-device fork-owner ioctl,
# vhost-kt through its per-mode nodes.
DPS=("stock-task|/dev/vhost-net|--mode task"
     "stock-kthread|/dev/vhost-net|--mode kthread"
     "kt-task|/dev/vhost-kt-net-task|"
     "kt-kthread|/dev/vhost-kt-net-kthread|")
echo "vkt-bench-meta kernel $VKT_KVER rounds $ROUNDS secs $SECS cpus $(nproc) pin $PIN clock $CLOCK cx16 $(grep -qw cx16 /proc/cpuinfo && echo yes || echo no)"
PINOPT=
[ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && PINOPT=--pin

# bench_net ROUND DATAPATH-ENTRY SECS TEST [VS-ENTRY]: one run; round 0 is
# not reported.  VS-ENTRY: a second datapath in the same run (--vs; its
# metrics come prefixed "vs_").
bench_one() {
	local r=$1 name dev opt out rc vs=() name2='' dev2 opt2 dp
	IFS='|' read -r name dev opt <<<"$2"
	[ -c "$dev" ] || return 0
	if [ -n "${5:-}" ]; then
		IFS='|' read -r name2 dev2 opt2 <<<"$5"
		# shellcheck disable=SC2206
		[ -c "$dev2" ] && vs=(--vs "$dev2" ${opt2/--mode/--vs-mode})
	fi
	# shellcheck disable=SC2086
	out=$("$BENCH" $opt $PINOPT "${vs[@]}" --secs "$3" "$dev" $4 2>&1)
	rc=$?
	if [ "$r" -gt 0 ]; then
		while read -r tag m v; do
			[ "$tag" = metric ] || continue
			dp=$name
			[ "${m#vs_}" = "$m" ] || { dp=$name2 m=${m#vs_}; }
			echo "vkt-bench $r $dp $m $v"
		done <<<"$out"
	fi
	grep -v "^metric" <<<"$out" | sed "s/^/# /"
	if [ $rc -ne 0 ]; then
		echo "# round $r: $name $4 failed (rc $rc)"
		return 1
	fi
}

for dp in "${DPS[@]}"; do
	IFS='|' read -r name dev _ <<<"$dp"
	[ -c "$dev" ] || vkt_skip "$name" "no $dev"
done
# Odd rounds: stock-task kt-task stock-kthread kt-kthread; even rounds the
# reverse, so within each mode stock and vhost-kt take turns going first.
for ((r = 0; r <= ROUNDS && ${#TESTS}; r++)); do
	order=("${DPS[0]}" "${DPS[2]}" "${DPS[1]}" "${DPS[3]}")
	((r % 2)) || order=("${DPS[3]}" "${DPS[1]}" "${DPS[2]}" "${DPS[0]}")
	secs=$SECS
	((r)) || secs=0.2
	t0=$(date +%s)
	fails=0
	for t in $TESTS; do
		# kick->call: stock and vhost-kt of one mode take turns within
		# one run (bench_net --vs): the tail of a run depends on what
		# else the guest does meanwhile, and that should not differ
		# between the two sides of a ratio.
		if [ "$t" = lat ]; then
			bench_one $r "${order[0]}" "$secs" "$t" "${order[1]}" || fails=$((fails + 1))
			bench_one $r "${order[2]}" "$secs" "$t" "${order[3]}" || fails=$((fails + 1))
			continue
		fi
		for dp in "${order[@]}"; do
			bench_one $r "$dp" "$secs" "$t" || fails=$((fails + 1))
		done
	done
	if ((r == 0)); then
		vkt_ok "warm-up round, not reported ($(($(date +%s) - t0)) s)"
	elif ((fails == 0)); then
		vkt_ok "round $r ($(($(date +%s) - t0)) s)"
	else
		vkt_fail "round $r: $fails bench_net runs failed"
	fi
done

# A real VM (VM=1): iperf3 TCP between L1 and an L2 QEMU/KVM guest whose
# virtio-net is the datapath under test (vhostfd=, see vmlib.sh).  QEMU never
# picks a stock worker mode per device, so stock task and stock kthread need
# vhost.ko loaded with different fork_from_owner_default: first stock (task)
# against kt-task, then stock (kthread) against kt-kthread.
#
# Two L2s are up at a time, in two slots (s: booted first, 192.0.2.0/24; t:
# booted second, 203.0.113.0/24), and the slots are not equal: with stock
# vhost-net in both, t read 0.83-0.93 of s (median over 6 rounds, December
# 6).  So each mode runs in two halves, the datapaths trading slots, and
# the slot's bias cancels out of the median instead of counting against
# whichever datapath sat in t.
vm_round() {	# ROUND NAME DATAPATH [ADDR]
	local f=$VKT_L2_DIR/$2 dir args bps got s0 ns runs tid kind i0 i1 m
	for dir in tx rx; do
		args=()
		[ $dir = rx ] && args=(-R)
		i0=$(vm_l2_irqs "$2")
		s0=$(vm_worker_snap "$2")
		vkt_iperf "$2" "${4:-${VKT_VM_IP[$2]}}" "$f/b-$dir.json" -t "$VM_SECS" "${args[@]}" \
			>"$f/b-$dir"
		read -r ns runs tid kind <<<"$(vm_worker_delta "$s0" "$(vm_worker_snap "$2")")"
		i1=$(vm_l2_irqs "$2")
		[ $dir = rx ] || echo "${tid:-} ${kind:-}" >"$f/busiest-$3"
		read -r _ got bps _ <"$f/b-$dir"
		# iperf3 from L1: "tx" is L1 -> VM (the VM's RX), -R the VM's TX.
		if [ "${bps:-0}" -gt 0 ]; then
			[ $dir = tx ] && m=vm_rx || m=vm_tx
			echo "vkt-bench $1 $3 ${m}_gbps $(awk -v b="$bps" 'BEGIN { printf "%.4f", b / 1e9 }')"
			[ -z "$ns" ] ||
				echo "vkt-bench $1 $3 ${m}_worker_us_per_mb $(awk -v n="$ns" -v b="$got" \
					'BEGIN { printf "%.2f", n / 1e3 / (b / 1e6) }')"
			# Not cells: how the work was batched, for reading the cells.
			[ -z "$runs" ] ||
				echo "vkt-bench $1 $3 ${m}_worker_runs_per_mb $(awk -v n="$runs" -v b="$got" \
					'BEGIN { printf "%.2f", n / (b / 1e6) }')"
			[ -z "$i0" ] || [ -z "$i1" ] ||
				echo "vkt-bench $1 $3 ${m}_l2_irqs_per_mb $(awk -v n=$((i1 - i0)) -v b="$got" \
					'BEGIN { printf "%.2f", n / (b / 1e6) }')"
		else
			vkt_diag "$3: iperf3 $dir failed: $(cat "$f/b-$dir")"
		fi
	done
}
# vm_worker_snap NAME: "TID KIND NS RUNS" per worker of the VM, NS the CPU
# time it has used (from schedstat: exact, where the clock ticks behind
# utime and stime would be a few of them per run), RUNS the times it was
# put on a CPU; nothing if one of them is gone.
vm_worker_snap() {
	local tid kind ns runs out=
	[ -s "$VKT_L2_DIR/$1/workers" ] || return 0
	while read -r tid kind _; do
		read -r ns _ runs <"/proc/$tid/schedstat" 2>/dev/null || return 0
		out+="$tid $kind $ns $runs"$'\n'
	done <"$VKT_L2_DIR/$1/workers"
	printf '%s' "$out"
}
# vm_worker_delta SNAP0 SNAP1: "NS RUNS TID KIND": the CPU time and runs of
# all the VM's workers between the two snapshots, and the worker that used
# most.
# With one VM serving all four datapaths (vm1_round) the workers all carry
# the same name, and the one that ran while a NIC's iperf3 did is that
# NIC's.  Nothing if a snapshot is empty.
vm_worker_delta() {
	[ -n "$1" ] && [ -n "$2" ] || return 0
	awk 'NR == FNR { t0[$1] = $3; r0[$1] = $4; next }
	     { d = $3 - t0[$1]; sum += d; runs += $4 - r0[$1]
	       if (d > best) { best = d; who = $1 " " $2 } }
	     END { print sum, runs, who }' <(echo "$1") <(echo "$2")
}
# vm_l2_irqs NAME: interrupts the L2's virtio queues have taken so far
# (all NICs: only the one under test is busy), asked on its console.
vm_l2_irqs() {
	vkt_vm_cmd "$1" 30 "cat /proc/interrupts" |
		awk '/virtio[0-9]+-(input|output)/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i }
		     END { if (NR) print s + 0 }'
}
vm_up() { [[ " ${up[*]} " = *" $1 "* ]]; }
# vm_boot NAME NODE L1-ADDR L2-ADDR: start an L2 and wait for it to be up;
# once more if it does not come up.  Nested KVM under TCG now and then
# resets an L2 early in its boot (QEMU exits with status 0 while the L2
# kernel is still decompressing or setting up memory), long before its
# virtio-net driver starts the datapath; a benchmark is not the place to
# count those (the vm-* tests are).
vm_boot() {
	if vkt_vm_start "$@"; then
		up+=("$1")
		return
	fi
	vkt_diag "L2 VM on ${dpof[$1]} did not come up; booting it once more"
	vkt_vm_stop "$1"
	if vkt_vm_start "$@"; then
		up+=("$1")
	else
		vkt_fail "L2 VM on ${dpof[$1]} boots (${VKT_VM_WHY[$1]:-})"
	fi
}
# vm_pair ROUND A B: a round of the VMs A and B (those that booted), A first
# in odd rounds and B first in even ones, so that going first in a round is
# not always the same datapath's lot.
vm_pair() {
	local n
	for n in $([ $(($1 % 2)) = 1 ] && echo "$2 $3" || echo "$3 $2"); do
		! vm_up $n || vm_round "$1" $n "${dpof[$n]}"
	done
}
# vm_half FIRST LAST NODE-S LABEL-S NODE-T LABEL-T: rounds FIRST..LAST
# with those datapaths in slots s and t.
vm_half() {
	local r
	up=()
	dpof=([s]=$4 [t]=$6)
	vm_boot s "$3" 192.0.2.1/24 192.0.2.2/24
	vm_boot t "$5" 203.0.113.1/24 203.0.113.2/24
	for ((r = $1; r <= $2; r++)); do
		vm_pair $r s t
	done
	vkt_vm_stop t
	vkt_vm_stop s
}
# vm_mode STOCK-LABEL KT-NODE KT-LABEL: all rounds of one worker mode.
vm_mode() {
	local half=$(((VM_ROUNDS + 1) / 2))
	vm_half 1 $half /dev/vhost-net "$1" "$2" "$3"
	vm_half $((half + 1)) "$VM_ROUNDS" "$2" "$3" /dev/vhost-net "$1"
}
# With an emulated L2 (VM_ACCEL=tcg; bench/run then runs L1 under -icount,
# which nested KVM cannot take) the VM cells follow the micro-benchmarks'
# plan: all four datapaths in every round, stock vhost-net in both modes
# through the fork-owner ioctl on QEMU's fds (l2-launch --fork-owner and
# --nic).
#
# A VM keeps its standing against other VMs for its whole life: about one
# in four or five runs 12-15 % slower than the rest, whatever its datapath
# (docs/performance.md, changes 14, 15 and 17).  With a VM per datapath, a
# round's ratio was 0.85 or 1.15 whenever one of its two VMs was such a
# VM.  So every round boots one VM with four NICs, one per datapath, and
# both sides of each ratio share that VM's life; a new VM each round
# samples the VMs' states.  The NICs are not equal either (PCI slot, tap,
# subnet, the order the round runs them in), so the datapaths rotate
# through them: round r puts vm4_dps[(i + r - 1) % 4] on NIC i.  Stock and
# vhost-kt of one mode stand two apart in vm4_dps, so over four rounds
# each of them goes first twice; use a multiple of four rounds.
vm4_dps=(stock-task stock-kthread kt-task kt-kthread)
declare -A vmdev=([stock-task]=/dev/vhost-net [stock-kthread]=/dev/vhost-net
	[kt-task]=/dev/vhost-kt-net-task [kt-kthread]=/dev/vhost-kt-net-kthread)
declare -A vmmode=([stock-task]=task [stock-kthread]=kthread)
vm1_round() {	# ROUND
	local r=$1 i dp tid kind nicdp=() got=()
	up=()
	for ((i = 0; i < 4; i++)); do
		nicdp[i]=${vm4_dps[$(((i + r - 1) % 4))]}
	done
	# NIC 0 is vkt_vm_launch's own; 1 to 3 come from VKT_VM_NICS.
	VKT_VM_NICS[v]=
	for i in 1 2 3; do
		dp=${nicdp[i]}
		VKT_VM_NICS[v]+=" ${vmdev[$dp]}|${vmmode[$dp]:-}|192.0.2.$((16 * i + 1))/28|192.0.2.$((16 * i + 2))/28"
	done
	dpof[v]="round $r (NICs: ${nicdp[*]})"
	dp=${nicdp[0]}
	vm_boot v "${vmdev[$dp]}" 192.0.2.1/28 192.0.2.2/28 1 "${vmmode[$dp]:-}"
	if vm_up v; then
		vkt_vm_workers v >"$VKT_L2_DIR/v/workers"
		vkt_check_eq "round $r: the VM has two task-mode and two kthread-mode workers" \
			"kthread kthread task task" \
			"$(awk '{ print $2 }' "$VKT_L2_DIR/v/workers" | sort | tr '\n' ' ' | sed 's/ $//')"
		vm4_pin
		for ((i = 0; i < 4; i++)); do
			vm_round "$r" v "${nicdp[i]}" "192.0.2.$((16 * i + 2))"
		done
		[ -z "$PINOPT" ] || taskset -cp "0-$(($(nproc) - 1))" $$ >/dev/null
		# Each NIC's traffic ran on a worker of its own, of its
		# datapath's mode: for stock, the fork-owner ioctl on QEMU's fd
		# took effect.
		for ((i = 0; i < 4; i++)); do
			read -r tid kind <"$VKT_L2_DIR/v/busiest-${nicdp[i]}"
			got+=("${nicdp[i]}:$kind:$tid")
		done
		vkt_check_eq "round $r: each NIC's traffic ran on a worker of its own, in its datapath's mode" \
			"4 $(for dp in "${nicdp[@]}"; do printf '%s:%s ' "$dp" "${dp#*-}"; done)" \
			"$(printf '%s\n' "${got[@]}" | cut -d: -f3 | sort -u | wc -l) $(printf '%s ' "${got[@]%:*}")"
	fi
	vkt_vm_stop v
}
# Every L2's QEMU (all its threads: the VM's "CPU") on CPU 0, its workers
# and the iperf3 clients (children of this shell) on CPU 1, as bench_net
# --pin does (and, as it, not with VKT_BENCH_PIN=0 or one CPU), so that
# where the scheduler happened to put them does not differ between the
# VMs.  (Unpinned, one VM of four once read 0.90 of the others in both
# rounds of its life; pinned, VMs still differ by a few percent for their
# whole life: docs/performance.md, change 14.)
vm4_pin() {
	local n tid
	[ -n "$PINOPT" ] || return 0
	for n in "${up[@]}"; do
		taskset -a -p 1 "${VKT_VM_PID[$n]}" >/dev/null
		while read -r tid _; do
			taskset -p 2 "$tid" >/dev/null
		done <"$VKT_L2_DIR/$n/workers"
	done
	taskset -p 2 $$ >/dev/null
}
if [ "${VM:-0}" = 1 ]; then
	VKT_L2_ACCEL=${VM_ACCEL:-tcg}
	# The same user-space layout in every L2 (its iperf3 server lives as
	# long as the VM), one difference between VMs fewer.  It was tried
	# against the VMs that run 12-15 % slower than the rest for their
	# whole life, and did not remove them (docs/performance.md, change 15).
	VKT_L2_APPEND="norandmaps ${VKT_L2_APPEND:-}"
	# QEMU's default kick, as on the hosts the numbers are for (and as in
	# every run of record): the bench runs on 6.12, whose KVM emulates
	# the MMIO kicks that 7.x KVM may refuse under TCG (vmlib.sh).
	VKT_L2_KICK=${VKT_L2_KICK:-mmio}
	. "$VKT_REPO/tests/guest/vmlib.sh"
	trap vkt_vm_stop_all EXIT
	VM_SECS=${VM_SECS:-2}
	# Emulated: two rotations of the four NICs (vm1_round).
	[ "$VKT_L2_ACCEL" = tcg ] && VM_ROUNDS=${VM_ROUNDS:-8}
	VM_ROUNDS=${VM_ROUNDS:-$ROUNDS}
	layout="two VMs at a time, one per datapath"
	[ "$VKT_L2_ACCEL" != tcg ] || layout="a VM per round, a NIC per datapath"
	echo "vkt-bench-meta L2 VM cells: rounds $VM_ROUNDS, iperf3 $VM_SECS s per direction, accel $VKT_L2_ACCEL, $layout"
	declare -A dpof
	if ! vkt_l2_setup; then
		vkt_skip "L2 VM iperf3 cell" "$VKT_L2_WHY"
	elif [ "$VKT_L2_ACCEL" = tcg ]; then
		for ((r = 1; r <= VM_ROUNDS; r++)); do
			vm1_round $r
		done
		vkt_ok "L2 VM iperf3 cell done"
	else
		# One boot at a time, and never more than two L2s alive: three
		# nested guests at once have frozen a TCG L1 (tests/README.md).
		vm_mode stock-task /dev/vhost-kt-net-task kt-task
		# Stock kthread mode needs vhost.ko reloaded.
		if [ -d /sys/module/vhost/parameters ] &&
		   rmmod vhost_net vhost && vkt_modprobe vhost fork_from_owner_default=0 &&
		   vkt_modprobe vhost_net; then
			vm_mode stock-kthread /dev/vhost-kt-net-kthread kt-kthread
		else
			vkt_skip "L2 VM on stock-kthread" "vhost.ko does not reload with fork_from_owner_default=0"
		fi
		vkt_vm_stop_all
		vkt_ok "L2 VM iperf3 cell done"
	fi
fi
vkt_check "vhost_kt unloads" vkt_unload_module
rmmod vhost_net vhost 2>/dev/null
vkt_done
