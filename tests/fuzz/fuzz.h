/* SPDX-License-Identifier: GPL-2.0-only */
/* fuzz_vhost: what the phases share (see main.c for the overview). */
#ifndef VKT_FUZZ_H
#define VKT_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <net/if.h>
#include <signal.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/tap.h"

#define V 0xaf
#define IOW(nr, sz) _IOC(_IOC_WRITE, V, nr, sz)
#define IOR(nr, sz) _IOC(_IOC_READ, V, nr, sz)
#define IOWR(nr, sz) _IOC(_IOC_READ | _IOC_WRITE, V, nr, sz)
#define IONONE(nr) _IOC(_IOC_NONE, V, nr, 0)

#define KT_TEST_RUN	IOW(0xe1, 4)
#define KT_TEST_STATS	IOR(0xe2, 32)
#define MAX_NODES	8
#define RING		256
#define GMEM_SIZE	(2u << 20)	/* one guest memory region */
#define PAGE		4096ul

/* Options and state of the run (main.c). */
extern uint64_t seed, rng_state;
extern unsigned long opt_iterations;
extern bool opt_tap;
extern double t_end;

uint64_t rnd(void);
static inline uint64_t rn(uint64_t n) { return n ? rnd() % n : 0; }
static inline bool chance(unsigned int pct) { return rn(100) < pct; }
double now(void);
bool out_of_time(void);

/* Arguments (setup.c). */
enum arg_class {
	ARG_GOOD, ARG_ZERO, ARG_NULL, ARG_UNMAPPED, ARG_KERNEL, ARG_UNALIGNED,
	ARG_STRADDLE, ARG_RO, ARG_INT, ARG_NCLASS
};
extern const char *const class_name[];
extern const uint64_t kernel_addrs[6];
extern uint8_t *goodbuf, *nonepage, *ropage;
void addrs_init(void);
void fill_random(void *p, size_t len);
unsigned long make_arg(enum arg_class c, size_t size);

/* A device set up to some stage (setup.c). */
struct dev {
	int fd;
	bool is_net, is_test;
	uint8_t *mem;		/* guest memory, guest physical 0 */
	int kick[2], call[2], err[2];
	int tap, pkt;
	char ifname[IFNAMSIZ];
};

#define DESC_OFF(q)	(0x1000 + (q) * 0x10000)
#define AVAIL_OFF(q)	(DESC_OFF(q) + RING * 16)
#define USED_OFF(q)	(DESC_OFF(q) + 0x8000)
#define BUF_OFF		0x40000

long xioc(int fd, unsigned long nr, const void *arg);
int dev_setup(struct dev *d, const char *node, int stage, int mode);
void dev_close(struct dev *d);
void kick(struct dev *d, int q);
/*
 * Zero @buf (sizeof(struct vhost_msg_v2)) and make it a v1 or v2 IOTLB
 * message; returns its length, and its payload in *@im.
 */
size_t iotlb_msg_init(void *buf, bool v2, struct vhost_iotlb_msg **im);
int tap_create(char *name);
int packet_socket(const char *ifname);

/* The IOTLB miss round trip of phase iotlb (miss.c). */
void iotlb_miss_roundtrip(const char *node);

/* Errno bookkeeping (ioctls.c). */
struct stats {
	unsigned long calls, ok, errs, bad;
};
void note(struct stats *s, const char *what, const char *cls, long r,
	  int err, bool big);

void phase_ioctls(const char *node);
void phase_memtable(const char *node);
void phase_iotlb(const char *node);
void phase_rings(const char *node);
void phase_fork(const char *node);
void phase_exits(const char *node);
void phase_race(const char *node);

#endif /* VKT_FUZZ_H */
