// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_traffic: steady TX (and optionally RX) traffic through one
 * vhost-kt-net device and a tap, with a fault injected while it flows.
 * Used by tests/guest/faults.sh and load.sh.
 *
 *   fuzz_traffic [--mode kthread|task] [--seconds S] [--at MS]
 *                [--action none|exit|close-tap|detach|reset-owner|fork]
 *                [--rx] [--quiet] [--while FILE] DEVICE
 *   fuzz_traffic --open-cycles N [--seconds S] [--mode M] DEVICE
 *
 * The driver side is deliberately simple (one descriptor per frame, no
 * event index, VERSION_1 header; --while stops the traffic early once FILE
 * is removed) because the point is the fault, not the
 * data path, which net_test covers.  The owner waits for the call eventfd
 * instead of spinning, so most CPU time of a busy run is the worker's.
 * Output is TAP; the exit status is non-zero if a check failed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/tap.h"

#define SET_FORK_FROM_OWNER _IOW(VHOST_VIRTIO, 0x84, __u8)
#define RING		256
#define FRAME		1514
#define HDR		12
#define SLOT		2048
#define MEM_SIZE	(4u << 20)
#define RXQ		0
#define TXQ		1

static const char *dev_path;
static int opt_mode = -1;
static double opt_seconds = 3, opt_at = -1;
static const char *opt_action = "none";
static bool opt_rx, opt_quiet;
static const char *opt_while;	/* traffic only while this file exists */
static unsigned long opt_cycles;

static int fd, tap = -1, pkt = -1;
static char ifname[IFNAMSIZ];
static uint8_t *mem;
static int kickfd[2], callfd[2];
static uint16_t avail_idx[2], used_seen[2];
static unsigned long frames_tx, frames_rx;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define DESC(q)		((struct vring_desc *)(mem + 0x1000 + (q) * 0x10000))
#define AVAIL(q)	((struct vring_avail *)(mem + 0x1000 + (q) * 0x10000 + RING * 16))
#define USED(q)		((struct vring_used *)(mem + 0x1000 + (q) * 0x10000 + 0x8000))
#define BUF(q, i)	(0x40000ul + ((q) * RING + (i)) * SLOT)

static int tap_create(void)
{
	struct ifreq ifr = { 0 };
	int t, s, hsz = HDR;

	t = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (t < 0)
		bail("open /dev/net/tun");
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	strcpy(ifr.ifr_name, "vktft%d");
	if (ioctl(t, TUNSETIFF, &ifr) < 0)
		bail("TUNSETIFF");
	strcpy(ifname, ifr.ifr_name);
	/* VERSION_1: the header is 12 bytes on both sides. */
	if (ioctl(t, TUNSETVNETHDRSZ, &hsz) < 0)
		bail("TUNSETVNETHDRSZ");
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	return t;
}

static int set_backend(int q, int bfd)
{
	struct vhost_vring_file f = { q, bfd };

	return ioctl(fd, VHOST_NET_SET_BACKEND, &f);
}

static void setup(void)
{
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region r;
	} m = { { .nregions = 1 } };
	uint64_t feat = 1ull << VIRTIO_F_VERSION_1;
	int q;

	fd = open(dev_path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		bail("open");
	if (opt_mode >= 0) {
		uint8_t v = opt_mode;

		if (ioctl(fd, SET_FORK_FROM_OWNER, &v))
			bail("SET_FORK_FROM_OWNER");
	}
	if (ioctl(fd, VHOST_SET_OWNER))
		bail("SET_OWNER");
	if (ioctl(fd, VHOST_SET_FEATURES, &feat))
		bail("SET_FEATURES");
	m.r.memory_size = MEM_SIZE;
	m.r.userspace_addr = (unsigned long)mem;
	if (ioctl(fd, VHOST_SET_MEM_TABLE, &m))
		bail("SET_MEM_TABLE");
	for (q = 0; q < 2; q++) {
		struct vhost_vring_state s = { q, RING };
		struct vhost_vring_addr a = { .index = q };
		struct vhost_vring_file f = { .index = q };

		if (ioctl(fd, VHOST_SET_VRING_NUM, &s))
			bail("SET_VRING_NUM");
		s.num = avail_idx[q];
		if (ioctl(fd, VHOST_SET_VRING_BASE, &s))
			bail("SET_VRING_BASE");
		a.desc_user_addr = (unsigned long)DESC(q);
		a.avail_user_addr = (unsigned long)AVAIL(q);
		a.used_user_addr = (unsigned long)USED(q);
		if (ioctl(fd, VHOST_SET_VRING_ADDR, &a))
			bail("SET_VRING_ADDR");
		f.fd = kickfd[q];
		if (ioctl(fd, VHOST_SET_VRING_KICK, &f))
			bail("SET_VRING_KICK");
		f.fd = callfd[q];
		if (ioctl(fd, VHOST_SET_VRING_CALL, &f))
			bail("SET_VRING_CALL");
	}
}

static void kick(int q)
{
	uint64_t one = 1;

	if (write(kickfd[q], &one, 8) < 0)
		bail("kick");
}

/* Refill queue @q up to the ring size; descriptor i always uses slot i. */
static void refill(int q)
{
	struct vring_avail *av = AVAIL(q);
	struct vring_desc *d = DESC(q);
	bool any = false;

	while ((uint16_t)(avail_idx[q] - used_seen[q]) < RING) {
		unsigned int i = avail_idx[q] % RING;

		d[i].addr = BUF(q, i);
		d[i].len = q == TXQ ? HDR + FRAME : SLOT;
		d[i].flags = q == TXQ ? 0 : VRING_DESC_F_WRITE;
		d[i].next = 0;
		av->ring[i] = i;
		avail_idx[q]++;
		any = true;
	}
	if (any) {
		__atomic_store_n(&av->idx, avail_idx[q], __ATOMIC_RELEASE);
		kick(q);
	}
}

/* Collect what the worker used; returns the count. */
static unsigned int reap(int q)
{
	uint16_t u = __atomic_load_n(&USED(q)->idx, __ATOMIC_ACQUIRE);
	unsigned int n = (uint16_t)(u - used_seen[q]);

	used_seen[q] = u;
	return n;
}

static void rx_inject(void)
{
	static uint8_t f[FRAME];

	if (pkt < 0)
		return;
	memset(f, 0xff, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	send(pkt, f, 200, MSG_DONTWAIT);
}

/* Run traffic for @secs; returns TX frames completed in that time. */
static unsigned long run(double secs)
{
	struct pollfd p[2] = { { callfd[TXQ], POLLIN }, { callfd[RXQ], POLLIN } };
	double end = now() + secs;
	unsigned long n = 0;
	uint64_t v;

	while (now() < end && (!opt_while || !access(opt_while, F_OK))) {
		refill(TXQ);
		if (opt_rx) {
			refill(RXQ);
			rx_inject();
		}
		/* A timeout kicks again: a re-attached backend may wait for one. */
		if (poll(p, 2, 50) == 0) {
			kick(TXQ);
		} else {
			if (read(callfd[TXQ], &v, 8) < 0 && errno != EAGAIN)
				bail("read call");
			if (read(callfd[RXQ], &v, 8) < 0 && errno != EAGAIN)
				bail("read call");
		}
		n += reap(TXQ);
		frames_rx += reap(RXQ);
	}
	frames_tx += n;
	return n;
}

static bool if_exists(void)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/class/net/%s", ifname);
	return stat(path, &st) == 0;
}

/* Is the queue stopped?  Kick for @secs and see whether used moves. */
static bool stopped(double secs)
{
	unsigned long n;

	usleep(200000);
	reap(TXQ);
	n = run(secs);
	return n == 0;
}

static void action_fork(void)
{
	static const unsigned long owner_only[] = {
		VHOST_SET_MEM_TABLE, VHOST_SET_VRING_NUM, VHOST_SET_VRING_ADDR,
		VHOST_GET_VRING_BASE, VHOST_SET_VRING_KICK, VHOST_RESET_OWNER,
		VHOST_NET_SET_BACKEND,
	};
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		unsigned int k, bad = 0;

		for (k = 0; k < sizeof(owner_only) / sizeof(owner_only[0]); k++) {
			uint64_t arg[8] = { 0 };

			if (ioctl(fd, owner_only[k], arg) != -1 || errno != EPERM) {
				printf("# child: ioctl %#lx: %s\n", owner_only[k],
				       strerror(errno));
				bad++;
			}
		}
		if (ioctl(fd, VHOST_SET_OWNER) != -1 || errno != EBUSY)
			bad++;
		fflush(stdout);
		_exit(bad);
	}
	check(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0,
	      "a forked child gets EPERM for owner-only ioctls, EBUSY for SET_OWNER");
	check(run(1) > 0, "traffic still flows for the owner after the child");
}

/* The owner's own CPU time, as /proc/<pid>/stat utime + stime. */
static void print_cpu(void)
{
	unsigned long long ut = 0, st = 0;
	char buf[1024], *p;
	FILE *f;

	f = fopen("/proc/self/stat", "r");
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f)) {
		/* Fields after the command name, which may hold spaces. */
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st) == 2)
			printf("# owner-cpu-usec %llu\n",
			       (ut + st) * 1000000ull / sysconf(_SC_CLK_TCK));
	}
	fclose(f);
	fflush(stdout);
}

static void traffic(void)
{
	unsigned long n;
	int rc;
	double t0;

	tap = tap_create();
	if (opt_rx) {
		struct sockaddr_ll sll = { .sll_family = AF_PACKET };

		/* Protocol 0: silent until bound to the tap. */
		pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
		sll.sll_protocol = htons(ETH_P_ALL);
		sll.sll_ifindex = if_nametoindex(ifname);
		if (pkt >= 0 && bind(pkt, (struct sockaddr *)&sll, sizeof(sll)))
			pkt = -1;
	}
	setup();
	if (set_backend(RXQ, tap) || set_backend(TXQ, tap))
		bail("NET_SET_BACKEND");
	n = run(opt_at >= 0 ? opt_at / 1000 : opt_seconds);
	/* A crowded (TCG) guest may need longer for the first frame. */
	for (t0 = now(); !n && now() - t0 < 30;)
		n = run(0.5);
	if (!check(n > 0, "traffic flows (%lu TX frames, %lu RX) through %s",
		   n, frames_rx, ifname))
		return;
	printf("# busy\n");
	fflush(stdout);

	if (!strcmp(opt_action, "exit")) {
		/* Leave everything open and busy: exit() does the cleanup. */
		run(opt_seconds);
		rc = tap_end();
		kick(TXQ);
		exit(rc);
	} else if (!strcmp(opt_action, "close-tap")) {
		close(tap);
		tap = -1;
		check(if_exists(), "%s survives its fd's close (the backend holds it)",
		      ifname);
		n = run(1);
		check(true, "traffic after the tap fd's close: %lu frames", n);
		check(set_backend(RXQ, -1) == 0 && set_backend(TXQ, -1) == 0,
		      "backend detached after the tap fd's close");
		check(stopped(0.5), "traffic stopped after the detach");
		usleep(300000);
		check(!if_exists(), "%s is gone with the backend's last reference",
		      ifname);
	} else if (!strcmp(opt_action, "detach")) {
		check(set_backend(RXQ, -1) == 0 && set_backend(TXQ, -1) == 0,
		      "NET_SET_BACKEND -1 under traffic");
		check(stopped(0.5), "traffic stopped after the detach");
		check(set_backend(RXQ, tap) == 0 && set_backend(TXQ, tap) == 0,
		      "backend attached again");
		check(run(1) > 0, "traffic flows again after re-attaching");
	} else if (!strcmp(opt_action, "reset-owner")) {
		check(ioctl(fd, VHOST_RESET_OWNER) == 0, "RESET_OWNER under traffic");
		check(stopped(0.5), "traffic stopped after RESET_OWNER");
		check(ioctl(fd, VHOST_SET_OWNER) == 0, "SET_OWNER again after the reset");
		avail_idx[0] = avail_idx[1] = used_seen[0] = used_seen[1] = 0;
		memset(mem, 0, 0x40000);
		close(fd);
		setup();
		check(set_backend(RXQ, tap) == 0 && set_backend(TXQ, tap) == 0 &&
		      run(1) > 0, "a new device on the same tap carries traffic");
	} else if (!strcmp(opt_action, "fork")) {
		action_fork();
	} else if (opt_at >= 0) {
		run(opt_seconds);
	}
	if (!opt_quiet)
		printf("# %lu TX frames, %lu RX frames in all\n", frames_tx, frames_rx);
	print_cpu();
}

/* Open, SET_OWNER, close, as often as fits in the time allowed. */
static void cycles(void)
{
	double end = now() + opt_seconds, t0 = now();
	unsigned long i, errs = 0;

	for (i = 0; i < opt_cycles && now() < end; i++) {
		fd = open(dev_path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			errs++;
			continue;
		}
		if (opt_mode >= 0) {
			uint8_t v = opt_mode;

			ioctl(fd, SET_FORK_FROM_OWNER, &v);
		}
		if (ioctl(fd, VHOST_SET_OWNER))
			errs++;
		close(fd);
	}
	printf("# cycles %lu in %.1f s\n", i, now() - t0);
	check(errs == 0, "%lu open/SET_OWNER/close cycles (%lu of %lu asked), "
	      "%lu errors", i, i, opt_cycles, errs);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "seconds", required_argument, NULL, 's' },
		{ "at", required_argument, NULL, 'a' },
		{ "action", required_argument, NULL, 'A' },
		{ "rx", no_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "open-cycles", required_argument, NULL, 'c' },
		{ "while", required_argument, NULL, 'w' },
		{ }
	};
	int c, q;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			opt_mode = !strcmp(optarg, "task");
			break;
		case 's':
			opt_seconds = atof(optarg);
			break;
		case 'a':
			opt_at = atof(optarg);
			break;
		case 'A':
			opt_action = optarg;
			break;
		case 'r':
			opt_rx = true;
			break;
		case 'q':
			opt_quiet = true;
			break;
		case 'c':
			opt_cycles = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			opt_while = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: see the comment at the top of fuzz_traffic.c\n");
		return 2;
	}
	dev_path = argv[optind];
	tap_label = dev_path;
	signal(SIGPIPE, SIG_IGN);
	if (opt_cycles) {
		cycles();
	} else {
		mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			bail("mmap");
		for (q = 0; q < 2; q++) {
			kickfd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			callfd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		}
		traffic();
	}
	return tap_end();
}
