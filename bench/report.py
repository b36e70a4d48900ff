#!/usr/bin/env python3
"""Benchmark report: reads the JSON files the GPU benchmarks write (--json)
and renders one Markdown page and one PNG plot of the latency distributions.

    /usr/bin/python3 bench/report.py out/gpu/bench-json.tar.gz   # what scripts/gpu.sh leaves
    bench/report.py a.json b.json --out-dir /tmp/r        # or the files themselves
    bench/report.py DIR --command "bash scripts/gpu.sh"   # every *.json in DIR

The page is docs/benchmarks/<gpu-slug>-<date>.md (with <gpu-slug>-<date>.png
beside it) unless --out-dir says otherwise. It gives the GPU, driver and
clocks as the programs found them, the date and the exact commands, every
measurement with median, p99 and the bootstrap 95% interval of the median,
the comparisons (ratio of medians, Welch's t-test), and the targets of
issue #4 as met, missed or not measured, with the margin.

Standard library only, plus matplotlib for the plot (Debian: python3-matplotlib,
installed by scripts/report-deps.sh); --no-plot renders the page without it.
Numbers come from the JSON files only: nothing is computed here that the
programs did not measure, except ratios and differences of their medians.
A missed target gets a "why" from the same run's other measurements (its
floors, the command path), where the run has them.
"""
import argparse
import datetime
import io
import json
import math
import os
import re
import sys
import tarfile

SCHEMA = "ringkernel-bench/1"
ORDER = ["bench_gpu_roundtrip", "bench_gpu_throughput", "bench_gpu_sync", "bench_gpu_pipeline"]

# Issue #4's targets. kind: "max"/"min" on one number (a measurement's
# median or a value), "ratio_max" (ours / base <= limit), "speedup_min"
# (base / ours >= limit), "growth" (every listed value <= its limit).
TARGETS = [
    {"target": "round trip <= 1.15x the ping-pong floor", "kind": "ratio_max", "limit": 1.15,
     "program": "bench_gpu_roundtrip", "ours": "rk_call_64b", "base": "pingpong_msg64_fence_acq_rel",
     "how": "median rk_call (64 B) / median ring-slot ping-pong (56 B each way, fence.acq_rel.sys)",
     "why": "round_trip"},
    {"target": "round trip >= 4x faster than launch+sync", "kind": "speedup_min", "limit": 4.0,
     "program": "bench_gpu_roundtrip", "ours": "rk_call_64b", "base": "launch_sync",
     "how": "median launch+sync / median rk_call", "why": "speedup"},
    {"target": "round trip >= 3x faster than graph replay", "kind": "speedup_min", "limit": 3.0,
     "program": "bench_gpu_roundtrip", "ours": "rk_call_64b", "base": "graph_replay_sync",
     "how": "median graph replay+sync / median rk_call", "why": "speedup"},
    {"target": ">= 100 M msgs/s, 64 B, sustained 60 s", "kind": "min", "limit": 100e6, "unit": "msgs/s",
     "program": "bench_gpu_throughput", "value": "sustained_mean_rate", "min_seconds": 60,
     "how": "mean of the per-second rates of the sustained run"},
    {"target": "sustained rate CV < 1%", "kind": "max", "limit": 1.0, "unit": "%", "strict": True,
     "program": "bench_gpu_throughput", "value": "sustained_cv", "min_seconds": 60,
     "how": "coefficient of variation of the per-second rates"},
    {"target": "no memory growth over the sustained run", "kind": "growth", "program": "bench_gpu_throughput",
     "values": [("sustained_host_rss_growth", 1.0, "host RSS"), ("sustained_device_memory_growth", 0.0, "device")],
     "min_seconds": 60, "how": "last second minus first; host RSS within 1 MiB (page noise), device exactly 0"},
    {"target": "K2K round trip <= 0.8 us between blocks", "kind": "max", "limit": 0.8, "unit": "us",
     "program": "bench_gpu_roundtrip", "series": "k2k_actor_actor",
     "how": "median of the runs' mean actor->actor->actor round trip (device clock, global-memory tier)",
     "why": "k2k"},
    {"target": "actor create <= 5 us", "kind": "max", "limit": 5.0, "unit": "us",
     "program": "bench_gpu_roundtrip", "series": "lifecycle_create", "how": "median rk_launch in a running kernel",
     "why": "lifecycle"},
    {"target": "actor restart <= 5 us", "kind": "max", "limit": 5.0, "unit": "us",
     "program": "bench_gpu_roundtrip", "series": "lifecycle_restart", "how": "median rk_restart in a running kernel",
     "why": "lifecycle"},
    {"target": "pipeline >= 10 M events/s", "kind": "min", "limit": 10e6, "unit": "events/s",
     "program": "bench_gpu_pipeline", "value": "best_events_s",
     "how": "best median events/s over the lane counts, host enqueue to sink count"},
]

# Plotted: (program, measurement id, label). Missing ones are left out.
PLOT_ROUNDTRIP = [
    ("bench_gpu_roundtrip", "rk_call_64b", "rk_call 64 B (ours)"),
    ("bench_gpu_roundtrip", "backend_send_poll_64b", "CUDA backend alone"),
    ("bench_gpu_roundtrip", "launch_sync", "launch + sync"),
    ("bench_gpu_roundtrip", "graph_replay_sync", "graph replay + sync"),
    ("bench_gpu_roundtrip", "pingpong_msg64_fence_acq_rel", "ping-pong, ring slot (floor)"),
    ("bench_gpu_roundtrip", "pingpong_flag", "ping-pong, flag only (platform floor)"),
]
PLOT_OTHER = [
    ("bench_gpu_pipeline", "latency_1_stage", "pipeline: host -> sink"),
    ("bench_gpu_pipeline", "latency_4_stages", "pipeline: 4 stages"),
    ("bench_gpu_sync", "grid_sync", "grid.sync"),
    ("bench_gpu_sync", "cluster_sync_2", "cluster.sync 2"),
    ("bench_gpu_sync", "cluster_sync_16", "cluster.sync 16"),
]


class ReportError(Exception):
    pass


# ---- input -------------------------------------------------------------------


def load_inputs(paths):
    """Every benchmark JSON in the given files, directories and tarballs."""
    docs = []
    for path in paths:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                if name.endswith(".json"):
                    docs.append(load_json(os.path.join(path, name), None))
        elif path.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(path) as tar:
                for member in sorted(tar.getmembers(), key=lambda m: m.name):
                    if member.isfile() and member.name.endswith(".json"):
                        docs.append(load_json(path + ":" + member.name, tar.extractfile(member).read()))
        else:
            docs.append(load_json(path, None))
    if not docs:
        raise ReportError("no benchmark JSON files found in " + ", ".join(paths))
    return docs


def load_json(where, data):
    try:
        if data is None:
            with open(where, "rb") as f:
                data = f.read()
        doc = json.loads(data.decode("utf-8"))
    except (OSError, ValueError) as e:
        raise ReportError("%s: %s" % (where, e))
    if doc.get("schema") != SCHEMA:
        raise ReportError("%s: not a %s file" % (where, SCHEMA))
    doc["_source"] = where
    return doc


def by_program(docs):
    out = {}
    for d in docs:
        if d["program"] in out:
            raise ReportError("two results of %s: %s and %s" % (d["program"], out[d["program"]]["_source"], d["_source"]))
        out[d["program"]] = d
    return out


def series(progs, program, sid):
    d = progs.get(program)
    if not d:
        return None
    for m in d["measurements"]:
        if m["id"] == sid:
            return m
    return None


def value(progs, program, vid):
    d = progs.get(program)
    if not d:
        return None
    for v in d["values"]:
        if v["id"] == vid:
            return v
    return None


def ordered(docs):
    """The known programs in their usual order, then any others by name."""
    rank = {p: i for i, p in enumerate(ORDER)}
    return sorted(docs, key=lambda d: (rank.get(d["program"], len(ORDER)), d["program"]))


# ---- formatting -------------------------------------------------------------


def num(x, unit=""):
    """A number with 4 significant digits (rates in M or K), or an em dash."""
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "—"
    if unit in ("msgs/s", "events/s") and abs(x) >= 1e4:
        return "%.4g M" % (x / 1e6) if abs(x) >= 1e6 else "%.4g K" % (x / 1e3)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return "%.3e" % x
    return "%.4g" % x


def pval(p):
    if p is None:
        return "—"
    return "< 1e-300" if p == 0 else "%.3g" % p


def cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def slug(name):
    words = re.findall(r"[a-z0-9]+", name.lower())
    if words and words[0] == "nvidia":
        words = words[1:]
    return "-".join(words) or "gpu"


def clocks_text(c):
    if not c:
        return "not available (no NVML)"
    parts = ["SM %s MHz (max %s)" % (c.get("sm_mhz"), c.get("sm_max_mhz")),
             "memory %s MHz (max %s)" % (c.get("mem_mhz"), c.get("mem_max_mhz"))]
    if c.get("pstate") is not None and c["pstate"] >= 0:
        parts.append("P%d" % c["pstate"])
    if c.get("clock_event_reasons") is not None:
        parts.append("clock event reasons %s" % c["clock_event_reasons"])
    if c.get("temperature_c") is not None:
        parts.append("%s °C" % c["temperature_c"])
    if c.get("power_w") is not None:
        parts.append("%.0f W" % c["power_w"])
    return ", ".join(parts)


# ---- targets -----------------------------------------------------------------


def median_of(progs, program, sid):
    m = series(progs, program, sid)
    return m["median"] if m else None


def judge(progs, t):
    """(measured text, verdict, margin text) for one target."""
    prog = t["program"]
    if prog not in progs:
        return "—", "not measured", "%s did not run" % prog
    short = None
    if "min_seconds" in t:
        secs = value(progs, prog, "sustained_seconds")
        if secs is None or secs["value"] is None:
            return "—", "not measured", "no sustained run"
        if secs["value"] < t["min_seconds"] - 0.5:
            short = "measured over %.0f s, not the %d s the target asks" % (secs["value"], t["min_seconds"])
    kind = t["kind"]
    if kind in ("ratio_max", "speedup_min"):
        ours, base = median_of(progs, prog, t["ours"]), median_of(progs, prog, t["base"])
        if ours is None or base is None or ours <= 0 or base <= 0:
            return "—", "not measured", "missing %s or %s" % (t["ours"], t["base"])
        x = ours / base if kind == "ratio_max" else base / ours
        measured = "%.2fx" % x
        if kind == "ratio_max":
            ok = x <= t["limit"]
            margin = "%.0f%% %s the %.2fx limit" % (abs(x / t["limit"] - 1) * 100, "under" if ok else "over", t["limit"])
        else:
            ok = x >= t["limit"]
            margin = "%.0f%% of the %.0fx asked" % (x / t["limit"] * 100, t["limit"])
    elif kind == "growth":
        parts, ok = [], True
        for vid, limit, label in t["values"]:
            v = value(progs, prog, vid)
            if v is None or v["value"] is None:
                return "—", "not measured", "no %s" % vid
            parts.append("%s %+.1f MiB" % (label, v["value"]))
            ok = ok and v["value"] <= limit
        measured, margin = "; ".join(parts), "limits: " + ", ".join("%s <= %g MiB" % (l, lim) for _, lim, l in t["values"])
    else:
        if "series" in t:
            x = median_of(progs, prog, t["series"])
        else:
            v = value(progs, prog, t["value"])
            x = v["value"] if v else None
        if x is None:
            return "—", "not measured", "no %s" % t.get("series", t.get("value"))
        unit = t.get("unit", "")
        measured = "%s %s" % (num(x, unit), unit)
        if kind == "max":
            ok = x < t["limit"] if t.get("strict") else x <= t["limit"]
            over = (x - t["limit"]) / t["limit"] * 100 if t["limit"] else float("inf")
            margin = "%.0f%% %s the limit of %s %s" % (abs(over), "under" if ok else "over", num(t["limit"], unit),
                                                        unit)
        else:
            ok = x >= t["limit"]
            margin = "%.3g%% of the %s %s asked" % (x / t["limit"] * 100, num(t["limit"], unit), unit)
    verdict = "met" if ok else "missed"
    if short:
        verdict = "met (short run)" if ok else "missed"
        margin += "; " + short
    return measured, verdict, margin


def why_round_trip(progs, t):
    r = median_of(progs, "bench_gpu_roundtrip", "rk_call_64b")
    f = median_of(progs, "bench_gpu_roundtrip", t["base"])
    b = median_of(progs, "bench_gpu_roundtrip", "backend_send_poll_64b")
    ll = median_of(progs, "bench_gpu_roundtrip", "pingpong_msg64_ll_reply")
    if None in (r, f, b, ll):
        return None
    return ("rk_call is %.2f us over that floor (%.2f against %.2f us). The CUDA backend's send and poll alone take "
            "%.2f us, so the runtime's API adds %.2f us, and the backend is %.2f us over a ping-pong with the same "
            "flag-per-word reply (%.2f us)" % (r - f, r, f, b, r - b, b - ll, ll))


def why_speedup(progs, t):
    r = median_of(progs, "bench_gpu_roundtrip", t["ours"])
    base = median_of(progs, "bench_gpu_roundtrip", t["base"])
    f = median_of(progs, "bench_gpu_roundtrip", "pingpong_msg64_fence_acq_rel")
    flag = median_of(progs, "bench_gpu_roundtrip", "pingpong_flag")
    if None in (r, base, f, flag):
        return None
    need = base / t["limit"]
    if need < f:
        return ("%.0fx needs a round trip of at most %.2f us: under this run's ring-slot ping-pong floor (%.2f us), "
                "which is itself only %.2fx faster; only the bare-flag floor (%.2f us) is under it"
                % (t["limit"], need, f, base / f, flag))
    return "%.0fx needs a round trip of at most %.2f us; rk_call is %.2f us over that" % (t["limit"], need, r - need)


def why_k2k(progs, t):
    a = median_of(progs, "bench_gpu_roundtrip", t["series"])
    ring = median_of(progs, "bench_gpu_roundtrip", "k2k_floor_ring")
    msg = median_of(progs, "bench_gpu_roundtrip", "k2k_floor_msg64_release")
    flag = median_of(progs, "bench_gpu_roundtrip", "k2k_floor_flag")
    spsc = median_of(progs, "bench_gpu_roundtrip", "k2k_floor_ll_spsc")
    if None in (a, ring, msg, flag):
        return None
    text = ("two blocks ping-pong a 64-byte message (st.release / ld.acquire) in %.2f us in this run, a bare flag in "
            "%.2f us; the runtime's ring protocol alone takes %.2f us, and the runtime adds %.2f us to it"
            % (msg, flag, ring, a - ring))
    if spsc is not None:
        text += "; the cheapest message protocol measured (flag per word, one producer) takes %.2f us" % spsc
    return text


def why_lifecycle(progs, t):
    x = median_of(progs, t["program"], t["series"])
    sup = median_of(progs, "diag_lifecycle", "supervisor_host_to_block_0_to_host")
    blk = median_of(progs, "diag_lifecycle", "block_via_block_1_s_mailbox")
    if None in (x, sup, blk):
        return None
    path = ("so the command path alone is over the limit" if blk >= t["limit"] else
            "which leaves %.2f us of the limit" % (t["limit"] - blk))
    return ("in the same call (diag_lifecycle) a command that does nothing takes %.2f us host -> supervisor block -> "
            "host and %.2f us through a block's mailbox, %s; this command takes %.2f us more than that"
            % (sup, blk, path, x - blk))


WHY = {"round_trip": why_round_trip, "speedup": why_speedup, "k2k": why_k2k, "lifecycle": why_lifecycle}


def why(progs, t, verdict):
    """What the same run's other measurements say about a missed target."""
    if verdict != "missed" or "why" not in t:
        return "—"
    return WHY[t["why"]](progs, t) or "—"


# ---- the page -------------------------------------------------------------------


def render(progs, args, stem, plotted):
    docs = list(progs.values())
    first = min(docs, key=lambda d: d["date"])
    gpu, host = first["gpu"], first.get("host", {})
    synthetic = any(d.get("synthetic") for d in docs)
    out = io.StringIO()
    w = out.write
    date = first["date"][:10]
    w("# GPU benchmarks on %s — %s\n\n" % (gpu["name"], date))
    if synthetic:
        w("> **SYNTHETIC TEST DATA — NOT A MEASUREMENT.** Rendered from generated fixtures to test "
          "bench/report.py; none of these numbers came from a GPU.\n\n")
    w("Generated by `bench/report.py` from %s. Every comparison ran both sides in one process on one device.\n\n"
      % ", ".join("`%s`" % os.path.basename(d["_source"]) for d in ordered(docs)))

    w("## Setup\n\n| | |\n| --- | --- |\n")
    w("| GPU | %s (%s SMs, compute capability %s, PCI %s, %.0f GiB) |\n" % (
        cell(gpu["name"]), gpu.get("sms"), gpu.get("compute_capability"), gpu.get("pci_bus_id"),
        (gpu.get("memory_bytes") or 0) / 2**30))
    w("| driver | %s; CUDA driver API %s, runtime %s |\n" % (
        gpu.get("driver_version") or "not reported (NVML: %s)" % gpu.get("nvml"), gpu.get("cuda_driver_api"),
        gpu.get("cuda_runtime")))
    w("| rated clocks | SM %s MHz, memory %s MHz (CUDA device attributes) |\n" % (
        gpu.get("rated_sm_clock_mhz"), gpu.get("rated_mem_clock_mhz")))
    pm = gpu.get("persistence_mode")
    w("| persistence mode | %s |\n" % ("unknown" if pm is None else "on" if pm else "off"))
    for d in ordered(docs):
        g = d["gpu"]
        w("| clocks, %s | start: %s; end: %s |\n" % (d["program"], clocks_text(g.get("clocks_start")),
                                                     clocks_text(g.get("clocks_end"))))
    w("| clock policy | as found: read-only NVML queries; no clock, power or mode was set |\n")
    w("| host | %s, %s, %s CPUs |\n" % (cell(host.get("hostname", "?")), cell(host.get("kernel", "?")),
                                       host.get("cpus", "?")))
    if args.command:
        w("| command | `%s` |\n" % cell(args.command))
    for d in ordered(docs):
        w("| %s | `%s` at %s |\n" % (d["program"], cell(d["command"]), d["date"]))
    st = first.get("statistics", {})
    w("| statistics | median (mean of the two middle values for even n); p99 by nearest rank; 95%% interval of the "
      "median by percentile bootstrap (%s resamples, fixed seed); Welch's t-test two-sided on the raw samples' means "
      "(with 10^5 samples almost any difference is 'significant': read p with the ratio) |\n\n"
      % st.get("resamples", "?"))

    w("## Targets (issue #4)\n\n| target | measured | result | margin | how | why (this run's other measurements) |\n"
      "| --- | --- | --- | --- | --- | --- |\n")
    for t in TARGETS:
        measured, verdict, margin = judge(progs, t)
        mark = "**%s**" % verdict
        w("| %s | %s | %s | %s | %s | %s |\n" % (cell(t["target"]), cell(measured), mark, cell(margin), cell(t["how"]),
                                                cell(why(progs, t, verdict))))
    w("\n")

    if plotted:
        w("## Latency distributions\n\n![latency distributions](%s.png)\n\n" % stem)
        w("Empirical CDFs of the raw samples (at most 20 000 per measurement, every k-th in the order measured), "
          "log time axis.\n\n")

    for d in ordered(docs):
        w("## %s\n\n" % d["program"])
        if d.get("params"):
            w("Parameters: %s.\n\n" % ", ".join("%s = %s" % (k, v) for k, v in d["params"].items()))
        if d["measurements"]:
            w("| measurement | what is timed | n | median | p99 | 95% CI of the median | mean | unit |\n")
            w("| --- | --- | ---: | ---: | ---: | --- | ---: | --- |\n")
            for m in d["measurements"]:
                u = m["unit"]
                w("| %s | %s | %d | %s | %s | [%s, %s] | %s | %s |\n" % (
                    cell(m["name"]), cell(m["description"]), m["n"], num(m["median"], u), num(m["p99"], u),
                    num(m["ci95_lo"], u), num(m["ci95_hi"], u), num(m["mean"], u), u))
            w("\n")
        peer = d.get("params", {}).get("peer_events_per_s_published")
        if peer:
            best = value(progs, d["program"], "best_events_s")
            w("The best-known peer publishes %s events/s for its pipeline. That figure is quoted, not measured here, "
              "and need not be the same work; the best measured here is %s events/s.\n\n"
              % (num(peer, "events/s"), num(best["value"] if best else None, "events/s")))
        if d["values"]:
            w("| value | | unit | what it is |\n| --- | ---: | --- | --- |\n")
            for v in d["values"]:
                w("| %s | %s | %s | %s |\n" % (cell(v["name"]), num(v["value"], v["unit"]), v["unit"],
                                              cell(v["description"])))
            w("\n")
        if d["comparisons"]:
            names = {m["id"]: m["name"] for m in d["measurements"]}
            w("| ours | baseline | ratio of medians | Welch t | dof | p | |\n| --- | --- | ---: | ---: | ---: | ---: | --- |\n")
            for c in d["comparisons"]:
                w("| %s | %s | %s | %s | %s | %s | %s |\n" % (
                    cell(names.get(c["ours"], c["ours"])), cell(names.get(c["baseline"], c["baseline"])),
                    num(c["ratio_median"]), num(c["welch_t"]),
                    "—" if c["welch_dof"] is None else "%.0f" % c["welch_dof"], pval(c["welch_p"]),
                    cell(c["description"])))
            w("\n")
    return out.getvalue()


# ---- the plot ------------------------------------------------------------------


def plot(progs, path):
    """Writes the CDF plot; returns False when there is nothing to plot."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for title, wanted in (("host -> GPU -> host round trip", PLOT_ROUNDTRIP),
                          ("pipeline and barriers", PLOT_OTHER)):
        lines = []
        for program, sid, label in wanted:
            m = series(progs, program, sid)
            xs = sorted(x for x in (m["samples"] if m else []) if x is not None and x > 0)
            if xs:
                lines.append((label, xs, m["median"]))
        if lines:
            panels.append((title, lines))
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.8), squeeze=False)
    for ax, (title, lines) in zip(axes[0], panels):
        for label, xs, med in lines:
            n = len(xs)
            ax.step(xs, [(i + 1) / n for i in range(n)], where="post", label="%s (median %.3g us)" % (label, med))
        ax.set_xscale("log")
        ax.set_xlabel("microseconds (log)")
        ax.set_ylabel("fraction of samples at or below")
        ax.set_ylim(0, 1.01)
        ax.grid(True, which="both", alpha=0.3)
        ax.set_title(title)
        ax.legend(fontsize=8, loc="best")
    gpu = next(iter(progs.values()))["gpu"]["name"]
    fig.suptitle("%s%s" % (gpu, "  [SYNTHETIC TEST DATA]" if any(d.get("synthetic") for d in progs.values()) else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def need_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        hint = ""
        if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and \
                os.path.exists("/usr/bin/python3"):
            hint = " and run this script with /usr/bin/python3 (Debian's packages are for that interpreter)"
        raise ReportError("the plot needs matplotlib, which %s cannot import: run scripts/report-deps.sh (Debian "
                          "package python3-matplotlib)%s; or pass --no-plot for the page alone"
                          % (sys.executable, hint))


# ---- main -------------------------------------------------------------------------


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="+", help="JSON files, directories of them, or a .tar.gz of them")
    ap.add_argument("--out-dir", default=None, help="where to write (default: docs/benchmarks of this repo)")
    ap.add_argument("--slug", default=None, help="file name stem before the date (default: from the GPU name)")
    ap.add_argument("--command", default=None, help="the command that ran the programs, for the page")
    ap.add_argument("--no-plot", action="store_true", help="write the page without the plot (no matplotlib)")
    args = ap.parse_args(argv)

    if not args.no_plot:
        need_matplotlib()
    progs = by_program(load_inputs(args.inputs))
    first = min(progs.values(), key=lambda d: d["date"])
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    docs_dir = os.path.join(repo, "docs", "benchmarks")
    out_dir = args.out_dir or docs_dir
    if any(d.get("synthetic") for d in progs.values()) and \
            os.path.realpath(out_dir) == os.path.realpath(docs_dir):
        raise ReportError("synthetic test data is never rendered into docs/benchmarks: pass --out-dir")
    try:
        date = datetime.date.fromisoformat(first["date"][:10]).isoformat()
    except ValueError:
        raise ReportError("bad date in %s: %r" % (first["_source"], first["date"]))
    stem = "%s-%s" % (args.slug or slug(first["gpu"]["name"]), date)
    os.makedirs(out_dir, exist_ok=True)
    png = os.path.join(out_dir, stem + ".png")
    plotted = False if args.no_plot else plot(progs, png)
    md = os.path.join(out_dir, stem + ".md")
    with open(md, "w", encoding="utf-8") as f:
        f.write(render(progs, args, stem, plotted))
    print(md)
    if plotted:
        print(png)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ReportError as e:
        print("report.py: %s" % e, file=sys.stderr)
        sys.exit(2)
