// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_net: micro-benchmarks of a vhost-net device, driven by a minimal
 * userspace virtio-net "guest" (split rings, one guest memory region,
 * VERSION_1 + MRG_RXBUF + EVENT_IDX, no indirect descriptors).
 *
 *   bench_net [--mode task|kthread] [--secs S] [--pin]
 *             [--vs DEVICE2 [--vs-mode task|kthread]] DEVICE TEST...
 *
 * Tests (each on fresh devices, results as "metric NAME VALUE" lines):
 *   tx64 tx1500 txgso rx64 rx1500 rxgso   packets/s, or Gbit/s for gso, and
 *                                         the workers' CPU ns per packet
 *   lat                                   kick -> call round trip, p50/p99
 *                                         in us, without and with busy
 *                                         polling (50 us)
 *   setup                                 us from open to SET_OWNER done
 *                                         and to the first TX packet used
 *   mq                                    TX 64-byte packets/s with 1, 2, 4
 *                                         queue pairs (one device each)
 *   devs                                  1, 16, 64 devices open at once:
 *                                         setup ms per device, kernel
 *                                         memory KiB per device
 *
 * --mode sets the worker mode with VHOST_SET_FORK_FROM_OWNER before
 * SET_OWNER (stock vhost-net of kernels with fork-owner control).  --vs
 * (and --vs-mode, its --mode) names a second datapath that `lat` measures
 * in the same run, round trips taking turns with DEVICE's; its metrics
 * are prefixed "vs_".  The other tests ignore it.
 *
 * The tap's far side is kept cheap: TX frames are addressed to nobody and
 * are dropped by the host stack at once; RX frames are UDP datagrams of
 * the host's own stack, queued on the tap before the ring gets buffers
 * (see rx_run).
 * Nothing here asserts timings.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
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

#ifndef VHOST_SET_FORK_FROM_OWNER
#define VHOST_SET_FORK_FROM_OWNER _IOW(VHOST_VIRTIO, 0x84, __u8)
#endif
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20		/* Linux 6.2 */
#define TUN_F_USO6 0x40
#endif
#define SET_FORK_FROM_OWNER_OLD _IOW(VHOST_VIRTIO, 0x83, __u8)

#define RING		256
#define RX_Q		0
#define TX_Q		1
#define HDR		sizeof(struct virtio_net_hdr_mrg_rxbuf)
#define GSO_FRAME	(14 + 65535)	/* largest IPv4 packet */
#define GSO_MSS		1448
#define GMEM_SIZE	(192ULL << 20)
#define GPA_BASE	0x100000ULL
#define MAX_DEVS	64

/*
 * The device under test, and with --vs a second one that `lat` measures
 * in the same run: targets[cur_target] is the one dev_open_owner() opens.
 */
struct target {
	const char *path;
	int mode;		/* fork-owner value, or -1: the device's default */
};

static struct target targets[2] = { { NULL, -1 }, { NULL, -1 } };
static unsigned int cur_target;
static double opt_secs = 1.0;
static bool opt_pin;

static void die(const char *what)
{
	fprintf(stderr, "bench_net: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void metric(const char *name, double v)
{
	printf("metric %s %.3f\n", name, v);
	fflush(stdout);
}

/*
 * --pin: while a throughput or latency test runs, the driver (this
 * process's threads) stays on CPU 0 and every worker thread of our devices
 * on CPU 1, whatever the module and mode.  Otherwise where the scheduler
 * happens to put the worker (next to the driver or not, and a task-mode
 * worker starts with its owner's affinity) differs from run to run and
 * swamps the differences being measured.  Workers are found by name,
 * vhost-<our pid>: threads of ours in task mode, kthreads in kthread mode.
 */
static void pin_tid(pid_t tid, int cpu)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	if (cpu >= 0)
		CPU_SET(cpu, &set);
	else
		for (i = 0; i < CPU_SETSIZE; i++)
			CPU_SET(i, &set);
	/* Fails only for CPUs that do not exist: then nothing is pinned. */
	sched_setaffinity(tid, sizeof(set), &set);
}

/* Worker threads of the current test's devices. */
#define MAX_WORKERS	(4 * MAX_DEVS)
static pid_t workers[MAX_WORKERS];
static unsigned int nworkers;

static void worker_found(pid_t tid)
{
	unsigned int i;

	for (i = 0; i < nworkers && workers[i] != tid; i++)
		;
	if (i == nworkers && nworkers < MAX_WORKERS)
		workers[nworkers++] = tid;
	if (opt_pin)
		pin_tid(tid, 1);
}

/*
 * CPU time the test's workers have run so far, in ns (schedstat's first
 * field).  Per packet it is the work the datapath does, apart from how soon
 * the worker was woken and scheduled, which the wall-clock rates mostly
 * measure under emulation.  Read while the devices are still open.
 */
static double workers_cpu_ns(void)
{
	unsigned long long ns;
	double sum = 0;
	char path[64];
	unsigned int i;
	FILE *f;

	for (i = 0; i < nworkers; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat",
			 workers[i], workers[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	return sum;
}

static void pin_scan(const char *dir, const char *comm_fmt, const char *want)
{
	char path[300], comm[64];
	struct dirent *e;
	DIR *d = opendir(dir);
	FILE *f;

	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), comm_fmt, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = 0;
			if (!strcmp(comm, want))
				worker_found(atoi(e->d_name));
		}
		fclose(f);
	}
	if (d)
		closedir(d);
}

/*
 * After SET_OWNER: note the workers (old and new) for workers_cpu_ns();
 * with --pin, the driver goes to CPU 0 and the workers to CPU 1.
 */
static void pin_begin(void)
{
	char want[32];

	if (opt_pin)
		pin_tid(0, 0);
	snprintf(want, sizeof(want), "vhost-%d", getpid());
	pin_scan("/proc/self/task", "/proc/self/task/%s/comm", want);
	pin_scan("/proc", "/proc/%s/comm", want);
}

/* Set-up tests run unpinned, as a VMM would start. */
static void pin_end(void)
{
	if (opt_pin)
		pin_tid(0, -1);
}

/* ---- guest memory: one region, bump allocation ---- */

static uint8_t *gmem;
static uint64_t gmem_next;

static uint64_t galloc(uint64_t size, uint64_t align)
{
	uint64_t off = (gmem_next + align - 1) & ~(align - 1);

	if (off + size > GMEM_SIZE) {
		fprintf(stderr, "bench_net: guest memory exhausted\n");
		exit(1);
	}
	gmem_next = off + size;
	/* Memory is reused between tests: no stale ring indexes. */
	memset(gmem + off, 0, size);
	return GPA_BASE + off;
}

static void *hva(uint64_t gpa)
{
	return gmem + (gpa - GPA_BASE);
}

/* ---- devices and rings ---- */

struct vq {
	struct vring vr;
	uint16_t avail_idx, last_used;
	int kick, call;
};

struct dev {
	int vfd, tapfd;
	struct vq vq[2];
	uint64_t tx_frame_gpa, rx_bufs_gpa;
	unsigned int rx_buf_len;
};

static int tap_open(const char *name, bool mq, bool gso, char *ifname)
{
	struct ifreq ifr = { 0 };
	int fd, hsz = HDR;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open /dev/net/tun");
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
			(mq ? IFF_MULTI_QUEUE : 0);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		die("TUNSETIFF");
	if (ioctl(fd, TUNSETVNETHDRSZ, &hsz) < 0)
		die("TUNSETVNETHDRSZ");
	if (gso && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
				 TUN_F_USO4 | TUN_F_USO6) < 0)
		die("TUNSETOFFLOAD");
	if (ifname)
		snprintf(ifname, IFNAMSIZ, "%s", ifr.ifr_name);
	return fd;
}

static void link_up(const char *ifname)
{
	struct ifreq ifr = { 0 };
	char path[128];
	FILE *f;
	int s;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	f = fopen(path, "w");
	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("SIOCSIFFLAGS");
	close(s);
}

static void vq_alloc(struct vq *vq)
{
	vq->vr.num = RING;
	vq->vr.desc = hva(galloc(16 * RING, 4096));
	vq->vr.avail = hva(galloc(6 + 2 * RING, 4096));
	vq->vr.used = hva(galloc(6 + 8 * RING, 4096));
	vq->avail_idx = vq->last_used = 0;
	vq->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vq->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vq->kick < 0 || vq->call < 0)
		die("eventfd");
}

/* Open and own a device: returns seconds spent up to SET_OWNER done. */
static double dev_open_owner(struct dev *d)
{
	const struct target *t = &targets[cur_target];
	double t0 = now();
	uint8_t mode;

	d->vfd = open(t->path, O_RDWR | O_CLOEXEC);
	if (d->vfd < 0)
		die(t->path);
	if (t->mode >= 0) {
		mode = t->mode;
		if (ioctl(d->vfd, VHOST_SET_FORK_FROM_OWNER, &mode) < 0 &&
		    ioctl(d->vfd, SET_FORK_FROM_OWNER_OLD, &mode) < 0)
			die("VHOST_SET_FORK_FROM_OWNER");
	}
	if (ioctl(d->vfd, VHOST_SET_OWNER) < 0)
		die("VHOST_SET_OWNER");
	return now() - t0;
}

static void dev_rings(struct dev *d)
{
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) |
		     (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
		     (1ULL << VIRTIO_RING_F_EVENT_IDX);
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r;
	} mem = { .m.nregions = 1 };
	unsigned int i;

	if (ioctl(d->vfd, VHOST_SET_FEATURES, &f) < 0)
		die("VHOST_SET_FEATURES");
	mem.r.guest_phys_addr = GPA_BASE;
	mem.r.memory_size = GMEM_SIZE;
	mem.r.userspace_addr = (uintptr_t)gmem;
	if (ioctl(d->vfd, VHOST_SET_MEM_TABLE, &mem) < 0)
		die("VHOST_SET_MEM_TABLE");
	for (i = 0; i < 2; i++) {
		struct vq *vq = &d->vq[i];
		struct vhost_vring_state st = { .index = i, .num = RING };
		struct vhost_vring_addr a = {
			.index = i,
			.desc_user_addr = (uintptr_t)vq->vr.desc,
			.avail_user_addr = (uintptr_t)vq->vr.avail,
			.used_user_addr = (uintptr_t)vq->vr.used,
		};
		struct vhost_vring_file fl = { .index = i, .fd = vq->kick };

		if (ioctl(d->vfd, VHOST_SET_VRING_NUM, &st) < 0)
			die("VHOST_SET_VRING_NUM");
		st.num = 0;
		if (ioctl(d->vfd, VHOST_SET_VRING_BASE, &st) < 0)
			die("VHOST_SET_VRING_BASE");
		if (ioctl(d->vfd, VHOST_SET_VRING_ADDR, &a) < 0)
			die("VHOST_SET_VRING_ADDR");
		if (ioctl(d->vfd, VHOST_SET_VRING_KICK, &fl) < 0)
			die("VHOST_SET_VRING_KICK");
		fl.fd = vq->call;
		if (ioctl(d->vfd, VHOST_SET_VRING_CALL, &fl) < 0)
			die("VHOST_SET_VRING_CALL");
	}
}

static void dev_backend(struct dev *d, int tapfd)
{
	struct vhost_vring_file f = { .fd = tapfd };

	for (f.index = 0; f.index < 2; f.index++)
		if (ioctl(d->vfd, VHOST_NET_SET_BACKEND, &f) < 0)
			die("VHOST_NET_SET_BACKEND");
}

static void dev_close(struct dev *d)
{
	unsigned int i;

	close(d->vfd);
	for (i = 0; i < 2; i++) {
		close(d->vq[i].kick);
		close(d->vq[i].call);
	}
}

static void publish(struct vq *vq)
{
	uint16_t old = vq->vr.avail->idx, new = vq->avail_idx;
	uint64_t one = 1;

	__atomic_store_n(&vq->vr.avail->idx, new, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vring_need_event(vring_avail_event(&vq->vr), new, old) &&
	    write(vq->kick, &one, sizeof(one)) != sizeof(one))
		die("kick");
}

static void add(struct vq *vq, uint16_t id)
{
	vq->vr.avail->ring[vq->avail_idx++ % RING] = id;
}

static bool used_pending(struct vq *vq)
{
	return __atomic_load_n(&vq->vr.used->idx, __ATOMIC_ACQUIRE) != vq->last_used;
}

/* Sleep on the call eventfd until the used index passes @event. */
static unsigned long timeouts;

static void wait_used(struct vq *vq, uint16_t event, int ms)
{
	struct pollfd p = { .fd = vq->call, .events = POLLIN };
	uint64_t cnt;

	vring_used_event(&vq->vr) = event;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (used_pending(vq))
		return;
	if (poll(&p, 1, ms) != 1)
		timeouts++;
	else if (read(vq->call, &cnt, sizeof(cnt)) < 0)
		die("read call");
}

/* A frame nobody on the host wants: unicast to a foreign MAC. */
static void make_frame(uint8_t *p, unsigned int len, bool gso)
{
	struct virtio_net_hdr_mrg_rxbuf *h = (void *)p;
	uint8_t *e = p + HDR, *ip = e + 14;
	unsigned int iplen = len - 14;

	memset(p, 0, HDR + len);
	memcpy(e, "\x02\x00\x00\x00\x00\x02\x02\x56\x4b\x54\x00\x01", 12);
	e[12] = 0x08;		/* IPv4 */
	ip[0] = 0x45;
	ip[2] = iplen >> 8;
	ip[3] = iplen & 0xff;
	ip[8] = 64;
	ip[9] = 6;		/* TCP */
	memcpy(ip + 12, "\xc6\x33\x64\x01\xc6\x33\x64\x02", 8);
	ip[20 + 12] = 0x50;	/* TCP header length 20 */
	ip[20 + 13] = 0x10;	/* ACK */
	if (gso) {
		h->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->hdr.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		h->hdr.hdr_len = 54;
		h->hdr.gso_size = GSO_MSS;
		h->hdr.csum_start = 34;
		h->hdr.csum_offset = 16;
	}
}

/* ---- TX throughput ---- */

struct txjob {
	struct dev *d;
	unsigned int len;
	double secs;
	double rate;		/* packets/s */
	unsigned long total;	/* packets the device used, tail included */
};

static void tx_fill(struct dev *d, unsigned int len, bool gso)
{
	struct vq *vq = &d->vq[TX_Q];
	unsigned int i;

	d->tx_frame_gpa = galloc(HDR + len, 64);
	make_frame(hva(d->tx_frame_gpa), len, gso);
	/* Every descriptor carries the same read-only frame. */
	for (i = 0; i < RING; i++) {
		vq->vr.desc[i].addr = d->tx_frame_gpa;
		vq->vr.desc[i].len = HDR + len;
		vq->vr.desc[i].flags = 0;
	}
}

/*
 * The driver takes used entries in batches (woken at 3/4 of the ring), so
 * a count of packets at a deadline moves in steps of a batch: 192 64 KiB
 * frames are ~3 % of a second's.  The rate is therefore taken between the
 * first and the last batch of the run, both ends on a batch boundary.
 * Afterwards the ring is drained, so that the workers' CPU time (read
 * after this returns) is divided by every packet it was spent on.
 */
static void *tx_loop(void *arg)
{
	struct txjob *j = arg;
	struct vq *vq = &j->d->vq[TX_Q];
	unsigned long done = 0, first = 0, last = 0;
	double end, t, t0 = 0, t1 = 0, drained;
	unsigned int i, n;

	for (i = 0; i < RING; i++)
		add(vq, i);
	publish(vq);
	end = now() + j->secs;
	while ((t = now()) < end) {
		n = 0;
		while (used_pending(vq)) {
			add(vq, vq->vr.used->ring[vq->last_used++ % RING].id);
			n++;
		}
		if (n) {
			done += n;
			if (!first) {
				t0 = t;
				first = done;
			}
			t1 = t;
			last = done;
			publish(vq);
			continue;
		}
		/* Like a guest's delayed TX interrupt: at 3/4 of the ring. */
		wait_used(vq, vq->last_used + (uint16_t)(vq->avail_idx -
				vq->last_used) * 3 / 4, 100);
	}
	j->rate = last > first && t1 > t0 ? (last - first) / (t1 - t0) :
		  done / j->secs;
	drained = now() + 1;
	while (vq->last_used != vq->avail_idx && now() < drained) {
		while (used_pending(vq)) {
			vq->last_used++;
			done++;
		}
		if (vq->last_used != vq->avail_idx)
			wait_used(vq, vq->avail_idx - 1, 100);
	}
	j->total = done;
	return NULL;
}

static void setup_dev(struct dev *d, int tapfd)
{
	vq_alloc(&d->vq[RX_Q]);
	vq_alloc(&d->vq[TX_Q]);
	dev_open_owner(d);
	pin_begin();
	dev_rings(d);
	d->tapfd = tapfd;
}

/*
 * Returns packets/s over all queues; *cpu_ns, if given, the workers' CPU
 * time per packet.
 */
static double tx_run(unsigned int nq, unsigned int len, bool gso,
		     double *cpu_ns)
{
	struct dev d[4];
	struct txjob j[4];
	pthread_t th[4];
	char ifname[IFNAMSIZ];
	unsigned long total = 0;
	double cpu0, rate = 0;
	unsigned int i;
	int tfd[4];

	gmem_next = 0;
	nworkers = 0;
	tfd[0] = tap_open("vkb%d", nq > 1, gso, ifname);
	/* Opening a multiqueue tap again by name adds a queue to it. */
	for (i = 1; i < nq; i++)
		tfd[i] = tap_open(ifname, true, gso, NULL);
	link_up(ifname);
	for (i = 0; i < nq; i++) {
		setup_dev(&d[i], tfd[i]);
		tx_fill(&d[i], len, gso);
		dev_backend(&d[i], tfd[i]);
		j[i] = (struct txjob){ .d = &d[i], .len = len, .secs = opt_secs };
	}
	cpu0 = workers_cpu_ns();
	for (i = 0; i < nq; i++)
		pthread_create(&th[i], NULL, tx_loop, &j[i]);
	for (i = 0; i < nq; i++) {
		pthread_join(th[i], NULL);
		rate += j[i].rate;
		total += j[i].total;
	}
	if (cpu_ns)
		*cpu_ns = total ? (workers_cpu_ns() - cpu0) / total : 0;
	for (i = 0; i < nq; i++) {
		dev_close(&d[i]);
		close(tfd[i]);
	}
	pin_end();
	return rate;
}

/* ---- RX throughput ---- */

/*
 * The frames are queued on the tap before the RX ring gets any buffer (the
 * tap's queue made long enough to hold them all); then the ring is filled
 * and the time to drain the queue into it is measured, which keeps the
 * sender out of the measured interval.  They are UDP datagrams from the
 * host's own stack to a static neighbour behind the tap, which is also how
 * 64 KiB GSO frames reach a tap intact (UDP_SEGMENT; packet sockets mark
 * GSO as untrusted and the tap would get it segmented).
 */
#define RX_LOCAL	0xc6336401	/* 198.51.100.1 on the tap */
#define RX_PEER		0xc6336402	/* the "guest", 198.51.100.2 */

static void tap_addr(const char *ifname, unsigned int qlen)
{
	struct sockaddr_in *sin;
	struct ifreq ifr = { 0 };
	struct arpreq arp = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	ifr.ifr_qlen = qlen;
	if (ioctl(s, SIOCSIFTXQLEN, &ifr) < 0)
		die("SIOCSIFTXQLEN");
	sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(RX_LOCAL);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		die("SIOCSIFADDR");
	sin->sin_addr.s_addr = htonl(0xffffff00);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
		die("SIOCSIFNETMASK");
	close(s);
	link_up(ifname);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sin = (struct sockaddr_in *)&arp.arp_pa;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(RX_PEER);
	arp.arp_ha.sa_family = 1;	/* ARPHRD_ETHER */
	memcpy(arp.arp_ha.sa_data, "\x02\x00\x00\x00\x00\x02", 6);
	arp.arp_flags = ATF_PERM | ATF_COM;
	snprintf(arp.arp_dev, sizeof(arp.arp_dev), "%s", ifname);
	if (ioctl(s, SIOCSARP, &arp) < 0)
		die("SIOCSARP");
	close(s);
}

/* Queue @n datagrams of @payload bytes (in @seg-byte segments if @seg). */
static unsigned int prewrite(unsigned int payload, unsigned int seg, unsigned int n)
{
	struct sockaddr_in to = {
		.sin_family = AF_INET,
		.sin_port = htons(9),
		.sin_addr.s_addr = htonl(RX_PEER),
	};
	static uint8_t buf[65536];
	unsigned int sent = 0, tries = 0;
	int s, sz = 1 << 29, err = 0;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	if (seg && setsockopt(s, IPPROTO_UDP, 103 /* UDP_SEGMENT */, &seg, sizeof(seg)) < 0)
		die("UDP_SEGMENT");
	while (sent < n && tries < 4 * n) {
		tries++;
		if (sendto(s, buf, payload, MSG_DONTWAIT, (struct sockaddr *)&to,
			   sizeof(to)) < 0) {
			err = errno;
			usleep(200);
			continue;
		}
		sent++;
	}
	if (sent < n)
		fprintf(stderr, "rx %u: only %u of %u datagrams sent: %s\n", payload, sent, n,
			strerror(err));
	close(s);
	return sent;
}

struct rx_sum {
	double units;	/* packets, or bytes for gso */
	double secs;
	double pkts;
	double cpu_ns;	/* the worker's */
};

/* One drain of a queue of datagrams, added to @sum. */
static void rx_drain(unsigned int len, bool gso, struct rx_sum *sum)
{
	struct dev d;
	struct vq *vq = &d.vq[RX_Q];
	unsigned int n = gso ? 300 : 10000, payload = len - 42, sent, i, k;
	unsigned long bytes = 0, want, used = 0;
	char ifname[IFNAMSIZ];
	double t0, t, end, cpu0;
	int tfd;

	gmem_next = 0;
	nworkers = 0;
	tfd = tap_open("vkb%d", false, gso, ifname);
	tap_addr(ifname, n + 64);
	setup_dev(&d, tfd);
	d.rx_buf_len = gso ? 4096 : 2048;
	d.rx_bufs_gpa = galloc((uint64_t)RING * d.rx_buf_len, 4096);
	for (i = 0; i < RING; i++) {
		vq->vr.desc[i].addr = d.rx_bufs_gpa + (uint64_t)i * d.rx_buf_len;
		vq->vr.desc[i].len = d.rx_buf_len;
		vq->vr.desc[i].flags = VRING_DESC_F_WRITE;
	}
	dev_backend(&d, tfd);
	sent = prewrite(payload, gso ? 1472 : 0, n);
	want = (unsigned long)sent * (HDR + len);
	usleep(100000);
	cpu0 = workers_cpu_ns();
	t0 = now();
	end = t0 + 20;
	for (i = 0; i < RING; i++)
		add(vq, i);
	publish(vq);
	while (bytes < want && now() < end) {
		k = 0;
		while (used_pending(vq)) {
			struct vring_used_elem *e = &vq->vr.used->ring[vq->last_used++ % RING];

			bytes += e->len;
			add(vq, e->id);
			k++;
		}
		used += k;
		if (k)
			publish(vq);
		else
			wait_used(vq, vq->last_used, 100);
	}
	t = now() - t0;
	sum->cpu_ns += workers_cpu_ns() - cpu0;
	if (bytes < want)
		fprintf(stderr, "rx %u: %lu of %lu bytes arrived (%lu buffers)\n",
			len, bytes, want, used);
	sum->secs += t;
	sum->pkts += bytes / (HDR + len);
	sum->units += gso ? bytes : bytes / (HDR + len);
	dev_close(&d);
	close(tfd);
	pin_end();
}

/*
 * A drain of 10000 frames lasts about 0.1 s under emulation, short enough
 * for one late wake-up to move the figure: a cell adds up several.
 */
#define RX_DRAINS	3

static void rx_run(const char *name, unsigned int len, bool gso)
{
	struct rx_sum sum = { 0 };
	char m[64];
	unsigned int i;

	for (i = 0; i < RX_DRAINS; i++)
		rx_drain(len, gso, &sum);
	snprintf(m, sizeof(m), "%s_%s", name, gso ? "gbps" : "pps");
	metric(m, gso ? sum.units * 8 / sum.secs / 1e9 : sum.units / sum.secs);
	snprintf(m, sizeof(m), "%s_worker_ns", name);
	if (sum.pkts)
		metric(m, sum.cpu_ns / sum.pkts);
}

/* ---- latency ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A device for the latency test: its tap, and one sample per round trip. */
struct lat_dev {
	struct dev d;
	int tfd;
	double *t;
	unsigned long missed;
};

/*
 * 10000 samples: p99 is then the 100th-worst, not the 10th, and no longer
 * moves with the few that a timer tick happened to hit.
 */
#define LAT_ITERS	10000
#define LAT_WARMUP	100

static void lat_open(struct lat_dev *l, unsigned int target, unsigned int busy_us)
{
	struct vhost_vring_state st = { .index = TX_Q, .num = busy_us };
	char ifname[IFNAMSIZ];

	l->tfd = tap_open("vkb%d", false, false, ifname);
	link_up(ifname);
	cur_target = target;
	setup_dev(&l->d, l->tfd);
	cur_target = 0;
	tx_fill(&l->d, 64, false);
	if (ioctl(l->d.vfd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st) < 0)
		die("VHOST_SET_VRING_BUSYLOOP_TIMEOUT");
	st.index = RX_Q;
	if (ioctl(l->d.vfd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st) < 0)
		die("VHOST_SET_VRING_BUSYLOOP_TIMEOUT");
	dev_backend(&l->d, l->tfd);
	l->t = calloc(LAT_ITERS, sizeof(*l->t));
	if (!l->t)
		die("calloc");
	l->missed = 0;
}

/* Round trip @i: one 64-byte TX packet, from its kick to its call. */
static void lat_trip(struct lat_dev *l, unsigned int i)
{
	struct vq *vq = &l->d.vq[TX_Q];
	struct pollfd p = { .fd = vq->call, .events = POLLIN };
	uint64_t cnt;
	double t0;

	vring_used_event(&vq->vr) = vq->last_used;
	add(vq, (uint16_t)i % RING);
	t0 = now();
	publish(vq);
	for (;;) {
		if (poll(&p, 1, 2000) == 1) {
			if (read(vq->call, &cnt, sizeof(cnt)) < 0)
				die("read call");
			break;
		}
		/* Used, but no interrupt: a lost notification. */
		if (used_pending(vq)) {
			l->missed++;
			break;
		}
	}
	if (i >= LAT_WARMUP)
		l->t[i - LAT_WARMUP] = (now() - t0) * 1e6;
	while (used_pending(vq))
		vq->last_used++;
}

/* Metrics PREFIX NAME_p50_us and _p99_us; closes the device. */
static void lat_close(struct lat_dev *l, const char *prefix, const char *name)
{
	char m[64];

	qsort(l->t, LAT_ITERS, sizeof(*l->t), cmp_double);
	snprintf(m, sizeof(m), "%s%s_p50_us", prefix, name);
	metric(m, l->t[LAT_ITERS / 2]);
	snprintf(m, sizeof(m), "%s%s_p99_us", prefix, name);
	metric(m, l->t[LAT_ITERS * 99 / 100]);
	if (l->missed)
		fprintf(stderr, "%s%s: %lu used entries without a call\n",
			prefix, name, l->missed);
	dev_close(&l->d);
	close(l->tfd);
	free(l->t);
}

static void lat_run(unsigned int target, unsigned int busy_us, const char *name)
{
	struct lat_dev l;
	unsigned int i;

	gmem_next = 0;
	lat_open(&l, target, busy_us);
	for (i = 0; i < LAT_ITERS + LAT_WARMUP; i++)
		lat_trip(&l, i);
	lat_close(&l, target ? "vs_" : "", name);
	pin_end();
}

/*
 * With --vs, the round trips of the two devices take turns, one each,
 * in one run.  Measured one after the other, in runs of their own, the
 * p99 of each run landed on one of a few levels (18.5, 18.8 or 19.4 us
 * of instructions, for all four datapaths alike), set by whatever else
 * the guest did during that run's 0.2 s; a ratio of two such runs was
 * off by 1 to 4 % whenever they landed on different levels.  Taking turns,
 * both devices meet the same interference, and the ratio is left with
 * the difference of their paths.  Busy polling is measured in runs of
 * its own even so: a worker still polling its ring would hold the CPU
 * that the other device's worker needs.
 */
static void lat_pair_run(const char *name)
{
	struct lat_dev a, b;
	unsigned int i;

	gmem_next = 0;
	lat_open(&a, 0, 0);
	lat_open(&b, 1, 0);
	for (i = 0; i < LAT_ITERS + LAT_WARMUP; i++) {
		lat_trip(&a, i);
		lat_trip(&b, i);
	}
	lat_close(&a, "", name);
	lat_close(&b, "vs_", name);
	pin_end();
}

/* ---- setup cost ---- */

static void setup_run(void)
{
	unsigned int iters = 9, i;
	double own[9], first[9], t0, t1;
	char ifname[IFNAMSIZ];
	struct dev d;
	int tfd;

	tfd = tap_open("vkb%d", false, false, ifname);
	link_up(ifname);
	for (i = 0; i < iters; i++) {
		gmem_next = 0;
		vq_alloc(&d.vq[RX_Q]);
		vq_alloc(&d.vq[TX_Q]);
		tx_fill(&d, 64, false);
		t0 = now();
		own[i] = dev_open_owner(&d) * 1e6;
		dev_rings(&d);
		dev_backend(&d, tfd);
		add(&d.vq[TX_Q], 0);
		publish(&d.vq[TX_Q]);
		while (!used_pending(&d.vq[TX_Q]))
			wait_used(&d.vq[TX_Q], 0, 1000);
		t1 = now();
		first[i] = (t1 - t0) * 1e6;
		dev_close(&d);
	}
	qsort(own, iters, sizeof(double), cmp_double);
	qsort(first, iters, sizeof(double), cmp_double);
	metric("setup_owner_us", own[iters / 2]);
	metric("setup_first_pkt_us", first[iters / 2]);
	close(tfd);
}

/* ---- many devices ---- */

static long meminfo_kb(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = atol(line + kl + 1);
	if (f)
		fclose(f);
	return v;
}

static long kernel_kb(void)
{
	return meminfo_kb("Slab") + meminfo_kb("KernelStack") + meminfo_kb("PageTables") +
	       meminfo_kb("VmallocUsed");
}

/*
 * Set-up time and kernel memory per device with N devices open at once,
 * the median of REPS repetitions: one device's footprint is close to the
 * page granularity of the slab counters, so a single reading of it is
 * mostly noise.
 */
static void devs_run(unsigned int n, unsigned int reps)
{
	static struct dev d[MAX_DEVS];
	double ms[16], kib[16];
	char m[64];
	unsigned int i, r;
	double t0;
	long k0;

	if (reps > 16)
		reps = 16;
	for (r = 0; r < reps; r++) {
		gmem_next = 0;
		for (i = 0; i < n; i++) {
			vq_alloc(&d[i].vq[RX_Q]);
			vq_alloc(&d[i].vq[TX_Q]);
		}
		usleep(200000);
		k0 = kernel_kb();
		t0 = now();
		for (i = 0; i < n; i++) {
			dev_open_owner(&d[i]);
			dev_rings(&d[i]);
		}
		ms[r] = (now() - t0) * 1e3 / n;
		usleep(200000);
		kib[r] = (double)(kernel_kb() - k0) / n;
		for (i = 0; i < n; i++)
			dev_close(&d[i]);
	}
	qsort(ms, reps, sizeof(double), cmp_double);
	qsort(kib, reps, sizeof(double), cmp_double);
	snprintf(m, sizeof(m), "devs%u_setup_ms_per_dev", n);
	metric(m, ms[reps / 2]);
	snprintf(m, sizeof(m), "devs%u_kernel_kib_per_dev", n);
	metric(m, kib[reps / 2]);
}

/* A TX cell: the rate and the workers' CPU time per packet. */
static void tx_cell(const char *name, unsigned int len, bool gso)
{
	double rate, cpu;
	char m[64];

	rate = tx_run(1, len, gso, &cpu);
	snprintf(m, sizeof(m), "%s_%s", name, gso ? "gbps" : "pps");
	metric(m, gso ? rate * len * 8 / 1e9 : rate);
	snprintf(m, sizeof(m), "%s_worker_ns", name);
	if (cpu)
		metric(m, cpu);
}

static void run_test_one(const char *t)
{
	if (!strcmp(t, "tx64"))
		tx_cell("tx64", 60, false);
	else if (!strcmp(t, "tx1500"))
		tx_cell("tx1500", 1514, false);
	else if (!strcmp(t, "txgso"))
		tx_cell("txgso", GSO_FRAME, true);
	else if (!strcmp(t, "rx64"))
		rx_run("rx64", 60, false);
	else if (!strcmp(t, "rx1500"))
		rx_run("rx1500", 1514, false);
	else if (!strcmp(t, "rxgso"))
		rx_run("rxgso", 42 + 44 * 1472, true);
	else if (!strcmp(t, "lat")) {
		if (targets[1].path) {
			lat_pair_run("lat");
			lat_run(0, 50, "lat_busy");
			lat_run(1, 50, "lat_busy");
		} else {
			lat_run(0, 0, "lat");
			lat_run(0, 50, "lat_busy");
		}
	} else if (!strcmp(t, "setup"))
		setup_run();
	else if (!strcmp(t, "mq")) {
		metric("mq1_tx64_pps", tx_run(1, 60, false, NULL));
		metric("mq2_tx64_pps", tx_run(2, 60, false, NULL));
		metric("mq4_tx64_pps", tx_run(4, 60, false, NULL));
	} else if (!strcmp(t, "devs")) {
		devs_run(1, 9);
		devs_run(16, 3);
		devs_run(64, 3);
	} else {
		fprintf(stderr, "bench_net: unknown test %s\n", t);
		exit(2);
	}
}

static void run_test(const char *t)
{
	/*
	 * A driver waiting 100 ms for a used entry or a call that should have
	 * come is worth knowing about: it shows as a low rate otherwise.
	 */
	timeouts = 0;
	run_test_one(t);
	if (timeouts)
		fprintf(stderr, "%s: %lu waits for used entries timed out\n", t, timeouts);
}

int main(int argc, char **argv)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			i++;
			targets[0].mode = !strcmp(argv[i], "task") ? 1 : 0;
		} else if (!strcmp(argv[i], "--vs-mode") && i + 1 < argc) {
			i++;
			targets[1].mode = !strcmp(argv[i], "task") ? 1 : 0;
		} else if (!strcmp(argv[i], "--vs") && i + 1 < argc) {
			targets[1].path = argv[++i];
		} else if (!strcmp(argv[i], "--secs") && i + 1 < argc) {
			opt_secs = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--pin")) {
			opt_pin = true;
		} else {
			fprintf(stderr, "usage: bench_net [--mode task|kthread] [--secs S] [--pin] [--vs DEVICE2 [--vs-mode task|kthread]] DEVICE TEST...\n");
			return 2;
		}
	}
	if (i >= argc)
		return 2;
	targets[0].path = argv[i++];
	gmem = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (gmem == MAP_FAILED)
		die("mmap");
	for (; i < argc; i++)
		run_test(argv[i]);
	return 0;
}
