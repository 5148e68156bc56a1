// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tbprof: a QEMU TCG plugin that counts, for every translation block of the
 * guest kernel, how many times it ran; bench/profile turns the counts into
 * instructions per kernel function.  The Debian kernels have no usable PMU
 * under TCG, so this is the profiler of the benchmarks: exact instruction
 * counts, where perf would sample.
 *
 * Phases: every time the block at address "mark" runs (bench/profile points
 * it at __x64_sys_sync: the guest runs sync(1) between two measurements),
 * the counts so far are written out as one phase and reset, so one boot
 * profiles several datapaths one after the other.
 *
 * Counts are kept per vCPU (an exec callback, which is told the vCPU,
 * where an inline add would not be): under -icount the vCPUs take turns on
 * one clock, so work on the driver's CPU is time the worker's CPU loses,
 * and only a per-CPU split shows which side a difference is on.  -icount
 * also runs every vCPU in one thread, so the plain increments do not race.
 *
 * Arguments: out=FILE (required), mark=HEX, min=HEX (lowest address
 * counted per block, default: the kernel half of the x86-64 address
 * space).  Blocks below it (user space: its addresses mean nothing
 * without the process) only add to one total per phase, "user N".
 *
 * Output per phase: "phase N", "user N", then one line per block that
 * ran, "VADDR INSNS COUNT CPU0 .. CPU3" (hex address, decimal counts;
 * vCPUs past the fourth count only in COUNT).
 *
 * QEMU's plugin API is declared here rather than included: Debian ships
 * no qemu-plugin.h, and these few calls have not changed since API
 * version 1, which QEMU 7.2 speaks.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_info_t;

enum { CB_NO_REGS = 0 };
enum { INLINE_ADD_U64 = 0 };

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
	void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
	void (*cb)(unsigned int, void *), int flags, void *udata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
	int op, void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
	void (*cb)(qemu_plugin_id_t, void *), void *udata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/*
 * One per (start address, length): a block retranslated after a flush, or
 * cut short for -icount, counts into the same entry, or its own if its
 * length differs.  Entries never move (callbacks hold their address); the
 * hash table holds pointers and is what grows.
 */
#define NCPUS 4

struct tb {
	uint64_t vaddr;
	uint64_t count;
	uint64_t cpu[NCPUS];
	uint32_t insns;
};

#define CHUNK 4096

static struct tb **table;
static size_t table_size, ntbs;
static struct tb *chunk;
static size_t chunk_used = CHUNK;
static uint64_t mark, min_addr = 0xffff800000000000ULL;
static FILE *out;
static unsigned int phase;
static uint64_t user_insns;

static size_t slot_of(uint64_t vaddr, uint32_t insns, size_t size)
{
	uint64_t h = (vaddr ^ ((uint64_t)insns << 48)) * 0x9e3779b97f4a7c15ULL;

	return (h >> 20) & (size - 1);
}

static bool grow(void)
{
	size_t size = table_size ? table_size * 2 : 1 << 16, i, s;
	struct tb **t = calloc(size, sizeof(*t));

	if (!t)
		return false;
	for (i = 0; i < table_size; i++) {
		if (!table[i])
			continue;
		s = slot_of(table[i]->vaddr, table[i]->insns, size);
		while (t[s])
			s = (s + 1) & (size - 1);
		t[s] = table[i];
	}
	free(table);
	table = t;
	table_size = size;
	return true;
}

static struct tb *lookup(uint64_t vaddr, uint32_t insns)
{
	size_t s;

	if (2 * (ntbs + 1) > table_size && !grow())
		return NULL;
	s = slot_of(vaddr, insns, table_size);
	for (; table[s]; s = (s + 1) & (table_size - 1))
		if (table[s]->vaddr == vaddr && table[s]->insns == insns)
			return table[s];
	if (chunk_used == CHUNK) {
		chunk = calloc(CHUNK, sizeof(*chunk));
		if (!chunk)
			return NULL;
		chunk_used = 0;
	}
	table[s] = &chunk[chunk_used++];
	table[s]->vaddr = vaddr;
	table[s]->insns = insns;
	ntbs++;
	return table[s];
}

/* Write the blocks that ran since the last phase, and start a new one. */
static void dump_phase(void)
{
	size_t i;

	fprintf(out, "phase %u\nuser %" PRIu64 "\n", phase++, user_insns);
	user_insns = 0;
	for (i = 0; i < table_size; i++) {
		if (!table[i] || !table[i]->count)
			continue;
		fprintf(out, "%" PRIx64 " %u %" PRIu64 " %" PRIu64 " %" PRIu64
			" %" PRIu64 " %" PRIu64 "\n", table[i]->vaddr,
			table[i]->insns, table[i]->count, table[i]->cpu[0],
			table[i]->cpu[1], table[i]->cpu[2], table[i]->cpu[3]);
		table[i]->count = 0;
		memset(table[i]->cpu, 0, sizeof(table[i]->cpu));
	}
	fflush(out);
}

static void on_exec(unsigned int vcpu, void *udata)
{
	struct tb *e = udata;

	e->count++;
	if (vcpu < NCPUS)
		e->cpu[vcpu]++;
}

/* The mark's block: counted first, so that it closes its own phase. */
static void on_mark(unsigned int vcpu, void *udata)
{
	on_exec(vcpu, udata);
	dump_phase();
}

static void on_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
	struct tb *e;

	if (vaddr < min_addr) {
		qemu_plugin_register_vcpu_tb_exec_inline(tb, INLINE_ADD_U64,
			&user_insns, qemu_plugin_tb_n_insns(tb));
		return;
	}
	e = lookup(vaddr, qemu_plugin_tb_n_insns(tb));
	if (!e)
		return;
	qemu_plugin_register_vcpu_tb_exec_cb(tb, vaddr == mark ? on_mark :
					     on_exec, CB_NO_REGS, e);
}

static void on_atexit(qemu_plugin_id_t id, void *udata)
{
	dump_phase();
	fclose(out);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const struct qemu_info_t *info,
			int argc, char **argv)
{
	const char *path = NULL;
	int i;

	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4))
			path = argv[i] + 4;
		else if (!strncmp(argv[i], "mark=", 5))
			mark = strtoull(argv[i] + 5, NULL, 16);
		else if (!strncmp(argv[i], "min=", 4))
			min_addr = strtoull(argv[i] + 4, NULL, 16);
		else
			return fprintf(stderr, "tbprof: unknown argument %s\n",
				       argv[i]), -1;
	}
	if (!path) {
		fprintf(stderr, "tbprof: out=FILE is required\n");
		return -1;
	}
	out = fopen(path, "w");
	if (!out) {
		perror(path);
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
	qemu_plugin_register_atexit_cb(id, on_atexit, NULL);
	return 0;
}
