// SPDX-License-Identifier: GPL-2.0-only
/*
 * vring_test: a userspace virtio driver for the vhost-kt test backend
 * (/dev/vhost-kt-test, tests/kmod/).
 *
 * It plays the guest: builds split virtqueues in its own memory, describes
 * that memory to the device (one region, or several with holes between
 * them and a guest-physical order unlike the userspace one, or through
 * IOTLB messages), pushes chains of buffers of varying sizes (direct
 * chains and indirect tables), kicks, waits for the call eventfd and checks
 * every used length and every byte the backend echoed (XORed with
 * VHOST_KT_TEST_XOR); a --count run then moves guest memory to a copy and
 * goes on (move_memory()).  With --negative it feeds malformed rings and checks
 * that the kernel refuses them through the error eventfd, without touching
 * the used ring, and that the ring works again after a reset.
 *
 * Output is TAP; the exit status is non-zero if anything failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "../lib/tap.h"

#include "../../include/uapi/vhost_kt.h"
#include "../kmod/vhost_kt_test.h"

#define GPA_BASE	0x40000000ULL
#define GPA_HOLE	0x100000ULL
#define MAX_REGIONS	512
#define MAX_CHAIN	8
#define CANARY		0xcc
#define PAGE		4096UL

#define barrier()	__sync_synchronize()

struct opts {
	const char *dev;
	unsigned int num;
	unsigned long count;
	unsigned int regions;
	int event_idx, indirect, version1;
	unsigned int base;
	int mode;		/* -1: device default */
	double seconds;		/* stress: run this long instead of count */
	unsigned int max_len;
	int iotlb;		/* 0 memory table, 1 preloaded, 2 on miss */
	int negative;
	int nvqs;
	int new_worker;
	int always_kick;
	int timeout_ms;
	unsigned int seed;
};

static struct opts o = {
	.dev = "/dev/vhost-kt-test",
	.num = 256,
	.count = 10000,
	.regions = 1,
	.event_idx = 1,
	.indirect = 1,
	.version1 = 1,
	.mode = -1,
	.nvqs = 1,
	.timeout_ms = 20000,
	.seed = 1,
};

/* ---- guest memory ---- */

struct region {
	uint64_t gpa, size;
	uint8_t *va;
};

struct segment {		/* a run of regions contiguous in gpa */
	uint64_t start, end, cur;
};

static struct region reg[MAX_REGIONS];
static int nreg;
static struct segment seg[MAX_REGIONS];
static int nseg;
static uint8_t *arena;
static size_t arena_size;

static void mem_layout(size_t need, unsigned int nr)
{
	size_t rs;
	unsigned int i;

	/* Room for every region boundary to waste an allocation. */
	need = need + need / 4 + (size_t)nr * 256 * 1024;
	rs = (need / nr + PAGE - 1) & ~(PAGE - 1);
	arena_size = rs * nr;
	arena = mmap(NULL, arena_size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (arena == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	/*
	 * Regions are paired: 0-1 adjacent in guest-physical space, a hole,
	 * 2-3 adjacent, ...  Their userspace addresses run backwards, so a
	 * buffer across a pair's boundary is two distant pieces of memory.
	 */
	nreg = nr;
	nseg = 0;
	for (i = 0; i < nr; i++) {
		reg[i].size = rs;
		reg[i].va = arena + (size_t)(nr - 1 - i) * rs;
		reg[i].gpa = GPA_BASE + (uint64_t)i * rs + (uint64_t)(i / 2) * GPA_HOLE;
		if (i % 2 == 0) {
			seg[nseg].start = reg[i].gpa;
			seg[nseg].cur = reg[i].gpa;
			nseg++;
		}
		seg[nseg - 1].end = reg[i].gpa + rs;
	}
}

static struct region *mem_region(uint64_t gpa)
{
	int i;

	for (i = 0; i < nreg; i++)
		if (gpa >= reg[i].gpa && gpa < reg[i].gpa + reg[i].size)
			return &reg[i];
	return NULL;
}

/* Pointer to @gpa and how many bytes follow it in the same region. */
static uint8_t *mem_ptr(uint64_t gpa, size_t *avail)
{
	struct region *r = mem_region(gpa);

	if (!r) {
		fprintf(stderr, "vring_test: gpa 0x%llx unmapped\n",
			(unsigned long long)gpa);
		exit(2);
	}
	*avail = r->gpa + r->size - gpa;
	return r->va + (gpa - r->gpa);
}

static void mem_write(uint64_t gpa, const void *src, size_t len)
{
	const uint8_t *s = src;

	while (len) {
		size_t n;
		uint8_t *p = mem_ptr(gpa, &n);

		n = n < len ? n : len;
		memcpy(p, s, n);
		s += n;
		gpa += n;
		len -= n;
	}
}

static void mem_fill(uint64_t gpa, int c, size_t len)
{
	while (len) {
		size_t n;
		uint8_t *p = mem_ptr(gpa, &n);

		n = n < len ? n : len;
		memset(p, c, n);
		gpa += n;
		len -= n;
	}
}

/* Allocate guest memory; @contig: within one region (rings). */
static uint64_t mem_alloc(size_t size, size_t align, bool contig)
{
	int i;

	for (i = 0; i < nseg; i++) {
		uint64_t a = (seg[i].cur + align - 1) & ~(uint64_t)(align - 1);

		if (contig) {
			struct region *r = mem_region(a);

			if (r && a + size > r->gpa + r->size)
				a = r->gpa + r->size;
		}
		if (a + size <= seg[i].end) {
			seg[i].cur = a + size;
			return a;
		}
	}
	fprintf(stderr, "vring_test: out of guest memory (%zu)\n", size);
	exit(2);
}

/* ---- the device ---- */

struct slot {
	bool busy;
	uint32_t out_len, in_len;
	uint64_t seed;
	uint16_t descs[MAX_CHAIN * 2];
	int ndescs;
};

struct vq {
	int index;
	unsigned int num;
	struct vring vr;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx, published, last_used;
	uint16_t *free_stack;
	unsigned int nfree;
	struct slot *slots;
	uint64_t *out_gpa, *in_gpa, *ind_gpa;
	uint32_t slot_len;
	int kick, call, err;
	unsigned long pushed, done, bytes;
};

struct dev {
	int fd;
	uint64_t features;
	struct vq *vq;
	int nvqs;
};

/* Queues live in guest memory allocated once, reused by every device. */
static struct vq vq_mem[VHOST_KT_TEST_NVQS];

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint32_t rnd_below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	if (ioctl(fd, req, arg) < 0) {
		diag("%s: %s", what, strerror(errno));
		return -1;
	}
	return 0;
}

static int set_mem_table(struct dev *d)
{
	struct vhost_memory *m;
	int i, r;

	m = calloc(1, sizeof(*m) + nreg * sizeof(m->regions[0]));
	m->nregions = nreg;
	for (i = 0; i < nreg; i++) {
		m->regions[i].guest_phys_addr = reg[i].gpa;
		m->regions[i].memory_size = reg[i].size;
		m->regions[i].userspace_addr = (uintptr_t)reg[i].va;
	}
	r = xioctl(d->fd, VHOST_SET_MEM_TABLE, m, "VHOST_SET_MEM_TABLE");
	free(m);
	return r;
}

static int iotlb_update(struct dev *d, struct region *r)
{
	struct vhost_msg_v2 msg = {
		.type = VHOST_IOTLB_MSG_V2,
		.iotlb = {
			.iova = r->gpa,
			.size = r->size,
			.uaddr = (uintptr_t)r->va,
			.perm = VHOST_ACCESS_RW,
			.type = VHOST_IOTLB_UPDATE,
		},
	};

	if (write(d->fd, &msg, sizeof(msg)) != sizeof(msg)) {
		diag("IOTLB update write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Answer pending IOTLB misses; returns the number served or -1. */
static int iotlb_serve(struct dev *d)
{
	struct vhost_msg_v2 msg;
	int served = 0;

	for (;;) {
		ssize_t n = read(d->fd, &msg, sizeof(msg));
		struct region *r;

		if (n < 0 && errno == EAGAIN)
			return served;
		if (n != sizeof(msg)) {
			diag("IOTLB read: %zd %s", n, strerror(errno));
			return -1;
		}
		if (msg.type != VHOST_IOTLB_MSG_V2 ||
		    msg.iotlb.type != VHOST_IOTLB_MISS) {
			diag("unexpected IOTLB message type %u/%u", msg.type,
			     msg.iotlb.type);
			return -1;
		}
		r = mem_region(msg.iotlb.iova);
		if (!r) {
			diag("IOTLB miss outside guest memory: 0x%llx",
			     (unsigned long long)msg.iotlb.iova);
			return -1;
		}
		if (iotlb_update(d, r))
			return -1;
		served++;
	}
}

static size_t ring_bytes(unsigned int num)
{
	return 3 * PAGE + 16UL * num + 6 + 2UL * num + 6 + 8UL * num;
}

static uint32_t slot_len_for(unsigned int num)
{
	uint32_t l = o.max_len ? o.max_len : (32u << 20) / num / 2;

	if (l > 16384)
		l = 16384;
	if (l < 64)
		l = 64;
	return l;
}

static void vq_alloc(struct vq *q, unsigned int num)
{
	size_t dsz = 16UL * num, asz = 6 + 2UL * num, usz = 6 + 8UL * num;
	unsigned int i;

	q->num = num;
	q->slot_len = slot_len_for(num);
	q->desc_gpa = mem_alloc(dsz, PAGE, true);
	q->avail_gpa = mem_alloc(asz, PAGE, true);
	q->used_gpa = mem_alloc(usz, PAGE, true);
	q->vr.num = num;
	q->vr.desc = (void *)mem_ptr(q->desc_gpa, &(size_t){0});
	q->vr.avail = (void *)mem_ptr(q->avail_gpa, &(size_t){0});
	q->vr.used = (void *)mem_ptr(q->used_gpa, &(size_t){0});
	q->free_stack = calloc(num, sizeof(*q->free_stack));
	q->slots = calloc(num, sizeof(*q->slots));
	q->out_gpa = calloc(num, sizeof(uint64_t));
	q->in_gpa = calloc(num, sizeof(uint64_t));
	q->ind_gpa = calloc(num, sizeof(uint64_t));
	for (i = 0; i < num; i++) {
		q->out_gpa[i] = mem_alloc(q->slot_len, 1, false);
		q->in_gpa[i] = mem_alloc(q->slot_len, 1, false);
		q->ind_gpa[i] = mem_alloc(16 * MAX_CHAIN * 2, 16, false);
	}
}

static size_t vq_mem_need(unsigned int num)
{
	return ring_bytes(num) + (size_t)num * (2 * slot_len_for(num) + 16 * MAX_CHAIN * 2 + 16);
}

static void vq_reset_state(struct vq *q, uint16_t base)
{
	unsigned int i;

	memset(q->vr.desc, 0, 16UL * q->num);
	memset(q->vr.avail, 0, 6 + 2UL * q->num);
	memset(q->vr.used, 0, 6 + 8UL * q->num);
	q->vr.avail->idx = base;
	q->vr.used->idx = base;
	vring_used_event(&q->vr) = base;
	q->avail_idx = q->published = q->last_used = base;
	q->pushed = q->done = q->bytes = 0;
	q->nfree = q->num;
	for (i = 0; i < q->num; i++) {
		q->free_stack[i] = q->num - 1 - i;
		q->slots[i].busy = false;
	}
}

static int vq_setup(struct dev *d, struct vq *q, uint16_t base)
{
	struct vhost_vring_state s = { .index = q->index, .num = q->num };
	struct vhost_vring_addr a = { .index = q->index };
	struct vhost_vring_file f = { .index = q->index };

	vq_reset_state(q, base);
	if (xioctl(d->fd, VHOST_SET_VRING_NUM, &s, "VHOST_SET_VRING_NUM"))
		return -1;
	s.num = base;
	if (xioctl(d->fd, VHOST_SET_VRING_BASE, &s, "VHOST_SET_VRING_BASE"))
		return -1;
	if (o.iotlb) {
		a.desc_user_addr = q->desc_gpa;
		a.avail_user_addr = q->avail_gpa;
		a.used_user_addr = q->used_gpa;
	} else {
		a.desc_user_addr = (uintptr_t)q->vr.desc;
		a.avail_user_addr = (uintptr_t)q->vr.avail;
		a.used_user_addr = (uintptr_t)q->vr.used;
	}
	if (xioctl(d->fd, VHOST_SET_VRING_ADDR, &a, "VHOST_SET_VRING_ADDR"))
		return -1;
	q->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	q->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	q->err = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f.fd = q->kick;
	if (xioctl(d->fd, VHOST_SET_VRING_KICK, &f, "VHOST_SET_VRING_KICK"))
		return -1;
	f.fd = q->call;
	if (xioctl(d->fd, VHOST_SET_VRING_CALL, &f, "VHOST_SET_VRING_CALL"))
		return -1;
	f.fd = q->err;
	if (xioctl(d->fd, VHOST_SET_VRING_ERR, &f, "VHOST_SET_VRING_ERR"))
		return -1;
	return 0;
}

static int run_mask(struct dev *d, int mask)
{
	return xioctl(d->fd, VHOST_KT_TEST_RUN, &mask, "VHOST_KT_TEST_RUN");
}

static int all_mask(struct dev *d)
{
	return (1 << d->nvqs) - 1;
}

/* Open, own and configure a device; 0 or -1 (with a diagnostic). */
static int dev_open(struct dev *d, unsigned int num, int nvqs, uint16_t base)
{
	uint64_t features = 0;
	int i;

	memset(d, 0, sizeof(*d));
	d->vq = vq_mem;
	d->nvqs = nvqs;
	d->fd = open(o.dev, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		diag("open %s: %s", o.dev, strerror(errno));
		return -1;
	}
	if (o.mode >= 0) {
		uint8_t m = o.mode, got = 0xff;

		if (xioctl(d->fd, VHOST_KT_SET_FORK_FROM_OWNER, &m,
			   "VHOST_SET_FORK_FROM_OWNER"))
			return -1;
		if (xioctl(d->fd, VHOST_KT_GET_FORK_FROM_OWNER, &got,
			   "VHOST_GET_FORK_FROM_OWNER"))
			return -1;
		if (got != m) {
			diag("mode reads back as %u, not %u", got, m);
			return -1;
		}
	}
	if (xioctl(d->fd, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER"))
		return -1;
	if (xioctl(d->fd, VHOST_GET_FEATURES, &features, "VHOST_GET_FEATURES"))
		return -1;
	d->features = 0;
	if (o.event_idx)
		d->features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (o.indirect)
		d->features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (o.version1)
		d->features |= 1ULL << VIRTIO_F_VERSION_1;
	if (o.iotlb)
		d->features |= 1ULL << VIRTIO_F_ACCESS_PLATFORM;
	if ((features & d->features) != d->features) {
		diag("device features 0x%llx lack 0x%llx",
		     (unsigned long long)features,
		     (unsigned long long)d->features);
		return -1;
	}
	if (o.iotlb) {
		uint64_t bf = 1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2;

		if (xioctl(d->fd, VHOST_SET_BACKEND_FEATURES, &bf,
			   "VHOST_SET_BACKEND_FEATURES"))
			return -1;
	}
	if (xioctl(d->fd, VHOST_SET_FEATURES, &d->features, "VHOST_SET_FEATURES"))
		return -1;
	/* QEMU sends a memory table with an IOTLB too; the core wants one. */
	if (set_mem_table(d))
		return -1;
	if (o.iotlb == 1)
		for (i = 0; i < nreg; i++)
			if (iotlb_update(d, &reg[i]))
				return -1;
	if (o.iotlb == 2) {
		int fl = fcntl(d->fd, F_GETFL);

		fcntl(d->fd, F_SETFL, fl | O_NONBLOCK);
	}
	for (i = 0; i < nvqs; i++) {
		d->vq[i].index = i;
		if (!d->vq[i].num)
			vq_alloc(&d->vq[i], num);
		if (vq_setup(d, &d->vq[i], base))
			return -1;
		/*
		 * Like QEMU, map the used ring up front: starting a queue
		 * reads it.  Everything else is mapped on IOTLB misses.
		 */
		if (o.iotlb == 2 && iotlb_update(d, mem_region(d->vq[i].used_gpa)))
			return -1;
	}
	if (o.new_worker && nvqs > 1) {
		struct vhost_worker_state w = { 0 };
		struct vhost_vring_worker vw = { .index = 1 };

		if (xioctl(d->fd, VHOST_NEW_WORKER, &w, "VHOST_NEW_WORKER"))
			return -1;
		vw.worker_id = w.worker_id;
		if (xioctl(d->fd, VHOST_ATTACH_VRING_WORKER, &vw,
			   "VHOST_ATTACH_VRING_WORKER"))
			return -1;
		vw.worker_id = ~0u;
		if (xioctl(d->fd, VHOST_GET_VRING_WORKER, &vw,
			   "VHOST_GET_VRING_WORKER"))
			return -1;
		if (vw.worker_id != w.worker_id) {
			diag("vq 1 reports worker %u, not %u", vw.worker_id,
			     w.worker_id);
			return -1;
		}
	}
	return run_mask(d, all_mask(d));
}

static void dev_close(struct dev *d)
{
	int i;

	for (i = 0; i < d->nvqs; i++) {
		close(d->vq[i].kick);
		close(d->vq[i].call);
		close(d->vq[i].err);
	}
	close(d->fd);
}

/* ---- the data path ---- */

static void fill_pattern(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed | 1;
	size_t i;

	for (i = 0; i < len; i++) {
		if (!(i & 7)) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
		}
		buf[i] = s >> ((i & 7) * 8);
	}
}

static uint8_t scratch[1 << 17];

/* Split @len bytes into @k pieces of at least one byte each. */
static void split(uint32_t len, int k, uint32_t *parts)
{
	uint32_t left = len;
	int i;

	for (i = 0; i < k - 1; i++) {
		uint32_t max = left - (k - 1 - i);

		parts[i] = 1 + rnd_below(max);
		if (parts[i] > max)
			parts[i] = max;
		left -= parts[i];
	}
	parts[k - 1] = left;
}

static int pick_pieces(uint32_t len)
{
	int k;

	if (!len)
		return 0;
	k = 1 + rnd_below(4);
	return (uint32_t)k > len ? (int)len : k;
}

/* Make one chain available; false if no descriptor is free. */
static bool push_one(struct vq *q)
{
	uint32_t out_len, in_len, parts[2 * MAX_CHAIN];
	struct vring_desc table[2 * MAX_CHAIN];
	bool indirect;
	uint16_t head;
	struct slot *sl;
	int k_out, k_in, k, i;
	uint64_t off;

	if (!q->nfree)
		return false;
	indirect = o.indirect && (q->num < 4 || rnd_below(3) == 0);

	out_len = rnd_below(q->slot_len + 1);
	in_len = rnd_below(q->slot_len + 1);
	if (rnd_below(8) == 0)
		in_len = out_len;
	if (!out_len && !in_len)
		out_len = 1;
	k_out = pick_pieces(out_len);
	k_in = pick_pieces(in_len);
	if (!indirect) {
		/* A direct chain needs one ring descriptor per piece. */
		while (k_out + k_in > (int)q->nfree) {
			if (k_out > 1)
				k_out--;
			else if (k_in > 1)
				k_in--;
			else if (k_in && k_out) {
				if (rnd_below(2)) {
					in_len = 0;
					k_in = 0;
				} else {
					out_len = 0;
					k_out = 0;
				}
			}
		}
	}
	k = k_out + k_in;

	head = q->free_stack[--q->nfree];
	sl = &q->slots[head];
	sl->busy = true;
	sl->out_len = out_len;
	sl->in_len = in_len;
	sl->seed = rnd();
	sl->ndescs = 1;
	sl->descs[0] = head;

	if (k_out)
		split(out_len, k_out, parts);
	if (k_in)
		split(in_len, k_in, parts + k_out);

	/* Descriptors: readable pieces of the out area, then the in area. */
	off = 0;
	for (i = 0; i < k; i++) {
		bool w = i >= k_out;

		if (i == k_out)
			off = 0;
		table[i].addr = (w ? q->in_gpa[head] : q->out_gpa[head]) + off;
		table[i].len = parts[i];
		table[i].flags = w ? VRING_DESC_F_WRITE : 0;
		off += parts[i];
	}

	if (indirect) {
		for (i = 0; i < k; i++) {
			table[i].next = i + 1;
			if (i < k - 1)
				table[i].flags |= VRING_DESC_F_NEXT;
		}
		mem_write(q->ind_gpa[head], table, k * sizeof(table[0]));
		q->vr.desc[head].addr = q->ind_gpa[head];
		q->vr.desc[head].len = k * sizeof(table[0]);
		q->vr.desc[head].flags = VRING_DESC_F_INDIRECT;
		q->vr.desc[head].next = 0;
	} else {
		uint16_t cur = head;

		for (i = 0; i < k; i++) {
			uint16_t next = 0;

			if (i < k - 1) {
				next = q->free_stack[--q->nfree];
				sl->descs[sl->ndescs++] = next;
			}
			q->vr.desc[cur] = table[i];
			q->vr.desc[cur].next = next;
			if (i < k - 1)
				q->vr.desc[cur].flags |= VRING_DESC_F_NEXT;
			cur = next;
		}
	}

	fill_pattern(scratch, out_len, sl->seed);
	mem_write(q->out_gpa[head], scratch, out_len);
	mem_fill(q->in_gpa[head], CANARY, in_len);

	q->vr.avail->ring[q->avail_idx % q->num] = head;
	q->avail_idx++;
	q->pushed++;
	return true;
}

static void publish(struct vq *q)
{
	uint16_t old = q->published, new = q->avail_idx;
	bool kick;

	if (old == new)
		return;
	barrier();
	q->vr.avail->idx = new;
	q->published = new;
	barrier();
	if (o.event_idx)
		kick = vring_need_event(vring_avail_event(&q->vr), new, old);
	else
		kick = !(q->vr.used->flags & VRING_USED_F_NO_NOTIFY);
	if (kick || o.always_kick) {
		uint64_t one = 1;

		if (write(q->kick, &one, sizeof(one)) != sizeof(one))
			diag("kick: %s", strerror(errno));
	}
}

/* Check one returned chain; false on a mismatch (diagnosed). */
static bool check_used(struct vq *q, uint32_t id, uint32_t len)
{
	struct slot *sl;
	uint32_t want, i, pos;
	int j;

	if (id >= q->num || !q->slots[id].busy) {
		diag("vq %d: used id %u was not outstanding", q->index, id);
		return false;
	}
	sl = &q->slots[id];
	want = sl->out_len < sl->in_len ? sl->out_len : sl->in_len;
	if (len != want) {
		diag("vq %d: head %u used len %u, expected %u (out %u in %u)",
		     q->index, id, len, want, sl->out_len, sl->in_len);
		return false;
	}
	fill_pattern(scratch, sl->out_len, sl->seed);
	for (pos = 0; pos < sl->in_len;) {
		size_t n;
		uint8_t *p = mem_ptr(q->in_gpa[id] + pos, &n);

		if (n > sl->in_len - pos)
			n = sl->in_len - pos;
		for (i = 0; i < n; i++, pos++) {
			uint8_t exp = pos < want ? scratch[pos] ^ VHOST_KT_TEST_XOR : CANARY;

			if (p[i] != exp) {
				diag("vq %d: head %u byte %u is 0x%02x, expected 0x%02x (len %u)",
				     q->index, id, pos, p[i], exp, want);
				return false;
			}
		}
	}
	sl->busy = false;
	for (j = sl->ndescs - 1; j >= 0; j--)
		q->free_stack[q->nfree++] = sl->descs[j];
	q->done++;
	q->bytes += len;
	return true;
}

/* Take what the device used; -1 on a bad element. */
static int reap(struct vq *q)
{
	int n = 0;

	while (q->last_used != *(volatile uint16_t *)&q->vr.used->idx) {
		struct vring_used_elem *e;

		barrier();
		e = &q->vr.used->ring[q->last_used % q->num];
		if (!check_used(q, e->id, e->len))
			return -1;
		q->last_used++;
		n++;
	}
	if (o.event_idx)
		vring_used_event(&q->vr) = q->last_used;
	return n;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Push @count chains per queue (or for o.seconds) and check them all.
 * Returns 0 or -1 (diagnosed).
 */
static int traffic(struct dev *d, unsigned long count, double seconds)
{
	double end = seconds > 0 ? now() + seconds : 0;
	bool stop = false;
	int i;

	for (;;) {
		struct pollfd pfd[2 * VHOST_KT_TEST_NVQS + 1];
		bool pending = false;
		int np = 0, progress = 0;

		if (end && now() > end)
			stop = true;
		for (i = 0; i < d->nvqs; i++) {
			struct vq *q = &d->vq[i];
			int r;

			while (!stop && (end || q->pushed < count) && push_one(q))
				;
			publish(q);
			r = reap(q);
			if (r < 0)
				return -1;
			progress += r;
			if (q->done < q->pushed || (!stop && !end && q->pushed < count))
				pending = true;
		}
		if (!pending && (stop || !end))
			return 0;
		/* Room was made: refill before sleeping. */
		if (progress)
			continue;

		/* Nothing came back: re-check after arming, then sleep. */
		barrier();
		for (i = 0; i < d->nvqs; i++)
			if (d->vq[i].last_used != *(volatile uint16_t *)&d->vq[i].vr.used->idx)
				progress = 1;
		if (progress)
			continue;
		for (i = 0; i < d->nvqs; i++) {
			pfd[np++] = (struct pollfd){ .fd = d->vq[i].call, .events = POLLIN };
			pfd[np++] = (struct pollfd){ .fd = d->vq[i].err, .events = POLLIN };
		}
		if (o.iotlb == 2)
			pfd[np++] = (struct pollfd){ .fd = d->fd, .events = POLLIN };
		i = poll(pfd, np, o.timeout_ms);
		if (i == 0) {
			diag("timeout: no used buffers for %d ms", o.timeout_ms);
			for (i = 0; i < d->nvqs; i++)
				diag("vq %d: pushed %lu done %lu avail %u used %u avail_event %u",
				     i, d->vq[i].pushed, d->vq[i].done,
				     d->vq[i].avail_idx, d->vq[i].vr.used->idx,
				     vring_avail_event(&d->vq[i].vr));
			return -1;
		}
		for (i = 0; i < d->nvqs; i++) {
			uint64_t v;

			if (pfd[2 * i + 1].revents) {
				diag("vq %d: error eventfd signalled", i);
				return -1;
			}
			if (read(d->vq[i].call, &v, sizeof(v)) < 0 && errno != EAGAIN)
				return -1;
		}
		if (o.iotlb == 2 && pfd[np - 1].revents && iotlb_serve(d) < 0)
			return -1;
	}
}

/* ---- test cases ---- */

static const char *mode_name(void)
{
	return o.mode < 0 ? "default" : o.mode ? "task" : "kthread";
}

static void describe(char *buf, size_t len, unsigned int num)
{
	snprintf(buf, len, "num=%u regions=%u base=%u event_idx=%d indirect=%d version1=%d iotlb=%d vqs=%d mode=%s%s",
		 num, o.regions, o.base, o.event_idx, o.indirect, o.version1,
		 o.iotlb, o.nvqs, mode_name(), o.new_worker ? "+new-worker" : "");
}

/*
 * Move guest memory to a copy of itself and tell the device, as a VMM does
 * when it remaps a guest's RAM.  The kernel keeps, per queue, the map its
 * last buffer came from in front of the table walk; had that survived the
 * change, the device would echo from, and into, the old copy, and the byte
 * checks of the traffic that follows would fail.  Rings have user
 * addresses with a memory table and stay where they are; under an IOTLB
 * they are IOVAs and move too, so the old copy can go: a stale map then
 * faults.
 */
static int move_memory(struct dev *d)
{
	struct vhost_msg_v2 inv = {
		.type = VHOST_IOTLB_MSG_V2,
		/* Size 0: everything, as QEMU invalidates. */
		.iotlb = { .type = VHOST_IOTLB_INVALIDATE },
	};
	uint8_t *old = arena, *copy;
	int i;

	copy = mmap(NULL, arena_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (copy == MAP_FAILED) {
		diag("mmap: %s", strerror(errno));
		return -1;
	}
	memcpy(copy, old, arena_size);
	for (i = 0; i < nreg; i++)
		reg[i].va = copy + (reg[i].va - old);
	arena = copy;
	if (set_mem_table(d))
		return -1;
	if (!o.iotlb)
		return 0;

	for (i = 0; i < d->nvqs; i++) {
		struct vq *q = &d->vq[i];

		q->vr.desc = (void *)mem_ptr(q->desc_gpa, &(size_t){0});
		q->vr.avail = (void *)mem_ptr(q->avail_gpa, &(size_t){0});
		q->vr.used = (void *)mem_ptr(q->used_gpa, &(size_t){0});
	}
	if (write(d->fd, &inv, sizeof(inv)) != sizeof(inv)) {
		diag("IOTLB invalidate write: %s", strerror(errno));
		return -1;
	}
	for (i = 0; o.iotlb == 1 && i < nreg; i++)
		if (iotlb_update(d, &reg[i]))
			return -1;
	for (i = 0; o.iotlb == 2 && i < d->nvqs; i++)
		if (iotlb_update(d, mem_region(d->vq[i].used_gpa)))
			return -1;
	munmap(old, arena_size);
	return 0;
}

static void test_traffic(void)
{
	struct vhost_kt_test_stats st;
	struct vhost_vring_state s;
	unsigned long pushed = 0, bytes = 0;
	struct dev d;
	char what[256];
	int i, r;

	describe(what, sizeof(what), o.num);
	mem_layout(vq_mem_need(o.num) * o.nvqs, o.regions);
	r = dev_open(&d, o.num, o.nvqs, o.base);
	check(!r, "device set up: %s", what);
	if (r)
		return;
	r = traffic(&d, o.count, o.seconds);
	for (i = 0; i < d.nvqs; i++) {
		pushed += d.vq[i].pushed;
		bytes += d.vq[i].bytes;
	}
	check(!r, "%lu chains (%lu bytes) echoed, every length and byte checked: %s",
	    pushed, bytes, what);
	if (r)
		goto out;

	/* A count run goes on in moved memory (a stress run keeps its length). */
	if (!o.seconds) {
		r = move_memory(&d);
		if (!r)
			r = traffic(&d, o.count + 1000, 0);
		pushed = bytes = 0;
		for (i = 0; i < d.nvqs; i++) {
			pushed += d.vq[i].pushed;
			bytes += d.vq[i].bytes;
		}
		check(!r, "memory moved to a copy%s: %lu chains in all, every byte checked",
		      o.iotlb ? ", IOTLB invalidated, the old copy unmapped" : "",
		      pushed);
		if (r)
			goto out;
	}

	r = run_mask(&d, 0);
	for (i = 0; !r && i < d.nvqs; i++) {
		uint16_t want = o.base + d.vq[i].pushed;

		s.index = i;
		r = xioctl(d.fd, VHOST_GET_VRING_BASE, &s, "VHOST_GET_VRING_BASE");
		if (!r && s.num != want) {
			diag("vq %d: GET_VRING_BASE %u, expected %u", i, s.num, want);
			r = -1;
		}
		if (!r && d.vq[i].vr.used->idx != want) {
			diag("vq %d: used idx %u, expected %u", i, d.vq[i].vr.used->idx, want);
			r = -1;
		}
	}
	check(!r, "ring indices after the run (16-bit wrap from %u)", o.base);

	r = xioctl(d.fd, VHOST_KT_TEST_GET_STATS, &st, "VHOST_KT_TEST_GET_STATS");
	if (!r && (st.chains != pushed || st.bytes != bytes || st.errors)) {
		diag("backend counted %llu chains %llu bytes %llu errors",
		     (unsigned long long)st.chains, (unsigned long long)st.bytes,
		     (unsigned long long)st.errors);
		r = -1;
	}
	check(!r, "backend counted the same chains and bytes, no errors");
	if (!r)
		diag("last worker tid %d, owner pid %d", st.worker_tid, getpid());
out:
	dev_close(&d);
}

/* ---- malformed rings ---- */

enum bad {
	BAD_LOOP, BAD_HEAD, BAD_NEXT, BAD_ADDR, BAD_STRADDLE, BAD_NESTED,
	BAD_IND_LOOP, BAD_IND_LEN, BAD_IND_ADDR, BAD_IND_EMPTY, BAD_ORDER,
	BAD_AVAIL_JUMP, BAD_MAX
};

static const char *const bad_name[BAD_MAX] = {
	[BAD_LOOP] = "descriptor loop in the ring",
	[BAD_HEAD] = "avail head index beyond the ring",
	[BAD_NEXT] = "next index beyond the ring",
	[BAD_ADDR] = "buffer in a hole of the memory table",
	[BAD_STRADDLE] = "buffer running off the end of guest memory",
	[BAD_NESTED] = "indirect table inside an indirect table",
	[BAD_IND_LOOP] = "loop inside an indirect table",
	[BAD_IND_LEN] = "indirect table length not a multiple of 16",
	[BAD_IND_ADDR] = "indirect table in a hole of the memory table",
	[BAD_IND_EMPTY] = "zero-length indirect table",
	[BAD_ORDER] = "readable descriptor after a writable one",
	[BAD_AVAIL_JUMP] = "avail index moved by more than the ring size",
};

/* A guest address no region covers: the hole after the first pair. */
static uint64_t hole_gpa(void)
{
	return reg[1].gpa + reg[1].size + 64;
}

static void make_bad(struct vq *q, enum bad b)
{
	struct vring_desc *dt = q->vr.desc;
	struct vring_desc t[3];
	uint16_t h = 0;
	uint64_t buf = q->out_gpa[0], wbuf = q->in_gpa[0];

	memset(t, 0, sizeof(t));
	switch (b) {
	case BAD_LOOP:
		dt[0] = (struct vring_desc){ buf, 16, VRING_DESC_F_NEXT, 1 };
		dt[1] = (struct vring_desc){ buf, 16, VRING_DESC_F_NEXT, 0 };
		break;
	case BAD_HEAD:
		h = q->num + 3;
		break;
	case BAD_NEXT:
		dt[0] = (struct vring_desc){ buf, 16, VRING_DESC_F_NEXT, q->num + 1 };
		break;
	case BAD_ADDR:
		dt[0] = (struct vring_desc){ hole_gpa(), 64, 0, 0 };
		break;
	case BAD_STRADDLE: {
		struct region *last = &reg[nreg - 1];

		dt[0] = (struct vring_desc){ last->gpa + last->size - 32, 4096, 0, 0 };
		break;
	}
	case BAD_NESTED:
		t[0] = (struct vring_desc){ buf, 16, VRING_DESC_F_NEXT, 1 };
		t[1] = (struct vring_desc){ q->ind_gpa[1], 16, VRING_DESC_F_INDIRECT, 0 };
		mem_write(q->ind_gpa[0], t, 2 * sizeof(t[0]));
		t[0] = (struct vring_desc){ buf, 16, 0, 0 };
		mem_write(q->ind_gpa[1], t, sizeof(t[0]));
		dt[0] = (struct vring_desc){ q->ind_gpa[0], 32, VRING_DESC_F_INDIRECT, 0 };
		break;
	case BAD_IND_LOOP:
		t[0] = (struct vring_desc){ buf, 16, VRING_DESC_F_NEXT, 1 };
		t[1] = (struct vring_desc){ buf, 16, VRING_DESC_F_NEXT, 0 };
		mem_write(q->ind_gpa[0], t, 2 * sizeof(t[0]));
		dt[0] = (struct vring_desc){ q->ind_gpa[0], 32, VRING_DESC_F_INDIRECT, 0 };
		break;
	case BAD_IND_LEN:
		t[0] = (struct vring_desc){ buf, 16, 0, 0 };
		mem_write(q->ind_gpa[0], t, sizeof(t[0]));
		dt[0] = (struct vring_desc){ q->ind_gpa[0], 24, VRING_DESC_F_INDIRECT, 0 };
		break;
	case BAD_IND_ADDR:
		dt[0] = (struct vring_desc){ hole_gpa(), 32, VRING_DESC_F_INDIRECT, 0 };
		break;
	case BAD_IND_EMPTY:
		dt[0] = (struct vring_desc){ q->ind_gpa[0], 0, VRING_DESC_F_INDIRECT, 0 };
		break;
	case BAD_ORDER:
		dt[0] = (struct vring_desc){ wbuf, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1 };
		dt[1] = (struct vring_desc){ buf, 16, 0, 0 };
		break;
	case BAD_AVAIL_JUMP:
	case BAD_MAX:
		break;
	}
	q->vr.avail->ring[q->avail_idx % q->num] = h;
	q->avail_idx += b == BAD_AVAIL_JUMP ? q->num + 1 : 1;
}

static bool wait_fd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) != 1)
		return false;
	return read(fd, &v, sizeof(v)) == sizeof(v);
}

static void test_bad(enum bad b)
{
	struct vhost_vring_state s = { .index = 0 };
	uint16_t before;
	struct dev d;
	struct vq *q;
	int r;

	if (dev_open(&d, o.num, 1, o.base)) {
		check(false, "malformed ring (%s): device set up", bad_name[b]);
		return;
	}
	q = &d.vq[0];
	before = q->vr.used->idx;
	make_bad(q, b);
	publish(q);
	/* The kick may be suppressed by event_idx logic: make sure. */
	if (write(q->kick, &(uint64_t){1}, 8) != 8)
		diag("kick: %s", strerror(errno));
	r = wait_fd(q->err, 5000);
	usleep(20000);
	check(r && q->vr.used->idx == before,
	    "malformed ring refused (%s): error eventfd signalled, used ring untouched",
	    bad_name[b]);
	if (!r || q->vr.used->idx != before)
		diag("error eventfd %s, used idx %u (was %u)",
		     r ? "signalled" : "silent", q->vr.used->idx, before);

	/* Recover: stop, skip the bad entries, restart, push good buffers. */
	r = run_mask(&d, 0);
	/* Each kick of the bad ring may have reported it again: drain. */
	if (read(q->err, &(uint64_t){0}, 8) < 0 && errno != EAGAIN)
		diag("error eventfd read: %s", strerror(errno));
	if (b == BAD_AVAIL_JUMP)
		q->avail_idx = q->published = before + 1;
	s.num = q->avail_idx;
	if (!r)
		r = xioctl(d.fd, VHOST_SET_VRING_BASE, &s, "VHOST_SET_VRING_BASE");
	if (!r) {
		vq_reset_state(q, q->avail_idx);
		r = run_mask(&d, 1);
	}
	if (!r)
		r = traffic(&d, 200, 0);
	check(!r, "ring reset and works again after: %s", bad_name[b]);
	dev_close(&d);
}

static void test_limits(void)
{
	static const unsigned int bad_nums[] = { 0, 3, 100, 65536 };
	struct vhost_vring_state s = { .index = 0 };
	struct dev d = { .vq = vq_mem };
	unsigned int i;
	bool ok = true;

	d.fd = open(o.dev, O_RDWR | O_CLOEXEC);
	if (d.fd < 0 || ioctl(d.fd, VHOST_SET_OWNER) < 0) {
		check(false, "ring size limits: open/SET_OWNER: %s", strerror(errno));
		return;
	}
	for (i = 0; i < sizeof(bad_nums) / sizeof(bad_nums[0]); i++) {
		s.num = bad_nums[i];
		if (ioctl(d.fd, VHOST_SET_VRING_NUM, &s) == 0 || errno != EINVAL) {
			diag("SET_VRING_NUM %u: %s", s.num, strerror(errno));
			ok = false;
		}
	}
	s.num = 32768;
	if (ioctl(d.fd, VHOST_SET_VRING_NUM, &s) < 0) {
		diag("SET_VRING_NUM 32768: %s", strerror(errno));
		ok = false;
	}
	s.index = VHOST_KT_TEST_NVQS;
	if (ioctl(d.fd, VHOST_SET_VRING_NUM, &s) == 0 || errno != ENOBUFS) {
		diag("SET_VRING_NUM on vq %u: %s", s.index, strerror(errno));
		ok = false;
	}
	check(ok, "SET_VRING_NUM: 32768 ok; 0, 3, 100, 65536 EINVAL; bad index ENOBUFS");
	close(d.fd);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vring_test [options]\n"
		"  --dev PATH        device (/dev/vhost-kt-test)\n"
		"  --num N           ring size (256)\n"
		"  --count N         chains per queue (10000)\n"
		"  --seconds S       stress: run S seconds instead (<0: forever)\n"
		"  --regions N       memory regions, paired with holes (1)\n"
		"  --base B          initial ring index, e.g. 65500 to wrap (0)\n"
		"  --event-idx 0|1 --indirect 0|1 --version1 0|1 (all 1)\n"
		"  --iotlb 0|1|2     memory table / IOTLB preloaded / IOTLB on miss\n"
		"  --vqs 1|2         queues to run (1)\n"
		"  --new-worker      vq 1 on a second worker (task mode)\n"
		"  --mode kthread|task  VHOST_SET_FORK_FROM_OWNER before SET_OWNER\n"
		"  --max-len N       largest buffer per direction\n"
		"  --always-kick     kick on every publish\n"
		"  --negative        malformed-ring and limit tests\n"
		"  --timeout MS      wait for used buffers at most MS (20000)\n"
		"  --seed N          --label STR (prefix of every result)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", 1, 0, 'd' }, { "num", 1, 0, 'n' }, { "count", 1, 0, 'c' },
		{ "seconds", 1, 0, 's' }, { "regions", 1, 0, 'r' },
		{ "base", 1, 0, 'b' }, { "event-idx", 1, 0, 'E' },
		{ "indirect", 1, 0, 'I' }, { "version1", 1, 0, 'V' },
		{ "iotlb", 1, 0, 'T' }, { "vqs", 1, 0, 'q' },
		{ "new-worker", 0, 0, 'W' }, { "mode", 1, 0, 'm' },
		{ "max-len", 1, 0, 'L' }, { "always-kick", 0, 0, 'K' },
		{ "negative", 0, 0, 'N' }, { "timeout", 1, 0, 't' },
		{ "seed", 1, 0, 'S' }, { "label", 1, 0, 'l' }, { 0 }
	};
	int c, b;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o.dev = optarg; break;
		case 'n': o.num = strtoul(optarg, NULL, 0); break;
		case 'c': o.count = strtoul(optarg, NULL, 0); break;
		case 's': o.seconds = strtod(optarg, NULL); break;
		case 'r': o.regions = strtoul(optarg, NULL, 0); break;
		case 'b': o.base = strtoul(optarg, NULL, 0); break;
		case 'E': o.event_idx = atoi(optarg); break;
		case 'I': o.indirect = atoi(optarg); break;
		case 'V': o.version1 = atoi(optarg); break;
		case 'T': o.iotlb = atoi(optarg); break;
		case 'q': o.nvqs = atoi(optarg); break;
		case 'W': o.new_worker = 1; break;
		case 'm':
			if (!strcmp(optarg, "kthread"))
				o.mode = VHOST_FORK_OWNER_KTHREAD;
			else if (!strcmp(optarg, "task"))
				o.mode = VHOST_FORK_OWNER_TASK;
			else
				usage();
			break;
		case 'L': o.max_len = strtoul(optarg, NULL, 0); break;
		case 'K': o.always_kick = 1; break;
		case 'N': o.negative = 1; break;
		case 't': o.timeout_ms = atoi(optarg); break;
		case 'S': o.seed = strtoul(optarg, NULL, 0); break;
		case 'l': tap_label = optarg; break;
		default: usage();
		}
	}
	if (!o.num || (o.num & (o.num - 1)) || o.num > 32768 ||
	    o.regions < 1 || o.regions > MAX_REGIONS || o.base > 0xffff ||
	    o.nvqs < 1 || o.nvqs > VHOST_KT_TEST_NVQS ||
	    o.max_len > sizeof(scratch) / 2)
		usage();
	if (o.seconds < 0)
		o.seconds = 1e12;
	rng_state ^= (uint64_t)o.seed * 0x9e3779b97f4a7c15ULL;

	if (o.negative) {
		/* Holes are needed: at least two pairs of regions. */
		if (o.regions < 4)
			o.regions = 4;
		if (o.num < 4)
			o.num = 4;
		o.iotlb = 0;
		mem_layout(vq_mem_need(o.num), o.regions);
		test_limits();
		for (b = 0; b < BAD_MAX; b++)
			test_bad(b);
	} else {
		test_traffic();
	}
	return tap_end();
}
