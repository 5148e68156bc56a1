// SPDX-License-Identifier: GPL-2.0-only
/* Phases ioctls, memtable and iotlb: the control plane. */
#define _GNU_SOURCE
#include "fuzz.h"

/* ---- the ioctl table ---- */

enum { F_RD = 1, F_WR = 2, F_BIG = 4, F_OWNER = 8 };

struct ioc {
	unsigned long nr;
	const char *name;
	unsigned int flags;	/* F_RD: reads *arg, F_WR: writes *arg */
};

/* Every number of <linux/vhost.h> (6.17), with its direction and size. */
static const struct ioc iocs[] = {
	{ IOR(0x00, 8), "GET_FEATURES", F_WR },
	{ IOW(0x00, 8), "SET_FEATURES", F_RD },
	{ IONONE(0x01), "SET_OWNER", 0 },
	{ IONONE(0x02), "RESET_OWNER", F_OWNER },
	{ IOW(0x03, 8), "SET_MEM_TABLE", F_RD | F_BIG | F_OWNER },
	{ IOW(0x04, 8), "SET_LOG_BASE", F_RD | F_OWNER },
	{ IOW(0x07, 4), "SET_LOG_FD", F_RD | F_OWNER },
	{ IOR(0x08, 4), "NEW_WORKER", F_WR | F_BIG | F_OWNER },
	{ IOW(0x09, 4), "FREE_WORKER", F_RD | F_OWNER },
	{ IOW(0x10, 8), "SET_VRING_NUM", F_RD | F_OWNER },
	{ IOW(0x11, 40), "SET_VRING_ADDR", F_RD | F_OWNER },
	{ IOW(0x12, 8), "SET_VRING_BASE", F_RD | F_OWNER },
	{ IOWR(0x12, 8), "GET_VRING_BASE", F_RD | F_WR | F_OWNER },
	{ IOW(0x13, 8), "SET_VRING_ENDIAN", F_RD | F_OWNER },
	{ IOWR(0x14, 8), "GET_VRING_ENDIAN", F_RD | F_WR | F_OWNER },
	{ IOW(0x15, 8), "ATTACH_VRING_WORKER", F_RD | F_OWNER },
	{ IOWR(0x16, 8), "GET_VRING_WORKER", F_RD | F_WR | F_OWNER },
	{ IOW(0x20, 8), "SET_VRING_KICK", F_RD | F_OWNER },
	{ IOW(0x21, 8), "SET_VRING_CALL", F_RD | F_OWNER },
	{ IOW(0x22, 8), "SET_VRING_ERR", F_RD | F_OWNER },
	{ IOW(0x23, 8), "SET_VRING_BUSYLOOP_TIMEOUT", F_RD | F_OWNER },
	{ IOW(0x24, 8), "GET_VRING_BUSYLOOP_TIMEOUT", F_RD | F_WR | F_OWNER },
	{ IOW(0x25, 8), "SET_BACKEND_FEATURES", F_RD },
	{ IOR(0x26, 8), "GET_BACKEND_FEATURES", F_WR },
	{ IOW(0x30, 8), "NET_SET_BACKEND", F_RD | F_OWNER },
	{ IOW(0x31, 4), "TEST_RUN", F_RD },
	{ IOW(0x33, 8), "TEST_SET_BACKEND", F_RD },
	{ IOW(0x40, 232), "SCSI_SET_ENDPOINT", F_RD },
	{ IOW(0x41, 232), "SCSI_CLEAR_ENDPOINT", F_RD },
	{ IOW(0x42, 4), "SCSI_GET_ABI_VERSION", F_RD },
	{ IOW(0x43, 4), "SCSI_SET_EVENTS_MISSED", F_RD },
	{ IOW(0x44, 4), "SCSI_GET_EVENTS_MISSED", F_RD },
	{ IOW(0x60, 8), "VSOCK_SET_GUEST_CID", F_RD },
	{ IOW(0x61, 4), "VSOCK_SET_RUNNING", F_RD },
	{ IOR(0x70, 1), "VDPA_GET_DEVICE_ID", F_WR },
	{ IOR(0x71, 1), "VDPA_GET_STATUS", F_WR },
	{ IOW(0x72, 1), "VDPA_SET_STATUS", F_RD },
	{ IOR(0x73, 8), "VDPA_GET_CONFIG", F_WR },
	{ IOW(0x74, 8), "VDPA_SET_CONFIG", F_RD },
	{ IOW(0x75, 8), "VDPA_SET_VRING_ENABLE", F_RD },
	{ IOR(0x76, 2), "VDPA_GET_VRING_NUM", F_WR },
	{ IOW(0x77, 8), "VDPA_SET_CONFIG_CALL", F_RD },
	{ IOR(0x78, 16), "VDPA_GET_IOVA_RANGE", F_WR },
	{ IOR(0x79, 4), "VDPA_GET_CONFIG_SIZE", F_WR },
	{ IOR(0x7a, 4), "VDPA_GET_VQS_COUNT", F_WR },
	{ IOR(0x7b, 4), "VDPA_GET_GROUP_NUM", F_WR },
	{ IOR(0x7c, 4), "VDPA_GET_AS_NUM", F_WR },
	{ IOWR(0x7b, 8), "VDPA_GET_VRING_GROUP", F_RD | F_WR },
	{ IOW(0x7c, 8), "VDPA_SET_GROUP_ASID", F_RD },
	{ IONONE(0x7d), "VDPA_SUSPEND", 0 },
	{ IONONE(0x7e), "VDPA_RESUME", 0 },
	{ IOR(0x80, 8), "VDPA_GET_VRING_DESC_GROUP", F_WR },
	{ IOR(0x81, 8), "VDPA_GET_VRING_SIZE", F_WR },
	{ IOR(0x82, 4), "VDPA_GET_VRING_GROUP_ASID", F_WR },
	{ IOR(0x83, 8), "GET_FEATURES_ARRAY", F_WR | F_RD },
	{ IOW(0x83, 8), "SET_FEATURES_ARRAY", F_RD },
	{ IOW(0x83, 1), "SET_FORK_FROM_OWNER(old)", F_RD },
	{ IOR(0x84, 1), "GET_FORK_FROM_OWNER(old)", F_WR },
	{ IOW(0x84, 1), "SET_FORK_FROM_OWNER", F_RD },
	{ IOR(0x85, 1), "GET_FORK_FROM_OWNER", F_WR },
	{ KT_TEST_RUN, "KT_TEST_RUN", F_RD },
	{ KT_TEST_STATS, "KT_TEST_GET_STATS", F_WR },
};
#define NIOCS (sizeof(iocs) / sizeof(iocs[0]))

/*
 * Is @err acceptable for an ioctl or write of this class?  EIO and
 * kernel-internal numbers (>= 512, e.g. ENOIOCTLCMD leaking out) never
 * are; ENOMEM only where the input asks for real allocations.
 */
bool fuzz_errno_ok(int err, bool big)
{
	switch (err) {
	case EINVAL: case EFAULT: case EPERM: case EBUSY: case ENOTTY:
	case EOPNOTSUPP: case ENOBUFS: case E2BIG: case EEXIST: case ENOENT:
	case EBADF: case ENOTSOCK: case ENXIO: case ENOSPC: case ERANGE:
	case ENODEV: case EAGAIN: case ENOTCONN:
		return true;
	case ENOMEM:
		return big;
	default:
		return false;
	}
}


void note(struct stats *s, const char *what, const char *cls, long r,
		 int err, bool big)
{
	s->calls++;
	if (r >= 0) {
		s->ok++;
		return;
	}
	s->errs++;
	if (!fuzz_errno_ok(err, big)) {
		s->bad++;
		if (s->bad <= 5)
			diag("unexpected errno %d (%s) from %s with %s argument",
			     err, strerror(err), what, cls);
	}
}

/* ---- phase: ioctls ---- */

void phase_ioctls(const char *node)
{
	struct stats st = { 0 };
	unsigned long kernel_accepted = 0, it;
	struct dev d;

	for (it = 0; it < opt_iterations && !out_of_time(); it++) {
		int stage = rn(5), n = 1 + rn(40), j;

		dev_setup(&d, node, stage, chance(50) ? (int)rn(3) : -1);
		if (d.fd < 0) {
			note(&st, "open", "-", -1, errno, false);
			continue;
		}
		for (j = 0; j < n; j++) {
			const struct ioc *io = &iocs[rn(NIOCS)];
			unsigned long nr = io->nr, arg;
			enum arg_class c = rn(ARG_NCLASS);
			long r;

			if (chance(5))	/* a random number in our type */
				nr = _IOC(rn(4), V, rn(256), rn(300));
			else if (chance(3))
				nr = rnd();
			if (chance(10))	/* right number, wrong size */
				nr = _IOC(_IOC_DIR(nr), _IOC_TYPE(nr),
					  _IOC_NR(nr), rn(64));
			arg = make_arg(c, _IOC_SIZE(nr));
			if (c == ARG_GOOD && io->nr == VHOST_SET_MEM_TABLE &&
			    chance(70))
				*(uint32_t *)goodbuf = rn(3);
			r = ioctl(d.fd, nr, arg);
			note(&st, io->name, class_name[c], r, errno,
			     !!(io->flags & F_BIG) && nr == io->nr);
			if (r == 0 && c == ARG_KERNEL && nr == io->nr &&
			    (io->flags & (F_RD | F_WR)) &&
			    io->nr != VHOST_SET_LOG_BASE) {
				kernel_accepted++;
				if (kernel_accepted <= 3)
					diag("%s accepted kernel pointer %#lx",
					     io->name, arg);
			}
			if (chance(5))
				kick(&d, rn(2));
		}
		dev_close(&d);
	}
	check(st.bad == 0 && kernel_accepted == 0,
	      "%s: ioctls: %lu calls (%lu ok, %lu errors) in %lu devices, "
	      "%lu unexpected errnos, %lu kernel pointers accepted",
	      node, st.calls, st.ok, st.errs, it, st.bad, kernel_accepted);
}

/* ---- phase: memory tables ---- */

static void odd_region(struct vhost_memory_region *r, uint8_t *mem)
{
	static const uint64_t sizes[] = {
		0, 1, PAGE - 1, PAGE, 1ull << 32, 1ull << 47, ~0ull,
		~0ull - PAGE + 1, 0x8000000000000000ull,
	};

	r->guest_phys_addr = chance(50) ? rn(8) * PAGE + (chance(20) ? rn(PAGE) : 0) :
			     ~0ull - rn(3) * PAGE - rn(2);
	r->memory_size = chance(60) ? rn(16) * PAGE + (chance(20) ? 1 : 0) :
			 sizes[rn(9)];
	switch (rn(6)) {
	case 0:
		r->userspace_addr = (unsigned long)mem + rn(16) * PAGE +
				    (chance(20) ? rn(PAGE) : 0);
		break;
	case 1:
		r->userspace_addr = 0x800000000000ull - rn(4) * PAGE - rn(2);
		break;
	case 2:
		r->userspace_addr = ~0ull - rn(4) * PAGE;
		break;
	case 3:
		r->userspace_addr = kernel_addrs[rn(6)];
		break;
	case 4:
		r->userspace_addr = 0;
		break;
	default:
		r->userspace_addr = rnd();
	}
	r->flags_padding = chance(10) ? rnd() : 0;
}

void phase_memtable(const char *node)
{
	static const uint32_t counts[] = {
		0, 1, 2, 3, 63, 64, 65, 509, 510, 0x10000, 0x7fffffff,
		0xffffffff, 0x10000000,
	};
	struct vhost_memory *m;
	struct stats st = { 0 };
	unsigned long it;
	struct dev d;

	m = calloc(1, sizeof(*m) + 70 * sizeof(m->regions[0]));
	for (it = 0; it < opt_iterations && !out_of_time(); it++) {
		int n = 1 + rn(8), j;

		dev_setup(&d, node, 1 + rn(4), -1);
		if (d.fd < 0)
			continue;
		for (j = 0; j < n; j++) {
			uint32_t cnt = chance(70) ? rn(6) : counts[rn(13)];
			unsigned int k, fill = cnt < 70 ? cnt : 70;
			long r;

			m->nregions = cnt;
			m->padding = chance(5) ? rnd() : 0;
			for (k = 0; k < fill; k++) {
				odd_region(&m->regions[k], d.mem ? d.mem : goodbuf);
				/* Overlap a neighbour now and then. */
				if (k && chance(20))
					m->regions[k].guest_phys_addr =
						m->regions[k - 1].guest_phys_addr +
						rn(PAGE * 2);
			}
			r = xioc(d.fd, VHOST_SET_MEM_TABLE, m);
			/* Only past max_mem_regions may it allocate much. */
			note(&st, "SET_MEM_TABLE", "odd table", r, errno,
			     cnt > 64);
			if (chance(30))
				kick(&d, rn(2));
		}
		dev_close(&d);
	}
	free(m);
	check(st.bad == 0, "%s: memory tables: %lu tables (%lu accepted), "
	      "%lu unexpected errnos", node, st.calls, st.ok, st.bad);
}

/* ---- phase: IOTLB messages ---- */

void phase_iotlb(const char *node)
{
	struct stats st = { 0 };
	unsigned long it, reads = 0;
	uint8_t buf[256];
	struct dev d;

	iotlb_miss_roundtrip(node);
	for (it = 0; it < opt_iterations / 4 + 1 && !out_of_time(); it++) {
		uint64_t feat = (1ull << VIRTIO_F_VERSION_1) |
				(1ull << 33 /* ACCESS_PLATFORM */);
		uint64_t bf = rn(8);
		int n = 1 + rn(60), j;

		dev_setup(&d, node, 1, -1);
		if (d.fd < 0)
			continue;
		fcntl(d.fd, F_SETFL, O_NONBLOCK);
		xioc(d.fd, VHOST_SET_BACKEND_FEATURES, &bf);
		if (chance(80))
			xioc(d.fd, VHOST_SET_FEATURES, &feat);
		for (j = 0; j < n; j++) {
			bool v2 = chance(50);
			struct vhost_iotlb_msg *im;
			size_t len = sizeof(struct vhost_msg);
			ssize_t r;

			fill_random(buf, sizeof(buf));
			if (v2) {
				struct vhost_msg_v2 *m = (void *)buf;

				m->type = chance(90) ? VHOST_IOTLB_MSG_V2 : rn(5);
				m->asid = chance(80) ? 0 : rnd();
				im = &m->iotlb;
				len = sizeof(*m);
			} else {
				struct vhost_msg *m = (void *)buf;

				m->type = chance(90) ? VHOST_IOTLB_MSG : rn(5);
				im = &m->iotlb;
			}
			im->type = chance(90) ? 1 + rn(6) : rn(256);
			im->perm = chance(90) ? rn(4) : rnd();
			im->iova = chance(50) ? rn(64) * PAGE :
				   ~0ull - rn(4) * PAGE;
			im->size = chance(60) ? rn(16) * PAGE :
				   chance(50) ? ~0ull - im->iova + rn(3) : rnd();
			im->uaddr = chance(40) && d.mem ?
				    (unsigned long)d.mem + rn(GMEM_SIZE) :
				    chance(50) ? kernel_addrs[rn(6)] : rnd();
			if (chance(15))
				len = rn(sizeof(buf));
			r = write(d.fd, buf, len);
			note(&st, "write", v2 ? "v2" : "v1", r < 0 ? -1 : 0,
			     errno, false);
			if (chance(10) && read(d.fd, buf, sizeof(buf)) > 0)
				reads++;
		}
		dev_close(&d);
	}
	check(st.bad == 0, "%s: IOTLB messages: %lu writes (%lu accepted), "
	      "%lu reads, %lu unexpected errnos", node, st.calls, st.ok, reads,
	      st.bad);
}

