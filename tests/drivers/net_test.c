// SPDX-License-Identifier: GPL-2.0-only
/*
 * net_test: a userspace virtio-net "guest" driving a vhost-net device.
 *
 * The program plays both QEMU and the guest driver: it owns guest memory
 * (several regions, contiguous in guest-physical space but not in our
 * address space, so that buffers straddling a region boundary exercise the
 * host's address translation), builds split RX and TX rings in it, hands
 * everything to the vhost device and a tap device as its backend, and then
 * checks every byte that crosses the ring in both directions:
 *
 *   TX: frames put in the TX ring come out of the tap interface; a packet
 *       socket bound to the tap (on a private ethertype) reads them.
 *   RX: frames sent on the tap interface through that packet socket must
 *       show up in the RX ring, with a correct virtio-net header and
 *       num_buffers.
 *
 * It works the same against stock /dev/vhost-net and /dev/vhost-kt-net*,
 * which is how the test itself is validated.  Output is TAP.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../lib/tap.h"

#ifndef VHOST_FORK_OWNER_KTHREAD
#define VHOST_FORK_OWNER_KTHREAD 0
#define VHOST_FORK_OWNER_TASK 1
#endif
#ifndef VHOST_SET_FORK_FROM_OWNER
#define VHOST_SET_FORK_FROM_OWNER _IOW(VHOST_VIRTIO, 0x84, __u8)
#define VHOST_GET_FORK_FROM_OWNER _IOR(VHOST_VIRTIO, 0x85, __u8)
#endif
#ifndef VIRTIO_F_RING_RESET
#define VIRTIO_F_RING_RESET 40
#endif

#define TEST_ETHERTYPE	0x88b5		/* IEEE local experimental */
#define RX_Q		0
#define TX_Q		1
#define MAX_SEGS	8		/* descriptors per chain */
#define MAX_FRAME	9014		/* with --mtu 9000 */
#define WAIT_MS		3000		/* one wait for a notification */
#define DEADLINE_MS	10000		/* one packet, end to end */

/* ---- options ---- */

static const char *dev_path = "/dev/vhost-kt-net";
static const char *tap_name = "vkt-net%d";
static unsigned int ring_num = 256;
static unsigned int nregions = 3;
static unsigned int rx_buf_len = 1024;	/* mergeable RX buffer size */
static unsigned int frames = 1500;
static unsigned int mtu = 9000;
static unsigned int cycles = 10;	/* detach/attach rounds */
static bool opt_mrg = true, opt_event_idx = true, opt_indirect = true;
static bool opt_v1 = true, opt_vhost_hdr, opt_ping;
static int opt_mode = -1;		/* VHOST_FORK_OWNER_* or -1 */
static const char *opt_expect_worker;
static unsigned int seed = 1;
static bool opt_debug;
static bool opt_lax_numbuf;
static bool opt_poll_faults;

/* Expect an ioctl to fail with @err. */
static void check_errno(int fd, unsigned long req, void *arg, int err,
			const char *what)
{
	int r = ioctl(fd, req, arg);
	int e = errno;

	check(r < 0 && e == err, "%s fails with %s (got %s)", what,
	      strerrorname_np(err), r < 0 ? strerrorname_np(e) : "success");
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* ---- guest memory ---- */

#define GPA_BASE 0x100000ULL

struct region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

static struct region *regions;
static uint64_t region_size, gmem_next;

static void gmem_init(void)
{
	unsigned int i;

	region_size = 8ULL << 20;
	regions = calloc(nregions, sizeof(*regions));
	for (i = 0; i < nregions; i++) {
		/* Separate mappings with a hole between them. */
		void *p;

		/*
		 * --poll-faults drops page table entries of the rings, which
		 * must keep their contents: shared memory keeps them in the
		 * page cache, as a VMM's memory-backend-memfd does.
		 */
		if (opt_poll_faults) {
			int fd = memfd_create("net_test", MFD_CLOEXEC);

			if (fd < 0 || ftruncate(fd, region_size) < 0)
				bail("memfd for guest memory");
			p = mmap(NULL, region_size + 4096, PROT_READ | PROT_WRITE,
				 MAP_SHARED, fd, 0);
			close(fd);
		} else {
			p = mmap(NULL, region_size + 4096, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		}

		if (p == MAP_FAILED)
			bail("mmap guest memory");
		munmap((uint8_t *)p + region_size, 4096);
		regions[i].gpa = GPA_BASE + i * region_size;
		regions[i].size = region_size;
		regions[i].hva = p;
	}
	gmem_next = GPA_BASE;
}

static struct region *gpa_region(uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < nregions; i++)
		if (gpa >= regions[i].gpa &&
		    gpa < regions[i].gpa + regions[i].size)
			return &regions[i];
	fprintf(stderr, "gpa %#llx outside guest memory\n",
		(unsigned long long)gpa);
	abort();
}

static void *gpa_to_hva(uint64_t gpa)
{
	struct region *r = gpa_region(gpa);

	return r->hva + (gpa - r->gpa);
}

/*
 * Allocate guest memory.  Data buffers may straddle a region boundary on
 * purpose; ring structures, which the host reaches by virtual address,
 * must not.
 */
static uint64_t galloc(uint64_t size, uint64_t align, bool contiguous)
{
	uint64_t gpa = (gmem_next + align - 1) & ~(align - 1);

	if (contiguous) {
		struct region *r = gpa_region(gpa);

		if (gpa + size > r->gpa + r->size)
			gpa = r->gpa + r->size;
	}
	if (gpa + size > GPA_BASE + nregions * region_size) {
		fprintf(stderr, "guest memory exhausted\n");
		abort();
	}
	gmem_next = gpa + size;
	return gpa;
}

static void gmem_rw(uint64_t gpa, void *buf, size_t len, bool write)
{
	while (len) {
		struct region *r = gpa_region(gpa);
		size_t n = r->gpa + r->size - gpa;

		if (n > len)
			n = len;
		if (write)
			memcpy(r->hva + (gpa - r->gpa), buf, n);
		else
			memcpy(buf, r->hva + (gpa - r->gpa), n);
		gpa += n;
		buf = (uint8_t *)buf + n;
		len -= n;
	}
}

/* ---- split virtqueues ---- */

struct buf {
	uint64_t gpa;
	uint32_t len;
};

struct chain_info {
	unsigned int ndesc;	/* ring descriptors used (1 if indirect) */
	unsigned int nbufs;
	struct buf bufs[MAX_SEGS];
	uint32_t seq;		/* TX: frame carried */
};

struct vq {
	unsigned int idx;
	struct vring vr;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx, last_used;
	uint16_t free_head;
	unsigned int num_free;
	struct chain_info *info;
	uint64_t indirect_gpa;	/* MAX_SEGS descriptors per head */
	int kick, call;
	unsigned long kicks, calls, missed_calls;
};

/*
 * bfd is the vhost backend: the tap itself, or with --backend packet a raw
 * packet socket bound to the tap.  peer is where the test sends and
 * receives frames on the host side: a packet socket on the tap, or with a
 * packet-socket backend the tap's own fd.
 */
static int vfd, tapfd, bfd, peer, tap_ifindex;
static bool opt_packet_backend, opt_delete_tap, opt_poll_unbacked;
static bool opt_poll_iotlb;
static char tap_ifname[IFNAMSIZ];
static struct vq vqs[2];
static uint64_t features;
static size_t hdr_len;

static bool has(int bit)
{
	return features & (1ULL << bit);
}

static void vq_init(struct vq *vq, unsigned int idx)
{
	unsigned int i;

	vq->idx = idx;
	vq->desc_gpa = galloc(16 * ring_num, 4096, true);
	vq->avail_gpa = galloc(6 + 2 * ring_num, 4096, true);
	vq->used_gpa = galloc(6 + 8 * ring_num, 4096, true);
	vq->vr.num = ring_num;
	vq->vr.desc = gpa_to_hva(vq->desc_gpa);
	vq->vr.avail = gpa_to_hva(vq->avail_gpa);
	vq->vr.used = gpa_to_hva(vq->used_gpa);
	for (i = 0; i < ring_num - 1; i++)
		vq->vr.desc[i].next = i + 1;
	vq->free_head = 0;
	vq->num_free = ring_num;
	vq->info = calloc(ring_num, sizeof(*vq->info));
	vq->indirect_gpa = galloc(16ULL * MAX_SEGS * ring_num, 16, true);
	vq->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vq->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vq->kick < 0 || vq->call < 0)
		bail("eventfd");
}

static unsigned int descs_needed(unsigned int nbufs)
{
	return opt_indirect && nbufs > 1 ? 1 : nbufs;
}

/* Queue one chain; @bufs are all device-readable (TX) or writable (RX). */
static int vq_add(struct vq *vq, const struct buf *bufs, unsigned int nbufs,
		  bool writable, uint32_t seq)
{
	uint16_t flags = writable ? VRING_DESC_F_WRITE : 0;
	unsigned int head = vq->free_head, i, d;
	struct chain_info *ci;

	if (vq->num_free < descs_needed(nbufs))
		return -1;
	ci = &vq->info[head];
	ci->nbufs = nbufs;
	ci->seq = seq;
	memcpy(ci->bufs, bufs, nbufs * sizeof(*bufs));

	if (opt_indirect && nbufs > 1) {
		uint64_t tgpa = vq->indirect_gpa + 16ULL * MAX_SEGS * head;
		struct vring_desc *t = gpa_to_hva(tgpa);

		for (i = 0; i < nbufs; i++) {
			t[i].addr = bufs[i].gpa;
			t[i].len = bufs[i].len;
			t[i].flags = flags |
				     (i + 1 < nbufs ? VRING_DESC_F_NEXT : 0);
			t[i].next = i + 1;
		}
		vq->vr.desc[head].addr = tgpa;
		vq->vr.desc[head].len = nbufs * sizeof(*t);
		vq->vr.desc[head].flags = VRING_DESC_F_INDIRECT;
		vq->free_head = vq->vr.desc[head].next;
		ci->ndesc = 1;
	} else {
		d = head;
		for (i = 0; i < nbufs; i++) {
			vq->vr.desc[d].addr = bufs[i].gpa;
			vq->vr.desc[d].len = bufs[i].len;
			vq->vr.desc[d].flags = flags |
				(i + 1 < nbufs ? VRING_DESC_F_NEXT : 0);
			if (i + 1 < nbufs)
				d = vq->vr.desc[d].next;
		}
		vq->free_head = vq->vr.desc[d].next;
		ci->ndesc = nbufs;
	}
	vq->num_free -= ci->ndesc;
	vq->vr.avail->ring[vq->avail_idx % ring_num] = head;
	vq->avail_idx++;
	return head;
}

/* Make new avail entries visible and kick unless the host said not to. */
static void vq_publish(struct vq *vq)
{
	uint16_t old = vq->vr.avail->idx, new = vq->avail_idx;
	bool kick;
	uint64_t one = 1;

	__atomic_store_n(&vq->vr.avail->idx, new, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (has(VIRTIO_RING_F_EVENT_IDX))
		kick = vring_need_event(vring_avail_event(&vq->vr), new, old);
	else
		kick = !(vq->vr.used->flags & VRING_USED_F_NO_NOTIFY);
	if (kick) {
		vq->kicks++;
		if (write(vq->kick, &one, sizeof(one)) != sizeof(one))
			bail("kick");
	}
}

static void vq_free_chain(struct vq *vq, unsigned int head)
{
	struct chain_info *ci = &vq->info[head];
	unsigned int d = head, i;

	for (i = 1; i < ci->ndesc; i++)
		d = vq->vr.desc[d].next;
	vq->vr.desc[d].next = vq->free_head;
	vq->free_head = head;
	vq->num_free += ci->ndesc;
}

static bool vq_used_pending(struct vq *vq)
{
	return __atomic_load_n(&vq->vr.used->idx, __ATOMIC_ACQUIRE) !=
	       vq->last_used;
}

/*
 * Wait for a used entry, sleeping on the call eventfd like a guest waits
 * for an interrupt.  Asks for a notification at the next used index (or
 * leaves interrupts on without EVENT_IDX).  If the wait times out but an
 * entry did arrive, the host failed to notify us: that is counted.
 */
static bool vq_wait_used(struct vq *vq, uint64_t deadline)
{
	struct pollfd pfd = { .fd = vq->call, .events = POLLIN };
	uint64_t cnt;

	for (;;) {
		if (vq_used_pending(vq))
			return true;
		if (has(VIRTIO_RING_F_EVENT_IDX))
			vring_used_event(&vq->vr) = vq->last_used;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (vq_used_pending(vq))
			return true;
		if (now_ms() >= deadline)
			return false;
		if (poll(&pfd, 1, WAIT_MS) == 1) {
			if (read(vq->call, &cnt, sizeof(cnt)) == sizeof(cnt))
				vq->calls++;
		} else if (vq_used_pending(vq)) {
			vq->missed_calls++;
		}
	}
}

/* Next used entry, or false once @deadline passes. */
static bool vq_get_used(struct vq *vq, uint64_t deadline, uint32_t *id,
			uint32_t *len)
{
	struct vring_used_elem *e;

	if (!vq_wait_used(vq, deadline))
		return false;
	e = &vq->vr.used->ring[vq->last_used % ring_num];
	*id = e->id;
	*len = e->len;
	vq->last_used++;
	return true;
}

/* ---- tap and packet socket ---- */

static int tap_open(void)
{
	struct ifreq ifr = { 0 };
	int fd, s, hsz = hdr_len;
	char path[128];
	FILE *f;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		bail("open /dev/net/tun");
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (opt_vhost_hdr ? 0 : IFF_VNET_HDR);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", tap_name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		bail("TUNSETIFF %s", tap_name);
	snprintf(tap_ifname, sizeof(tap_ifname), "%s", ifr.ifr_name);
	if (!opt_vhost_hdr && ioctl(fd, TUNSETVNETHDRSZ, &hsz) < 0)
		bail("TUNSETVNETHDRSZ");

	/* Keep the host's IPv6 chatter (RS, MLD) out of the RX ring. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 tap_ifname);
	f = fopen(path, "w");
	if (f) {
		fputs("1\n", f);
		fclose(f);
	}

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		bail("socket");
	ifr.ifr_mtu = mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		bail("set MTU %u on %s", mtu, tap_ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		bail("SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		bail("bring %s up", tap_ifname);
	close(s);
	tap_ifindex = if_nametoindex(tap_ifname);
	return fd;
}

static int packet_socket(int proto)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(proto),
		.sll_ifindex = tap_ifindex,
	};
	int s, sz = 16 << 20;

	/*
	 * Protocol 0 until bind(): with a protocol, the socket would hear
	 * that ethertype on every interface (another test's tap) until it
	 * is bound to ours.
	 */
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s < 0)
		bail("AF_PACKET socket");
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		bail("bind packet socket");
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	return s;
}

/* ---- frames ---- */

static unsigned int max_frame(void)
{
	unsigned int m = mtu + ETH_HLEN;

	return m > MAX_FRAME ? MAX_FRAME : m;
}

static void make_frame(uint8_t *p, uint32_t seq, unsigned int len)
{
	unsigned int i;

	memset(p, 0xff, 6);
	memcpy(p + 6, "\x02\x56\x4b\x54\x00\x01", 6);
	p[12] = TEST_ETHERTYPE >> 8;
	p[13] = TEST_ETHERTYPE & 0xff;
	for (i = 14; i < len; i++)
		p[i] = (uint8_t)(seq * 31 + i * 7 + (i >> 8));
	/* The sequence number, where the frame is long enough for it. */
	for (i = 0; i < 4 && 14 + i < len; i++)
		p[14 + i] = seq >> (24 - 8 * i);
}

static unsigned int frame_len(uint32_t seq)
{
	static const unsigned int fixed[] = {
		14, 15, 20, 42, 59, 60, 61, 64, 100, 127, 128, 255, 256, 257,
		511, 512, 513, 1000, 1023, 1024, 1025, 1500, 1513, 1514, 1515,
		1600, 2048, 3000, 4095, 4096, 4097, 6000, 8000, 9000, 9014,
	};
	unsigned int max = max_frame(), n = sizeof(fixed) / sizeof(fixed[0]);
	unsigned int len;

	if (seq < n)
		len = fixed[seq];
	else
		len = 60 + (uint32_t)((seq * 2654435761U) ^ seed) %
			   (max - 60 + 1);
	return len > max ? max : len;
}

static bool frame_ok(const uint8_t *p, unsigned int len, uint32_t seq,
		     unsigned int want_len, const char *where)
{
	static uint8_t ref[MAX_FRAME];
	unsigned int i;

	if (len != want_len) {
		diag("%s: frame %u has %u bytes, expected %u", where, seq, len,
		     want_len);
		return false;
	}
	make_frame(ref, seq, len);
	for (i = 0; i < len; i++) {
		if (p[i] != ref[i]) {
			diag("%s: frame %u (%u bytes) differs at byte %u: %#x != %#x",
			     where, seq, len, i, p[i], ref[i]);
			return false;
		}
	}
	return true;
}

/* ---- TX: guest -> tap ---- */

static uint32_t tx_seq;
static uint64_t tx_bufs_gpa;
static unsigned int tx_slot_size;

/* Spread one frame over a few layouts of descriptors. */
static unsigned int tx_layout(uint32_t seq, unsigned int len, uint64_t gpa,
			      struct buf *b)
{
	unsigned int total = hdr_len + len, n = 0, a, c;

	switch (seq % 4) {
	case 0:		/* header and frame in one buffer */
		b[n++] = (struct buf){ gpa, total };
		break;
	case 1:		/* header, then frame (legacy layout) */
		b[n++] = (struct buf){ gpa, hdr_len };
		b[n++] = (struct buf){ gpa + hdr_len, len };
		break;
	case 2:		/* header split, frame split in three */
		b[n++] = (struct buf){ gpa, 4 };
		b[n++] = (struct buf){ gpa + 4, hdr_len - 4 };
		a = len / 3;
		c = len / 2;
		if (a)
			b[n++] = (struct buf){ gpa + hdr_len, a };
		if (c - a)
			b[n++] = (struct buf){ gpa + hdr_len + a, c - a };
		b[n++] = (struct buf){ gpa + hdr_len + c, len - c };
		break;
	default:	/* header glued to the start of the frame */
		a = len < 7 ? len : 7;
		b[n++] = (struct buf){ gpa, hdr_len + a };
		if (len - a)
			b[n++] = (struct buf){ gpa + hdr_len + a, len - a };
		break;
	}
	return n;
}

static bool tx_queue_len(struct vq *vq, unsigned int len)
{
	uint8_t frame[MAX_FRAME + 16];
	unsigned int n;
	struct buf b[MAX_SEGS];
	uint64_t gpa;
	int head;

	/* Slot per ring head; known only after adding, so peek it. */
	gpa = tx_bufs_gpa + (uint64_t)vq->free_head * tx_slot_size;
	n = tx_layout(tx_seq, len, gpa, b);
	if (vq->num_free < descs_needed(n))
		return false;
	memset(frame, 0, hdr_len);	/* no offloads */
	make_frame(frame + hdr_len, tx_seq, len);
	gmem_rw(gpa, frame, hdr_len + len, true);
	head = vq_add(vq, b, n, false, tx_seq);
	if (head < 0)
		return false;
	tx_seq++;
	return true;
}

static bool tx_queue_frame(struct vq *vq)
{
	return tx_queue_len(vq, frame_len(tx_seq));
}

/* Read the next test frame on the host side, skipping other traffic. */
static int peer_recv(uint8_t *buf, size_t size, uint64_t deadline)
{
	struct pollfd pfd = { .fd = peer, .events = POLLIN };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left < 0 || poll(&pfd, 1, left) != 1)
			return -1;
		if (opt_packet_backend)
			n = read(peer, buf, size);
		else
			n = recv(peer, buf, size, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < ETH_HLEN || (buf[12] == TEST_ETHERTYPE >> 8 &&
				     buf[13] == (TEST_ETHERTYPE & 0xff)))
			return n;
	}
}

/* Put a frame on the wire of the tap, towards the RX ring. */
static ssize_t peer_send(const uint8_t *frame, size_t len)
{
	if (opt_packet_backend)
		return write(peer, frame, len);
	return send(peer, frame, len, 0);
}

/* Reap TX used entries, checking they are in order and zero-length. */
static bool tx_reap(struct vq *vq, unsigned int want, uint64_t deadline)
{
	uint32_t id, len;

	while (want--) {
		if (!vq_get_used(vq, deadline, &id, &len)) {
			diag("TX: used entry missing");
			return false;
		}
		if (id >= ring_num || len != 0) {
			diag("TX: bad used entry id %u len %u", id, len);
			return false;
		}
		vq_free_chain(vq, id);
	}
	return true;
}

/* Expect frames [first, last) on the tap, in order. */
static bool tx_expect(uint32_t first, uint32_t last)
{
	static uint8_t buf[65536];
	uint32_t seq;
	int n;

	for (seq = first; seq != last; seq++) {
		n = peer_recv(buf, sizeof(buf), now_ms() + DEADLINE_MS);
		if (n < 0) {
			diag("TX: frame %u did not reach the tap", seq);
			return false;
		}
		if (!frame_ok(buf, n, seq, frame_len(seq), "TX"))
			return false;
	}
	return true;
}

/* Send @count frames through the TX ring, a ring-full at a time. */
static bool tx_run(unsigned int count)
{
	struct vq *vq = &vqs[TX_Q];
	uint32_t end = tx_seq + count, first;
	unsigned int queued;

	while (tx_seq != end) {
		first = tx_seq;
		queued = 0;
		while (tx_seq != end && tx_queue_frame(vq))
			queued++;
		vq_publish(vq);
		if (!tx_expect(first, tx_seq))
			return false;
		if (!tx_reap(vq, queued, now_ms() + DEADLINE_MS))
			return false;
	}
	return true;
}

/* ---- RX: tap -> guest ---- */

static uint32_t rx_seq, rx_expected_seq;
static unsigned long rx_noise;
static uint64_t rx_bufs_gpa;
static unsigned int rx_slot_size;
static bool rx_numbuf_bad;

static void rx_post(struct vq *vq)
{
	struct buf b[MAX_SEGS];
	unsigned int n, left, chunk;
	uint64_t gpa;

	for (;;) {
		gpa = rx_bufs_gpa + (uint64_t)vq->free_head * rx_slot_size;
		if (opt_mrg) {
			b[0] = (struct buf){ gpa, rx_buf_len };
			n = 1;
		} else {
			/* Big-packet chains: header, then 4K pieces. */
			b[0] = (struct buf){ gpa, hdr_len };
			n = 1;
			left = max_frame();
			gpa += hdr_len;
			while (left) {
				chunk = left < 4096 ? left : 4096;
				b[n++] = (struct buf){ gpa, chunk };
				gpa += chunk;
				left -= chunk;
			}
		}
		if (vq->num_free < descs_needed(n))
			break;
		/* Poison, so bytes the host did not write are noticed. */
		for (unsigned int i = 0; i < n; i++) {
			uint8_t junk[4096];

			memset(junk, 0xa5, sizeof(junk));
			for (left = b[i].len, gpa = b[i].gpa; left;) {
				chunk = left < 4096 ? left : 4096;
				gmem_rw(gpa, junk, chunk, true);
				gpa += chunk;
				left -= chunk;
			}
		}
		vq_add(vq, b, n, true, 0);
	}
	vq_publish(vq);
}

/* Copy @len bytes out of a used chain. */
static void rx_copy(struct vq *vq, uint32_t id, uint8_t *dst, uint32_t len)
{
	struct chain_info *ci = &vq->info[id];
	unsigned int i, n;

	for (i = 0; i < ci->nbufs && len; i++) {
		n = ci->bufs[i].len < len ? ci->bufs[i].len : len;
		gmem_rw(ci->bufs[i].gpa, dst, n, false);
		dst += n;
		len -= n;
	}
}

/* Receive the next packet from the RX ring into @pkt (header included). */
static int rx_get_packet(uint8_t *pkt, size_t size, unsigned int *nbuf,
			 uint64_t deadline)
{
	struct vq *vq = &vqs[RX_Q];
	uint32_t id, len, total = 0;
	unsigned int want = 1, got = 0;
	uint16_t num_buffers;

	while (got < want) {
		if (!vq_get_used(vq, deadline, &id, &len)) {
			diag("RX: used entry missing (have %u of %u buffers)",
			     got, want);
			return -1;
		}
		if (id >= ring_num || total + len > size) {
			diag("RX: bad used entry id %u len %u", id, len);
			return -1;
		}
		rx_copy(vq, id, pkt + total, len);
		vq_free_chain(vq, id);
		if (!got && (opt_mrg || opt_v1)) {
			memcpy(&num_buffers, pkt + 10, 2);
			if (!num_buffers || (!opt_mrg && num_buffers != 1)) {
				if (!rx_numbuf_bad)
					diag("RX: num_buffers %u (first bad one)",
					     num_buffers);
				rx_numbuf_bad = true;
				if (!opt_mrg)
					num_buffers = 1;
				else
					return -1;
			}
			want = num_buffers;
		}
		total += len;
		got++;
	}
	*nbuf = got;
	return total;
}

/*
 * The next test frame from the RX ring, skipping other traffic; with
 * @repost, the buffers it used are posted again.  -1 if none came (or a
 * runt did), with a diagnostic.
 */
static int rx_get_test_packet(uint8_t *pkt, size_t size, unsigned int *nbuf,
			      bool repost)
{
	uint8_t *f = pkt + hdr_len;
	int n;

	for (;;) {
		n = rx_get_packet(pkt, size, nbuf, now_ms() + DEADLINE_MS);
		if (repost)
			rx_post(&vqs[RX_Q]);
		if (n < 0) {
			diag("RX: frame %u did not reach the ring",
			     rx_expected_seq);
			return -1;
		}
		if ((size_t)n < hdr_len + ETH_HLEN) {
			diag("RX: runt of %d bytes", n);
			return -1;
		}
		if (f[12] == TEST_ETHERTYPE >> 8 && f[13] == (TEST_ETHERTYPE & 0xff))
			return n;
		rx_noise++;
	}
}

static bool rx_check_packet(void)
{
	static uint8_t pkt[65536 + 64];
	static const uint8_t zero_hdr[10];
	unsigned int nbuf, want_nbuf, flen;
	uint8_t *f = pkt + hdr_len;
	uint32_t seq;
	int n;

	n = rx_get_test_packet(pkt, sizeof(pkt), &nbuf, true);
	if (n < 0)
		return false;
	seq = rx_expected_seq++;
	flen = frame_len(seq);
	if (memcmp(pkt, zero_hdr, sizeof(zero_hdr))) {
		diag("RX: frame %u has a non-empty virtio-net header", seq);
		return false;
	}
	if (opt_mrg) {
		want_nbuf = (hdr_len + flen + rx_buf_len - 1) / rx_buf_len;
		if (nbuf != want_nbuf) {
			diag("RX: frame %u of %u bytes in %u buffers, expected %u",
			     seq, flen, nbuf, want_nbuf);
			return false;
		}
	}
	return frame_ok(f, n - hdr_len, seq, flen, "RX");
}

static bool rx_send(uint32_t seq)
{
	uint8_t frame[MAX_FRAME];
	unsigned int len = frame_len(seq);

	make_frame(frame, seq, len);
	if (peer_send(frame, len) != (ssize_t)len) {
		diag("RX: send of frame %u (%u bytes) on %s: %s", seq, len,
		     tap_ifname, strerror(errno));
		return false;
	}
	return true;
}

/* Push @count frames into the tap, a few at a time, and check each. */
static bool rx_run(unsigned int count)
{
	uint32_t end = rx_seq + count, batch, i;

	while (rx_seq != end) {
		batch = end - rx_seq < 16 ? end - rx_seq : 16;
		for (i = 0; i < batch; i++)
			if (!rx_send(rx_seq++))
				return false;
		for (i = 0; i < batch; i++)
			if (!rx_check_packet())
				return false;
	}
	return true;
}

/* ---- setup ---- */

static void set_backend(unsigned int idx, int fd)
{
	struct vhost_vring_file f = { .index = idx, .fd = fd };

	if (ioctl(vfd, VHOST_NET_SET_BACKEND, &f) < 0)
		bail("VHOST_NET_SET_BACKEND(%u, %d)", idx, fd);
}

/* /proc path of the worker's stat file, once find_worker() found it. */
static char worker_stat[300];

static bool find_worker(char *kind, size_t size)
{
	char want[32], path[300], comm[64], line[512], *p;
	struct dirent *de;
	bool found = false;
	DIR *d;
	FILE *f;

	snprintf(want, sizeof(want), "vhost-%d", getpid());
	d = opendir("/proc/self/task");
	while (d && (de = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 de->d_name);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) &&
		    !strncmp(comm, want, strlen(want)) &&
		    comm[strlen(want)] == '\n') {
			snprintf(kind, size, "task");
			snprintf(worker_stat, sizeof(worker_stat),
				 "/proc/self/task/%s/stat", de->d_name);
			found = true;
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	if (found)
		return true;

	/* A kthread: child of kthreadd (pid 2), named after us. */
	d = opendir("/proc");
	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f)) {
			p = strrchr(line, ')');
			if (p && !strncmp(strchr(line, '(') + 1, want,
					  strlen(want)) &&
			    strchr(line, '(')[1 + strlen(want)] == ')' &&
			    atoi(p + 4) == 2) {
				snprintf(kind, size, "kthread");
				snprintf(worker_stat, sizeof(worker_stat),
					 "/proc/%s/stat", de->d_name);
				found = true;
			}
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

static void setup_owner(void)
{
	struct vhost_vring_file bf = { .index = 0, .fd = -1 };
	char kind[16];
	uint8_t mode;
	int r;

	check_errno(vfd, VHOST_NET_SET_BACKEND, &bf, EPERM,
		    "NET_SET_BACKEND before SET_OWNER");

	if (opt_mode >= 0) {
		mode = opt_mode;
		r = ioctl(vfd, VHOST_SET_FORK_FROM_OWNER, &mode);
		if (r < 0 && errno == ENOTTY) {
			skip("kernel has no fork-owner ioctl",
			     "VHOST_SET_FORK_FROM_OWNER(%u)", mode);
		} else {
			check(r == 0, "VHOST_SET_FORK_FROM_OWNER(%u)%s%s",
			      mode, r ? ": " : "", r ? strerrorname_np(errno) : "");
			mode = 0xff;
			r = ioctl(vfd, VHOST_GET_FORK_FROM_OWNER, &mode);
			check(r == 0 && mode == opt_mode,
			      "VHOST_GET_FORK_FROM_OWNER reads back %d (%u)",
			      opt_mode, mode);
		}
	}

	if (ioctl(vfd, VHOST_SET_OWNER) < 0)
		bail("VHOST_SET_OWNER");
	check_errno(vfd, VHOST_SET_OWNER, NULL, EBUSY, "second SET_OWNER");

	if (opt_expect_worker) {
		if (!find_worker(kind, sizeof(kind)))
			snprintf(kind, sizeof(kind), "none");
		check(!strcmp(kind, opt_expect_worker),
		      "worker vhost-%d is a %s (found: %s)", getpid(),
		      opt_expect_worker, kind);
	}
}

static void setup_features(void)
{
	uint64_t offered, want, bad;

	if (ioctl(vfd, VHOST_GET_FEATURES, &offered) < 0)
		bail("VHOST_GET_FEATURES");
	diag("device offers features %#llx", (unsigned long long)offered);
	check((offered & (1ULL << VIRTIO_NET_F_MRG_RXBUF)) &&
	      (offered & (1ULL << VIRTIO_RING_F_EVENT_IDX)) &&
	      (offered & (1ULL << VIRTIO_RING_F_INDIRECT_DESC)) &&
	      (offered & (1ULL << VIRTIO_F_VERSION_1)) &&
	      (offered & (1ULL << VHOST_NET_F_VIRTIO_NET_HDR)) &&
	      (offered & (1ULL << VHOST_F_LOG_ALL)),
	      "GET_FEATURES offers MRG_RXBUF, EVENT_IDX, INDIRECT_DESC, VERSION_1, VIRTIO_NET_HDR, LOG_ALL");

	bad = 1ULL << 63;
	check_errno(vfd, VHOST_SET_FEATURES, &bad, EOPNOTSUPP,
		    "SET_FEATURES with an unknown bit");

	if (ioctl(vfd, VHOST_GET_BACKEND_FEATURES, &offered) < 0)
		bail("VHOST_GET_BACKEND_FEATURES");
	check(offered & (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2),
	      "GET_BACKEND_FEATURES offers IOTLB_MSG_V2 (%#llx)",
	      (unsigned long long)offered);
	bad = 1ULL << 40;
	check_errno(vfd, VHOST_SET_BACKEND_FEATURES, &bad, EOPNOTSUPP,
		    "SET_BACKEND_FEATURES with an unknown bit");

	/*
	 * Not VIRTIO_F_ANY_LAYOUT: vhost-net reuses its bit 27 for
	 * VHOST_NET_F_VIRTIO_NET_HDR, so a VMM never acks it.
	 */
	if (opt_poll_iotlb) {
		uint64_t bf = 1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2;

		if (ioctl(vfd, VHOST_SET_BACKEND_FEATURES, &bf) < 0)
			bail("VHOST_SET_BACKEND_FEATURES(IOTLB_MSG_V2)");
	}
	want = (opt_poll_iotlb ? 1ULL << VIRTIO_F_ACCESS_PLATFORM : 0) |
	       (opt_mrg ? 1ULL << VIRTIO_NET_F_MRG_RXBUF : 0) |
	       (opt_event_idx ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0) |
	       (opt_indirect ? 1ULL << VIRTIO_RING_F_INDIRECT_DESC : 0) |
	       (opt_v1 ? 1ULL << VIRTIO_F_VERSION_1 : 0) |
	       (opt_vhost_hdr ? 1ULL << VHOST_NET_F_VIRTIO_NET_HDR : 0);
	if (ioctl(vfd, VHOST_SET_FEATURES, &want) < 0)
		bail("VHOST_SET_FEATURES(%#llx)", (unsigned long long)want);
	features = want;
}

static void setup_memory(void)
{
	struct vhost_memory *m;
	unsigned int i;

	m = calloc(1, sizeof(*m) + nregions * sizeof(m->regions[0]));
	m->nregions = nregions;
	for (i = 0; i < nregions; i++) {
		m->regions[i].guest_phys_addr = regions[i].gpa;
		m->regions[i].memory_size = regions[i].size;
		m->regions[i].userspace_addr = (uintptr_t)regions[i].hva;
	}
	if (ioctl(vfd, VHOST_SET_MEM_TABLE, m) < 0)
		bail("VHOST_SET_MEM_TABLE with %u regions", nregions);
	free(m);
}

/* --poll-iotlb: the IOTLB maps guest memory one to one (IOVA = GPA). */
static void setup_iotlb(void)
{
	struct vhost_msg_v2 msg = {
		.type = VHOST_IOTLB_MSG_V2,
		.iotlb.type = VHOST_IOTLB_UPDATE,
		.iotlb.perm = VHOST_ACCESS_RW,
	};
	unsigned int i;

	for (i = 0; i < nregions; i++) {
		msg.iotlb.iova = regions[i].gpa;
		msg.iotlb.size = regions[i].size;
		msg.iotlb.uaddr = (uintptr_t)regions[i].hva;
		if (write(vfd, &msg, sizeof(msg)) != sizeof(msg))
			bail("IOTLB update of region %u", i);
	}
}

static void setup_vring(struct vq *vq)
{
	struct vhost_vring_state st = { .index = vq->idx, .num = ring_num };
	struct vhost_vring_addr addr = {
		.index = vq->idx,
		.desc_user_addr = (uintptr_t)vq->vr.desc,
		.avail_user_addr = (uintptr_t)vq->vr.avail,
		.used_user_addr = (uintptr_t)vq->vr.used,
	};
	struct vhost_vring_file f = { .index = vq->idx };

	if (opt_poll_iotlb) {
		addr.desc_user_addr = vq->desc_gpa;
		addr.avail_user_addr = vq->avail_gpa;
		addr.used_user_addr = vq->used_gpa;
	}
	if (ioctl(vfd, VHOST_SET_VRING_NUM, &st) < 0)
		bail("VHOST_SET_VRING_NUM(%u)", ring_num);
	st.num = 0;
	if (ioctl(vfd, VHOST_SET_VRING_BASE, &st) < 0)
		bail("VHOST_SET_VRING_BASE");
	if (ioctl(vfd, VHOST_SET_VRING_ADDR, &addr) < 0)
		bail("VHOST_SET_VRING_ADDR");
	f.fd = vq->kick;
	if (ioctl(vfd, VHOST_SET_VRING_KICK, &f) < 0)
		bail("VHOST_SET_VRING_KICK");
	f.fd = vq->call;
	if (ioctl(vfd, VHOST_SET_VRING_CALL, &f) < 0)
		bail("VHOST_SET_VRING_CALL");
}

/*
 * --poll-unbacked: the TX queue gets rings at a non-canonical address and
 * never a backend, so the kernel never checked them with access_ok().  RX
 * busy polling still reads (and without EVENT_IDX writes) the TX ring of
 * the pair.  Those accesses must go through the checked uaccess helpers
 * and fail with an error on TX's error eventfd; an unchecked access to a
 * non-canonical address faults, and the kernel logs a WARNING for it.
 *
 * --poll-iotlb: the same with a device IOTLB that maps guest memory but
 * not the TX rings' IOVAs.  The busy loop's reads of them are IOTLB
 * misses, which must reach userspace; reporting one allocates, so the loop
 * must not run with preemption off (a debug kernel logs "BUG: sleeping
 * function called from invalid context"), and RX must work.
 */
#define UNBACKED_RING	0x8000000000000000ULL
static int tx_err_fd = -1;

static void setup_unbacked_tx(void)
{
	struct vhost_vring_state st = { .index = TX_Q, .num = ring_num };
	struct vhost_vring_addr addr = {
		.index = TX_Q,
		.desc_user_addr = UNBACKED_RING,
		.avail_user_addr = UNBACKED_RING + 16 * ring_num,
		.used_user_addr = UNBACKED_RING + 32 * ring_num,
	};
	struct vhost_vring_file f = { .index = TX_Q };

	if (ioctl(vfd, VHOST_SET_VRING_NUM, &st) < 0)
		bail("VHOST_SET_VRING_NUM(%u)", ring_num);
	check(!ioctl(vfd, VHOST_SET_VRING_ADDR, &addr),
	      "TX rings at %#llx accepted while TX has no backend",
	      UNBACKED_RING);
	tx_err_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f.fd = tx_err_fd;
	if (tx_err_fd < 0 || ioctl(vfd, VHOST_SET_VRING_ERR, &f) < 0)
		bail("VHOST_SET_VRING_ERR");
	f.fd = vqs[TX_Q].kick;
	if (ioctl(vfd, VHOST_SET_VRING_KICK, &f) < 0)
		bail("VHOST_SET_VRING_KICK");
}

/*
 * --poll-faults: TX is set up normally but its rings' page table entries
 * are dropped before RX runs with busy polling, so the first read of TX's
 * avail ring in the busy loop takes a page fault.  That fault must be
 * served as in any other ring access (the contents are still there), not
 * turned into an error: with preemption off around the loop, the fault
 * handler refuses it and the read returns EFAULT, which the device reports
 * on TX's error eventfd although nothing is wrong with the ring.
 */
static void drop_ptes(uint64_t gpa, size_t len)
{
	uintptr_t a = (uintptr_t)gpa_to_hva(gpa);
	uintptr_t start = a & ~4095UL, end = (a + len + 4095) & ~4095UL;

	if (madvise((void *)start, end - start, MADV_DONTNEED) < 0)
		bail("madvise(MADV_DONTNEED)");
}

static void test_poll_faults(void)
{
	struct vhost_vring_state st = { .index = RX_Q, .num = 50 };
	struct vhost_vring_file f = { .index = TX_Q };
	struct vq *tx = &vqs[TX_Q];
	uint64_t errs = 0;
	ssize_t n;

	tx_err_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f.fd = tx_err_fd;
	if (tx_err_fd < 0 || ioctl(vfd, VHOST_SET_VRING_ERR, &f) < 0)
		bail("VHOST_SET_VRING_ERR");
	if (ioctl(vfd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st) < 0)
		bail("VHOST_SET_VRING_BUSYLOOP_TIMEOUT");
	drop_ptes(tx->desc_gpa, 16 * ring_num);
	drop_ptes(tx->avail_gpa, 6 + 2 * ring_num);
	drop_ptes(tx->used_gpa, 6 + 8 * ring_num);
	check(rx_run(frames),
	      "RX with 50 us busy polling, TX rings not in the page tables: %u frames, every byte checked",
	      frames);
	n = read(tx_err_fd, &errs, sizeof(errs));
	check(n < 0 && errno == EAGAIN,
	      "busy polling took the page faults on TX's rings without an error (%llu reported)",
	      n == sizeof(errs) ? (unsigned long long)errs : 0ULL);
	check(tx_run(frames), "TX after that: %u frames, every byte checked",
	      frames);
}

/* Read the queued IOTLB messages: was a miss inside TX's rings among them? */
static void check_tx_misses(void)
{
	struct pollfd p = { .fd = vfd, .events = POLLIN };
	uint64_t end = UNBACKED_RING + 32 * ring_num + 6 + 8 * ring_num;
	struct vhost_msg_v2 msg;
	unsigned int misses = 0, tx = 0;

	while (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
		if (read(vfd, &msg, sizeof(msg)) != sizeof(msg))
			bail("read IOTLB message");
		if (msg.type != VHOST_IOTLB_MSG_V2 ||
		    msg.iotlb.type != VHOST_IOTLB_MISS)
			continue;
		misses++;
		tx += msg.iotlb.iova >= UNBACKED_RING && msg.iotlb.iova < end;
	}
	check(tx > 0, "busy polling's reads of the TX rings became IOTLB misses for userspace (%u of %u)",
	      tx, misses);
}

static void test_poll_unbacked(void)
{
	struct vhost_vring_state st = { .index = RX_Q, .num = 50 };
	struct vhost_vring_file bf = { .index = TX_Q, .fd = bfd };
	uint64_t errs = 0;
	ssize_t n;

	if (ioctl(vfd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st) < 0)
		bail("VHOST_SET_VRING_BUSYLOOP_TIMEOUT");
	check(rx_run(frames),
	      "RX with 50 us busy polling beside unusable TX rings: %u frames, every byte checked",
	      frames);
	if (opt_poll_iotlb) {
		check_tx_misses();
		return;
	}
	n = read(tx_err_fd, &errs, sizeof(errs));
	check(n == sizeof(errs) && errs,
	      "busy polling reported the TX rings through TX's error eventfd (%llu times)",
	      (unsigned long long)errs);
	check_errno(vfd, VHOST_NET_SET_BACKEND, &bf, EFAULT,
		    "NET_SET_BACKEND on TX with those rings");
}

static void setup(void)
{
	struct vhost_vring_file bf;
	int nullfd;

	hdr_len = opt_mrg || opt_v1 ? sizeof(struct virtio_net_hdr_mrg_rxbuf) :
				      sizeof(struct virtio_net_hdr);
	gmem_init();
	vq_init(&vqs[RX_Q], RX_Q);
	vq_init(&vqs[TX_Q], TX_Q);
	tx_slot_size = (hdr_len + MAX_FRAME + 63) & ~63U;
	tx_bufs_gpa = galloc((uint64_t)tx_slot_size * ring_num, 64, false);
	/* Offset by a little so that some buffers straddle regions. */
	galloc(100, 1, false);
	rx_slot_size = opt_mrg ? rx_buf_len : hdr_len + MAX_FRAME;
	rx_bufs_gpa = galloc((uint64_t)rx_slot_size * ring_num, 2, false);

	vfd = open(dev_path, O_RDWR | O_CLOEXEC);
	if (vfd < 0)
		bail("open %s", dev_path);
	check(1, "open %s", dev_path);

	setup_owner();
	setup_features();
	setup_memory();
	if (opt_poll_iotlb)
		setup_iotlb();
	setup_vring(&vqs[RX_Q]);
	if (opt_poll_unbacked)
		setup_unbacked_tx();
	else
		setup_vring(&vqs[TX_Q]);

	tapfd = tap_open();
	if (opt_packet_backend) {
		bfd = packet_socket(ETH_P_ALL);
		peer = tapfd;
		if (fcntl(peer, F_SETFL, O_NONBLOCK) < 0)
			bail("O_NONBLOCK on the tap");
	} else {
		bfd = tapfd;
		peer = packet_socket(TEST_ETHERTYPE);
	}

	bf = (struct vhost_vring_file){ .index = 2, .fd = bfd };
	check_errno(vfd, VHOST_NET_SET_BACKEND, &bf, ENOBUFS,
		    "NET_SET_BACKEND on queue 2");
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	bf = (struct vhost_vring_file){ .index = 0, .fd = nullfd };
	check_errno(vfd, VHOST_NET_SET_BACKEND, &bf, ENOTSOCK,
		    "NET_SET_BACKEND with /dev/null");
	close(nullfd);

	set_backend(RX_Q, bfd);
	if (!opt_poll_unbacked)
		set_backend(TX_Q, bfd);
	check(1, "%s backend on %s attached (features %#llx, hdr %zu, ring %u, %u regions)",
	      opt_packet_backend ? "packet socket" : "tap", tap_ifname,
	      (unsigned long long)features, hdr_len, ring_num,
	      nregions);
	rx_post(&vqs[RX_Q]);
}

/* ---- scenarios ---- */

static void test_detach_cycles(void)
{
	struct vq *tvq = &vqs[TX_Q];
	uint32_t tx_first, rx_first;
	unsigned int c, queued, i;
	uint8_t buf[64];
	bool ok = true;

	for (c = 0; c < cycles && ok; c++) {
		set_backend(RX_Q, -1);
		set_backend(TX_Q, -1);

		/* Work offered while detached must wait for the backend. */
		tx_first = tx_seq;
		queued = 0;
		while (queued < 8 && tx_queue_frame(tvq))
			queued++;
		vq_publish(tvq);
		rx_first = rx_seq;
		for (i = 0; i < 8 && ok; i++)
			ok = rx_send(rx_seq++);
		usleep(50000);
		if (ok && (vq_used_pending(tvq) ||
			   peer_recv(buf, sizeof(buf), now_ms()) >= 0)) {
			diag("cycle %u: TX went through a detached device", c);
			ok = false;
		}
		if (ok && vq_used_pending(&vqs[RX_Q])) {
			diag("cycle %u: RX went through a detached device", c);
			ok = false;
		}

		set_backend(TX_Q, bfd);
		set_backend(RX_Q, bfd);
		ok = ok && tx_expect(tx_first, tx_seq) &&
		     tx_reap(tvq, queued, now_ms() + DEADLINE_MS);
		for (i = 0; ok && i < rx_seq - rx_first; i++)
			ok = rx_check_packet();
		/* And traffic keeps flowing after the re-attach. */
		ok = ok && tx_run(20) && rx_run(20);
	}
	check(ok, "%u backend detach/re-attach cycles with traffic pending",
	      cycles);
}

/*
 * The tap interface is deleted under the device (`ip link del`, by an
 * admin or a crashed network script, while the VM runs): tun then refuses
 * every frame with EBADFD, whole TUN_MSG_PTR batches and single large
 * frames alike.  The chains must still come back as used (the guest would
 * otherwise lose them for good), the buffers of a refused batch must be
 * freed exactly once (the debug kernel's KASAN and kmemleak watch that),
 * and a new tap attached with NET_SET_BACKEND must carry traffic.
 */
static void test_tap_deleted(void)
{
	struct vq *tvq = &vqs[TX_Q];
	unsigned int queued = 0, round, n;
	char cmd[64 + IFNAMSIZ];
	bool ok = true;

	snprintf(cmd, sizeof(cmd), "ip link delete dev %s", tap_ifname);
	if (system(cmd))
		bail("%s", cmd);
	/* Several ring-fulls: batches cut by full batches and big frames. */
	for (round = 0; round < 3 && ok; round++) {
		n = 0;
		while (n < 100 && tx_queue_frame(tvq))
			n++;
		vq_publish(tvq);
		ok = tx_reap(tvq, n, now_ms() + DEADLINE_MS);
		queued += n;
	}
	check(ok, "tap deleted: all %u TX chains come back used", queued);

	close(peer);
	close(tapfd);
	bfd = tapfd = tap_open();
	peer = packet_socket(TEST_ETHERTYPE);
	set_backend(RX_Q, bfd);
	if (!opt_poll_unbacked)
		set_backend(TX_Q, bfd);
	check(tx_run(40) && rx_run(40),
	      "a new tap (%s) attached after the deletion carries traffic both ways",
	      tap_ifname);
}

static void test_ring_state(void)
{
	struct vhost_vring_state st = { .index = TX_Q };
	int r;

	r = ioctl(vfd, VHOST_GET_VRING_BASE, &st);
	check(r == 0 && st.num == vqs[TX_Q].avail_idx,
	      "GET_VRING_BASE(TX) is the guest's avail index %u (got %u)",
	      vqs[TX_Q].avail_idx, st.num);
}

/*
 * With the ring idle and a notification requested, one packet each way
 * must signal the call eventfd, like an interrupt a sleeping guest needs.
 */
static bool wait_call(struct vq *vq)
{
	struct pollfd pfd = { .fd = vq->call, .events = POLLIN };
	uint64_t cnt;

	return poll(&pfd, 1, DEADLINE_MS) == 1 &&
	       read(vq->call, &cnt, sizeof(cnt)) == sizeof(cnt);
}

static void arm_call(struct vq *vq)
{
	uint64_t cnt;

	while (read(vq->call, &cnt, sizeof(cnt)) == sizeof(cnt))
		;
	if (has(VIRTIO_RING_F_EVENT_IDX))
		vring_used_event(&vq->vr) = vq->last_used;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void test_notify(void)
{
	struct vq *tvq = &vqs[TX_Q], *rvq = &vqs[RX_Q];
	uint32_t first = tx_seq;
	bool ok;

	arm_call(tvq);
	ok = tx_queue_frame(tvq);
	vq_publish(tvq);
	check(ok && wait_call(tvq), "TX completion signals the call eventfd");
	check(tx_reap(tvq, 1, now_ms() + DEADLINE_MS) && tx_expect(first, tx_seq),
	      "TX frame after notification");

	arm_call(rvq);
	ok = rx_send(rx_seq++);
	check(ok && wait_call(rvq), "RX packet signals the call eventfd");
	check(rx_check_packet(), "RX frame after notification");
}

/*
 * A frame too big for tun's batches goes out on its own, and before it
 * does, the chains of the frames ahead of it must be used and visible: a
 * guest's TCP stops sending while too many of its bytes wait for TX
 * completion, so completions held back until the end of a run of big
 * frames slow it down.  tun delivers the frame to our packet socket
 * before its sendmsg returns, so reading the used index once the frame
 * arrives is enough to see the order.  A device that publishes late is
 * caught only while this reader keeps up with its worker: the old
 * vhost-kt (completions every 64 chains) failed 7 of 10 runs, and the
 * suite runs this in every feature set.
 */
static void test_tx_used_before_big(void)
{
	struct vq *vq = &vqs[TX_Q];
	uint16_t base = vq->last_used, used;
	static uint8_t buf[65536];
	unsigned int i, count = 160, late = 0, first_late = 0;
	uint32_t first = tx_seq;
	bool ok = true;
	int n;

	if (max_frame() < 4096) {
		skip("needs frames above a page (--mtu 4096 or more)",
		     "TX: chains ahead of a big frame are used before it reaches the tap");
		return;
	}
	/* Three small frames, then one only the per-frame path takes. */
	for (i = 0; i < count; i++)
		if (!tx_queue_len(vq, i % 4 == 3 ? max_frame() : 60))
			break;
	count = i;
	vq_publish(vq);
	for (i = 0; i < count && ok; i++) {
		n = peer_recv(buf, sizeof(buf), now_ms() + DEADLINE_MS);
		used = __atomic_load_n(&vq->vr.used->idx, __ATOMIC_ACQUIRE);
		ok = n >= 0 && frame_ok(buf, n, first + i,
					i % 4 == 3 ? max_frame() : 60, "TX");
		if (ok && i % 4 == 3 && (uint16_t)(used - base) < i) {
			if (!late++)
				first_late = i;
		}
	}
	check(ok && tx_reap(vq, count, now_ms() + DEADLINE_MS),
	      "TX: %u frames, small and big interleaved, every byte checked",
	      count);
	check(ok && !late,
	      "TX: chains ahead of a big frame are used before it reaches the tap (%u late, first at frame %u)",
	      late, first_late);
}

/*
 * The guest posted fewer mergeable buffers than the next packet needs.
 * The device must wait for more, asleep: before, vhost-kt's check for
 * new buffers compared the guest's index with its own rewound one, saw
 * "more", and retried at once, so its worker spun on a CPU until the
 * guest posted more.  utime + stime of the worker tell.
 */
static bool worker_ticks(unsigned long *ticks)
{
	unsigned long ut, st;
	char line[512], *p;
	FILE *f;

	f = fopen(worker_stat, "r");
	if (!f)
		return false;
	p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
	fclose(f);
	/* After the ")": state is field 3, utime 14, stime 15. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return false;
	*ticks = ut + st;
	return true;
}

#define STARVED_MS	500

static void test_rx_starved(void)
{
	struct vq *vq = &vqs[RX_Q];
	static uint8_t pkt[65536 + 64];
	unsigned int need, leave, nbuf, len = max_frame();
	unsigned long t0 = 0, t1 = 0;
	bool counted;
	uint8_t frame[MAX_FRAME];
	char kind[16];
	bool ok = true;
	uint32_t seq;
	int n;

	need = (hdr_len + len + rx_buf_len - 1) / rx_buf_len;
	if (need < 3) {
		skip("RX buffers too big for a packet to need three",
		     "RX: the worker sleeps while the guest has too few buffers posted");
		return;
	}
	if (!worker_stat[0] && !find_worker(kind, sizeof(kind))) {
		check(0, "RX: the worker sleeps while the guest has too few buffers posted (no worker found)");
		return;
	}
	/* Use up posted buffers with small frames, reposting none. */
	leave = need - 2;
	while (ok && (uint16_t)(vq->avail_idx - vq->last_used) > leave) {
		seq = rx_seq++;
		make_frame(frame, seq, 60);
		ok = peer_send(frame, 60) == 60;
		n = ok ? rx_get_test_packet(pkt, sizeof(pkt), &nbuf, false) : -1;
		ok = n > 0 && frame_ok(pkt + hdr_len, n - hdr_len, seq, 60,
				       "RX");
		rx_expected_seq = rx_seq;
	}
	check(ok, "RX: small frames until %u buffers are left posted", leave);

	seq = rx_seq++;
	make_frame(frame, seq, len);
	ok = ok && peer_send(frame, len) == len;
	usleep(100000);
	counted = worker_ticks(&t0);
	usleep(STARVED_MS * 1000);
	counted = counted && worker_ticks(&t1);
	check(ok && !vq_used_pending(vq),
	      "RX: a %u-byte frame needing %u buffers waits while %u are posted",
	      len, need, leave);
	check(ok && counted && t1 - t0 < STARVED_MS / 50,
	      "RX: the worker sleeps meanwhile (%lu CPU ticks in %u ms, at most %u%s)",
	      t1 - t0, STARVED_MS, STARVED_MS / 50 - 1,
	      counted ? "" : "; cannot read its stat");

	rx_post(vq);
	n = ok ? rx_get_test_packet(pkt, sizeof(pkt), &nbuf, false) : -1;
	rx_expected_seq = rx_seq;
	check(n > 0 && nbuf == need &&
	      frame_ok(pkt + hdr_len, n - hdr_len, seq, len, "RX"),
	      "RX: it arrives in %u buffers once the guest posts more (got %u)",
	      need, n > 0 ? nbuf : 0);
	rx_post(vq);
}

/* What QEMU does on a guest reset: the device forgets its owner. */
static void test_reset_owner(void)
{
	struct vhost_vring_file bf = { .index = RX_Q, .fd = bfd };

	int r;

	r = ioctl(vfd, VHOST_RESET_OWNER);
	check(r == 0, "RESET_OWNER%s%s", r ? ": " : "",
	      r ? strerrorname_np(errno) : "");
	check_errno(vfd, VHOST_NET_SET_BACKEND, &bf, EPERM,
		    "NET_SET_BACKEND after RESET_OWNER");
	r = ioctl(vfd, VHOST_SET_OWNER);
	check(r == 0, "SET_OWNER again%s%s", r ? ": " : "",
	      r ? strerrorname_np(errno) : "");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "tap", required_argument, NULL, 't' },
		{ "ring", required_argument, NULL, 'r' },
		{ "regions", required_argument, NULL, 'R' },
		{ "frames", required_argument, NULL, 'n' },
		{ "rx-buf", required_argument, NULL, 'b' },
		{ "mtu", required_argument, NULL, 'm' },
		{ "cycles", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'M' },
		{ "expect-worker", required_argument, NULL, 'w' },
		{ "mrg", no_argument, NULL, 1 },
		{ "no-mrg", no_argument, NULL, 2 },
		{ "event-idx", no_argument, NULL, 3 },
		{ "no-event-idx", no_argument, NULL, 4 },
		{ "indirect", no_argument, NULL, 5 },
		{ "no-indirect", no_argument, NULL, 6 },
		{ "v1", no_argument, NULL, 7 },
		{ "no-v1", no_argument, NULL, 8 },
		{ "vhost-hdr", no_argument, NULL, 9 },
		{ "ping", no_argument, NULL, 'p' },
		{ "label", required_argument, NULL, 'L' },
		{ "debug", no_argument, NULL, 'D' },
		{ "lax-v1-num-buffers", no_argument, NULL, 10 },
		{ "backend", required_argument, NULL, 11 },
		{ "delete-tap", no_argument, NULL, 12 },
		{ "poll-unbacked", no_argument, NULL, 13 },
		{ "poll-iotlb", no_argument, NULL, 14 },
		{ "poll-faults", no_argument, NULL, 15 },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	int c;

	while ((c = getopt_long(argc, argv, "d:t:r:R:n:b:m:c:s:M:w:L:Dph",
				longopts, NULL)) != -1) {
		switch (c) {
		case 'd': dev_path = optarg; break;
		case 't': tap_name = optarg; break;
		case 'r': ring_num = strtoul(optarg, NULL, 0); break;
		case 'R': nregions = strtoul(optarg, NULL, 0); break;
		case 'n': frames = strtoul(optarg, NULL, 0); break;
		case 'b': rx_buf_len = strtoul(optarg, NULL, 0); break;
		case 'm': mtu = strtoul(optarg, NULL, 0); break;
		case 'c': cycles = strtoul(optarg, NULL, 0); break;
		case 's': seed = strtoul(optarg, NULL, 0); break;
		case 'M':
			if (!strcmp(optarg, "kthread"))
				opt_mode = VHOST_FORK_OWNER_KTHREAD;
			else if (!strcmp(optarg, "task"))
				opt_mode = VHOST_FORK_OWNER_TASK;
			else
				opt_mode = strtoul(optarg, NULL, 0);
			break;
		case 'w': opt_expect_worker = optarg; break;
		case 1: opt_mrg = true; break;
		case 2: opt_mrg = false; break;
		case 3: opt_event_idx = true; break;
		case 4: opt_event_idx = false; break;
		case 5: opt_indirect = true; break;
		case 6: opt_indirect = false; break;
		case 7: opt_v1 = true; break;
		case 8: opt_v1 = false; break;
		case 9: opt_vhost_hdr = true; break;
		case 'p': opt_ping = true; break;
		case 'L': tap_label = optarg; break;
		case 'D': opt_debug = true; break;
		case 10: opt_lax_numbuf = true; break;
		case 11:
			/* Packet sockets know no virtio-net header. */
			opt_packet_backend = !strcmp(optarg, "packet");
			opt_vhost_hdr |= opt_packet_backend;
			break;
		case 12: opt_delete_tap = true; break;
		case 13: opt_poll_unbacked = true; break;
		case 14: opt_poll_unbacked = opt_poll_iotlb = true; break;
		case 15: opt_poll_faults = true; break;
		default:
			fprintf(stderr,
				"usage: %s [--device PATH] [--tap NAME] [--ring N] [--regions N]\n"
				"  [--frames N] [--rx-buf BYTES] [--mtu N] [--cycles N] [--seed N]\n"
				"  [--[no-]mrg] [--[no-]event-idx] [--[no-]indirect] [--[no-]v1]\n"
				"  [--vhost-hdr] [--mode kthread|task] [--expect-worker task|kthread]\n"
				"  [--backend tap|packet] [--ping] [--label TEXT] [--debug]\n"
				"  [--lax-v1-num-buffers] [--delete-tap] [--poll-unbacked] [--poll-iotlb]\n"
				"  [--poll-faults] [DEVICE]\n",
				argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind < argc)
		dev_path = argv[optind];
	if ((opt_delete_tap || opt_poll_unbacked || opt_poll_faults) &&
	    opt_packet_backend) {
		fprintf(stderr, "--delete-tap and --poll-* need the tap backend\n");
		return 2;
	}
	if (ring_num < 16 || ring_num > 32768 || (ring_num & (ring_num - 1)) ||
	    !nregions || rx_buf_len < 64 || mtu < 68 || mtu > MAX_FRAME - ETH_HLEN) {
		fprintf(stderr, "bad ring size, region count, rx buffer or MTU\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");

	setup();

	if (opt_poll_unbacked) {
		test_poll_unbacked();
	} else if (opt_poll_faults) {
		test_poll_faults();
	} else if (opt_ping) {
		check(tx_run(1), "ping: one frame guest -> tap");
		check(rx_run(1), "ping: one frame tap -> guest");
	} else {
		check(tx_run(frames), "TX: %u frames of 14..%u bytes, every byte checked",
		      frames, max_frame());
		check(rx_run(frames), "RX: %u frames of 14..%u bytes, every byte checked",
		      frames, max_frame());
		/*
		 * Version 1 headers always have num_buffers; vhost-net fills
		 * it without MRG_RXBUF only since Linux 6.14 (and some stable
		 * kernels), so for older stock kernels this is a known gap.
		 */
		if (rx_numbuf_bad && opt_lax_numbuf && !opt_mrg)
			skip("this kernel's vhost-net predates the fix",
			     "RX: num_buffers is 1 in VERSION_1 headers without MRG_RXBUF");
		else
			check(!rx_numbuf_bad, "RX: num_buffers correct in every header");
		test_detach_cycles();
		if (!opt_packet_backend)
			test_tx_used_before_big();
		if (opt_mrg)
			test_rx_starved();
		if (opt_delete_tap)
			test_tap_deleted();
		test_ring_state();
	}
	diag("TX kicks %lu calls %lu, RX kicks %lu calls %lu, RX noise frames %lu",
	     vqs[TX_Q].kicks, vqs[TX_Q].calls, vqs[RX_Q].kicks, vqs[RX_Q].calls,
	     rx_noise);
	/* Both need a working TX queue. */
	if (!opt_poll_unbacked) {
		test_notify();
		check(!vqs[TX_Q].missed_calls && !vqs[RX_Q].missed_calls,
		      "no used entries without a notification (missed TX %lu RX %lu)",
		      vqs[TX_Q].missed_calls, vqs[RX_Q].missed_calls);
	}
	if (!opt_ping && !opt_poll_unbacked && !opt_poll_faults)
		test_reset_owner();

	if (opt_debug) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd),
			 "ip -s -s link show dev %s; cat /proc/net/packet; ethtool -S %s",
			 tap_ifname, tap_ifname);
		fflush(stdout);
		if (system(cmd))
			diag("debug command failed");
	}
	close(vfd);
	close(peer);
	if (bfd != peer)
		close(bfd);
	return tap_end();
}
