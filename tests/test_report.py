#!/usr/bin/env python3
"""bench/report.py on the synthetic fixtures (bench/testdata): the fixtures
are what make_synthetic.py writes; the page renders, marked synthetic, with
every target of issue #4 judged; a missed target says why from the same
run's floors and command path; synthetic data is never written into
docs/benchmarks; bad input is refused with a message, not a traceback.
Standard library only; the plot is left out (--no-plot), so matplotlib is
not needed."""
import glob
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORT = os.path.join(ROOT, "bench", "report.py")
TESTDATA = os.path.join(ROOT, "bench", "testdata")
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: " + what)


def run(*args):
    return subprocess.run([sys.executable] + list(args), capture_output=True, text=True, timeout=120)


def fixtures_are_generated(tmp):
    out = os.path.join(tmp, "gen")
    r = run(os.path.join(TESTDATA, "make_synthetic.py"), out)
    check(r.returncode == 0, "make_synthetic.py ran: " + r.stderr)
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(out, "*.json")))
    check(names == sorted(os.path.basename(p) for p in glob.glob(os.path.join(TESTDATA, "synthetic-*.json"))),
          "the generator writes the committed fixtures, no more, no less: %s" % names)
    for name in names:
        with open(os.path.join(out, name), "rb") as a, open(os.path.join(TESTDATA, name), "rb") as b:
            check(a.read() == b.read(), "%s is what make_synthetic.py writes" % name)


def target_rows(page):
    part = page.split("## Targets (issue #4)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in part.splitlines()
            if line.startswith("| ") and not line.startswith(("| target", "| ---"))]
    return {row.split(" | ")[0][2:]: [c.strip() for c in row.strip("|").split(" | ")] for row in rows}


def page_renders(tmp):
    out = os.path.join(tmp, "page")
    r = run(REPORT, *sorted(glob.glob(os.path.join(TESTDATA, "synthetic-*.json"))), "--out-dir", out, "--no-plot",
            "--command", "test_report.py")
    check(r.returncode == 0, "report.py renders the fixtures: " + r.stderr)
    pages = glob.glob(os.path.join(out, "*.md"))
    check(len(pages) == 1 and not glob.glob(os.path.join(out, "*.png")), "one page, no plot: %s" % pages)
    if len(pages) != 1:
        return
    with open(pages[0], encoding="utf-8") as f:
        page = f.read()
    check("SYNTHETIC TEST DATA — NOT A MEASUREMENT" in page, "the page says it is synthetic")
    check("`test_report.py`" in page, "the page gives the command")
    rows = target_rows(page)
    check(len(rows) == 10, "ten targets judged: %s" % list(rows))
    for name, cells in rows.items():
        check(len(cells) == 6, "%s: six cells: %s" % (name, cells))
    k2k = rows.get("K2K round trip <= 0.8 us between blocks", [""] * 6)
    check(k2k[2] == "**missed**", "K2K at 1 us is missed: %s" % k2k[2])
    check(re.search(r"ping-pong a 64-byte message .* in 0\.6\d us in this run, a bare flag in 0\.3\d us; the "
                    r"runtime's ring protocol alone takes 0\.9\d us, and the runtime adds 0\.\d\d us to it; the "
                    r"cheapest message protocol measured .* takes 0\.5\d us", k2k[5]) is not None,
          "K2K's why gives the floors and the runtime's share: %s" % k2k[5])
    restart = rows.get("actor restart <= 5 us", [""] * 6)
    check(restart[2] == "**missed**", "restart at 6 us is missed")
    check(re.search(r"a command that does nothing takes [23]\.\d\d us host -> supervisor block -> host and "
                    r"[34]\.\d\d us through a block's mailbox, which leaves [01]\.\d\d us of the limit; this command "
                    r"takes [12]\.\d\d us more than that", restart[5]) is not None,
          "restart's why gives the command path: %s" % restart[5])
    create = rows.get("actor create <= 5 us", [""] * 6)
    check(create[2] == "**met**" and create[5] == "—", "a met target has no why: %s" % create)
    pipeline = rows.get("pipeline >= 10 M events/s", [""] * 6)
    check(pipeline[2] == "**missed**" and pipeline[5] == "—", "a missed target without data for a why: %s" % pipeline)


def refusals(tmp):
    r = run(REPORT, *glob.glob(os.path.join(TESTDATA, "synthetic-*.json")), "--no-plot")
    check(r.returncode != 0 and "never rendered into docs/benchmarks" in r.stderr,
          "synthetic data is not written into docs/benchmarks: %d %s" % (r.returncode, r.stderr))
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    r = run(REPORT, empty, "--no-plot", "--out-dir", tmp)
    check(r.returncode != 0 and "no benchmark JSON" in r.stderr and "Traceback" not in r.stderr,
          "an empty input is refused with a message: %s" % r.stderr)
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        f.write('{"schema": "something else"}')
    r = run(REPORT, bad, "--no-plot", "--out-dir", tmp)
    check(r.returncode != 0 and "not a ringkernel-bench/1 file" in r.stderr and "Traceback" not in r.stderr,
          "a foreign JSON file is refused with a message: %s" % r.stderr)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        fixtures_are_generated(tmp)
        page_renders(tmp)
        refusals(tmp)
    print("%d failures" % len(failures) if failures else "test_report: ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
