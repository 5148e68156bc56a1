#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Name the blocks that tbprof counted: instructions per kernel function and
per module, for each datapath that tests/guest/prof.sh ran, and the
differences between stock and vhost-kt in each worker mode.

usage: profile-report.py COUNTS KALLSYMS GUEST-LOG [TOP]

COUNTS is the plugin's output ("phase N", "user N", then "vaddr insns count
cpu0 cpu1 ..." lines),
KALLSYMS the guest's /proc/kallsyms of the same boot, GUEST-LOG the console
output with the "vkt-prof-phase N DATAPATH" lines that name the phases.
"""
import bisect
import collections
import sys


def load_symbols(path):
    syms = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[1] not in 'tTwW':
                continue
            mod = parts[3].strip('[]') if len(parts) > 3 else 'vmlinux'
            syms.append((int(parts[0], 16), parts[2], mod))
    syms.sort()
    return [s[0] for s in syms], syms


def load_phases(path):
    phases, user = {}, {}
    cur = None
    with open(path) as f:
        for line in f:
            if line.startswith('phase '):
                n = int(line.split()[1])
                cur = phases.setdefault(n, [])
                continue
            if line.startswith('user '):
                user[n] = int(line.split()[1])
                continue
            vaddr, insns, *counts = line.split()
            cur.append((int(vaddr, 16), int(insns),
                        [int(c) for c in counts]))
    return phases, user


def phase_names(path):
    """Phase numbers to datapaths, and per datapath its clock and busy times."""
    names, times = {}, {}
    with open(path, errors='replace') as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[0] == 'vkt-prof-phase':
                names[int(parts[1])] = parts[2]
            elif len(parts) > 2 and parts[0] == 'vkt-prof-times':
                v = [int(x) for x in parts[2:]]
                half = len(v) // 2
                times[parts[1]] = [b - a for a, b in zip(v[:half], v[half:])]
    return names, times


def by_function(blocks, addrs, syms, col=0):
    """Instructions per (module, function); col 0 is all CPUs, col 1 + N
    CPU N alone."""
    funcs = collections.Counter()
    for vaddr, insns, counts in blocks:
        if col >= len(counts):
            continue
        i = bisect.bisect_right(addrs, vaddr) - 1
        key = ('?', '?') if i < 0 else (syms[i][2], syms[i][1])
        funcs[key] += insns * counts[col]
    return funcs


def show(title, funcs, cpus, user, times, top):
    total = sum(funcs.values())
    print(f'\n## {title}: {total:,} kernel instructions\n')
    print(f'User space (not broken down): {user:,} instructions.')
    if cpus:
        per = ', '.join(f'cpu{i} {sum(f.values()):,}' for i, f in enumerate(cpus))
        print(f'Kernel instructions per CPU: {per}.')
    if times:
        busy = ', '.join(f'cpu{i} {t / 1e6:.1f}' for i, t in enumerate(times[1:]))
        print(f'Clock: {times[0] / 1e6:.1f} ms; busy per CPU (ms): {busy}.')
    print()
    mods = collections.Counter()
    for (mod, _), n in funcs.items():
        mods[mod] += n
    print('| module | instructions |\n|---|---:|')
    for mod, n in mods.most_common(8):
        print(f'| {mod} | {n:,} |')
    print('\n| function | module | instructions | share |\n|---|---|---:|---:|')
    for (mod, name), n in funcs.most_common(top):
        print(f'| {name} | {mod} | {n:,} | {100 * n / total:.1f} % |')


def diff_table(a_name, a, b_name, b, top):
    keys = set(a) | set(b)
    diff = sorted(keys, key=lambda k: -abs(b[k] - a[k]))
    print(f'| function | module | {a_name} | {b_name} | difference |\n'
          '|---|---|---:|---:|---:|')
    for k in diff[:top]:
        print(f'| {k[1]} | {k[0]} | {a[k]:,} | {b[k]:,} | {b[k] - a[k]:+,} |')


def ratio(a, b):
    return f'{b / a:.4f}' if a else '-'


def compare(a_name, a, a_cpus, b_name, b, b_cpus, top):
    """Functions whose counts differ most between phases a and b, over all
    CPUs and then per CPU: under -icount the CPUs share one clock, so work
    added on one CPU is time taken from the other."""
    ta, tb = sum(a.values()), sum(b.values())
    # The vhost modules alone: stock's vhost, vhost_net and vhost_iotlb
    # against vhost_kt; the rest of the kernel is shared code.
    va = sum(n for k, n in a.items() if k[0].startswith('vhost'))
    vb = sum(n for k, n in b.items() if k[0].startswith('vhost'))
    print(f'\n## {b_name} minus {a_name}: {tb - ta:+,} instructions '
          f'({ratio(ta, tb)} of {a_name})\n')
    print(f'In the vhost modules: {va:,} and {vb:,} ({ratio(va, vb)}).\n')
    diff_table(a_name, a, b_name, b, top)
    for i, (ca, cb) in enumerate(zip(a_cpus, b_cpus)):
        sa, sb = sum(ca.values()), sum(cb.values())
        if not sa and not sb:
            continue
        print(f'\n### CPU {i}: {sa:,} and {sb:,} kernel instructions '
              f'({sb - sa:+,}, {ratio(sa, sb)})\n')
        diff_table(a_name, ca, b_name, cb, max(top // 2, 5))


def main():
    counts, kallsyms, log = sys.argv[1:4]
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 30
    addrs, syms = load_symbols(kallsyms)
    phases, user = load_phases(counts)
    names, times = phase_names(log)
    funcs, cpus = {}, {}
    for n, dp in sorted(names.items()):
        if n not in phases:
            sys.exit(f'profile-report: no counts for phase {n} ({dp})')
        funcs[dp] = by_function(phases[n], addrs, syms)
        # The CPUs that ran anything in this phase; idle trailing ones
        # (the plugin writes a fixed number of columns) are left out.
        cpus[dp] = [by_function(phases[n], addrs, syms, 1 + i)
                    for i in range(max((len(b[2]) for b in phases[n]),
                                       default=1) - 1)]
        while cpus[dp] and not sum(cpus[dp][-1].values()):
            cpus[dp].pop()
        # Phases are told apart only by counting syncs: a phase that did
        # not run its datapath's module means the count slipped.
        want = 'vhost_kt' if dp.startswith('kt-') else 'vhost_net'
        if not any(k[0] == want and v for k, v in funcs[dp].items()):
            sys.exit(f'profile-report: phase {n} ({dp}) never ran {want}')
        show(dp, funcs[dp], cpus[dp], user.get(n, 0), times.get(dp), top)
    for mode in ('task', 'kthread'):
        s, k = f'stock-{mode}', f'kt-{mode}'
        if s in funcs and k in funcs:
            compare(s, funcs[s], cpus[s], k, funcs[k], cpus[k], top)


if __name__ == '__main__':
    main()
