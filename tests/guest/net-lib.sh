# SPDX-License-Identifier: GPL-2.0-only
# Shared by net.sh and net-stock.sh (sourced after lib.sh).

# vkt_run_tap reads through a process substitution, which needs /dev/fd.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd

NET_TEST=$VKT_BIN/net_test
FRAMES=${VKT_NET_FRAMES:-400}

# Feature sets: name|net_test options.  The first two are the quick set.
NET_COMBOS=(
	"all features|"
	"no MRG_RXBUF|--no-mrg"
	"no EVENT_IDX, no INDIRECT_DESC|--no-event-idx --no-indirect"
	"legacy header (no VERSION_1, no MRG_RXBUF)|--no-v1 --no-mrg"
	"legacy with MRG_RXBUF|--no-v1"
	"vhost adds the header (VHOST_NET_F_VIRTIO_NET_HDR)|--vhost-hdr"
	"ring of 64, one region, 2K RX buffers|--ring 64 --regions 1 --rx-buf 2048"
	"ring of 1024, eight regions, 256-byte RX buffers|--ring 1024 --regions 8 --rx-buf 256"
	"raw packet socket backend|--backend packet"
)

# net_combos DEVICE LABEL WORKER all|quick [net_test options...]
net_combos() {
	local dev=$1 label=$2 worker=$3 n=${#NET_COMBOS[@]} i c
	[ "$4" = quick ] && n=2
	shift 4
	for ((i = 0; i < n; i++)); do
		c=${NET_COMBOS[i]}
		# shellcheck disable=SC2086
		vkt_run_tap "$NET_TEST" --label "$label, ${c%%|*}" --frames "$FRAMES" \
			--expect-worker "$worker" "$@" ${c#*|} "$dev"
	done
}

# The worker a stock kernel creates: kthread before 6.4, a task after
# (fork_from_owner_default is true where that parameter exists).
net_stock_worker() {
	if vkt_have_vhost_task; then echo task; else echo kthread; fi
}

net_have_test() {
	[ -x "$NET_TEST" ] && return
	vkt_fail "net_test is built ($NET_TEST)"
	vkt_done
	exit
}
