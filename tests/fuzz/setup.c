// SPDX-License-Identifier: GPL-2.0-only
/* Arguments and devices set up to a given stage. */
#define _GNU_SOURCE
#include "fuzz.h"

/* ---- bad addresses ---- */

uint8_t *goodbuf;	/* 2 pages RW, then a PROT_NONE page */
uint8_t *nonepage;	/* PROT_NONE */
uint8_t *ropage;		/* PROT_READ */

void addrs_init(void)
{
	goodbuf = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ropage = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (goodbuf == MAP_FAILED || ropage == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	nonepage = goodbuf + 2 * PAGE;
	mprotect(nonepage, PAGE, PROT_NONE);
	mprotect(ropage, PAGE, PROT_READ);
}


const char *const class_name[] = {
	"good", "zeroed", "NULL", "unmapped", "kernel", "unaligned",
	"straddling", "read-only", "integer",
};

const uint64_t kernel_addrs[] = {
	0xffff888000000000ull, 0xffffffff81000000ull, 0xffffc90000000000ull,
	0xfffffffffffff000ull, 0x8000000000000000ull, 0x0000800000000000ull,
};

void fill_random(void *p, size_t len)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = chance(30) ? 0 : rnd();
}

unsigned long make_arg(enum arg_class c, size_t size)
{
	switch (c) {
	case ARG_GOOD:
		fill_random(goodbuf, 2 * PAGE);
		return (unsigned long)goodbuf;
	case ARG_ZERO:
		memset(goodbuf, 0, 2 * PAGE);
		return (unsigned long)goodbuf;
	case ARG_NULL:
		return 0;
	case ARG_UNMAPPED:
		return (unsigned long)nonepage + rn(PAGE);
	case ARG_KERNEL:
		return kernel_addrs[rn(6)] + rn(2) * rn(PAGE);
	case ARG_UNALIGNED:
		fill_random(goodbuf, 2 * PAGE);
		return (unsigned long)goodbuf + 1 + rn(7);
	case ARG_STRADDLE:
		fill_random(goodbuf, 2 * PAGE);
		return (unsigned long)nonepage - (size ? 1 + rn(size) : 1);
	case ARG_RO:
		return (unsigned long)ropage;
	default:
		return rnd() >> rn(64);
	}
}

/* ---- guest memory, rings and a device set up far enough to run ---- */


long xioc(int fd, unsigned long nr, const void *arg)
{
	return ioctl(fd, nr, arg);
}

int tap_create(char *name)
{
	struct ifreq ifr = { 0 };
	int fd, s, hsz;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	strcpy(ifr.ifr_name, "vktfz%d");
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	strcpy(name, ifr.ifr_name);
	/* Matching the guest's header size or not: both must be safe. */
	hsz = chance(70) ? 12 : chance(50) ? 10 : 20;
	ioctl(fd, TUNSETVNETHDRSZ, &hsz);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s >= 0) {
		ioctl(s, SIOCGIFFLAGS, &ifr);
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
		close(s);
	}
	return fd;
}

/* A packet socket on the tap: what it sends, the RX queue receives. */
int packet_socket(const char *ifname)
{
	struct sockaddr_ll sll = { 0 };
	int s;

	/*
	 * Protocol 0 until bind(): a socket created with a protocol hears
	 * every interface until it is bound to one.
	 */
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = if_nametoindex(ifname);
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

void dev_close(struct dev *d)
{
	int i;

	if (d->fd >= 0)
		close(d->fd);
	for (i = 0; i < 2; i++) {
		close(d->kick[i]);
		close(d->call[i]);
		close(d->err[i]);
	}
	if (d->tap >= 0)
		close(d->tap);
	if (d->pkt >= 0)
		close(d->pkt);
	if (d->mem)
		munmap(d->mem, GMEM_SIZE);
	memset(d, 0, sizeof(*d));
	d->fd = d->tap = d->pkt = -1;
}

/* Make the memory table: the real region plus, sometimes, odd ones. */
static long set_mem(struct dev *d, unsigned int extra)
{
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region r[8];
	} m = { 0 };
	unsigned int i;

	if (extra > 7)
		extra = 7;
	m.hdr.nregions = 1 + extra;
	m.r[0].guest_phys_addr = 0;
	m.r[0].memory_size = GMEM_SIZE;
	m.r[0].userspace_addr = (unsigned long)d->mem;
	for (i = 1; i <= extra; i++) {
		m.r[i].guest_phys_addr = 0x100000000ull * i + rn(3) * PAGE;
		m.r[i].memory_size = PAGE << rn(8);
		switch (rn(4)) {
		case 0:
			m.r[i].userspace_addr = 0x7ffffffff000ull - rn(4) * PAGE;
			break;
		case 1:
			m.r[i].userspace_addr = (unsigned long)nonepage;
			break;
		case 2:
			m.r[i].userspace_addr = (unsigned long)ropage;
			m.r[i].memory_size = PAGE;
			break;
		default:
			m.r[i].userspace_addr = kernel_addrs[rn(6)];
		}
	}
	return xioc(d->fd, VHOST_SET_MEM_TABLE, &m);
}

/*
 * Bring @d up to @stage: 0 open, 1 owner, 2 features + memory, 3 rings,
 * 4 backend (running).  Returns the stage reached.
 */
int dev_setup(struct dev *d, const char *node, int stage, int mode)
{
	struct vhost_vring_state s;
	struct vhost_vring_addr a;
	struct vhost_vring_file f;
	uint64_t feat;
	uint8_t m;
	int q;

	memset(d, 0, sizeof(*d));
	d->fd = d->tap = d->pkt = -1;
	d->kick[0] = d->kick[1] = d->call[0] = d->call[1] = -1;
	d->err[0] = d->err[1] = -1;
	d->is_net = strstr(node, "-net") != NULL;
	d->is_test = strstr(node, "-test") != NULL;
	d->fd = open(node, O_RDWR | O_CLOEXEC | (chance(30) ? O_NONBLOCK : 0));
	if (d->fd < 0)
		return -1;
	if (mode >= 0) {
		m = mode;
		xioc(d->fd, IOW(0x84, 1), &m);
	}
	if (stage < 1 || xioc(d->fd, VHOST_SET_OWNER, NULL))
		return 0;
	d->mem = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (d->mem == MAP_FAILED) {
		d->mem = NULL;
		return 1;
	}
	if (stage < 2)
		return 1;
	if (xioc(d->fd, VHOST_GET_FEATURES, &feat))
		return 1;
	feat &= (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
		(1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_NET_F_MRG_RXBUF) |
		(1ull << VHOST_F_LOG_ALL);
	feat &= rnd() | (1ull << VIRTIO_F_VERSION_1);
	if (xioc(d->fd, VHOST_SET_FEATURES, &feat) ||
	    set_mem(d, chance(30) ? rn(4) : 0))
		return 1;
	if (stage < 3)
		return 2;
	for (q = 0; q < 2; q++) {
		d->kick[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		d->call[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		d->err[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		s.index = q;
		s.num = RING;
		if (xioc(d->fd, VHOST_SET_VRING_NUM, &s))
			return 2;
		s.num = 0;
		xioc(d->fd, VHOST_SET_VRING_BASE, &s);
		memset(&a, 0, sizeof(a));
		a.index = q;
		a.desc_user_addr = (unsigned long)d->mem + DESC_OFF(q);
		a.avail_user_addr = (unsigned long)d->mem + AVAIL_OFF(q);
		a.used_user_addr = (unsigned long)d->mem + USED_OFF(q);
		if (xioc(d->fd, VHOST_SET_VRING_ADDR, &a))
			return 2;
		f.index = q;
		f.fd = d->kick[q];
		xioc(d->fd, VHOST_SET_VRING_KICK, &f);
		f.fd = d->call[q];
		xioc(d->fd, VHOST_SET_VRING_CALL, &f);
		f.fd = d->err[q];
		xioc(d->fd, VHOST_SET_VRING_ERR, &f);
	}
	if (stage < 4)
		return 3;
	if (d->is_net) {
		if (!opt_tap)
			return 3;
		d->tap = tap_create(d->ifname);
		if (d->tap < 0)
			return 3;
		d->pkt = packet_socket(d->ifname);
		for (q = 0; q < 2; q++) {
			f.index = q;
			f.fd = d->tap;
			if (xioc(d->fd, VHOST_NET_SET_BACKEND, &f))
				return 3;
		}
	} else if (d->is_test) {
		int run = 3;

		if (xioc(d->fd, KT_TEST_RUN, &run))
			return 3;
	} else {
		return 3;
	}
	return 4;
}

void kick(struct dev *d, int q)
{
	uint64_t one = 1;

	if (d->kick[q] >= 0 && write(d->kick[q], &one, 8) < 0)
		return;
}

size_t iotlb_msg_init(void *buf, bool v2, struct vhost_iotlb_msg **im)
{
	memset(buf, 0, sizeof(struct vhost_msg_v2));
	if (v2) {
		struct vhost_msg_v2 *v = buf;

		v->type = VHOST_IOTLB_MSG_V2;
		*im = &v->iotlb;
		return sizeof(*v);
	} else {
		struct vhost_msg *v = buf;

		v->type = VHOST_IOTLB_MSG;
		*im = &v->iotlb;
		return sizeof(*v);
	}
}
