#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Turn the "vkt-bench ROUND DATAPATH METRIC VALUE" lines of a bench run
into results/latest.{md,csv} and a gnuplot chart.

usage: report.py RAW_LOG OUTDIR

Every cell compares vhost-kt with stock vhost-net in the same worker mode,
round by round (the datapaths alternate within a round), as a speed-up:
kt/stock for rates, stock/kt for times and memory, so above 1.00 always
means vhost-kt did better.  The table gives the median of those per-round
ratios with their minimum and maximum.
"""
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile

# metric -> (description, unit, higher is better)
METRICS = [
    ("tx64_pps", "TX 64-byte frames", "pkt/s", True),
    ("tx1500_pps", "TX 1514-byte frames", "pkt/s", True),
    ("txgso_gbps", "TX 64 KiB TSO frames", "Gbit/s", True),
    ("rx64_pps", "RX 64-byte frames", "pkt/s", True),
    ("rx1500_pps", "RX 1514-byte frames", "pkt/s", True),
    ("rxgso_gbps", "RX 64 KiB GSO frames", "Gbit/s", True),
    ("tx64_worker_ns", "TX 64: worker CPU per packet", "ns", False),
    ("tx1500_worker_ns", "TX 1514: worker CPU per packet", "ns", False),
    ("txgso_worker_ns", "TX 64 KiB TSO: worker CPU per frame", "ns", False),
    ("rx64_worker_ns", "RX 64: worker CPU per packet", "ns", False),
    ("rx1500_worker_ns", "RX 1514: worker CPU per packet", "ns", False),
    ("rxgso_worker_ns", "RX 64 KiB GSO: worker CPU per frame", "ns", False),
    ("lat_p50_us", "kick->call p50", "us", False),
    ("lat_p99_us", "kick->call p99", "us", False),
    ("lat_busy_p50_us", "kick->call p50, busy poll 50us", "us", False),
    ("lat_busy_p99_us", "kick->call p99, busy poll 50us", "us", False),
    ("setup_owner_us", "open -> SET_OWNER done", "us", False),
    ("setup_first_pkt_us", "open -> first TX packet used", "us", False),
    ("mq1_tx64_pps", "TX 64 B, 1 queue pair", "pkt/s", True),
    ("mq2_tx64_pps", "TX 64 B, 2 queue pairs", "pkt/s", True),
    ("mq4_tx64_pps", "TX 64 B, 4 queue pairs", "pkt/s", True),
    ("devs1_setup_ms_per_dev", "1 device: setup per device", "ms", False),
    ("devs16_setup_ms_per_dev", "16 devices: setup per device", "ms", False),
    ("devs64_setup_ms_per_dev", "64 devices: setup per device", "ms", False),
    ("devs1_kernel_kib_per_dev", "1 device: kernel memory", "KiB/dev", False),
    ("devs16_kernel_kib_per_dev", "16 devices: kernel memory", "KiB/dev", False),
    ("devs64_kernel_kib_per_dev", "64 devices: kernel memory", "KiB/dev", False),
    ("vm_tx_mbps", "L2 VM iperf3 TCP, VM -> L1", "Mbit/s", True),
    ("vm_rx_mbps", "L2 VM iperf3 TCP, L1 -> VM", "Mbit/s", True),
    ("vm_tx_worker_us_per_mb", "L2 VM, VM -> L1: worker CPU per MB", "us", False),
    ("vm_rx_worker_us_per_mb", "L2 VM, L1 -> VM: worker CPU per MB", "us", False),
]
MODES = ("task", "kthread")


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def main():
    raw, out = sys.argv[1], sys.argv[2]
    data = {}  # (dp, metric) -> {round: value}
    metas = []
    for line in open(raw, errors="replace"):
        line = line.strip()
        m = re.match(r"vkt-bench (\d+) (\S+) (\S+) (\S+)$", line)
        if m:
            key, val = m.group(3), float(m.group(4))
            # The L2 VM figures are small under TCG: Mbit/s reads better.
            if key.startswith("vm_") and key.endswith("_gbps"):
                key, val = key[:-5] + "_mbps", val * 1000
            data.setdefault((m.group(2), key), {})[int(m.group(1))] = val
        elif line.startswith("vkt-bench-meta "):
            # One line per guest boot (the L2 VM cells may have their own).
            metas.append(line[len("vkt-bench-meta "):])
    rows = []
    for key, desc, unit, higher in METRICS:
        for mode in MODES:
            s = data.get(("stock-" + mode, key), {})
            k = data.get(("kt-" + mode, key), {})
            ratios = []
            for r in sorted(set(s) & set(k)):
                a, b = s[r], k[r]
                if a > 0 and b > 0:
                    ratios.append(b / a if higher else a / b)
            if not s and not k:
                continue
            rows.append({
                "metric": key, "what": desc, "unit": unit, "mode": mode,
                "better": "higher" if higher else "lower",
                "stock_median": statistics.median(s.values()) if s else None,
                "kt_median": statistics.median(k.values()) if k else None,
                "ratio_median": statistics.median(ratios) if ratios else None,
                "ratio_min": min(ratios) if ratios else None,
                "ratio_max": max(ratios) if ratios else None,
                "rounds": len(ratios),
            })
    os.makedirs(out, exist_ok=True)
    fields = ["metric", "mode", "unit", "better", "stock_median", "kt_median",
              "ratio_median", "ratio_min", "ratio_max", "rounds"]
    with open(os.path.join(out, "latest.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(fields)
        for r in rows:
            w.writerow([("%.4g" % r[c]) if isinstance(r[c], float) else r[c] for c in fields])
    by = {(r["metric"], r["mode"]): r for r in rows}
    md = ["<!-- generated by bench/report.py from %s -->" % os.path.basename(raw), "",
          "Run: %s" % (" / ".join(metas) or "?"), "",
          "Speed-up of vhost-kt over stock vhost-net in the same worker mode: median "
          "of the per-round ratios [min - max]; > 1.00 means vhost-kt did better "
          "(kt/stock for rates, stock/kt for times and memory).  Absolute columns are "
          "medians over rounds, under TCG emulation; with clock icount the guest's "
          "time counts instructions (1 ns each), so times and rates are path "
          "lengths, not speeds (docs/performance.md).", "",
          "| cell | unit | stock task | kt task | **task ratio** | stock kthread "
          "| kt kthread | **kthread ratio** |",
          "|---|---|---:|---:|---|---:|---:|---|"]
    for key, desc, unit, higher in METRICS:
        t, k = by.get((key, "task")), by.get((key, "kthread"))
        if not t and not k:
            continue
        cells = ["%s (%s is better)" % (desc, "higher" if higher else "lower"), unit]
        for r in (t, k):
            if not r:
                cells += ["-", "-", "-"]
                continue
            if r["ratio_median"] is None:
                rat = "n/a"
            else:
                rat = "**%.2f** [%.2f - %.2f]" % (r["ratio_median"], r["ratio_min"], r["ratio_max"])
            cells += [fmt(r["stock_median"]), fmt(r["kt_median"]), rat]
        md.append("| " + " | ".join(cells) + " |")
    md.append("")
    missing = [desc for key, desc, _, _ in METRICS if not any((key, m) in by for m in MODES)]
    if missing:
        md.append("Not measured in this run: " + "; ".join(missing) + ".")
        md.append("")
    md.append("![vhost-kt / stock per cell](latest.png)")
    md.append("")
    with open(os.path.join(out, "latest.md"), "w") as f:
        f.write("\n".join(md))
    # Chart: one pair of bars (task, kthread) per cell, with min-max bars.
    tmp = tempfile.mkdtemp(prefix="vkt-bench-")
    dat = os.path.join(tmp, "latest.dat")
    with open(dat, "w") as f:
        for key, desc, unit, higher in METRICS:
            t, k = by.get((key, "task")), by.get((key, "kthread"))
            if not (t and t["ratio_median"]) and not (k and k["ratio_median"]):
                continue
            vals = []
            for r in (t, k):
                if r and r["ratio_median"]:
                    vals += [r["ratio_median"], r["ratio_min"], r["ratio_max"]]
                else:
                    vals += ["NaN"] * 3
            f.write('"%s" %s\n' % (desc, " ".join(str(v) for v in vals)))
    gp = os.path.join(tmp, "latest.gp")
    with open(gp, "w") as f:
        f.write("""set terminal pngcairo size 1600,900 font ",11" noenhanced
set output "%s"
set title "vhost-kt vs stock vhost-net, same worker mode (median of rounds, bars: min-max; >1 = vhost-kt better)"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.7 border -1
set boxwidth 0.9
set logscale y 2
set yrange [0.0625:16]
set ytics ("1/16" 0.0625, "1/8" 0.125, "1/4" 0.25, "1/2" 0.5, "0.75" 0.75, "1" 1, "1.5" 1.5, "2" 2, "4" 4, "8" 8, "16" 16)
set grid ytics
set xtics rotate by -40 left
set bmargin 14
set rmargin 26
set key outside top center horizontal
set ylabel "speed-up of vhost-kt over stock"
plot "%s" using 2:3:4:xtic(1) title "task mode (kt-task / stock-task)" lc rgb "#1f77b4", \\
     "" using 5:6:7 title "kthread mode (kt-kthread / stock-kthread)" lc rgb "#ff7f0e", \\
     1 notitle lw 2 lc rgb "black"
""" % (os.path.join(out, "latest.png"), dat))
    try:
        subprocess.run(["gnuplot", gp], check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("report.py: no chart: %s" % e, file=sys.stderr)
    for f in (dat, gp):
        os.unlink(f)
    os.rmdir(tmp)
    print("\n".join(md))


if __name__ == "__main__":
    main()
