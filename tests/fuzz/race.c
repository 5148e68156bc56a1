// SPDX-License-Identifier: GPL-2.0-only
/*
 * Phase race: every user of one device fd racing every other one.
 *
 * A VMM uses its vhost fd from many threads at once (QEMU answers IOTLB
 * misses in its main loop while vCPU and migration threads issue ioctls),
 * and a hostile one does so on purpose.  Each episode sets a vhost-net
 * device up with a tap backend, some episodes with VIRTIO_F_ACCESS_PLATFORM
 * so that the worker asks for translations, and then, until the episode
 * ends, runs at once:
 *
 *   - an IOMMU thread that reads misses from the fd and answers them with
 *     UPDATEs, as QEMU's vIOMMU does (answering requeues the vq's work:
 *     the path that once queued on a worker RESET_OWNER had destroyed);
 *   - a traffic thread posting TX chains and RX buffers, kicking, and
 *     sending frames into the tap;
 *   - RACE_THREADS threads and a forked child picking operations at random:
 *     IOTLB UPDATE/INVALIDATE writes, miss reads, SET_MEM_TABLE,
 *     SET_VRING_*, SET_BACKEND attach and detach, NEW/ATTACH/FREE/GET
 *     worker, RESET_OWNER, SET_OWNER (and a full bring-up after it), the
 *     mode ioctls, SET_FEATURES, and close (dup2 of a fresh open over the
 *     shared fd number).  The child may become the owner after a
 *     RESET_OWNER and is sometimes SIGKILLed in the middle of the episode.
 *
 * Every thread's random stream comes from the seed, so a seed replays the
 * same choices; the interleaving itself is the kernel's.  After each
 * episode, alone again, the device must come back: RESET_OWNER (or a
 * fresh open if the child took it over), a plain bring-up, and one TX
 * chain must reach the tap.  A vq whose work item was left marked queued
 * on a destroyed worker ignores that kick.  What crashes, warns or leaks is
 * caught by the harness's kernel-log scan; here we check errnos, that every
 * operation really ran (and the important ones succeeded), that nothing
 * hangs, and that the device works afterwards.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include "fuzz.h"
#include "../../include/uapi/vhost_kt.h"

#define RACE_THREADS	4
#define RACE_EPISODE	2.5		/* seconds, at most */
#define RACE_OPS_MAX	200000		/* per thread and episode */
#define RACE_HANG	60.0		/* seconds past the episode's end */
#define RACE_ETHERTYPE	0x88b6
#define HDR		12		/* virtio_net_hdr_mrg_rxbuf */


enum op {
	OP_UPDATE, OP_INVALIDATE, OP_READ_MISS, OP_MEM_TABLE, OP_VRING,
	OP_KICK_CALL, OP_BACKEND_ON, OP_BACKEND_OFF, OP_NEW_WORKER,
	OP_ATTACH_WORKER, OP_FREE_WORKER, OP_GET_WORKER, OP_RESET_OWNER,
	OP_SET_OWNER, OP_MODE_SET, OP_MODE_GET, OP_FEATURES, OP_CLOSE, OP_NR
};

/*
 * How often each operation is picked: the translation traffic most, the
 * teardowns rarely enough that the device mostly runs between them.
 */
static const unsigned int op_weight[OP_NR] = {
	[OP_UPDATE] = 10, [OP_INVALIDATE] = 6, [OP_READ_MISS] = 10,
	[OP_MEM_TABLE] = 3, [OP_VRING] = 3, [OP_KICK_CALL] = 3,
	[OP_BACKEND_ON] = 4, [OP_BACKEND_OFF] = 3, [OP_NEW_WORKER] = 3,
	[OP_ATTACH_WORKER] = 4, [OP_FREE_WORKER] = 3, [OP_GET_WORKER] = 2,
	[OP_RESET_OWNER] = 2, [OP_SET_OWNER] = 3, [OP_MODE_SET] = 2,
	[OP_MODE_GET] = 1,
	[OP_FEATURES] = 2, [OP_CLOSE] = 1,
};

static const char *const op_name[OP_NR] = {
	"IOTLB UPDATE", "IOTLB INVALIDATE", "miss read", "SET_MEM_TABLE",
	"SET_VRING_NUM/BASE/ADDR", "SET_VRING_KICK/CALL", "SET_BACKEND attach",
	"SET_BACKEND detach", "NEW_WORKER", "ATTACH_VRING_WORKER",
	"FREE_WORKER", "GET_VRING_WORKER", "RESET_OWNER", "SET_OWNER",
	"SET_FORK_FROM_OWNER", "GET_FORK_FROM_OWNER", "SET_FEATURES", "close",
};

/* Counters shared by the threads (atomics) and, via shared memory, the child. */
struct race_counts {
	unsigned long calls[OP_NR], ok[OP_NR];
	unsigned long bad, answered, frames;
	unsigned int bad_logged;
};

/* One episode's device and what every racer shares. */
struct race {
	const char *node;
	int fd;			/* the shared fd number (replaced by OP_CLOSE) */
	bool iotlb, v2;
	uint8_t *mem;		/* guest memory: MAP_SHARED, the child sees it */
	int tap, pkt;
	int kick[2], call[2], spare;	/* eventfds */
	double end;
	struct race_counts *cnt;	/* MAP_SHARED */
};

struct racer {
	struct race *r;
	uint64_t rng;
	bool child;
	pthread_t th;
};

/* splitmix64 per racer: the phase's stream must not be shared by threads. */
static uint64_t rrnd(struct racer *me)
{
	uint64_t z = (me->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rrn(struct racer *me, uint64_t n)
{
	return n ? rrnd(me) % n : 0;
}

/* Set in the forked child, whose stdio may be locked by a parent thread. */
static bool in_child;

/*
 * The errnos each operation may get from a device that other threads keep
 * changing under it (no owner, another owner, a vq running or not, an
 * IOTLB or not, the other mode); anything else is a failure.  EFAULT from
 * an IOTLB write covers every message the device cannot apply.
 */
static const int op_errnos[OP_NR][5] = {
	[OP_UPDATE] = { EFAULT, EINVAL },
	[OP_INVALIDATE] = { EFAULT, EINVAL },
	[OP_READ_MISS] = { EAGAIN, EBADFD },
	[OP_MEM_TABLE] = { EPERM, EFAULT },
	[OP_VRING] = { EPERM, EBUSY, EFAULT, EINVAL },
	[OP_KICK_CALL] = { EPERM },
	[OP_BACKEND_ON] = { EPERM, EFAULT, EINVAL },
	/* EFAULT: the rings are checked for detach too, as upstream. */
	[OP_BACKEND_OFF] = { EPERM, EFAULT },
	/* EAGAIN: a thread limit, as workers pile up until RESET_OWNER. */
	[OP_NEW_WORKER] = { EPERM, EINVAL, EFAULT, EAGAIN },
	[OP_ATTACH_WORKER] = { EPERM, EINVAL, ENODEV },
	[OP_FREE_WORKER] = { EPERM, EINVAL, ENODEV, EBUSY },
	[OP_GET_WORKER] = { EPERM, EINVAL },
	[OP_RESET_OWNER] = { EPERM },
	[OP_SET_OWNER] = { EBUSY },
	[OP_MODE_SET] = { EBUSY, EPERM, EOPNOTSUPP },
	[OP_FEATURES] = { EPERM, EFAULT },
};

static bool op_errno_ok(enum op op, int err)
{
	unsigned int i;

	/* EINTR: the child, SIGKILLed in a blocking call. */
	if (err == EINTR)
		return true;
	for (i = 0; i < 5 && op_errnos[op][i]; i++)
		if (op_errnos[op][i] == err)
			return true;
	return false;
}

static void count(struct race *r, enum op op, long ret, int err)
{
	struct race_counts *c = r->cnt;

	__atomic_add_fetch(&c->calls[op], 1, __ATOMIC_RELAXED);
	if (ret >= 0) {
		__atomic_add_fetch(&c->ok[op], 1, __ATOMIC_RELAXED);
		return;
	}
	if (op_errno_ok(op, err))
		return;
	__atomic_add_fetch(&c->bad, 1, __ATOMIC_RELAXED);
	if (!in_child &&
	    __atomic_add_fetch(&c->bad_logged, 1, __ATOMIC_RELAXED) <= 5)
		diag("race: unexpected errno %d (%s) from %s", err,
		     strerror(err), op_name[op]);
}

/* Ring addresses: IOVAs (identity-mapped GPAs) with the IOTLB, else HVAs. */
static uint64_t ring_addr(struct race *r, uint64_t gpa)
{
	return r->iotlb ? gpa : (uint64_t)(unsigned long)r->mem + gpa;
}

static long iotlb_write(struct race *r, uint8_t type, uint64_t iova,
			uint64_t size)
{
	uint8_t buf[sizeof(struct vhost_msg_v2)];
	struct vhost_iotlb_msg *im;
	size_t len = iotlb_msg_init(buf, r->v2, &im);
	ssize_t n;

	im->type = type;
	im->iova = iova;
	im->size = size;
	if (type == VHOST_IOTLB_UPDATE) {
		im->uaddr = (unsigned long)r->mem + iova;
		im->perm = VHOST_ACCESS_RW;
	}
	n = write(r->fd, buf, len);
	if (n >= 0 && n != (ssize_t)len)
		errno = 0;	/* a short write: no errno is acceptable */
	return n == (ssize_t)len ? 0 : -1;
}

/* Read one message; answer a miss with an UPDATE of its 64 KiB block. */
static void read_miss(struct race *r, bool block)
{
	uint8_t buf[sizeof(struct vhost_msg_v2) + 16];
	struct vhost_iotlb_msg *im;
	struct pollfd p = { .fd = r->fd, .events = POLLIN };
	uint64_t base;
	ssize_t n;
	uint32_t type;

	if (block && poll(&p, 1, 20) != 1)
		return;
	n = read(r->fd, buf, sizeof(buf));
	count(r, OP_READ_MISS, n < 0 ? -1 : 0, errno);
	if (n < (ssize_t)sizeof(struct vhost_msg))
		return;
	memcpy(&type, buf, sizeof(type));
	im = type == VHOST_IOTLB_MSG_V2 ? &((struct vhost_msg_v2 *)buf)->iotlb :
					  &((struct vhost_msg *)buf)->iotlb;
	if (im->type != VHOST_IOTLB_MISS)
		return;
	base = im->iova & ~0xffffull;
	if (base >= GMEM_SIZE)
		return;
	if (!iotlb_write(r, VHOST_IOTLB_UPDATE, base, 0x10000))
		__atomic_add_fetch(&r->cnt->answered, 1, __ATOMIC_RELAXED);
	else
		count(r, OP_UPDATE, -1, errno);
}

static long set_mem_table(struct race *r)
{
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region r[1];
	} m = { .hdr.nregions = 1 };

	m.r[0].memory_size = GMEM_SIZE;
	m.r[0].userspace_addr = (unsigned long)r->mem;
	return xioc(r->fd, VHOST_SET_MEM_TABLE, &m);
}

static long set_vring(struct race *r, int q, unsigned int what)
{
	struct vhost_vring_state s = { .index = q };
	struct vhost_vring_addr a = { .index = q };

	switch (what) {
	case 0:
		s.num = RING;
		return xioc(r->fd, VHOST_SET_VRING_NUM, &s);
	case 1:
		return xioc(r->fd, VHOST_SET_VRING_BASE, &s);
	default:
		a.desc_user_addr = ring_addr(r, DESC_OFF(q));
		a.avail_user_addr = ring_addr(r, AVAIL_OFF(q));
		a.used_user_addr = ring_addr(r, USED_OFF(q));
		return xioc(r->fd, VHOST_SET_VRING_ADDR, &a);
	}
}

static long set_file(struct race *r, unsigned long nr, int q, int fd)
{
	struct vhost_vring_file f = { .index = q, .fd = fd };

	return xioc(r->fd, nr, &f);
}

/*
 * Owner, features, memory, rings, backend: what QEMU does at start.
 * Returns NULL if every step succeeded, else the first step that failed
 * (under races some do, as expected; alone, none may).
 */
static const char *bring_up(struct race *r)
{
	static const char *const vring_step[2][6] = {
		{ "RX SET_VRING_NUM", "RX SET_VRING_BASE", "RX SET_VRING_ADDR",
		  "RX SET_VRING_KICK", "RX SET_VRING_CALL", "RX SET_BACKEND" },
		{ "TX SET_VRING_NUM", "TX SET_VRING_BASE", "TX SET_VRING_ADDR",
		  "TX SET_VRING_KICK", "TX SET_VRING_CALL", "TX SET_BACKEND" },
	};
	uint64_t feat = (1ull << VIRTIO_F_VERSION_1) |
			(1ull << VIRTIO_NET_F_MRG_RXBUF);
	uint64_t bf = r->v2 ? 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2 : 0;
	const char *bad = NULL;
	long ret;
	int q, k;

	if (r->iotlb)
		feat |= 1ull << VIRTIO_F_ACCESS_PLATFORM;
	if (xioc(r->fd, VHOST_SET_OWNER, NULL) && errno != EBUSY)
		bad = "SET_OWNER";
	if (xioc(r->fd, VHOST_SET_BACKEND_FEATURES, &bf) && !bad)
		bad = "SET_BACKEND_FEATURES";
	if (xioc(r->fd, VHOST_SET_FEATURES, &feat) && !bad)
		bad = "SET_FEATURES";
	if (set_mem_table(r) && !bad)
		bad = "SET_MEM_TABLE";
	for (q = 0; q < 2; q++) {
		for (k = 0; k < 6; k++) {
			switch (k) {
			case 0: case 1: case 2:
				ret = set_vring(r, q, k);
				break;
			case 3:
				ret = set_file(r, VHOST_SET_VRING_KICK, q, r->kick[q]);
				break;
			case 4:
				ret = set_file(r, VHOST_SET_VRING_CALL, q, r->call[q]);
				break;
			default:
				ret = set_file(r, VHOST_NET_SET_BACKEND, q, r->tap);
			}
			if (ret && !bad)
				bad = vring_step[q][k];
		}
	}
	return bad;
}

/* A frame the liveness check can tell from the traffic's. */
static unsigned int put_frame(uint8_t *p, uint16_t ethertype, uint32_t tag)
{
	unsigned int i;

	memset(p, 0, HDR);
	memset(p + HDR, 0xff, 6);
	memset(p + HDR + 6, 0x02, 6);
	p[HDR + 12] = ethertype >> 8;
	p[HDR + 13] = ethertype & 0xff;
	memcpy(p + HDR + 14, &tag, sizeof(tag));
	for (i = HDR + 18; i < HDR + 64; i++)
		p[i] = i;
	return HDR + 64;
}

/* One TX chain (slot @i) and one RX buffer, and their kicks. */
static void post(struct race *r, unsigned int i)
{
	struct vring_desc *txd = (void *)(r->mem + DESC_OFF(1));
	struct vring_avail *txa = (void *)(r->mem + AVAIL_OFF(1));
	struct vring_desc *rxd = (void *)(r->mem + DESC_OFF(0));
	struct vring_avail *rxa = (void *)(r->mem + AVAIL_OFF(0));
	uint64_t txbuf = BUF_OFF + (i % RING) * 2048;
	uint64_t rxbuf = BUF_OFF + (RING + i % RING) * 2048;
	uint64_t one = 1;

	txd[i % RING].addr = txbuf;
	txd[i % RING].len = put_frame(r->mem + txbuf, 0x88b5, i);
	txd[i % RING].flags = 0;
	txa->ring[txa->idx % RING] = i % RING;
	rxd[i % RING].addr = rxbuf;
	rxd[i % RING].len = 2048;
	rxd[i % RING].flags = VRING_DESC_F_WRITE;
	rxa->ring[rxa->idx % RING] = i % RING;
	__sync_synchronize();
	txa->idx++;
	rxa->idx++;
	__sync_synchronize();
	if (write(r->kick[1], &one, 8) < 0 || write(r->kick[0], &one, 8) < 0)
		return;
}

static void *traffic(void *arg)
{
	struct racer *me = arg;
	struct race *r = me->r;
	uint8_t frame[128];
	unsigned int i;

	for (i = 0; now() < r->end; i++) {
		post(r, i);
		if (r->pkt >= 0) {
			put_frame(frame, 0x88b5, i);
			if (send(r->pkt, frame + HDR, 64, MSG_DONTWAIT) > 0)
				__atomic_add_fetch(&r->cnt->frames, 1,
						   __ATOMIC_RELAXED);
		}
		usleep(100 + rrn(me, 400));
	}
	return NULL;
}

static void *iommu(void *arg)
{
	struct racer *me = arg;
	struct race *r = me->r;

	while (now() < r->end)
		read_miss(r, true);
	return NULL;
}

static enum op pick_op(struct racer *me)
{
	unsigned int total = 0, i, x;

	for (i = 0; i < OP_NR; i++)
		total += op_weight[i];
	x = rrn(me, total);
	for (i = 0; x >= op_weight[i]; i++)
		x -= op_weight[i];
	return i;
}

static void one_op(struct racer *me)
{
	struct race *r = me->r;
	struct vhost_worker_state ws = { 0 };
	struct vhost_vring_worker vw = { 0 };
	uint64_t feat;
	enum op op = pick_op(me);
	int q = rrn(me, 2), fd;
	uint8_t mode = 0;
	long ret;

	switch (op) {
	case OP_UPDATE:
		ret = iotlb_write(r, VHOST_IOTLB_UPDATE,
				  rrn(me, GMEM_SIZE / 0x10000) * 0x10000,
				  0x10000 << rrn(me, 3));
		break;
	case OP_INVALIDATE:
		/* Now and then everything, as QEMU does (iova 0, size 0). */
		ret = rrn(me, 4) ? iotlb_write(r, VHOST_IOTLB_INVALIDATE,
					       rrn(me, GMEM_SIZE / 0x10000) *
					       0x10000, 0x10000) :
				   iotlb_write(r, VHOST_IOTLB_INVALIDATE, 0, 0);
		break;
	case OP_READ_MISS:
		read_miss(r, false);
		return;
	case OP_MEM_TABLE:
		ret = set_mem_table(r);
		break;
	case OP_VRING:
		ret = set_vring(r, q, rrn(me, 3));
		break;
	case OP_KICK_CALL:
		fd = rrn(me, 4) ? r->kick[q] : rrn(me, 2) ? r->spare : -1;
		ret = set_file(r, rrn(me, 2) ? VHOST_SET_VRING_KICK :
					       VHOST_SET_VRING_CALL, q, fd);
		if (!ret && fd == r->spare) /* the traffic's kicks stop: undo */
			set_file(r, VHOST_SET_VRING_KICK, q, r->kick[q]);
		break;
	case OP_BACKEND_ON:
		ret = set_file(r, VHOST_NET_SET_BACKEND, q, r->tap);
		break;
	case OP_BACKEND_OFF:
		ret = set_file(r, VHOST_NET_SET_BACKEND, q, -1);
		break;
	case OP_NEW_WORKER:
		ret = xioc(r->fd, VHOST_NEW_WORKER, &ws);
		break;
	case OP_ATTACH_WORKER:
		vw.index = q;
		vw.worker_id = rrn(me, 4);
		ret = xioc(r->fd, VHOST_ATTACH_VRING_WORKER, &vw);
		break;
	case OP_FREE_WORKER:
		ws.worker_id = rrn(me, 4);
		ret = xioc(r->fd, VHOST_FREE_WORKER, &ws);
		break;
	case OP_GET_WORKER:
		vw.index = q;
		ret = xioc(r->fd, VHOST_GET_VRING_WORKER, &vw);
		break;
	case OP_RESET_OWNER:
		ret = xioc(r->fd, VHOST_RESET_OWNER, NULL);
		break;
	case OP_SET_OWNER:
		ret = xioc(r->fd, VHOST_SET_OWNER, NULL);
		/* Whoever owns the device now sets it up again at once. */
		if (!ret)
			bring_up(r);
		break;
	case OP_MODE_SET:
		mode = rrn(me, 2);
		ret = xioc(r->fd, rrn(me, 2) ? VHOST_KT_SET_FORK_FROM_OWNER :
				   VHOST_KT_SET_FORK_FROM_OWNER_OLD, &mode);
		break;
	case OP_MODE_GET:
		ret = xioc(r->fd, rrn(me, 2) ? VHOST_KT_GET_FORK_FROM_OWNER :
				   VHOST_KT_GET_FORK_FROM_OWNER_OLD, &mode);
		break;
	case OP_FEATURES:
		feat = (1ull << VIRTIO_F_VERSION_1) |
		       (1ull << VIRTIO_NET_F_MRG_RXBUF) |
		       (r->iotlb ? 1ull << VIRTIO_F_ACCESS_PLATFORM : 0) |
		       (rrn(me, 8) ? 0 : 1ull << VHOST_F_LOG_ALL);
		ret = xioc(r->fd, VHOST_SET_FEATURES, &feat);
		break;
	default: /* OP_CLOSE: the old file goes once in-flight calls end */
		fd = open(r->node, O_RDWR | O_CLOEXEC | O_NONBLOCK);
		ret = fd;
		if (fd >= 0) {
			ret = dup2(fd, r->fd) < 0 ? -1 : 0;
			close(fd);
			if (!ret && rrn(me, 2))
				bring_up(r);
		}
		break;
	}
	count(r, op, ret, errno);
}

static void *racer_loop(void *arg)
{
	struct racer *me = arg;
	unsigned long n;

	for (n = 0; n < RACE_OPS_MAX && now() < me->r->end; n++)
		one_op(me);
	return NULL;
}

/* Bounded join: false if the thread did not end RACE_HANG s after @end. */
static bool join_by(pthread_t th, double end)
{
	struct timespec ts;
	double t = end + RACE_HANG;

	clock_gettime(CLOCK_REALTIME, &ts);
	t += ts.tv_sec + ts.tv_nsec / 1e9 - now();
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - ts.tv_sec) * 1e9);
	return pthread_timedjoin_np(th, NULL, &ts) == 0;
}

static bool wait_child(pid_t pid, double end, int *status)
{
	while (now() < end + RACE_HANG) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			return true;
		if (w < 0)
			return false;
		usleep(10000);
	}
	return false;
}

/*
 * Alone again: the device must restart and move a TX chain to the tap.
 * Returns true if it did.  *@fresh says whether it had to be opened
 * afresh (the child owned it), which leaves the old file untested.
 */
static bool liveness(struct race *r, uint32_t tag, bool *fresh)
{
	volatile uint16_t *used_idx = (void *)(r->mem + USED_OFF(1) + 2);
	struct vring_desc *txd = (void *)(r->mem + DESC_OFF(1));
	struct vring_avail *txa = (void *)(r->mem + AVAIL_OFF(1));
	struct vhost_vring_state base = { .index = 1 };
	bool sent = false;
	const char *bad;
	uint8_t buf[2048];
	uint64_t one = 1;
	double end;
	int fd;

	/*
	 * The same file if we own it or nobody does: a vq work item left
	 * marked queued would show there.  An unowned device may still be in
	 * IOTLB mode (SET_FEATURES needs no owner, as upstream): own it, then
	 * reset it.
	 */
	*fresh = false;
	if (xioc(r->fd, VHOST_RESET_OWNER, NULL) &&
	    (xioc(r->fd, VHOST_SET_OWNER, NULL) ||
	     xioc(r->fd, VHOST_RESET_OWNER, NULL)) && errno == EBUSY) {
		fd = open(r->node, O_RDWR | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0 || dup2(fd, r->fd) < 0) {
			diag("race: %s: reopen: %s", r->node, strerror(errno));
			return false;
		}
		close(fd);
		*fresh = true;
	}
	r->iotlb = false;
	memset(r->mem, 0, BUF_OFF);
	while (recv(r->pkt, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	bad = bring_up(r);
	if (bad) {
		diag("race: %s: plain bring-up after the episode: %s failed (%s)",
		     r->node, bad, strerror(errno));
		return false;
	}
	txd[0].addr = BUF_OFF;
	txd[0].len = put_frame(r->mem + BUF_OFF, RACE_ETHERTYPE, tag);
	txa->ring[0] = 0;
	__sync_synchronize();
	txa->idx = 1;
	__sync_synchronize();
	if (write(r->kick[1], &one, 8) != 8)
		return false;
	/* The frame leaves first, then the used ring is written: wait for both. */
	/* Generous: only a failure waits it out, on a slow emulated guest. */
	for (end = now() + 20; now() < end && !(sent && *used_idx == 1);) {
		struct pollfd p = { .fd = r->pkt, .events = POLLIN };
		ssize_t n;

		if (sent || poll(&p, 1, 50) != 1) {
			usleep(sent ? 1000 : 0);
			continue;
		}
		n = recv(r->pkt, buf, sizeof(buf), MSG_DONTWAIT);
		if (n >= 18 && buf[12] == RACE_ETHERTYPE >> 8 &&
		    buf[13] == (RACE_ETHERTYPE & 0xff) &&
		    !memcmp(buf + 14, &tag, sizeof(tag)))
			sent = true;
	}
	if (sent && *used_idx == 1)
		return true;
	xioc(r->fd, VHOST_GET_VRING_BASE, &base);
	diag("race: %s: after the episode a kick %s (used idx %u, last avail %u)",
	     r->node, sent ? "sent the frame but the used ring stayed" :
			     "sent no frame", *used_idx, base.num);
	return false;
}

void phase_race(const char *node)
{
	struct racer rc[RACE_THREADS + 2], child = { 0 };
	struct race r = { .node = node, .fd = -1, .tap = -1, .pkt = -1 };
	unsigned long episodes = 0, live = 0, same = 0, ep;
	unsigned int i, nth, hung = 0, kills = 0, released = 0, child_bad = 0;
	bool task_mode = false, fresh, reaped, gave_up, killed;
	uint8_t mode = 0;
	char ifname[IFNAMSIZ];
	int q, fd, status;
	pid_t pid;

	if (!strstr(node, "-net"))
		return;
	if (!opt_tap) {
		skip("needs a tap", "%s: race", node);
		return;
	}
	r.cnt = mmap(NULL, sizeof(*r.cnt), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	r.mem = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	r.tap = tap_create(ifname);
	r.pkt = r.tap < 0 ? -1 : packet_socket(ifname);
	fd = open(node, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (r.cnt == MAP_FAILED || r.mem == MAP_FAILED || r.pkt < 0 || fd < 0) {
		check(false, "%s: race: set up (tap, memory, open: %s)", node,
		      strerror(errno));
		return;
	}
	/* A high fd number of its own: dup2 targets it, nothing else. */
	r.fd = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	close(fd);
	ioctl(r.tap, TUNSETVNETHDRSZ, &(int){ HDR });
	for (q = 0; q < 2; q++) {
		r.kick[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		r.call[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	}
	r.spare = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!xioc(r.fd, VHOST_KT_GET_FORK_FROM_OWNER, &mode))
		task_mode = mode == 1;

	/* --iterations caps the episodes (a regression case replays a few). */
	for (ep = 0; ep < opt_iterations && !out_of_time(); ep++) {
		/*
		 * The first two episodes cover both translation modes, so
		 * that a slow guest that fits only a few still answers
		 * misses; the rest are drawn.
		 */
		r.iotlb = ep == 0 || (ep > 1 && chance(60));
		r.v2 = chance(50);
		r.end = now() + RACE_EPISODE;
		if (r.end > t_end)
			r.end = t_end;
		memset(r.mem, 0, GMEM_SIZE);
		bring_up(&r);

		nth = 0;
		for (i = 0; i < RACE_THREADS + 2; i++) {
			rc[i] = (struct racer){ .r = &r, .rng = rnd() };
			if (pthread_create(&rc[i].th, NULL,
					   i == 0 ? traffic : i == 1 ? iommu :
					   racer_loop, &rc[i]))
				break;
			nth++;
		}
		child.rng = rnd();
		child.r = &r;
		child.child = true;
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			/* Only this thread lives on in the child. */
			in_child = true;
			racer_loop(&child);
			_exit(0);
		}
		killed = pid > 0 && chance(30);
		if (killed) {
			usleep(rn((useconds_t)(RACE_EPISODE * 1e6)));
			kill(pid, SIGKILL);
			kills++;
		}
		for (i = 0; i < nth; i++) {
			if (!join_by(rc[i].th, r.end)) {
				hung++;
				diag("race: %s: a thread still runs %.0f s after its episode ended",
				     node, RACE_HANG);
			}
		}
		/*
		 * A child that became the owner in task mode may not be
		 * reapable yet: with the three-argument vhost_task (Linux
		 * 6.4-6.9) its worker thread lives, and keeps the child's
		 * thread group alive, until the device is released.  The
		 * raced file is then given up for a fresh one (and the
		 * liveness check below runs on that).
		 */
		reaped = pid <= 0 || wait_child(pid, now() - RACE_HANG + 5, &status);
		gave_up = !reaped;
		if (!reaped) {
			fd = open(node, O_RDWR | O_CLOEXEC | O_NONBLOCK);
			if (fd >= 0) {
				dup2(fd, r.fd);
				close(fd);
				released++;
			}
			reaped = wait_child(pid, r.end, &status);
		}
		if (!reaped) {
			hung++;
			diag("race: %s: the child still runs %.0f s after its episode ended",
			     node, RACE_HANG);
			kill(pid, SIGKILL);
		} else if (pid < 0 ||
			   !((WIFEXITED(status) && !WEXITSTATUS(status)) ||
			     (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
			      killed))) {
			child_bad++;
			diag("race: %s: the child %s", node, pid < 0 ?
			     "could not be forked" : "ended other than by exit(0) or our SIGKILL");
		}
		if (hung)
			break;	/* a hung thread still uses r: stop here */
		episodes++;
		live += liveness(&r, (uint32_t)ep, &fresh);
		same += !fresh && !gave_up;
	}

	for (i = 0; i < OP_NR; i++)
		diag("race: %s: %-24s %lu calls, %lu succeeded", node,
		     op_name[i], r.cnt->calls[i], r.cnt->ok[i]);
	diag("race: %s: %lu episodes (%s mode), %lu misses read and answered, %lu frames sent into the tap, child killed %u times, raced file released to reap the child %u times",
	     node, episodes, task_mode ? "task" : "kthread", r.cnt->answered,
	     r.cnt->frames, kills, released);

	check(!hung, "%s: race: every thread and the child ended within %.0f s of their episode's end",
	      node, RACE_HANG);
	check(episodes >= 2 && !r.cnt->bad && !child_bad,
	      "%s: race: %lu episodes, every errno one the input may get",
	      node, episodes);
	{
		/* What must have happened for the run to mean anything. */
		static const enum op must[] = {
			OP_UPDATE, OP_INVALIDATE, OP_MEM_TABLE, OP_VRING,
			OP_KICK_CALL, OP_BACKEND_ON, OP_BACKEND_OFF,
			OP_RESET_OWNER, OP_SET_OWNER, OP_MODE_SET, OP_FEATURES,
			OP_CLOSE, OP_GET_WORKER,
		};
		char missing[512] = "";
		size_t k;

		for (k = 0; k < sizeof(must) / sizeof(must[0]); k++)
			if (!r.cnt->ok[must[k]])
				snprintf(missing + strlen(missing),
					 sizeof(missing) - strlen(missing),
					 " %s", op_name[must[k]]);
		/* Task mode only: kthread mode refuses NEW_WORKER. */
		if (task_mode && !r.cnt->ok[OP_NEW_WORKER])
			strcat(missing, " NEW_WORKER");
		if (task_mode && !r.cnt->ok[OP_ATTACH_WORKER])
			strcat(missing, " ATTACH_VRING_WORKER");
		if (task_mode && !r.cnt->ok[OP_FREE_WORKER])
			strcat(missing, " FREE_WORKER");
		if (!r.cnt->calls[OP_READ_MISS] || !r.cnt->answered)
			strcat(missing, " misses-answered");
		check(!missing[0] && r.cnt->frames,
		      "%s: race: every operation ran and the ones that matter succeeded%s%s",
		      node, missing[0] ? "; never succeeded:" : "", missing);
	}
	/*
	 * Where the child had taken the device over, the check ran on a fresh
	 * open; at least one must have run on the raced file itself.
	 */
	check(episodes && live == episodes && same,
	      "%s: race: after each episode the device restarts and a kick sends a frame (%lu of %lu, %lu on the raced file itself)",
	      node, live, episodes, same);
	if (hung) {
		/* Threads may still use r and rc[]: end the process here. */
		fflush(stdout);
		_exit(tap_end());
	}

	close(r.fd);
	close(r.tap);
	close(r.pkt);
	for (q = 0; q < 2; q++) {
		close(r.kick[q]);
		close(r.call[q]);
	}
	close(r.spare);
	munmap(r.mem, GMEM_SIZE);
	munmap(r.cnt, sizeof(*r.cnt));
}
