#!/usr/bin/env python3
"""Writes SYNTHETIC benchmark JSON files (schema ringkernel-bench/1) for
testing bench/report.py without a GPU. Nothing here is a measurement: the
samples are drawn from made-up lognormal distributions with round medians,
every file says "synthetic": true, and the GPU is named as synthetic.

    bench/testdata/make_synthetic.py [OUT_DIR]     (default: bench/testdata)
    bench/report.py bench/testdata/synthetic-*.json --out-dir /tmp/report-test
"""
import json
import math
import os
import random
import sys

GPU = {
    "name": "SYNTHETIC TEST GPU (not a device)", "device": 0, "pci_bus_id": "0000:00:00.0", "sms": 100,
    "compute_capability": "9.0", "memory_bytes": 2**36, "driver_version": None, "cuda_driver_api": 0,
    "cuda_runtime": 0, "rated_sm_clock_mhz": 0, "rated_mem_clock_mhz": 0, "persistence_mode": None,
    "nvml": "synthetic", "clocks_start": None, "clocks_end": None, "clocks_note": "synthetic",
}
N = 500


def draw(rng, median, sigma, n=N):
    return [round(median * math.exp(rng.gauss(0, sigma)), 4) for _ in range(n)]


def summary(xs, rng):
    s = sorted(xs)
    n = len(s)
    med = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    rank = lambda q: s[max(1, min(n, math.ceil(q * n))) - 1]  # noqa: E731
    mean = sum(s) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in s) / (n - 1)) if n > 1 else None
    boots = []
    for _ in range(200):
        r = sorted(rng.choice(s) for _ in range(n))
        boots.append(r[n // 2] if n % 2 else (r[n // 2 - 1] + r[n // 2]) / 2)
    boots.sort()
    return {"n": n, "median": med, "p99": rank(0.99), "p999": rank(0.999), "mean": mean, "sd": sd,
            "cv": sd / mean if sd else None, "min": s[0], "max": s[-1], "ci95_lo": boots[4], "ci95_hi": boots[194]}


def measurement(rng, name, unit, xs, desc):
    sid = "_".join(__import__("re").findall(r"[a-z0-9]+", name.lower()))
    m = {"id": sid, "name": name, "unit": unit, "description": "SYNTHETIC: " + desc}
    m.update(summary(xs, rng))
    m.update({"samples_stride": 1, "samples": xs})
    return m


def compare(ms, ours, base, desc):
    a = next(m for m in ms if m["id"] == ours)
    b = next(m for m in ms if m["id"] == base)
    va, vb = a["sd"] ** 2 / a["n"], b["sd"] ** 2 / b["n"]
    t = (a["mean"] - b["mean"]) / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va ** 2 / (a["n"] - 1) + vb ** 2 / (b["n"] - 1))
    # normal approximation: good enough for made-up data with large dof
    return {"ours": ours, "baseline": base, "description": desc, "ratio_median": a["median"] / b["median"],
            "welch_t": t, "welch_dof": dof, "welch_p": math.erfc(abs(t) / math.sqrt(2))}


def doc(program, params, ms, values, cmps):
    return {"schema": "ringkernel-bench/1", "synthetic": True, "program": program,
            "command": "SYNTHETIC %s --json %s.json" % (program, program), "date": "2000-01-01T00:00:00Z",
            "host": {"hostname": "synthetic", "kernel": "none", "cpus": 0}, "gpu": GPU,
            "statistics": {"resamples": 200, "seed": 1}, "params": params, "measurements": ms,
            "values": values, "comparisons": cmps}


def value(name, unit, v, desc):
    sid = "_".join(__import__("re").findall(r"[a-z0-9]+", name.lower()))
    return {"id": sid, "name": name, "unit": unit, "value": v, "description": "SYNTHETIC: " + desc}


def main(out_dir):
    rng = random.Random(2000)
    rt = [measurement(rng, n, "us", draw(rng, med, 0.15), "made up")
          for n, med in (("pingpong/flag", 1.0), ("pingpong/msg64 fence.acq_rel", 2.0), ("launch+sync", 8.0),
                         ("graph replay+sync", 6.0), ("rk_call 64B", 2.0), ("backend send+poll 64B", 1.5),
                         ("lifecycle: create", 4.0), ("lifecycle: restart", 6.0))]
    rt.append(measurement(rng, "k2k actor<->actor", "us", draw(rng, 1.0, 0.01, 3), "made up"))
    rt_cmp = [compare(rt, "rk_call_64b", b, "made up") for b in
              ("pingpong_msg64_fence_acq_rel", "pingpong_flag", "launch_sync", "graph_replay_sync")]
    tp = [measurement(rng, "throughput 64B 4p 8a", "msgs/s", draw(rng, 1e6, 0.02, 10), "made up"),
          measurement(rng, "raw ring 64B 4p", "msgs/s", draw(rng, 2e6, 0.02, 10), "made up"),
          measurement(rng, "sustained 64B 4p 8a", "msgs/s", draw(rng, 1e6, 0.005, 30), "made up")]
    tp_vals = [value("sustained seconds", "s", 30.0, "made up"), value("sustained mean rate", "msgs/s", 1e6, "made up"),
               value("sustained cv", "%", 0.5, "made up"), value("sustained host rss growth", "MiB", 0.0, "made up"),
               value("sustained device memory growth", "MiB", 0.0, "made up")]
    sy = [measurement(rng, n, "us", draw(rng, med, 0.05), "made up")
          for n, med in (("grid.sync", 1.0), ("cluster.sync 2", 0.5), ("cluster.sync 16", 0.8),
                         ("cudaMalloc 1 MiB", 50.0), ("cudaMallocAsync 1 MiB", 1.0))]
    pl = [measurement(rng, n, u, draw(rng, med, s), "made up")
          for n, u, med, s in (("latency 1 stage", "us", 3.0, 0.1), ("latency 4 stages", "us", 10.0, 0.1),
                               ("events/s 8 lanes", "events/s", 1e6, 0.02, ))]
    # Drawn last, so that the series above keep their numbers: the floors and
    # the command path that report.py's "why" of a missed target reads.
    rt.append(measurement(rng, "pingpong/msg64 LL reply", "us", draw(rng, 1.6, 0.15), "made up"))
    rt += [measurement(rng, n, "us", draw(rng, med, 0.01, 3), "made up")
           for n, med in (("k2k floor/flag", 0.3), ("k2k floor/msg64 release", 0.6), ("k2k floor/ring", 0.9),
                          ("k2k floor/ll spsc", 0.5))]
    dl = [measurement(rng, n, "us", draw(rng, med, 0.1), "made up")
          for n, med in (("supervisor: host to block 0 to host", 3.0), ("block: via block 1's mailbox", 4.0))]
    files = {
        "synthetic-bench_gpu_roundtrip.json": doc("bench_gpu_roundtrip", {"trials": N}, rt,
                                                  [value("backend GPU share", "us", 1.0, "made up")], rt_cmp),
        "synthetic-bench_gpu_throughput.json": doc("bench_gpu_throughput", {"sustained_seconds": 30}, tp, tp_vals,
                                                   [compare(tp, "throughput_64b_4p_8a", "raw_ring_64b_4p", "made up")]),
        "synthetic-bench_gpu_sync.json": doc("bench_gpu_sync", {}, sy, [],
                                             [compare(sy, "cluster_sync_2", "grid_sync", "made up")]),
        "synthetic-bench_gpu_pipeline.json": doc("bench_gpu_pipeline", {"peer_events_per_s_published": 610000}, pl,
                                                 [value("best events/s", "events/s", 1e6, "made up")],
                                                 [compare(pl, "latency_4_stages", "latency_1_stage", "made up")]),
        "synthetic-diag_lifecycle.json": doc("diag_lifecycle", {}, dl, [], []),
    }
    os.makedirs(out_dir, exist_ok=True)
    for name, d in files.items():
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump(d, f, indent=1)
            f.write("\n")
        print(os.path.join(out_dir, name))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
