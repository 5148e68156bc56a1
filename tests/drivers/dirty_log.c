// SPDX-License-Identifier: GPL-2.0-only
/*
 * dirty_log: the dirty page log (VHOST_F_LOG_ALL, VHOST_SET_LOG_BASE,
 * VHOST_VRING_F_LOG, VHOST_SET_LOG_FD) seen from userspace.
 *
 * The program plays QEMU during a migration: it gives the device a bitmap
 * with one bit per 4 KiB page of guest-physical memory, lets the device
 * write guest memory, and then checks the bitmap page by page:
 *
 *   - every page the device wrote is marked: the used ring of a queue set
 *     up with VHOST_VRING_F_LOG, and the first used.len bytes of the
 *     device-writable buffers of every used chain;
 *   - nothing else is: not the descriptor table, the avail ring, the
 *     device-readable buffers, the used ring of a queue without
 *     VHOST_VRING_F_LOG, or the unwritten tail of a writable buffer (with
 *     an IOTLB the device logs whole writable buffers, as upstream does, so
 *     the tail is not checked there); no bit outside guest memory, and
 *     none before the log base;
 *   - with VIRTIO_F_ACCESS_PLATFORM, rings and buffers are IOVAs; the log
 *     must still be by guest-physical address (through the memory table)
 *     and ignore log_guest_addr, as upstream;
 *   - the VHOST_SET_LOG_FD eventfd was signalled.
 *
 * --log-queue 1 sets VHOST_VRING_F_LOG on queue 1 (vhost-net: TX) instead of
 * queue 0 (RX), so that the used ring of each kind of queue is checked both
 * ways.
 *
 * Guest memory is two regions whose guest-physical order differs from their
 * order in our address space, so a log by user address or by IOVA shows.
 *
 * Devices: /dev/vhost-kt-test (the test backend echoes readable buffers
 * into writable ones on two queues) or a vhost-net node with a tap backend
 * (frames sent on the tap arrive in RX buffers; a TX frame leaves the TX
 * queue).  --errors checks the errno of bad log arguments instead.
 * Output is TAP; the exit status is non-zero if anything failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "../lib/tap.h"

#include "../../include/uapi/vhost_kt.h"
#include "../kmod/vhost_kt_test.h"

#define PAGE		4096ULL
#define REG_PAGES	32ULL
#define GPA_A		0x200000ULL	/* rings, readable buffers */
#define GPA_B		0x800000ULL	/* writable buffers */
#define IOVA_OFF	0x1000000ULL	/* IOVA = GPA + this, with --iotlb */
#define LOG_OFF		0x103		/* log base not even long-aligned */
#define LOG_BYTES	(2 * PAGE)
#define LOG_PAGES	((LOG_BYTES - LOG_OFF) * 8)
#define NUM		16
#define MAX_CHAINS	32
#define MAX_BUFS	4
#define ETHERTYPE	0x88b5
#define HDR_LEN		12		/* virtio_net_hdr_mrg_rxbuf (v1) */
#define BOGUS_LOG_GPA	(GPA_A + 30 * PAGE)

#define barrier()	__sync_synchronize()

static const char *dev_path = "/dev/vhost-kt-test";
static int opt_mode = -1, opt_iotlb, opt_errors, opt_log_queue;
static bool is_net;

/* ---- guest memory and the log ---- */

static uint8_t *mem;		/* region B, then region A */
static uint8_t *logmem;		/* LOG_BYTES; the log starts at LOG_OFF */

static uint8_t *gpa_ptr(uint64_t gpa)
{
	if (gpa >= GPA_A && gpa < GPA_A + REG_PAGES * PAGE)
		return mem + REG_PAGES * PAGE + (gpa - GPA_A);
	if (gpa >= GPA_B && gpa < GPA_B + REG_PAGES * PAGE)
		return mem + (gpa - GPA_B);
	fprintf(stderr, "dirty_log: gpa 0x%llx outside guest memory\n",
		(unsigned long long)gpa);
	exit(2);
}

/* The address the device is given for @gpa in a descriptor. */
static uint64_t dva(uint64_t gpa)
{
	return opt_iotlb ? gpa + IOVA_OFF : gpa;
}

/* ... and for a ring: a user address, unless there is an IOTLB. */
static uint64_t ring_addr(uint64_t gpa)
{
	return opt_iotlb ? gpa + IOVA_OFF : (uintptr_t)gpa_ptr(gpa);
}

static bool log_bit(uint64_t page)
{
	return logmem[LOG_OFF + page / 8] & (1u << (page % 8));
}

/* What a page's bit must be: clear, anything, set (highest wins). */
enum { P_CLEAR, P_MAYBE, P_SET };
static uint8_t expect[LOG_PAGES];

static void expect_range(uint64_t gpa, uint64_t len, int level)
{
	uint64_t p;

	if (!len)
		return;
	for (p = gpa / PAGE; p <= (gpa + len - 1) / PAGE; p++)
		if (expect[p] < level)
			expect[p] = level;
}

/* ---- rings ---- */

struct buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

struct chain {
	struct buf b[MAX_BUFS];
	int n;
};

struct vq {
	int index;
	uint64_t desc, avail, used;	/* GPAs */
	struct vring vr;
	uint16_t next_desc, avail_idx, last_used;
	struct chain chains[NUM];
	int kick, call;
	bool log;
};

static int fd;
static struct vq vqs[2];
static int tapfd = -1, pkt = -1, logfd = -1;
static char ifname[IFNAMSIZ];

static void vq_init(struct vq *q, int index, uint64_t first_page, bool log)
{
	memset(q, 0, sizeof(*q));
	memset(gpa_ptr(first_page), 0, 3 * PAGE);
	q->index = index;
	q->desc = first_page;
	q->avail = first_page + PAGE;
	q->used = first_page + 2 * PAGE;
	q->vr.num = NUM;
	q->vr.desc = (void *)gpa_ptr(q->desc);
	q->vr.avail = (void *)gpa_ptr(q->avail);
	q->vr.used = (void *)gpa_ptr(q->used);
	q->log = log;
}

/* Queue a chain, as an indirect table at @table if that is non-zero. */
static void add_chain(struct vq *q, const struct buf *b, int n, uint64_t table)
{
	struct vring_desc *d = q->vr.desc;
	uint16_t head = q->next_desc;
	int i;

	if (table) {
		struct vring_desc *t = (void *)gpa_ptr(table);

		for (i = 0; i < n; i++)
			t[i] = (struct vring_desc){
				.addr = dva(b[i].gpa), .len = b[i].len,
				.flags = (b[i].write ? VRING_DESC_F_WRITE : 0) |
					 (i + 1 < n ? VRING_DESC_F_NEXT : 0),
				.next = i + 1,
			};
		d[head] = (struct vring_desc){ .addr = dva(table),
			.len = n * sizeof(*t), .flags = VRING_DESC_F_INDIRECT };
		q->next_desc++;
	} else {
		for (i = 0; i < n; i++) {
			uint16_t k = q->next_desc++;

			d[k] = (struct vring_desc){
				.addr = dva(b[i].gpa), .len = b[i].len,
				.flags = (b[i].write ? VRING_DESC_F_WRITE : 0) |
					 (i + 1 < n ? VRING_DESC_F_NEXT : 0),
				.next = k + 1,
			};
		}
	}
	memcpy(q->chains[head].b, b, n * sizeof(*b));
	q->chains[head].n = n;
	q->vr.avail->ring[q->avail_idx % NUM] = head;
	barrier();
	q->vr.avail->idx = ++q->avail_idx;
	barrier();
}

static void kick(struct vq *q)
{
	uint64_t one = 1;

	if (write(q->kick, &one, sizeof(one)) != sizeof(one))
		diag("kick: %s", strerror(errno));
}

static uint16_t used_idx(struct vq *q)
{
	return *(volatile uint16_t *)&q->vr.used->idx;
}

/* Wait until @q has used @n chains in all. */
static bool wait_used(struct vq *q, uint16_t n, int ms)
{
	struct pollfd p = { .fd = q->call, .events = POLLIN };
	uint64_t v;

	while (used_idx(q) != n) {
		if (ms <= 0)
			return false;
		poll(&p, 1, 100);
		if (read(q->call, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return false;
		ms -= 100;
	}
	barrier();
	return true;
}

/* Fill in what the used ring of @q says the device wrote. */
static void expect_used(struct vq *q)
{
	uint16_t i;

	if (q->log)
		expect_range(q->used, 4 + 8 * NUM + 2, P_SET);
	for (i = 0; i < used_idx(q); i++) {
		struct vring_used_elem *e = &q->vr.used->ring[i % NUM];
		struct chain *c = &q->chains[e->id % NUM];
		uint32_t left = e->len;
		int k;

		for (k = 0; k < c->n; k++) {
			uint32_t w;

			if (!c->b[k].write)
				continue;
			w = left < c->b[k].len ? left : c->b[k].len;
			expect_range(c->b[k].gpa, w, P_SET);
			expect_range(c->b[k].gpa + w, c->b[k].len - w,
				     opt_iotlb ? P_MAYBE : P_CLEAR);
			left -= w;
		}
	}
}

/* ---- the device ---- */

static int xioctl(unsigned long req, void *arg, const char *what)
{
	int err;

	if (ioctl(fd, req, arg) < 0) {
		err = errno;
		diag("%s: %s", what, strerror(err));
		errno = err;
		return -1;
	}
	return 0;
}

static int iotlb_map(uint64_t gpa)
{
	struct vhost_msg_v2 m = {
		.type = VHOST_IOTLB_MSG_V2,
		.iotlb = {
			.iova = dva(gpa), .size = REG_PAGES * PAGE,
			.uaddr = (uintptr_t)gpa_ptr(gpa),
			.perm = VHOST_ACCESS_RW, .type = VHOST_IOTLB_UPDATE,
		},
	};

	if (write(fd, &m, sizeof(m)) != sizeof(m)) {
		diag("IOTLB update: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int set_mem_table(void)
{
	struct {
		struct vhost_memory h;
		struct vhost_memory_region r[2];
	} m = { .h.nregions = 2 };

	m.r[0] = (struct vhost_memory_region){ .guest_phys_addr = GPA_A,
		.memory_size = REG_PAGES * PAGE,
		.userspace_addr = (uintptr_t)gpa_ptr(GPA_A) };
	m.r[1] = (struct vhost_memory_region){ .guest_phys_addr = GPA_B,
		.memory_size = REG_PAGES * PAGE,
		.userspace_addr = (uintptr_t)gpa_ptr(GPA_B) };
	return xioctl(VHOST_SET_MEM_TABLE, &m, "VHOST_SET_MEM_TABLE");
}

static int vq_setup(struct vq *q)
{
	struct vhost_vring_state s = { .index = q->index, .num = NUM };
	struct vhost_vring_addr a = {
		.index = q->index,
		.desc_user_addr = ring_addr(q->desc),
		.avail_user_addr = ring_addr(q->avail),
		.used_user_addr = ring_addr(q->used),
		.flags = q->log ? 1u << VHOST_VRING_F_LOG : 0,
		/* Under an IOTLB the log must not use this: make it wrong. */
		.log_guest_addr = opt_iotlb ? BOGUS_LOG_GPA : q->used,
	};
	struct vhost_vring_file f = { .index = q->index };

	if (xioctl(VHOST_SET_VRING_NUM, &s, "VHOST_SET_VRING_NUM"))
		return -1;
	s.num = 0;
	if (xioctl(VHOST_SET_VRING_BASE, &s, "VHOST_SET_VRING_BASE") ||
	    xioctl(VHOST_SET_VRING_ADDR, &a, "VHOST_SET_VRING_ADDR"))
		return -1;
	q->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	q->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f.fd = q->kick;
	if (xioctl(VHOST_SET_VRING_KICK, &f, "VHOST_SET_VRING_KICK"))
		return -1;
	f.fd = q->call;
	return xioctl(VHOST_SET_VRING_CALL, &f, "VHOST_SET_VRING_CALL");
}

static int tap_setup(void)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	int hsz = HDR_LEN, s, r;
	char path[128];
	FILE *f;

	tapfd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tapfd < 0)
		return -1;
	strcpy(ifr.ifr_name, "vktlog%d");
	if (ioctl(tapfd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(tapfd, TUNSETVNETHDRSZ, &hsz) < 0)
		return -1;
	strcpy(ifname, ifr.ifr_name);
	/* No IPv6 chatter in the RX ring (what gets there is checked anyway). */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 ifname);
	f = fopen(path, "w");
	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	ifr.ifr_mtu = 9000;
	r = ioctl(s, SIOCSIFMTU, &ifr);
	if (!r)
		r = ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!r)
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	if (r)
		return -1;
	/* Protocol 0: silent until bound to the tap. */
	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (pkt < 0)
		return -1;
	sll.sll_protocol = htons(ETHERTYPE);
	sll.sll_ifindex = if_nametoindex(ifname);
	return bind(pkt, (struct sockaddr *)&sll, sizeof(sll));
}

static int net_backend(int q, int backend)
{
	struct vhost_vring_file f = { .index = q, .fd = backend };

	return xioctl(VHOST_NET_SET_BACKEND, &f, "VHOST_NET_SET_BACKEND");
}

static int backend_run(bool on)
{
	int mask = on ? 3 : 0;

	if (!is_net)
		return xioctl(VHOST_KT_TEST_RUN, &mask, "VHOST_KT_TEST_RUN");
	if (net_backend(0, on ? tapfd : -1) || net_backend(1, on ? tapfd : -1))
		return -1;
	return 0;
}

static int dev_open(uint64_t features)
{
	uint64_t have;

	fd = open(dev_path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		diag("open %s: %s", dev_path, strerror(errno));
		return -1;
	}
	if (opt_mode >= 0) {
		uint8_t m = opt_mode;

		if (xioctl(VHOST_SET_FORK_FROM_OWNER, &m, "VHOST_SET_FORK_FROM_OWNER"))
			return -1;
	}
	if (xioctl(VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER") ||
	    xioctl(VHOST_GET_FEATURES, &have, "VHOST_GET_FEATURES"))
		return -1;
	if ((have & features) != features) {
		diag("device lacks features 0x%llx",
		     (unsigned long long)(features & ~have));
		return -1;
	}
	if (opt_iotlb) {
		uint64_t bf = 1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2;

		if (xioctl(VHOST_SET_BACKEND_FEATURES, &bf,
			   "VHOST_SET_BACKEND_FEATURES"))
			return -1;
	}
	return 0;
}

/* ---- traffic ---- */

static void fill(uint64_t gpa, uint32_t len, uint8_t seed)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		gpa_ptr(gpa + i)[0] = seed + i * 7;
}

#define A(page, off)	(GPA_A + (page) * PAGE + (off))
#define B(page, off)	(GPA_B + (page) * PAGE + (off))

/*
 * Test backend: chains on queue 0 and queue 1 (one of them logged):
 * a buffer across pages, a chain written only in its first page, an
 * indirect chain across a page boundary.
 */
static int traffic_test(void)
{
	const struct buf c1[] = { { A(8, 0), 5000, false },
				  { B(0, 0x800), 5000, true } };
	const struct buf c2[] = { { A(11, 0), 100, false },
				  { B(4, 0), 4096, true },
				  { B(5, 0), 4096, true },
				  { B(6, 0), 4096, true } };
	const struct buf c3[] = { { A(14, 0), 64, false },
				  { B(8, 0xff0), 64, true } };
	const struct buf c4[] = { { A(16, 0), 200, false },
				  { B(12, 0), 200, true } };

	fill(A(8, 0), 5000, 1);
	fill(A(11, 0), 100, 2);
	fill(A(14, 0), 64, 3);
	fill(A(16, 0), 200, 4);
	add_chain(&vqs[0], c1, 2, 0);
	add_chain(&vqs[0], c2, 4, 0);
	add_chain(&vqs[0], c3, 2, A(13, 0));
	add_chain(&vqs[1], c4, 2, 0);
	kick(&vqs[0]);
	kick(&vqs[1]);
	if (!wait_used(&vqs[0], 3, 10000) || !wait_used(&vqs[1], 1, 10000)) {
		diag("used idx %u/%u, expected 3/1", used_idx(&vqs[0]),
		     used_idx(&vqs[1]));
		return -1;
	}
	if (gpa_ptr(B(0, 0x800))[4999] != (uint8_t)((1 + 4999 * 7) ^ VHOST_KT_TEST_XOR)) {
		diag("echoed data wrong");
		return -1;
	}
	return 0;
}

static int send_frame(uint32_t len, uint8_t seed)
{
	static uint8_t f[9014];
	uint32_t i;

	memset(f, 0xff, 6);
	memset(f + 6, 0x02, 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	for (i = 14; i < len; i++)
		f[i] = seed + i;
	return send(pkt, f, len, 0) == (ssize_t)len ? 0 : -1;
}

/*
 * vhost-net: RX buffers of two descriptors (across a page boundary, then a
 * page), frames of 5000, 8000 and 60 bytes sent on the tap; one TX frame.
 */
static int traffic_net(void)
{
	static const uint32_t lens[] = { 5000, 8000, 60 };
	struct buf tx = { A(8, 0), HDR_LEN + 60, false };
	unsigned int i, want = 0;
	int ms;

	for (i = 0; i < 6; i++) {
		struct buf rx[] = { { B(4 * i, 0x800), 0x1800, true },
				    { B(4 * i + 2, 0), 0x1000, true } };

		add_chain(&vqs[0], rx, 2, 0);
	}
	kick(&vqs[0]);
	for (i = 0; i < 3; i++)
		if (send_frame(lens[i], i)) {
			diag("send on %s: %s", ifname, strerror(errno));
			return -1;
		}
	/* Other frames may come first; ours carry our ethertype. */
	for (ms = 10000; ms > 0 && want < 3; ms -= 10) {
		uint16_t u = used_idx(&vqs[0]);

		barrier();
		for (want = 0, i = 0; i < u; i++) {
			struct vring_used_elem *e = &vqs[0].vr.used->ring[i];
			uint8_t *p = gpa_ptr(vqs[0].chains[e->id].b[0].gpa);

			if (p[HDR_LEN + 12] == ETHERTYPE >> 8 &&
			    p[HDR_LEN + 13] == (ETHERTYPE & 0xff))
				want++;
		}
		if (want < 3)
			usleep(10000);
	}
	if (want < 3) {
		diag("%u of 3 frames reached the RX ring (used idx %u)", want,
		     used_idx(&vqs[0]));
		return -1;
	}
	memset(gpa_ptr(tx.gpa), 0, HDR_LEN);
	memset(gpa_ptr(tx.gpa) + HDR_LEN, 0xff, 60);
	add_chain(&vqs[1], &tx, 1, 0);
	kick(&vqs[1]);
	if (!wait_used(&vqs[1], 1, 10000)) {
		diag("TX frame not used");
		return -1;
	}
	return 0;
}

/* ---- the checks ---- */

static void check_log(const char *what)
{
	unsigned int missing = 0, extra = 0, set = 0;
	uint64_t p;
	bool before = true;

	for (p = 0; p < LOG_OFF; p++)
		if (logmem[p])
			before = false;
	for (p = 0; p < LOG_PAGES; p++) {
		bool b = log_bit(p);

		set += b;
		if (expect[p] == P_SET && !b) {
			if (missing++ < 8)
				diag("gpa page 0x%llx written but not logged",
				     (unsigned long long)p * PAGE);
		} else if (expect[p] == P_CLEAR && b) {
			if (extra++ < 8)
				diag("gpa page 0x%llx logged but not written",
				     (unsigned long long)p * PAGE);
		}
	}
	diag("%u bits set", set);
	check(!missing, "%s: every page the device wrote is logged", what);
	check(!extra && before,
	    "%s: no page it did not write is logged (%s)", what,
	    opt_iotlb ? "by GPA, not IOVA or log_guest_addr" : "by GPA");
}

static void test_traffic(void)
{
	uint64_t features = (1ULL << VIRTIO_F_VERSION_1) |
			    (1ULL << VHOST_F_LOG_ALL);
	uint64_t logp = (uintptr_t)logmem + LOG_OFF, n = 0;
	const char *what = is_net ? "vhost-net RX/TX" : "test backend";
	int i, r;

	if (!is_net)
		features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (opt_iotlb)
		features |= 1ULL << VIRTIO_F_ACCESS_PLATFORM;
	vq_init(&vqs[0], 0, A(0, 0), opt_log_queue == 0);
	vq_init(&vqs[1], 1, A(3, 0), opt_log_queue == 1);
	logfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	r = dev_open(features);
	if (!r && is_net && tap_setup()) {
		diag("tap: %s", strerror(errno));
		r = -1;
	}
	if (!r)
		r = xioctl(VHOST_SET_LOG_BASE, &logp, "VHOST_SET_LOG_BASE");
	if (!r)
		r = xioctl(VHOST_SET_LOG_FD, &logfd, "VHOST_SET_LOG_FD");
	/* QEMU's order when a device starts while migrating: no table yet. */
	if (!r)
		r = xioctl(VHOST_SET_FEATURES, &features, "VHOST_SET_FEATURES");
	if (!r)
		r = set_mem_table();
	if (!r && opt_iotlb)
		r = iotlb_map(GPA_A) || iotlb_map(GPA_B);
	for (i = 0; !r && i < 2; i++)
		r = vq_setup(&vqs[i]);
	if (!r)
		r = backend_run(true);
	check(!r, "%s: device set up with VHOST_F_LOG_ALL (acked before the memory table)%s, queue %d logged",
	    what, opt_iotlb ? " and an IOTLB" : "", opt_log_queue);
	if (r)
		return;

	/* Starting may have logged the used flags: start from a clean log. */
	memset(logmem, 0, LOG_BYTES);
	if (read(logfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		diag("log eventfd: %s", strerror(errno));
	n = 0;

	r = is_net ? traffic_net() : traffic_test();
	check(!r, "%s: traffic crossed the rings", what);
	/* Detaching flushes the worker: logging after used is done now. */
	if (backend_run(false))
		r = -1;
	if (r)
		return;
	for (i = 0; i < 2; i++)
		expect_used(&vqs[i]);
	check_log(what);
	if (read(logfd, &n, sizeof(n)) < 0)
		n = 0;
	check(n > 0, "%s: log eventfd signalled (%llu)", what,
	    (unsigned long long)n);
}

/* A log base the kernel will accept but cannot write: no harm done. */
static void test_unwritable_log(void)
{
	uint64_t features = (1ULL << VIRTIO_F_VERSION_1) |
			    (1ULL << VHOST_F_LOG_ALL);
	uint8_t *none = mmap(NULL, PAGE, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t logp = (uintptr_t)none;
	const struct buf c[] = { { A(8, 0), 300, false },
				 { B(0, 0), 300, true } };
	int r;

	vq_init(&vqs[0], 0, A(0, 0), true);
	vq_init(&vqs[1], 1, A(3, 0), false);
	r = dev_open(features);
	if (!r)
		r = xioctl(VHOST_SET_LOG_BASE, &logp, "VHOST_SET_LOG_BASE");
	if (!r)
		r = xioctl(VHOST_SET_FEATURES, &features, "VHOST_SET_FEATURES");
	if (!r)
		r = set_mem_table() || vq_setup(&vqs[0]) || vq_setup(&vqs[1]) ||
		    backend_run(true);
	if (!r) {
		fill(A(8, 0), 300, 9);
		add_chain(&vqs[0], c, 2, 0);
		kick(&vqs[0]);
		r = wait_used(&vqs[0], 1, 10000) ? 0 : -1;
		if (r)
			diag("used idx %u, expected 1", used_idx(&vqs[0]));
		backend_run(false);
	}
	check(!r, "log base in a PROT_NONE page: accepted, traffic still flows");
	close(fd);
	munmap(none, PAGE);
}

/* errno of bad log arguments (queue 0 set up, backend as said). */
static void expect_errno(int r, int err, const char *what)
{
	check(r < 0 && errno == err, "%s: %s", what, strerror(err));
	if (!(r < 0 && errno == err))
		diag("got %d (%s)", r, r < 0 ? strerror(errno) : "success");
}

static void test_errors(void)
{
	uint64_t features = (1ULL << VIRTIO_F_VERSION_1);
	uint64_t logp = (uintptr_t)logmem, kern = 0xffff888000000000ULL;
	uint64_t wrap = ~0ULL - 16;
	struct vhost_vring_addr a;
	int bad_fd = 999, nullfd;

	vq_init(&vqs[0], 0, A(0, 0), true);
	vq_init(&vqs[1], 1, A(3, 0), false);
	if (dev_open(features) ||
	    (is_net && tap_setup()) ||
	    xioctl(VHOST_SET_FEATURES, &features, "VHOST_SET_FEATURES") ||
	    set_mem_table() || vq_setup(&vqs[0]) || vq_setup(&vqs[1])) {
		check(false, "errors: device set up");
		return;
	}
	expect_errno(ioctl(fd, VHOST_SET_LOG_BASE, NULL), EFAULT,
		     "SET_LOG_BASE with a NULL argument");
	check(ioctl(fd, VHOST_SET_LOG_BASE, &kern) == 0,
	    "SET_LOG_BASE to a kernel address with no backend: accepted, checked at start");
	expect_errno(backend_run(true), EFAULT,
		     "starting a queue with VRING_F_LOG and a kernel log base");
	check(ioctl(fd, VHOST_SET_LOG_BASE, &logp) == 0 && !backend_run(true),
	    "good log base: queues start");
	expect_errno(ioctl(fd, VHOST_SET_LOG_BASE, &kern), EFAULT,
		     "SET_LOG_BASE to a kernel address while running");
	expect_errno(ioctl(fd, VHOST_SET_LOG_BASE, &wrap), EFAULT,
		     "SET_LOG_BASE whose bitmap wraps the address space");
	/*
	 * As upstream, the refused base was still taken by queue 1, which
	 * logs nothing yet; logging all of guest memory must now be refused.
	 */
	features |= 1ULL << VHOST_F_LOG_ALL;
	expect_errno(ioctl(fd, VHOST_SET_FEATURES, &features), EFAULT,
		     "acking VHOST_F_LOG_ALL when a queue's log base cannot cover guest memory");
	check(ioctl(fd, VHOST_SET_LOG_BASE, &logp) == 0 &&
	    ioctl(fd, VHOST_SET_FEATURES, &features) == 0,
	    "VHOST_F_LOG_ALL acked once the log base is good");
	features &= ~(1ULL << VHOST_F_LOG_ALL);
	check(ioctl(fd, VHOST_SET_FEATURES, &features) == 0,
	    "VHOST_F_LOG_ALL dropped again");

	memset(&a, 0, sizeof(a));
	a.index = 0;
	a.desc_user_addr = (uintptr_t)gpa_ptr(vqs[0].desc);
	a.avail_user_addr = (uintptr_t)gpa_ptr(vqs[0].avail);
	a.used_user_addr = (uintptr_t)gpa_ptr(vqs[0].used);
	a.flags = 1u << VHOST_VRING_F_LOG;
	a.log_guest_addr = vqs[0].used + 2;
	expect_errno(ioctl(fd, VHOST_SET_VRING_ADDR, &a), EINVAL,
		     "SET_VRING_ADDR with a misaligned log_guest_addr");
	a.log_guest_addr = vqs[0].used;
	a.flags = 2u << VHOST_VRING_F_LOG;
	expect_errno(ioctl(fd, VHOST_SET_VRING_ADDR, &a), EOPNOTSUPP,
		     "SET_VRING_ADDR with an unknown flag");

	expect_errno(ioctl(fd, VHOST_SET_LOG_FD, NULL), EFAULT,
		     "SET_LOG_FD with a NULL argument");
	expect_errno(ioctl(fd, VHOST_SET_LOG_FD, &bad_fd), EBADF,
		     "SET_LOG_FD with a closed fd");
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	expect_errno(ioctl(fd, VHOST_SET_LOG_FD, &nullfd), EINVAL,
		     "SET_LOG_FD with a non-eventfd");
	close(nullfd);
	logfd = eventfd(0, EFD_CLOEXEC);
	check(ioctl(fd, VHOST_SET_LOG_FD, &logfd) == 0,
	    "SET_LOG_FD with an eventfd");
	logfd = -1;
	check(ioctl(fd, VHOST_SET_LOG_FD, &logfd) == 0, "SET_LOG_FD -1 unbinds");
	backend_run(false);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", 1, 0, 'd' }, { "mode", 1, 0, 'm' },
		{ "iotlb", 0, 0, 'T' }, { "errors", 0, 0, 'E' },
		{ "label", 1, 0, 'l' }, { "log-queue", 1, 0, 'q' }, { 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': dev_path = optarg; break;
		case 'm':
			opt_mode = !strcmp(optarg, "task") ? VHOST_FORK_OWNER_TASK :
				   VHOST_FORK_OWNER_KTHREAD;
			break;
		case 'T': opt_iotlb = 1; break;
		case 'E': opt_errors = 1; break;
		case 'l': tap_label = optarg; break;
		case 'q':
			if (strcmp(optarg, "0") && strcmp(optarg, "1")) {
				fprintf(stderr, "dirty_log: --log-queue is 0 or 1\n");
				return 2;
			}
			opt_log_queue = optarg[0] - '0';
			break;
		default:
			fprintf(stderr, "usage: dirty_log [--dev PATH] [--mode kthread|task] [--iotlb] [--log-queue 0|1] [--errors] [--label S]\n");
			return 2;
		}
	}
	is_net = strstr(dev_path, "-net") != NULL;
	mem = mmap(NULL, 2 * REG_PAGES * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	logmem = mmap(NULL, LOG_BYTES, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED || logmem == MAP_FAILED)
		bail("mmap");

	if (opt_errors) {
		test_errors();
	} else {
		test_traffic();
		if (!opt_iotlb && !is_net) {
			close(fd);
			test_unwritable_log();
		}
	}
	return tap_end();
}
