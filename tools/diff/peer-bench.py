#!/usr/bin/env python3
"""tools/diff/peer-bench.py - the peer benchmark: nested round trips per
second on svmx, QEMU TCG and Bochs, side by side, in one run.

    peer-bench.py [--build DIR] [--n N] [--repeat R] [--only IMPL,...]
                  [--arch svm,vmx] [--json FILE]

Each implementation runs the same kernel, tests/kernels/k_bench_roundtrip.c
(L2: `1: cpuid; jmp 1b` with CPUID intercepted, L1 advancing RIP), twice per
round: with n=0 (it boots, sets up SVM and exits) and with n=N round trips.
R rounds, the implementations interleaved within each round and the runs one
at a time, so that load on the machine falls on all of them alike. Per
implementation, the medians of the two wall times give

    round trips per second = N / (median(n=N) - median(n=0))

so the boot (Bochs's BIOS, QEMU's and svmx's start-up, the kernel's set-up)
cancels. The spread is the same quotient per round (that round's two runs).
The table gives each implementation's figure, its spread and its ratio to
svmx, and the same figure and ratio from CPU time (the child's user + system
time, all its threads) instead of wall time. One headline line per peer
follows, in the form docs/performance.md asks of benchmarks:
    peer-bench svmx-amd vs PEER: V trips/s; baseline: B trips/s; ratio: V/B

svmx and QEMU get N on the multiboot command line (`svmx run --append n=N`,
QEMU `-append n=N`). The Bochs boot loader (tests/kernels/boot/) passes no
command line, so the Bochs image carries N in the kernel's default
(`k_bench_default_n`): this script rewrites those digits in a copy of the
kernel file before making the floppy image.

The implementations are launched exactly as tools/diff/run-diff.py launches
them (this script imports it): the same svmx, QEMU and Bochs command lines,
the same Bochs configuration under `unshare -n`. Timing means nothing in CI,
so this is not a test; `make peer-bench` runs it (docs/differential.md,
docs/performance.md "Peer benchmark").

VMX: a second table, for VMX (svmx-intel, bochs-skx; QEMU's TCG has no
VMX), runs k_bench_roundtrip_vmx the same way once the build makes it; until
then the script says so. That kernel keeps this one's contract: n= on the
command line, the default in the same "svmx-bench-default:n=" string, the
"# bench roundtrip: n=N done=D advance=..." line, then PASS.
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import resource
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def load_run_diff():
    """tools/diff/run-diff.py as a module (its name has a hyphen)."""
    spec = importlib.util.spec_from_file_location(
        "run_diff", os.path.join(HERE, "run-diff.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


rd = load_run_diff()

# One benchmark per vendor: its kernel and the implementations that run it
# (names of run-diff.py's IMPLS). The first is the one the others are
# compared with.
BENCHES = [
    {"arch": "svm", "kernel": "k_bench_roundtrip",
     "impls": ["svmx-amd", "qemu-epyc", "bochs-ryzen"]},
    {"arch": "vmx", "kernel": "k_bench_roundtrip_vmx",
     "impls": ["svmx-intel", "bochs-skx"]},
]
OPTIONAL = ["qemu-svm"]        # with --only: qemu64,+svm,+npt

# The kernel's default N, as the image holds it: the marker, then up to 20
# digits, NUL-padded (k_bench_roundtrip.c, k_bench_default_n).
MARK = b"svmx-bench-default:n="
DIGITS = 20
RE_DONE = re.compile(r"^# bench roundtrip: n=(\d+) done=(\d+) advance=(\S+)")


def with_default_n(kernel, n):
    """The kernel file's bytes with its default N set to n."""
    at = kernel.find(MARK)
    if at < 0 or kernel.find(MARK, at + 1) >= 0:
        raise SystemExit("peer-bench: the kernel has no single %r string" %
                         MARK.decode())
    d = str(n).encode()
    if len(d) > DIGITS:
        raise SystemExit("peer-bench: n has more than %d digits" % DIGITS)
    at += len(MARK)
    return kernel[:at] + d + bytes(DIGITS + 1 - len(d)) + \
        kernel[at + DIGITS + 1:]


class Bench:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        # run-diff's Runner reads build and max_insns from its arguments.
        ns = argparse.Namespace(build=args.build, max_insns=max(
            10 ** 9, 20 * args.n + 10 ** 8))
        self.runner = rd.Runner(ns, work)
        self.why = rd.availability(self.runner)
        self.loader = None

    def kernel(self, name, n):
        """The kernel dict run-diff's Runner wants, with a floppy image
        whose default N is n."""
        path = os.path.join(self.args.build, "tests", "kernels",
                            name + ".bin")
        k = {"name": name, "path": path}
        if self.loader is None:
            lpath = os.path.join(self.work, "boot.bin")
            rd.mkimage.build_loader(lpath)
            with open(lpath, "rb") as f:
                self.loader = f.read()
        with open(path, "rb") as f:
            data = with_default_n(f.read(), n)
        k["image"] = os.path.join(self.work, "%s-n%d.img" % (name, n))
        with open(k["image"], "wb") as f:
            f.write(rd.mkimage.make_image(self.loader, data))
        return k

    def run(self, impl, kernel, n):
        """One run: (wall seconds, CPU seconds, output, error text or
        None). The CPU time is the child's user + system time (all its
        threads; the runs are one at a time, so the RUSAGE_CHILDREN delta
        is this run's)."""
        spec = rd.IMPLS[impl]
        kind = spec["kind"]
        timeout = (self.args.bochs_timeout if kind == "bochs"
                   else self.args.timeout) + n / 5000.0
        with tempfile.TemporaryDirectory(prefix="svmx-peer-") as tmp:
            cmd = self.runner.command(impl, kernel, tmp)
            if kind == "svmx":
                cmd[-1:-1] = ["--append", "n=%d" % n]   # before KERNEL
            elif kind == "qemu":
                cmd += ["-append", "n=%d" % n]
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            out, err, status, secs, end = rd.run_process(
                cmd, timeout, stop_at_verdict=(kind == "bochs"), cwd=tmp)
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        r = self.judge(out, err, end, secs, n)
        return secs, cpu, out, r

    @staticmethod
    def judge(out, err, end, secs, n):
        """None if the run made its n round trips and passed, else why
        not."""
        lines = [l.rstrip() for l in out.splitlines()]
        if any(l.startswith("skip - all") for l in lines):
            return "the CPU cannot run the kernel: " + next(
                l for l in lines if l.startswith("skip - all"))
        done = next((RE_DONE.match(l) for l in lines if RE_DONE.match(l)),
                    None)
        if end == "timeout":
            return "timed out after %.0f s" % secs
        if "PASS" not in lines or any(l.startswith("FAIL") for l in lines):
            tail = [l for l in (lines + err.splitlines())[-6:] if l]
            return "no PASS (%s): %s" % (end, " | ".join(tail))
        if not done or int(done.group(1)) != n or int(done.group(2)) != n:
            return "the kernel did not make n=%d round trips (%s)" % (
                n, done.group(0) if done else "no bench line")
        return None


def machine():
    """What the figures were measured on, for the report."""
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f
                          if l.startswith("model name")), "")
    except OSError:
        pass
    return "%s, %d vCPUs, %s" % (model or platform.processor(),
                                 os.cpu_count() or 1, platform.platform())


def versions(build):
    """The implementations' versions; svmx's is the commit of the source
    tree its build directory was configured from, if that is a git
    checkout."""
    v = {}
    src = None
    try:
        with open(os.path.join(build, "meson-info", "meson-info.json")) as f:
            src = json.load(f)["directories"]["source"]
    except (OSError, ValueError, KeyError):
        pass
    commit = ""
    if src:
        try:
            commit = subprocess.run(
                ["git", "-C", src, "rev-parse", "--short", "HEAD"],
                capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    v["svmx"] = "svmx built in %s from %s%s" % (
        build, src or "?", " (git HEAD %s)" % commit if commit else "")
    try:
        v["bochs"] = "Bochs " + subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", "bochs"],
            capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        v["qemu"] = subprocess.run(
            ["qemu-system-x86_64", "--version"], capture_output=True,
            text=True, timeout=10).stdout.splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        pass
    return v


def fmt_rate(r):
    return "-" if r is None else "{:,.0f}".format(r)


def main():
    ap = argparse.ArgumentParser(
        description="Nested round trips per second on svmx, QEMU TCG and "
        "Bochs, boot time subtracted (docs/performance.md, Peer benchmark).")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="the meson build directory (default: build)")
    ap.add_argument("--n", type=int, default=1000000,
                    help="round trips per timed run (default 1,000,000)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds: runs of n=0 and of n=N per implementation "
                    "(default 3; the medians are used)")
    ap.add_argument("--only", help="comma-separated implementations (of " +
                    ", ".join(i for b in BENCHES for i in b["impls"]) +
                    ", " + ", ".join(OPTIONAL) + ")")
    ap.add_argument("--arch", default="svm,vmx",
                    help="which benchmarks: svm, vmx (default both; vmx "
                    "runs once its kernel exists)")
    ap.add_argument("--timeout", type=float, default=60,
                    help="seconds per svmx or QEMU run, plus N/5000")
    ap.add_argument("--bochs-timeout", type=float, default=120,
                    help="seconds per Bochs run, plus N/5000")
    ap.add_argument("--json", help="write every run's time here (default: "
                    "BUILD/peer-bench/report.json)")
    args = ap.parse_args()
    if args.n < 1 or args.repeat < 1:
        ap.error("--n and --repeat want positive numbers")
    args.build = os.path.abspath(args.build)
    if not os.path.isdir(args.build):
        print("peer-bench: no build directory %s (make build, or meson "
              "setup)" % args.build)
        return 2
    work = os.path.join(args.build, "peer-bench")
    os.makedirs(work, exist_ok=True)
    archs = [a.strip() for a in args.arch.split(",") if a.strip()]
    bad = [a for a in archs if a not in [b["arch"] for b in BENCHES]]
    if bad:
        ap.error("unknown --arch %s (svm, vmx)" % ", ".join(bad))
    only = None
    if args.only:
        only = [s.strip() for s in args.only.split(",") if s.strip()]
        known = [i for b in BENCHES for i in b["impls"]] + OPTIONAL
        bad = [s for s in only if s not in known]
        if bad:
            ap.error("unknown implementation %s (known: %s)" %
                     (", ".join(bad), ", ".join(known)))

    bench = Bench(args, work)
    t_start = time.monotonic()
    load0 = os.getloadavg()
    started = datetime.datetime.now().astimezone()
    ver = versions(args.build)
    print("peer-bench: %s" % started.strftime("%Y-%m-%d %H:%M %Z"))
    print("machine: %s" % machine())
    print(ver["svmx"])
    print("%s; %s" % (ver.get("qemu", "QEMU ?"), ver.get("bochs", "Bochs ?")))
    print("load average before: %.2f %.2f %.2f" % load0)
    print("n=%d round trips, %d rounds, runs one at a time\n" %
          (args.n, args.repeat))

    report = {"date": started.isoformat(), "machine": machine(),
              "versions": ver, "n": args.n, "repeat": args.repeat,
              "load_before": load0, "benches": []}
    status = 0
    for b in BENCHES:
        if b["arch"] not in archs:
            continue
        kpath = os.path.join(args.build, "tests", "kernels",
                             b["kernel"] + ".bin")
        cands = b["impls"] + (OPTIONAL if b["arch"] == "svm" else [])
        if only:
            # The reference comes along, as in run-diff.py.
            if not any(i in only for i in cands):
                continue
            impls = [i for i in cands if i in only or i == b["impls"][0]]
        else:
            impls = list(b["impls"])
        if not os.path.exists(kpath):
            if b["arch"] == "vmx":
                print("%s: no %s yet (the VMX kernel lands with VMX; this "
                      "script then runs it on %s)\n" %
                      (b["arch"].upper(), os.path.basename(kpath),
                       ", ".join(b["impls"])))
            else:
                print("peer-bench: no %s (build first: meson compile -C "
                      "%s)" % (kpath, args.build))
                status = 2
            continue
        ref = b["impls"][0]
        usable = []
        for i in impls:
            if bench.why[i]:
                print("peer-bench: skipping %s: %s" % (i, bench.why[i]))
            else:
                usable.append(i)
        if ref not in usable:
            print("peer-bench: %s cannot run; nothing to compare with" % ref)
            status = 2
            continue
        kernels = {n: bench.kernel(b["kernel"], n) for n in (0, args.n)}
        runs = {i: {0: [], args.n: []} for i in usable}   # (wall, CPU)
        advance = {}
        failed = {}
        print("%s: %s" % (b["arch"].upper(), b["kernel"]))
        for rnd in range(args.repeat):
            for i in usable:
                if i in failed:
                    continue
                for n in (0, args.n):
                    secs, cpu, out, err = bench.run(i, kernels[n], n)
                    if err:
                        failed[i] = "n=%d: %s" % (n, err)
                        print("  round %d  %-12s n=%-8d FAILED: %s" %
                              (rnd + 1, i, n, err))
                        break
                    advance[i] = next(RE_DONE.match(l) for l in
                                      out.splitlines()
                                      if RE_DONE.match(l)).group(3)
                    runs[i][n].append((secs, cpu))
                    print("  round %d  %-12s n=%-8d %7.2f s wall %7.2f s "
                          "CPU" % (rnd + 1, i, n, secs, cpu), flush=True)

        res = {}
        for i in usable:
            if i in failed or not runs[i][0] or not runs[i][args.n]:
                res[i] = None
                continue
            r = {"advance": advance[i], "runs0": runs[i][0],
                 "runsN": runs[i][args.n]}
            for k, col in (("wall", 0), ("cpu", 1)):
                t0 = [x[col] for x in runs[i][0]]
                tn = [x[col] for x in runs[i][args.n]]
                m0, mn = statistics.median(t0), statistics.median(tn)
                r[k] = {"boot": m0, "run": mn,
                        "rate": args.n / (mn - m0) if mn > m0 else None,
                        "per_round": [args.n / (a - z) for z, a in
                                      zip(t0, tn) if a > z]}
            res[i] = r
        rows = []
        base = {k: res[ref][k]["rate"] if res.get(ref) else None
                for k in ("wall", "cpu")}
        for i in usable:
            r = res[i]
            if r is None:
                rows.append([i] + ["-"] * 5 + ["FAILED"] + ["-"] * 3)
                continue
            w, c = r["wall"], r["cpu"]
            tn = [x[0] for x in r["runsN"]]

            def ratio(k):
                return "%.2f" % (r[k]["rate"] / base[k]) \
                    if r[k]["rate"] and base[k] else "-"
            rows.append([
                i, r["advance"], "%.2f s" % w["boot"],
                "%.2f s" % w["run"], "%.2f-%.2f" % (min(tn), max(tn)),
                fmt_rate(w["rate"]),
                "%s-%s" % (fmt_rate(min(w["per_round"])),
                           fmt_rate(max(w["per_round"])))
                if w["per_round"] else "-",
                ratio("wall"), fmt_rate(c["rate"]), ratio("cpu")])
        print()
        rd.print_table(
            rows, ["implementation", "L1 RIP", "n=0", "n=%d" % args.n,
                   "range", "trips/s", "per round", "x " + ref,
                   "trips/s CPU", "x " + ref],
            "%s: nested round trips per second (L2 CPUID -> #VMEXIT -> L1 "
            "-> VMRUN -> L2),\nn=0 subtracted; wall-clock medians of %d "
            "rounds, and the same from CPU time (user + system):" %
            (b["arch"].upper(), args.repeat))
        # The headline lines docs/performance.md's Method asks for: svmx's
        # wall-clock figure against each peer's (ratio: how many times
        # faster svmx is).
        for i in usable:
            if i == ref or not res[i] or not res[i]["wall"]["rate"] or \
                    not base["wall"]:
                continue
            print("peer-bench %s vs %s: %.0f trips/s; baseline: %.0f "
                  "trips/s; ratio: %.2f" % (
                      ref, i, base["wall"], res[i]["wall"]["rate"],
                      base["wall"] / res[i]["wall"]["rate"]))
        for i in usable:
            if res[i] and not res[i]["wall"]["rate"]:
                print("peer-bench: %s: the n=%d runs took no longer than the "
                      "n=0 runs (its start-up varies more): use a larger --n"
                      % (i, args.n))
        for i, why in failed.items():
            print("peer-bench: %s failed: %s" % (i, why))
            status = 1
        print()
        report["benches"].append({"arch": b["arch"], "kernel": b["kernel"],
                                  "results": res, "failed": failed})

    load1 = os.getloadavg()
    report["load_after"] = load1
    print("load average after: %.2f %.2f %.2f" % load1)
    path = args.json or os.path.join(work, "report.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print("peer-bench: %.0f s in all; runs in %s" %
          (time.monotonic() - t_start, path))
    return status


if __name__ == "__main__":
    sys.exit(main())
