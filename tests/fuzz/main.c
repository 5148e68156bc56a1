// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_vhost: structured-random fuzzer for vhost-kt's character devices.
 *
 * Runs in a test guest (never on a machine one cares about).  Every run
 * prints its seed first; the same seed, device list and bounds replay the
 * same sequence of operations (timing-dependent interleavings with the
 * kernel's worker threads aside).  Phases:
 *
 *   ioctls   every ioctl number of <linux/vhost.h>, the mode ioctls and
 *            random ones, with good, NULL, unmapped, kernel, unaligned and
 *            page-straddling arguments, at every setup stage
 *   memtable unaligned, overlapping, huge and wrapping memory tables
 *   iotlb    first a fixed IOTLB miss round trip (miss.c: read() and
 *            poll() a miss, answer it, see the chain cross the ring), then
 *            v1/v2 IOTLB messages through write(): wrong sizes and types,
 *            overflowing ranges, invalidation of what was never mapped
 *   rings    a running device (tap backends for vhost-kt-net, the test
 *            backend for /dev/vhost-kt-test) whose rings are corrupted
 *            while the worker reads them
 *   fork     a forked child using the parent's fd: owner-only ioctls must
 *            fail with EPERM, SET_OWNER with EBUSY
 *   exits    children that set devices up part way and then close, exit or
 *            get SIGKILLed at a random point; each must be gone promptly
 *   race     (only with --phase race; race.c) threads and a forked child
 *            on one running vhost-net device, in random interleavings of
 *            IOTLB traffic, ring and backend changes, worker ioctls,
 *            RESET/SET_OWNER, mode ioctls and close, while frames flow
 *
 * The checks are the invariants visible from userspace: no errno outside the
 * set expected for the input class (never EIO, never a kernel-internal
 * errno >= 512, never ENOMEM for small inputs), a kernel address is never
 * accepted, owner-only ioctls from another process fail with EPERM, and
 * close() and exit return in bounded time.  Everything else (oopses,
 * warnings, lockdep, KASAN) is caught by the harness's kernel-log scan.
 * Output is TAP: one line per phase and device with counts.
 */
#define _GNU_SOURCE
#include "fuzz.h"

/* ---- options, random numbers, TAP ---- */

uint64_t seed, rng_state;
static double opt_seconds = 30;
unsigned long opt_iterations = 2000;
static const char *nodes[MAX_NODES];
static int nnodes;
static const char *only_phase;
bool opt_tap = true;
double t_end;

uint64_t rnd(void)
{
	/* splitmix64: tiny, and good enough to reach odd corners. */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}


double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

bool out_of_time(void) { return now() > t_end; }

/* ---- main ---- */

static const struct {
	const char *name;
	void (*fn)(const char *node);
	bool explicit;	/* runs only when named by --phase */
} phases[] = {
	{ "ioctls", phase_ioctls },
	{ "memtable", phase_memtable },
	{ "iotlb", phase_iotlb },
	{ "rings", phase_rings },
	{ "fork", phase_fork },
	{ "exits", phase_exits },
	{ "race", phase_race, true },
};
#define NPHASES (sizeof(phases) / sizeof(phases[0]))

static void usage(void)
{
	fprintf(stderr, "usage: fuzz_vhost [--seed N] [--seconds S] [--iterations N]\n"
		"                  [--phase NAME] [--no-tap] DEVICE...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "phase", required_argument, NULL, 'p' },
		{ "no-tap", no_argument, NULL, 'T' },
		{ }
	};
	bool have_seed = false;
	unsigned int p, i, nrun;
	double start, per;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			have_seed = true;
			break;
		case 't':
			opt_seconds = atof(optarg);
			break;
		case 'n':
			opt_iterations = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			only_phase = optarg;
			break;
		case 'T':
			opt_tap = false;
			break;
		default:
			usage();
		}
	}
	for (; optind < argc && nnodes < MAX_NODES; optind++)
		if (access(argv[optind], R_OK | W_OK) == 0)
			nodes[nnodes++] = argv[optind];
	if (!have_seed)
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	printf("# seed %llu\n", (unsigned long long)seed);
	fflush(stdout);
	if (!nnodes) {
		printf("not ok 1 - no usable device given\n1..1\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	addrs_init();
	start = now();
	for (p = 0, nrun = 0; p < NPHASES; p++)
		nrun += only_phase ? !strcmp(only_phase, phases[p].name) :
				     !phases[p].explicit;
	if (!nrun) {
		printf("not ok 1 - no phase named %s\n1..1\n", only_phase);
		return 1;
	}
	per = opt_seconds / nnodes / nrun;
	for (i = 0; i < (unsigned int)nnodes; i++) {
		for (p = 0; p < NPHASES; p++) {
			if (only_phase ? strcmp(only_phase, phases[p].name) :
					 phases[p].explicit)
				continue;
			/* Each (device, phase) has its own stream and time slice. */
			rng_state = seed ^ (0x1000193ull * (i * NPHASES + p + 1));
			t_end = now() + per;
			phases[p].fn(nodes[i]);
		}
	}
	diag("%u checks, %u failed, %.1f s, seed %llu", tap_n, tap_failed,
	     now() - start, (unsigned long long)seed);
	return tap_end();
}

