// SPDX-License-Identifier: GPL-2.0-only
/* Phases rings, fork and exits: running devices and their owners. */
#define _GNU_SOURCE
#include "fuzz.h"

/* ---- phase: corrupt running rings ---- */

static void put_desc(struct dev *d, int q, unsigned int i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc *desc = (void *)(d->mem + DESC_OFF(q));

	desc[i % RING].addr = addr;
	desc[i % RING].len = len;
	desc[i % RING].flags = flags;
	desc[i % RING].next = next;
}

static uint64_t rand_gpa(void)
{
	switch (rn(6)) {
	case 0:
		return ~0ull - rn(PAGE);
	case 1:
		return GMEM_SIZE - rn(64);
	case 2:
		return 0x100000000ull + rn(PAGE);
	case 3:
		return rnd();
	default:
		return BUF_OFF + rn(GMEM_SIZE - BUF_OFF - 0x10000);
	}
}

static uint32_t rand_len(void)
{
	switch (rn(5)) {
	case 0:
		return 0xffffffffu - rn(16);
	case 1:
		return 0;
	case 2:
		return rnd();
	default:
		return 1 + rn(4096);
	}
}

/* Used rings we made read-only (writing them would fault us, not vhost). */
static bool used_ro[2];

/* One mutation of ring @q of a running device. */
static void corrupt(struct dev *d, int q)
{
	struct vring_avail *avail = (void *)(d->mem + AVAIL_OFF(q));
	struct vring_used *used = (void *)(d->mem + USED_OFF(q));
	unsigned int head = rn(RING), i, n;
	uint16_t idx = avail->idx;

	switch (rn(10)) {
	case 0: /* a loop */
		put_desc(d, q, head, rand_gpa(), rand_len(), VRING_DESC_F_NEXT,
			 head);
		break;
	case 1: /* a longer loop */
		n = 2 + rn(8);
		for (i = 0; i < n; i++)
			put_desc(d, q, head + i, BUF_OFF + i * 128, 128,
				 VRING_DESC_F_NEXT | (rn(2) * VRING_DESC_F_WRITE),
				 (head + (i + 1) % n) % RING);
		break;
	case 2: { /* an indirect table holding an indirect descriptor */
		uint64_t tbl = BUF_OFF + rn(64) * 256;
		struct vring_desc *t = (void *)(d->mem + tbl);

		n = 1 + rn(8);
		for (i = 0; i < n; i++) {
			t[i].addr = chance(50) ? tbl : rand_gpa();
			t[i].len = chance(50) ? 16 * n : rand_len();
			t[i].flags = rn(8);
			t[i].next = chance(80) ? i + 1 : rnd();
		}
		put_desc(d, q, head, tbl, chance(80) ? 16 * n : rand_len(),
			 VRING_DESC_F_INDIRECT | (chance(20) ? VRING_DESC_F_NEXT : 0),
			 rn(RING));
		break;
	}
	case 3: /* random descriptor */
		put_desc(d, q, head, rand_gpa(), rand_len(), rnd(), rnd());
		break;
	case 4: /* a plausible chain (so the data paths really run) */
		n = 1 + rn(4);
		for (i = 0; i < n; i++)
			put_desc(d, q, head + i, BUF_OFF + rn(1024) * 1024,
				 chance(10) ? rand_len() : 14 + rn(1500),
				 (i + 1 < n ? VRING_DESC_F_NEXT : 0) |
				 (q == 0 ? VRING_DESC_F_WRITE : 0),
				 (head + i + 1) % RING);
		break;
	case 5: /* avail index jumps beyond the ring */
		avail->idx = idx + RING + 1 + rn(0x8000);
		break;
	case 6: /* random avail entries */
		for (i = 0; i < 1 + rn(8); i++)
			avail->ring[(idx + i) % RING] = chance(70) ? rn(RING) : rnd();
		avail->idx = idx + 1 + rn(8);
		break;
	case 7: /* used event / flags garbage */
		avail->flags = rnd();
		avail->ring[RING] = rnd();	/* used_event */
		if (!used_ro[q])
			used->flags = rnd();
		break;
	case 8: /* index going backwards */
		avail->idx = idx - 1 - rn(4);
		break;
	default:
		avail->ring[idx % RING] = head;
		avail->idx = idx + 1;
	}
	__sync_synchronize();
}

/*
 * Frames sent on the tap interface (packet socket) reach the RX queue;
 * frames written to the tap fd, with garbage GSO headers at times, go to
 * the stack beside the worker's TX.
 */
static void tap_inject(struct dev *d)
{
	uint8_t pkt[1600];
	size_t hdr = sizeof(struct virtio_net_hdr), len = 60 + rn(1400);

	fill_random(pkt, sizeof(pkt));
	memset(pkt, 0xff, 6);	/* broadcast */
	if (d->pkt >= 0 && send(d->pkt, pkt, len, MSG_DONTWAIT) < 0 &&
	    errno == EBADF)
		return;
	if (!chance(20))
		return;
	memset(pkt, 0, hdr);
	if (chance(30))
		fill_random(pkt, hdr);
	memset(pkt + hdr, 0xff, 6);
	if (write(d->tap, pkt, hdr + len) < 0)
		return;
}

void phase_rings(const char *node)
{
	unsigned long it, muts = 0, runs = 0, slow_close = 0, resets = 0;
	struct dev d;

	for (it = 0; it < opt_iterations / 20 + 1 && !out_of_time(); it++) {
		int reached = dev_setup(&d, node, 4, chance(50) ? (int)rn(2) : -1);
		int j, n = 50 + rn(500);
		double t;

		if (reached < 3) {
			dev_close(&d);
			continue;
		}
		runs++;
		for (j = 0; j < n && !out_of_time(); j++) {
			int q = rn(2);

			corrupt(&d, q);
			muts++;
			if (chance(30))
				kick(&d, q);
			if (d.tap >= 0 && chance(20))
				tap_inject(&d);
			if (chance(3)) {
				/* The used ring turns read-only under the worker. */
				used_ro[q] = !used_ro[q];
				mprotect(d.mem + USED_OFF(q), PAGE, used_ro[q] ?
					 PROT_READ : PROT_READ | PROT_WRITE);
			}
			if (chance(2)) {
				struct vhost_vring_file f = { rn(2), -1 };

				/* Detach and reattach the backend. */
				if (d.is_net && d.tap >= 0) {
					xioc(d.fd, VHOST_NET_SET_BACKEND, &f);
					f.fd = d.tap;
					xioc(d.fd, VHOST_NET_SET_BACKEND, &f);
				}
			}
			if (chance(1)) {
				struct vhost_vring_state s = { rn(2), 0 };

				xioc(d.fd, VHOST_GET_VRING_BASE, &s);
			}
			if (chance(1) && !xioc(d.fd, VHOST_RESET_OWNER, NULL))
				resets++;
			if (chance(10))
				usleep(rn(2000));
		}
		mprotect(d.mem, GMEM_SIZE, PROT_READ | PROT_WRITE);
		used_ro[0] = used_ro[1] = false;
		t = now();
		dev_close(&d);
		if (now() - t > 5)
			slow_close++;
	}
	check(slow_close == 0, "%s: rings: %lu running devices, %lu mutations, "
	      "%lu resets under traffic, %lu closes slower than 5 s", node, runs,
	      muts, resets, slow_close);
}

/* ---- phase: a forked child uses the parent's fd ---- */

static const unsigned long owner_only[] = {
	VHOST_SET_MEM_TABLE, VHOST_SET_LOG_BASE, VHOST_SET_VRING_NUM,
	VHOST_SET_VRING_ADDR, VHOST_SET_VRING_BASE, VHOST_GET_VRING_BASE,
	VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_SET_VRING_ERR,
	VHOST_RESET_OWNER, VHOST_SET_LOG_FD,
};

void phase_fork(const char *node)
{
	unsigned long it, children = 0, wrong = 0;
	struct dev d;

	for (it = 0; it < opt_iterations / 50 + 1 && !out_of_time(); it++) {
		int stage = 1 + rn(4), status;
		pid_t pid;

		if (dev_setup(&d, node, stage, -1) < 1) {
			dev_close(&d);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			unsigned int k, bad = 0;

			alarm(20);
			for (k = 0; k < sizeof(owner_only) / sizeof(owner_only[0]); k++) {
				uint64_t arg[8] = { 0 };
				long r = ioctl(d.fd, owner_only[k], arg);

				if (r != -1 || errno != EPERM) {
					printf("# child: ioctl %#lx gave %ld/%s, not EPERM\n",
					       owner_only[k], r, strerror(errno));
					bad++;
				}
			}
			if (d.is_net) {
				struct vhost_vring_file f = { 0, -1 };

				if (ioctl(d.fd, VHOST_NET_SET_BACKEND, &f) != -1 ||
				    errno != EPERM) {
					printf("# child: NET_SET_BACKEND not EPERM\n");
					bad++;
				}
			}
			if (ioctl(d.fd, VHOST_SET_OWNER) != -1 || errno != EBUSY) {
				printf("# child: SET_OWNER gave %s, not EBUSY\n",
				       strerror(errno));
				bad++;
			}
			/* Non-owner ioctls must not disturb the parent either. */
			kick(&d, 0);
			if (chance(50))
				close(d.fd);
			fflush(stdout);
			_exit(bad ? 1 : 0);
		}
		children++;
		if (pid < 0 || waitpid(pid, &status, 0) != pid ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			wrong++;
		/* The parent still owns and configures its device. */
		{
			struct vhost_vring_state s = { 0, RING };

			if (stage < 4 && xioc(d.fd, VHOST_SET_VRING_NUM, &s)) {
				diag("parent's SET_VRING_NUM after the child: %s",
				     strerror(errno));
				wrong++;
			}
		}
		dev_close(&d);
	}
	check(wrong == 0, "%s: fork: %lu children, owner-only ioctls gave EPERM "
	      "and SET_OWNER EBUSY in all but %lu", node, children, wrong);
}

/* ---- phase: close, exit and SIGKILL at random points ---- */

void phase_exits(const char *node)
{
	unsigned long it, children = 0, slow = 0, odd = 0;

	for (it = 0; it < opt_iterations / 50 + 1 && !out_of_time(); it++) {
		uint64_t child_seed = rnd();
		int how = rn(3), status;
		double t;
		pid_t pid;

		pid = fork();
		if (pid == 0) {
			struct dev d, d2;
			int j;

			rng_state = child_seed;
			dev_setup(&d, node, rn(5), chance(50) ? (int)rn(2) : -1);
			if (chance(30))	/* a second device, left open */
				dev_setup(&d2, node, rn(5), -1);
			for (j = 0; j < (int)rn(200); j++) {
				if (d.mem) {
					corrupt(&d, rn(2));
					kick(&d, rn(2));
				}
				if (d.tap >= 0 && chance(30))
					tap_inject(&d);
			}
			if (how == 0)
				dev_close(&d);
			if (chance(50))
				_exit(0);
			pause();
			_exit(0);
		}
		if (pid < 0)
			continue;
		children++;
		usleep(rn(100000));
		kill(pid, SIGKILL);
		t = now();
		/* Bounded wait: 15 s for the child to be reaped. */
		while (waitpid(pid, &status, WNOHANG) == 0) {
			if (now() - t > 15) {
				slow++;
				diag("child %d not gone 15 s after SIGKILL", pid);
				waitpid(pid, &status, 0);
				break;
			}
			usleep(10000);
		}
		if ((WIFEXITED(status) && WEXITSTATUS(status)) ||
		    (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)) {
			odd++;
			diag("child status %#x", status);
		}
	}
	check(slow == 0 && odd == 0, "%s: exits: %lu children closed, exited or "
	      "were killed at random points, %lu slow, %lu failed", node,
	      children, slow, odd);
}

