// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IOTLB miss round trip, run at the start of phase iotlb with fixed
 * input: a device with VIRTIO_F_ACCESS_PLATFORM whose rings and buffers
 * the IOTLB does not map yet gets a chain and a kick.  Like QEMU's vIOMMU
 * we poll() the device fd, read() each miss, check that it is a well-formed
 * struct vhost_msg or vhost_msg_v2 (by the negotiated backend features)
 * asking for an address we gave the device with the access it needs, and
 * answer with an UPDATE for exactly that piece; the chain must then cross
 * the ring (echoed by the test backend, or sent out of the tap by
 * vhost-net's TX queue).  Done once with v1 and once with v2 messages.
 */
#define _GNU_SOURCE
#include <poll.h>
#include "fuzz.h"

#define M_NUM		16
#define M_IOVA		0x10000000ull	/* IOVA = GPA + this */
#define M_LEN		64
#define M_ETHERTYPE	0x88b5
#define M_HDR		12		/* virtio_net_hdr_mrg_rxbuf */

enum { A_DESC, A_AVAIL, A_USED, A_OUT, A_IN, A_NR };

static const struct {
	const char *name;
	uint64_t gpa;
	uint8_t perm;		/* the access the device needs */
} area[A_NR] = {
	[A_DESC] = { "descriptor table", 0x1000, VHOST_ACCESS_RO },
	[A_AVAIL] = { "avail ring", 0x2000, VHOST_ACCESS_RO },
	[A_USED] = { "used ring", 0x3000, VHOST_ACCESS_RW },
	[A_OUT] = { "readable buffer", 0x5000, VHOST_ACCESS_RO },
	[A_IN] = { "writable buffer", 0x7000, VHOST_ACCESS_WO },
};

struct mdev {
	int fd, q, tap, pkt, kick, call;
	bool v2, is_net;
	uint8_t *mem;
	char ifname[IFNAMSIZ];
};

/* An UPDATE for the page holding @a, in the negotiated message format. */
static bool m_update(struct mdev *m, int a, uint8_t perm)
{
	uint8_t buf[sizeof(struct vhost_msg_v2)];
	struct vhost_iotlb_msg *im;
	size_t len = iotlb_msg_init(buf, m->v2, &im);

	im->type = VHOST_IOTLB_UPDATE;
	im->iova = area[a].gpa + M_IOVA;
	im->size = PAGE;
	im->uaddr = (unsigned long)m->mem + area[a].gpa;
	im->perm = perm;
	return write(m->fd, buf, len) == (ssize_t)len;
}

static int m_setup(struct mdev *m, const char *node)
{
	struct vhost_memory_region *r;
	struct vhost_vring_state s = { .index = m->q, .num = M_NUM };
	struct vhost_vring_addr a = {
		.index = m->q,
		.desc_user_addr = area[A_DESC].gpa + M_IOVA,
		.avail_user_addr = area[A_AVAIL].gpa + M_IOVA,
		.used_user_addr = area[A_USED].gpa + M_IOVA,
	};
	struct vhost_vring_file f = { .index = m->q };
	uint64_t bf = m->v2 ? 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2 : 0;
	uint64_t feat = (1ull << VIRTIO_F_VERSION_1) |
			(1ull << VIRTIO_F_ACCESS_PLATFORM);
	uint8_t mt[sizeof(struct vhost_memory) + sizeof(*r)] = { 0 };
	struct vhost_memory *mem = (void *)mt;
	int hsz = M_HDR;

	m->fd = open(node, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (m->fd < 0 || xioc(m->fd, VHOST_SET_OWNER, NULL))
		return -1;
	m->mem = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m->mem == MAP_FAILED) {
		m->mem = NULL;
		return -1;
	}
	mem->nregions = 1;
	r = mem->regions;
	r->memory_size = GMEM_SIZE;
	r->userspace_addr = (unsigned long)m->mem;
	if (xioc(m->fd, VHOST_SET_BACKEND_FEATURES, &bf) ||
	    xioc(m->fd, VHOST_SET_FEATURES, &feat) ||
	    xioc(m->fd, VHOST_SET_MEM_TABLE, mem) ||
	    xioc(m->fd, VHOST_SET_VRING_NUM, &s))
		return -1;
	s.num = 0;
	if (xioc(m->fd, VHOST_SET_VRING_BASE, &s) ||
	    xioc(m->fd, VHOST_SET_VRING_ADDR, &a))
		return -1;
	m->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	m->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f.fd = m->kick;
	if (xioc(m->fd, VHOST_SET_VRING_KICK, &f))
		return -1;
	f.fd = m->call;
	if (xioc(m->fd, VHOST_SET_VRING_CALL, &f))
		return -1;
	/* As QEMU: starting a queue reads and writes the used ring. */
	if (!m_update(m, A_USED, VHOST_ACCESS_RW))
		return -1;
	if (m->is_net) {
		m->tap = tap_create(m->ifname);
		if (m->tap < 0 || ioctl(m->tap, TUNSETVNETHDRSZ, &hsz))
			return -1;
		m->pkt = packet_socket(m->ifname);
		if (m->pkt < 0)
			return -1;
	}
	return 0;
}

static int m_start(struct mdev *m)
{
	struct vhost_vring_file f = { .index = m->q, .fd = m->tap };
	int run = 1 << m->q;

	if (m->is_net)
		return xioc(m->fd, VHOST_NET_SET_BACKEND, &f);
	return xioc(m->fd, KT_TEST_RUN, &run);
}

/* One chain: readable then (test backend) writable buffer, and a kick. */
static void m_post(struct mdev *m)
{
	struct vring_desc *d = (void *)(m->mem + area[A_DESC].gpa);
	struct vring_avail *av = (void *)(m->mem + area[A_AVAIL].gpa);
	uint8_t *out = m->mem + area[A_OUT].gpa;
	unsigned int i, len = M_LEN;

	if (m->is_net) {
		memset(out, 0, M_HDR);
		memset(out + M_HDR, 0xff, 6);
		memset(out + M_HDR + 6, 0x02, 6);
		out[M_HDR + 12] = M_ETHERTYPE >> 8;
		out[M_HDR + 13] = M_ETHERTYPE & 0xff;
		for (i = M_HDR + 14; i < M_HDR + M_LEN; i++)
			out[i] = i * 13;
		len = M_HDR + M_LEN;
	} else {
		for (i = 0; i < M_LEN; i++)
			out[i] = i * 13;
		memset(m->mem + area[A_IN].gpa, 0, M_LEN);
	}
	d[0].addr = area[A_OUT].gpa + M_IOVA;
	d[0].len = len;
	d[0].flags = m->is_net ? 0 : VRING_DESC_F_NEXT;
	d[0].next = 1;
	d[1].addr = area[A_IN].gpa + M_IOVA;
	d[1].len = M_LEN;
	d[1].flags = VRING_DESC_F_WRITE;
	av->ring[0] = 0;
	__sync_synchronize();
	av->idx = 1;
	__sync_synchronize();
	if (write(m->kick, &(uint64_t){ 1 }, 8) != 8)
		diag("kick: %s", strerror(errno));
}

static uint16_t m_used_idx(struct mdev *m)
{
	return *(volatile uint16_t *)(m->mem + area[A_USED].gpa + 2);
}

/* Did the chain's data arrive where it should? */
static bool m_data_ok(struct mdev *m)
{
	struct vring_used_elem *e = (void *)(m->mem + area[A_USED].gpa + 4);
	uint8_t buf[2048];
	double end = now() + 3;
	unsigned int i;

	if (!m->is_net) {
		uint8_t *in = m->mem + area[A_IN].gpa;

		if (e->id != 0 || e->len != M_LEN)
			return false;
		for (i = 0; i < M_LEN; i++)
			if (in[i] != (uint8_t)((i * 13) ^ 0x5a))
				return false;
		return true;
	}
	while (now() < end) {
		struct pollfd p = { .fd = m->pkt, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 200) != 1)
			continue;
		n = recv(m->pkt, buf, sizeof(buf), MSG_DONTWAIT);
		if (n != M_LEN || buf[12] != M_ETHERTYPE >> 8 ||
		    buf[13] != (M_ETHERTYPE & 0xff))
			continue;
		return !memcmp(buf, m->mem + area[A_OUT].gpa + M_HDR, M_LEN);
	}
	return false;
}

static void m_close(struct mdev *m)
{
	if (m->fd >= 0)
		close(m->fd);
	if (m->tap >= 0)
		close(m->tap);
	if (m->pkt >= 0)
		close(m->pkt);
	if (m->kick >= 0)
		close(m->kick);
	if (m->call >= 0)
		close(m->call);
	if (m->mem)
		munmap(m->mem, GMEM_SIZE);
}

/* Read one message; 1 if it is a well-formed miss (*@iova, *@perm). */
static int m_read_miss(struct mdev *m, uint64_t *iova, uint8_t *perm)
{
	uint8_t buf[sizeof(struct vhost_msg_v2) + 16];
	size_t want = m->v2 ? sizeof(struct vhost_msg_v2) : sizeof(struct vhost_msg);
	struct vhost_iotlb_msg *im;
	ssize_t n = read(m->fd, buf, sizeof(buf));
	uint32_t type;

	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n != (ssize_t)want) {
		diag("read() of a miss returned %zd (%s), expected %zu", n,
		     n < 0 ? strerror(errno) : "short", want);
		return -1;
	}
	memcpy(&type, buf, sizeof(type));
	if (m->v2) {
		struct vhost_msg_v2 *v = (void *)buf;

		im = &v->iotlb;
		if (type != VHOST_IOTLB_MSG_V2 || v->asid) {
			diag("v2 miss with type %u asid %u", type, v->asid);
			return -1;
		}
	} else {
		im = &((struct vhost_msg *)buf)->iotlb;
		if (type != VHOST_IOTLB_MSG) {
			diag("v1 miss with type %u", type);
			return -1;
		}
	}
	if (im->type != VHOST_IOTLB_MISS || im->size || im->uaddr) {
		diag("message type %u size %llu uaddr 0x%llx, not a clean MISS",
		     im->type, (unsigned long long)im->size,
		     (unsigned long long)im->uaddr);
		return -1;
	}
	*iova = im->iova;
	*perm = im->perm;
	return 1;
}

static void miss_one(const char *node, bool v2)
{
	struct mdev m = { .fd = -1, .tap = -1, .pkt = -1, .kick = -1, .call = -1 };
	const char *ver = v2 ? "v2" : "v1";
	bool mapped[A_NR] = { [A_USED] = true };
	bool first_ok = false, all_ok = true, polled = false;
	unsigned int misses = 0, dups = 0, i;
	uint8_t junk[sizeof(struct vhost_msg_v2)];
	struct pollfd p;
	double end;

	m.v2 = v2;
	m.is_net = strstr(node, "-net") != NULL;
	m.q = m.is_net ? 1 : 0;	/* vhost-net: the TX queue */
	if (m.is_net && !opt_tap) {
		check(true, "%s %s: IOTLB miss round trip # SKIP needs a tap",
		      node, ver);
		goto out;
	}
	if (m_setup(&m, node)) {
		check(false, "%s %s: IOTLB miss round trip: set up (%s)", node,
		      ver, strerror(errno));
		goto out;
	}
	p = (struct pollfd){ .fd = m.fd, .events = POLLIN };
	check(poll(&p, 1, 0) == 0 && read(m.fd, junk, sizeof(junk)) < 0 &&
	      errno == EAGAIN,
	      "%s %s: no IOTLB message before the queue starts (poll, read EAGAIN)",
	      node, ver);
	if (m_start(&m)) {
		check(false, "%s %s: queue starts with only the used ring mapped (%s)",
		      node, ver, strerror(errno));
		goto out;
	}
	m_post(&m);

	for (end = now() + 10; now() < end && m_used_idx(&m) != 1;) {
		uint64_t iova;
		uint8_t perm;
		int a, r;

		p = (struct pollfd){ .fd = m.fd, .events = POLLIN };
		if (poll(&p, 1, 500) != 1)
			continue;
		if (!misses && (p.revents & POLLIN))
			polled = true;
		r = m_read_miss(&m, &iova, &perm);
		if (r <= 0) {
			all_ok &= r == 0;
			if (r < 0)
				break;
			continue;
		}
		for (a = 0; a < A_NR; a++)
			if (iova >= area[a].gpa + M_IOVA &&
			    iova < area[a].gpa + M_IOVA + PAGE)
				break;
		/*
		 * A miss queued again before our UPDATE landed (upstream
		 * does not merge them) is answered again, as QEMU does.
		 */
		if (a < A_NR && a != A_USED && mapped[a] && perm == area[a].perm) {
			dups++;
			if (!m_update(&m, a, area[a].perm))
				all_ok = false;
			continue;
		}
		if (a == A_NR || mapped[a] || (m.is_net && a == A_IN) ||
		    perm != area[a].perm) {
			diag("miss %u: iova 0x%llx perm %u is not a missing piece we gave",
			     misses, (unsigned long long)iova, perm);
			all_ok = false;
			break;
		}
		/* vhost checks the rings in this order before anything else. */
		if (!misses)
			first_ok = a == A_DESC && perm == VHOST_ACCESS_RO;
		misses++;
		if (!m_update(&m, a, area[a].perm)) {
			diag("UPDATE for the %s: %s", area[a].name, strerror(errno));
			all_ok = false;
			break;
		}
		mapped[a] = true;
	}
	check(polled && first_ok,
	      "%s %s: poll() flags the pending miss; read() gives a well-formed miss for the descriptor table, RO",
	      node, ver);
	for (i = 0; i < A_NR; i++)
		if (!mapped[i] && !(m.is_net && i == A_IN)) {
			diag("the %s was never asked for", area[i].name);
			all_ok = false;
		}
	check(all_ok && m_used_idx(&m) == 1 && m_data_ok(&m),
	      "%s %s: %u misses (iova and perm as needed) answered by UPDATEs; the chain then crossed the ring",
	      node, ver, misses);
	if (m_used_idx(&m) != 1)
		diag("used idx %u after the answers", m_used_idx(&m));
	if (dups)
		diag("%u misses repeated one already answered", dups);
	/* Leftovers may only repeat answered misses (queued meanwhile). */
	for (i = 0, all_ok = true; i < 64; i++) {
		uint64_t iova;
		uint8_t perm;
		int a, r = m_read_miss(&m, &iova, &perm);

		if (r <= 0) {
			all_ok &= r == 0;
			break;
		}
		for (a = 0; a < A_NR; a++)
			if (iova >= area[a].gpa + M_IOVA &&
			    iova < area[a].gpa + M_IOVA + PAGE)
				break;
		if (a == A_NR || !mapped[a] || perm != area[a].perm) {
			diag("left over: miss for iova 0x%llx perm %u",
			     (unsigned long long)iova, perm);
			all_ok = false;
		}
	}
	p = (struct pollfd){ .fd = m.fd, .events = POLLIN };
	check(all_ok && poll(&p, 1, 0) == 0,
	      "%s %s: no new miss once everything is mapped (poll() quiet after the drain)",
	      node, ver);
out:
	m_close(&m);
}

void iotlb_miss_roundtrip(const char *node)
{
	/* Fixed input: leave the phase's random stream as it was. */
	uint64_t saved = rng_state;

	if (!strstr(node, "-net") && !strstr(node, "-test"))
		return;
	miss_one(node, false);
	miss_one(node, true);
	rng_state = saved;
}
