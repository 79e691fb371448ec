#!/usr/bin/env python3
"""tools/diff/run-diff.py - the differential harness: run the same test
kernels on svmx, on QEMU TCG and on Bochs, compare their canonical outcome
lines case by case, excuse what the known-divergence tables (known-*.toml)
document, and print a summary table. Exits 1 on any unexplained difference.
A kernel whose last case ends the run in a shutdown prints "expect:
shutdown (why)" instead of a verdict; the run's verdict is then SHUTDOWN
if the implementation shut down right after that line.

    run-diff.py [--build DIR] [--only IMPL,...] [--ref IMPL] [--exclude GLOB]
                [--known TOML] [--timeout S] [--bochs-timeout S] [--jobs N]
                [-v] [KERNEL ...]

Without KERNEL it runs every multiboot kernel the build made: *.bin under
BUILD/tests/kernels (and BUILD/tools/demo/demo.bin), and the ELF32 kernels
(*.elf of class 32) there. docs/differential.md explains the output, the
canonical lines and the tables.
"""
import argparse
import concurrent.futures
import fnmatch
import glob
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BOOT_DIR = os.path.join(ROOT, "tests", "kernels", "boot")
sys.path.insert(0, BOOT_DIR)
import mkimage  # noqa: E402  (tests/kernels/boot/mkimage.py)
sys.path.insert(0, HERE)
import svm_exits  # noqa: E402  (tools/diff/svm_exits.py)

# ------------------------------------------------------------ implementations

# name -> how to run it; `ref` is the svmx personality an oracle is compared
# with. QEMU TCG has SVM but no VMX, so the Intel personality is checked
# against Bochs alone.
IMPLS = {
    "svmx-amd":    {"kind": "svmx", "cpu": "amd"},
    "svmx-intel":  {"kind": "svmx", "cpu": "intel"},
    "qemu-svm":    {"kind": "qemu", "cpu": "qemu64,+svm,+npt",
                    "ref": "svmx-amd"},
    "qemu-epyc":   {"kind": "qemu", "cpu": "EPYC", "ref": "svmx-amd"},
    "bochs-ryzen": {"kind": "bochs", "model": "ryzen", "ref": "svmx-amd"},
    "bochs-skx":   {"kind": "bochs", "model": "corei7_skylake_x",
                    "ref": "svmx-intel"},
    # Hardware through KVM (only with --only qemu-kvm): the host CPU for
    # everything but SVM/VMX, KVM's nested virtualization for those.
    "qemu-kvm":    {"kind": "qemu", "accel": "kvm", "cpu": "host",
                    "ref": "host", "default": False},
}
RAM_MIB = 128               # svmx's and QEMU's default; Bochs is told so

BOCHSRC = """\
# written by tools/diff/run-diff.py; docs/differential.md explains each line
megs: {ram}
cpu: model={model}, ips=50000000, reset_on_triple_fault=0, ignore_bad_msrs=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
floppya: 1_44={image}, status=inserted
boot: floppy
floppy_bootsig_check: disabled=0
display_library: rfb, options="timeout=0"
speaker: enabled=0
sound: driver=dummy
port_e9_hack: enabled=1
log: {log}
panic: action=fatal
error: action=report
info: action=report
"""

# ------------------------------------------------------------ canonical lines

# A run's output (its port 0xE9 console) is reduced to canonical lines; all
# other lines are commentary. docs/differential.md section 3 is the contract.
RE_OK = re.compile(r"^ok - (.+)$")
RE_SKIP = re.compile(r"^skip - (.+?): ")
RE_FAIL = re.compile(r"^FAIL: (.+?): ")
RE_DETAIL = re.compile(r"^(note: |exit )")
RE_VERDICT = re.compile(r"^(PASS|FAIL|RESULT\b.*)$")
# "expect: shutdown (why)": the kernel's last case ends the whole run in a
# shutdown (docs/kernels.md section 8), so it cannot print a verdict.
RE_EXPECT = re.compile(r"^expect: shutdown\b")
RESULT = "(result)"
END = "(end)"
SHUTDOWN = "(shutdown)"     # the case an expect line announces
SHUTDOWN_VERDICT = "SHUTDOWN"
SKIP = " (skip)"
ALL = "all"             # "skip - all: why": the whole kernel did not run


def canonical(text, shutdown=False):
    """Returns [(case, [lines])] in order: each case's canonical lines, its
    verdict line last. Detail lines (note:, exit) belong to the case of the
    next verdict-bearing line. An "expect: shutdown" line opens the
    pseudo-case (shutdown): it and every canonical line after it, up to a
    verdict, are that case's record. shutdown: the run ended in a shutdown
    (Runner.run says how each implementation shows one); when the expect
    line is the last canonical line, the run's verdict is then SHUTDOWN."""
    cases = {}
    order = []
    pending = []
    expecting = False       # after an expect line
    last = None             # the kind of the last canonical line

    def add(name, lines):
        if name not in cases:
            cases[name] = []
            order.append(name)
        cases[name].extend(lines)

    for raw in text.splitlines():
        line = raw.rstrip()
        if RE_VERDICT.match(line):
            add(RESULT, pending + [line])
            pending = []
            last = "verdict"
            continue
        if RE_EXPECT.match(line):
            add(SHUTDOWN, pending + [line])
            pending = []
            expecting = True
            last = "expect"
            continue
        m = RE_SKIP.match(line)
        if m:
            # A skip is its own record: part of a case (or a whole case) did
            # not run, and whatever else the case printed is still compared.
            add(m.group(1) + SKIP, [line])
            last = "skip"
            continue
        m = RE_OK.match(line) or RE_FAIL.match(line)
        if m:
            # After the expect line a case line is the announced case's,
            # whatever name it carries (the CPU came back to L1).
            add(SHUTDOWN if expecting else m.group(1), pending + [line])
            pending = []
            last = "case"
        elif RE_DETAIL.match(line):
            if expecting:
                add(SHUTDOWN, [line])
            else:
                pending.append(line)
            last = "detail"
    if pending:
        add(END, pending)
    if shutdown and last == "expect":
        add(RESULT, [SHUTDOWN_VERDICT])
    return [(n, cases[n]) for n in order]


def cases_of(run):
    """The canonical cases of a run (a Runner.run result)."""
    return canonical(run["out"], bool(run.get("shutdown")))


# -------------------------------------------------------------- known table


class Known:
    """The entries of tools/diff/known-*.toml."""

    def __init__(self, paths):
        self.entries = []
        for path in paths:
            with open(path, "rb") as f:
                data = tomllib.load(f)
            for i, e in enumerate(data.get("known", [])):
                where = "%s entry %d" % (os.path.basename(path), i + 1)
                for key in ("kernel", "case", "oracle", "cite", "why"):
                    if not e.get(key):
                        raise ValueError("%s: no %s" % (where, key))
                kinds = [k for k in ("lines", "mask", "rewrite", "clear")
                         if k in e]
                if len(kinds) > 1:
                    raise ValueError("%s: %s together" %
                                     (where, " and ".join(kinds)))
                if "unreached" in e and (e["unreached"] is not True or
                                         kinds):
                    raise ValueError("%s: unreached = true stands without "
                                     "lines, mask, rewrite or clear" % where)
                # What the divergence is: "bug" (the default), the oracle
                # contradicts the manual; "undefined", the manual leaves the
                # outcome undefined and svmx follows a rule of its own, which
                # `rule` names (docs/differential.md section 4).
                e.setdefault("kind", "bug")
                if e["kind"] not in KINDS:
                    raise ValueError("%s: kind is %s or %s" %
                                     ((where,) + KINDS))
                if e["kind"] == "undefined" and not e.get("rule"):
                    raise ValueError("%s: kind = \"undefined\" needs the "
                                     "rule svmx follows (rule = ...)" % where)
                e["where"] = where
                stem = os.path.splitext(os.path.basename(path))[0]
                e["id"] = "%s#%d" % (stem.replace("known-", ""), i + 1)
                e["_lines"] = re.compile(e["lines"]) if "lines" in e else None
                e["_transform"] = transform_of(e, where)
                e["used"] = 0
                self.entries.append(e)

    def matching(self, kernel, case, oracle):
        return [e for e in self.entries
                if globs_match(e["kernel"], kernel)
                and globs_match(e["case"], case)
                and oracle_matches(e, oracle)]


KINDS = ("bug", "undefined")


def globs_match(globs, name):
    """globs: a glob or a list of globs (an entry's kernel, case, oracle)."""
    if isinstance(globs, str):
        globs = [globs]
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


def oracle_matches(entry, impl):
    return globs_match(entry["oracle"], impl)


def kind_of(entries):
    """The kind of a finding excused by these entries: "undefined" when
    every one of them is, else "bug"."""
    return "undefined" if entries and all(
        e["kind"] == "undefined" for e in entries) else "bug"


def transform_of(e, where):
    """The line transformation of a mask, rewrite or clear entry, as
    (applies to the oracle's side only?, function), or None."""
    if "mask" in e:
        rx = re.compile(e["mask"])
        return False, lambda line: rx.sub("*", line)
    if "rewrite" in e:
        pat, repl = e["rewrite"]
        rx = re.compile(pat)
        return True, lambda line: rx.sub(repl, line)
    if "clear" in e:
        c = e["clear"]
        field, bits, code = c.get("field"), c.get("bits"), c.get("code")
        if field not in ("info1", "info2", "nrip", "intinfo") or \
                not isinstance(bits, int):
            raise ValueError("%s: clear wants field (info1, info2, nrip, "
                             "intinfo) and bits" % where)
        rx = re.compile(r"\b%s=(0x[0-9a-f]+)" % field)
        rx_code = re.compile(r"^exit code=(0x[0-9a-f]+) ")

        def clear(line):
            m = rx_code.match(line)
            if not m or (code is not None and int(m.group(1), 16) != code):
                return line
            return rx.sub(lambda v: "%s=%#x" % (field, int(v.group(1), 16) &
                                                ~bits), line)
        return False, clear
    return None


def apply_transforms(lines, entries, oracle_side):
    """lines after the transforms of entries; and the entries that changed
    something."""
    used = []
    out = []
    for line in lines:
        for e in entries:
            t = e["_transform"]
            if t and (oracle_side or not t[0]):
                new = t[1](line)
                if new != line and e not in used:
                    used.append(e)
                line = new
        out.append(line)
    return out, used


def line_diff(a, b):
    """Lines of a missing from b and lines of b missing from a, as
    multisets, keeping order."""
    rest = list(b)
    only_a = []
    for line in a:
        if line in rest:
            rest.remove(line)
        else:
            only_a.append(line)
    return only_a, rest


def compare(kernel, oracle, ref_cases, cases, known, ref_impl=None,
            feats=0):
    """Compares an oracle's cases with the reference's. Returns a list of
    per-case findings: dicts with case, verdict (agree, skip, known,
    differ), the lines only in each, and the known entries used. feats:
    the SVM features both CPUs have (svm_exits.py), for the exit lines."""
    def norm(cs):
        return {n: [svm_exits.normalize(l, feats) for l in ls]
                for n, ls in cs}
    ref = norm(ref_cases)
    got = norm(cases)
    names = [n for n, _ in ref_cases] + [n for n, _ in cases if n not in ref]
    findings = []
    for name in names:
        if name == RESULT:
            continue
        a, b = ref.get(name), got.get(name)
        skip_a = name + SKIP in ref or ALL + SKIP in ref
        skip_b = name + SKIP in got or ALL + SKIP in got
        if (name.endswith(SKIP) and (a is None or b is None)) or \
                skip_a != skip_b:
            # Skipped on one side only: the CPUs differ (CPUID), nothing
            # to compare. A skip named like a case skips that whole case
            # ("skip - t_smep: ..." then "ok - t_smep").
            findings.append({"case": name, "verdict": "skip",
                             "ref": a or [], "oracle": b or []})
            continue
        # The oracle's entries, and (with --ref an oracle) the reference's:
        # a rewrite applies to its own oracle's side only.
        ent_o = known.matching(kernel, name, oracle)
        ent_r = known.matching(kernel, name, ref_impl) \
            if ref_impl and IMPLS[ref_impl]["kind"] != "svmx" else []
        entries = ent_o + [e for e in ent_r if e not in ent_o]
        am, u1 = apply_transforms(a or [], ent_o, False)
        am, u2 = apply_transforms(am, ent_r, True)
        bm, u3 = apply_transforms(b or [], ent_o, True)
        bm, u4 = apply_transforms(bm, ent_r, False)
        masks = []
        for e in u1 + u2 + u3 + u4:
            if e not in masks:
                masks.append(e)
        if a is not None and b is not None and am == bm:
            for e in masks:
                e["used"] += 1
            findings.append({"case": name, "verdict": "known" if masks
                             else "agree", "ref": a, "oracle": b,
                             "entries": [e["id"] for e in masks],
                             "kind": kind_of(masks)})
            continue
        only_ref, only_or = line_diff(am, bm)
        if not only_ref and not only_or:
            only_ref = ["(the same lines in another order)"]
        if a is None:
            only_ref = ["(case missing)"]
        if b is None:
            only_or = ["(case missing)"]
        # An "unreached" entry excuses a case only when the oracle printed
        # nothing of it and no verdict line either: its run ended before
        # it got there (a documented oracle limit, e.g. Bochs's PANIC on a
        # guest's triple fault).
        unreached = b is None and RESULT not in got
        entries = [e for e in entries if unreached or not e.get("unreached")]
        used, unexplained = set(), []
        for line in only_ref + only_or:
            hit = [e for e in entries if e["_lines"] is None or
                   (e["_lines"] and e["_lines"].search(line))]
            hit = [e for e in hit if not e["_transform"]]
            if hit:
                used.update(e["id"] for e in hit)
            else:
                unexplained.append(line)
        for e in entries:
            if e["id"] in used:
                e["used"] += 1
        for e in masks:
            e["used"] += 1
        findings.append({
            "case": name,
            "verdict": "differ" if unexplained else "known",
            "ref": a or [], "oracle": b or [],
            "only_ref": only_ref, "only_oracle": only_or,
            "unexplained": unexplained,
            "entries": sorted(used) + [e["id"] for e in masks],
            "kind": kind_of([e for e in entries if e["id"] in used] +
                            masks)})
    # The verdict line follows from the cases: it is explained when every
    # other difference is.
    a, b = ref.get(RESULT, []), got.get(RESULT, [])
    if not a and not b:
        # Nothing to compare is not agreement.
        findings.append({"case": RESULT, "verdict": "differ", "ref": a,
                         "oracle": b, "only_ref": ["(no verdict line)"],
                         "only_oracle": ["(no verdict line)"],
                         "unexplained": ["neither run printed a verdict"],
                         "entries": []})
    elif a != b:
        others = [f for f in findings if f["verdict"] in ("differ", "known")]
        ok = others and all(f["verdict"] == "known" for f in others)
        findings.append({"case": RESULT, "verdict": "known" if ok else
                         "differ", "ref": a, "oracle": b,
                         "kind": "undefined" if ok and all(
                             f["kind"] == "undefined" for f in others)
                         else "bug",
                         "only_ref": a, "only_oracle": b,
                         "unexplained": [] if ok else (a + b or ["(none)"]),
                         "entries": ["(follows from the cases above)"]
                         if ok else []})
    return findings

# --------------------------------------------------------------------- runs


def kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_process(cmd, timeout, stop_at_verdict=False, cwd=None):
    """Runs cmd, returns (stdout text, stderr text, status, seconds, end).
    With stop_at_verdict the run is ended as soon as the final verdict
    line (PASS, FAIL or RESULT) has been printed: Bochs has no exit port
    and keeps running after the kernel's HLT."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                             stdin=subprocess.DEVNULL, cwd=cwd,
                             start_new_session=True)
        out = []
        end = "exit"
        deadline = t0 + timeout
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        buf = b""
        done = False
        while not done:
            left = deadline - time.monotonic()
            if left <= 0:
                end = "timeout"
                kill_group(p)
                break
            for _key, _ in sel.select(min(left, 1.0)):
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    done = True
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    text = line.decode("utf-8", "replace")
                    out.append(text)
                    if stop_at_verdict and RE_VERDICT.match(text.rstrip()):
                        end = "verdict"
                        kill_group(p)
                        done = True
                        break
                if done:
                    break
        if buf:
            out.append(buf.decode("utf-8", "replace"))
        sel.close()
        try:
            status = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kill_group(p)
            status = p.wait()
        p.stdout.close()
        err.seek(0)
        errtext = err.read().decode("utf-8", "replace")
    return "\n".join(out) + "\n", errtext, status, time.monotonic() - t0, end


def why_stopped(kind, err):
    """The line of stderr (or of Bochs's log) that best says why a run
    ended, for runs that print no verdict."""
    lines = [l.strip() for l in err.splitlines() if l.strip()]
    if kind == "bochs":
        for pat in ("PANIC", "triple fault", "shutdown", "ERROR"):
            hits = [l for l in lines if pat.lower() in l.lower()]
            if hits:
                return hits[-1]
    return lines[-1] if lines else ""


# How each implementation shows that the machine shut down (a triple fault
# outside a guest, or one in a guest that is not intercepted; DESIGN.md
# rule R2). docs/differential.md section 3, "Expected shutdowns".
RE_SVMX_SHUTDOWN = re.compile(r"^svmx run: triple fault \(shutdown\)")
RE_QEMU_TF = re.compile(r"^Triple fault$")
RE_BOCHS_SHUTDOWN = re.compile(
    r">>PANIC<< exception\(\): 3rd \(\d+\) exception with no resolution")


def shutdown_evidence(spec, end, status, err, log):
    """The line that shows that the run ended in a shutdown, or None.
    svmx: its stop line on stderr (tools/cmd_run.c). QEMU: -no-reboot
    turns the reset request of a triple fault into QEMU's exit with status
    0 (isa-debug-exit's statuses are odd), and under TCG the -d cpu_reset
    log says "Triple fault" just before (KVM logs nothing there). Bochs:
    with reset_on_triple_fault=0 and panic: action=fatal, the PANIC "3rd
    (N) exception with no resolution" ends it."""
    if end != "exit":
        return None
    kind = spec["kind"]
    if kind == "svmx":
        return next((l.strip() for l in err.splitlines()
                     if RE_SVMX_SHUTDOWN.match(l)), None)
    if kind == "qemu":
        if status != 0:
            return None
        if spec.get("accel", "tcg") == "tcg":
            if not any(RE_QEMU_TF.match(l) for l in log):
                return None
            return "qemu: 'Triple fault' (-d cpu_reset), then exit " \
                "status 0 (-no-reboot)"
        return "qemu: exit status 0 (-no-reboot: the guest's reset request)"
    return next(("bochs.log: " + l.strip() for l in log
                 if RE_BOCHS_SHUTDOWN.search(l)), None)


class Runner:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.svmx = os.path.join(args.build, "tools", "svmx")
        self.bochs_prefix = None

    def command(self, impl, kernel, tmp):
        spec = IMPLS[impl]
        if spec["kind"] == "svmx":
            return [self.svmx, "run", "--cpu", spec["cpu"], "-m", str(RAM_MIB),
                    "--max-insns", str(self.args.max_insns), kernel["path"]]
        if spec["kind"] == "qemu":
            # -no-reboot turns the guest's reset request (a triple fault)
            # into QEMU's exit with status 0; -d cpu_reset makes TCG log
            # "Triple fault" first (shutdown_evidence).
            return ["qemu-system-x86_64", "-accel", spec.get("accel", "tcg"),
                    "-cpu", spec["cpu"],
                    "-m", str(RAM_MIB), "-nodefaults", "-display", "none",
                    "-no-reboot", "-kernel", kernel["path"],
                    "-debugcon", "stdio",
                    "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
                    "-d", "cpu_reset", "-D", os.path.join(tmp, "qemu.log")]
        rc = os.path.join(tmp, "bochsrc")
        with open(rc, "w") as f:
            f.write(BOCHSRC.format(ram=RAM_MIB, model=spec["model"],
                                   image=kernel["image"],
                                   log=os.path.join(tmp, "bochs.log")))
        cmds = os.path.join(tmp, "commands")
        with open(cmds, "w") as f:
            f.write("c\nquit\n")
        return self.bochs_prefix + ["bochs", "-q", "-f", rc, "-rc", cmds]

    def run(self, impl, kernel):
        kind = IMPLS[impl]["kind"]
        timeout = self.args.bochs_timeout if kind == "bochs" \
            else self.args.timeout
        with tempfile.TemporaryDirectory(prefix="svmx-diff-") as tmp:
            cmd = self.command(impl, kernel, tmp)
            try:
                out, err, status, secs, end = run_process(
                    cmd, timeout, stop_at_verdict=(kind == "bochs"), cwd=tmp)
            except OSError as e:
                out, err, status, secs, end = "", str(e), None, 0.0, "error"
            log = []
            logname = {"bochs": "bochs.log", "qemu": "qemu.log"}.get(kind)
            if logname and os.path.exists(os.path.join(tmp, logname)):
                with open(os.path.join(tmp, logname), errors="replace") as f:
                    log = f.read().splitlines()
            if kind == "bochs":
                err += "".join("bochs.log: %s\n" % t for t in log[-40:])
            elif kind == "qemu":
                # QEMU's log is mostly the CPU state at its start-up reset;
                # keep what tells how the run ended.
                err += "".join("qemu.log: %s\n" % t for t in log
                               if RE_QEMU_TF.match(t))
        shutdown = shutdown_evidence(IMPLS[impl], end, status, err, log)
        odir = os.path.join(self.work, "out", impl)
        os.makedirs(odir, exist_ok=True)
        base = os.path.join(odir, kernel["name"])
        with open(base + ".txt", "w") as f:
            f.write(out)
        with open(base + ".err", "w") as f:
            f.write("$ %s\n# status %s, %.2f s, ended by %s%s\n%s" %
                    (" ".join(cmd), status, secs, end,
                     ", shutdown: " + shutdown if shutdown else "", err))
        return {"impl": impl, "kernel": kernel["name"], "out": out,
                "status": status, "secs": secs, "end": end,
                "shutdown": shutdown,
                "why": shutdown or why_stopped(kind, err)}

# ------------------------------------------------------- oracles available


def have(prog):
    return shutil.which(prog) is not None


def bochs_prefix():
    """How to give Bochs its own network namespace, so that its VNC
    listener (display_library: rfb) never appears on the host; None if
    there is no way."""
    if os.geteuid() == 0:
        cands = [["unshare", "-n"]]
    else:
        cands = [["unshare", "-r", "-n"]]
    for c in cands:
        try:
            if subprocess.run(c + ["true"], capture_output=True,
                              timeout=10).returncode == 0:
                return c
        except (OSError, subprocess.TimeoutExpired):
            pass
    return None


def kvm_missing():
    """Why KVM cannot run the kernels here, or None."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "no usable /dev/kvm"
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((l for l in f if l.startswith("flags")), "").split()
    except OSError:
        flags = []
    if "svm" not in flags and "vmx" not in flags:
        return "the host CPU shows neither svm nor vmx in /proc/cpuinfo"
    return None


def availability(runner):
    """{impl: None if usable, else why not}."""
    why = {}
    svmx_ok = os.access(runner.svmx, os.X_OK)
    qemu_ok = have("qemu-system-x86_64")
    bochs_files = ["/usr/share/bochs/BIOS-bochs-latest",
                   "/usr/share/vgabios/vgabios.bin"]
    bochs_missing = [p for p in bochs_files if not os.path.exists(p)]
    runner.bochs_prefix = bochs_prefix() if have("bochs") else None
    for impl, spec in IMPLS.items():
        if spec["kind"] == "svmx":
            why[impl] = None if svmx_ok else "no %s (build first)" % runner.svmx
        elif spec["kind"] == "qemu":
            why[impl] = None if qemu_ok else \
                "qemu-system-x86_64 not installed (Debian: qemu-system-x86)"
            if not why[impl] and spec.get("accel") == "kvm":
                why[impl] = kvm_missing()
        elif not have("bochs"):
            why[impl] = "bochs not installed (Debian: bochs bochsbios vgabios)"
        elif bochs_missing:
            why[impl] = "missing %s (Debian: bochsbios vgabios)" % \
                ", ".join(bochs_missing)
        elif runner.bochs_prefix is None:
            why[impl] = "cannot give Bochs its own network namespace " \
                "(unshare -n needs root or user namespaces)"
        else:
            why[impl] = None
    return why

# ------------------------------------------------------------------ kernels


def is_elf32(path):
    with open(path, "rb") as f:
        head = f.read(5)
    return head[:4] == b"\x7fELF" and head[4] == 1


def find_kernels(args):
    paths = args.kernels
    if not paths:
        kdir = os.path.join(args.build, "tests", "kernels")
        paths = sorted(glob.glob(os.path.join(kdir, "**", "*.bin"),
                                 recursive=True))
        paths += sorted(p for p in glob.glob(os.path.join(kdir, "**", "*.elf"),
                                             recursive=True) if is_elf32(p))
        demo = os.path.join(args.build, "tools", "demo", "demo.bin")
        if os.path.exists(demo):
            paths.append(demo)
    kernels, seen = [], set()
    for p in paths:
        if not os.path.isfile(p):
            raise SystemExit("diff: no kernel file %s" % p)
        name = os.path.splitext(os.path.basename(p))[0]
        while name in seen:
            name += "_"
        seen.add(name)
        kernels.append({"name": name, "path": os.path.abspath(p)})
    return kernels


def make_images(kernels, work):
    idir = os.path.join(work, "img")
    os.makedirs(idir, exist_ok=True)
    loader_path = os.path.join(work, "boot.bin")
    mkimage.build_loader(loader_path)
    with open(loader_path, "rb") as f:
        loader = f.read()
    for k in kernels:
        with open(k["path"], "rb") as f:
            data = f.read()
        k["image"] = os.path.join(idir, k["name"] + ".img")
        with open(k["image"], "wb") as f:
            f.write(mkimage.make_image(loader, data))

# ------------------------------------------------------------------- report


def host_vendor():
    try:
        with open("/proc/cpuinfo") as f:
            return "amd" if "AuthenticAMD" in f.read(4096) else "intel"
    except OSError:
        return "intel"


def ref_of(impl, ref):
    """The implementation impl is compared with (None: it is a reference)."""
    if ref:
        return None if impl == ref else ref
    r = IMPLS[impl].get("ref")
    return "svmx-" + host_vendor() if r == "host" else r



def cell(findings, run):
    if run is None:
        return "-"
    n = {v: sum(1 for f in findings if f["verdict"] == v and
                f["case"] != RESULT) for v in ("differ", "known", "skip")}
    n_undef = sum(1 for f in findings if f["verdict"] == "known" and
                  f["case"] != RESULT and f["kind"] == "undefined")
    result_differs = any(f["case"] == RESULT and f["verdict"] == "differ"
                         for f in findings)
    if n["differ"]:
        s = "DIFFER %d" % n["differ"]
    elif result_differs:
        s = "DIFFER verdict"
    elif n["known"]:
        # Oracle bugs and, apart, the outcomes the manual leaves undefined.
        s = ", ".join(x for x in (
            "known %d" % (n["known"] - n_undef) if n["known"] > n_undef
            else "", "undefined %d" % n_undef if n_undef else "") if x)
    else:
        s = "agree"
    if n["skip"]:
        s += ", %d skip" % n["skip"]
    if run["end"] == "timeout":
        s += " (timeout)"
    return s


def svmx_cell(run):
    if run is None:
        return "-"
    cases = dict(cases_of(run))
    res = cases.get(RESULT, [])
    v = res[-1] if res else "no verdict"
    if run["end"] == "timeout":
        v += " (timeout)"
    return v


def print_table(rows, cols, title=None):
    widths = [max(len(str(r[i])) for r in rows + [cols])
              for i in range(len(cols))]
    if title:
        print(title)
    fmt = "  ".join("%%-%ds" % w for w in widths)
    print(fmt % tuple(cols))
    print(fmt % tuple("-" * w for w in widths))
    for r in rows:
        print(fmt % tuple(r))


def main():
    ap = argparse.ArgumentParser(
        description="Run the test kernels on svmx, QEMU TCG and Bochs and "
        "compare their canonical lines (docs/differential.md).")
    ap.add_argument("kernels", nargs="*", metavar="KERNEL",
                    help="multiboot kernels (default: every one the build "
                    "made)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="the meson build directory (default: build)")
    ap.add_argument("--only", help="comma-separated implementations: " +
                    ", ".join(IMPLS))
    ap.add_argument("--timeout", type=float, default=60,
                    help="seconds per svmx or QEMU run (default 60)")
    ap.add_argument("--bochs-timeout", type=float, default=120,
                    help="seconds per Bochs run, BIOS boot included "
                    "(default 120)")
    ap.add_argument("--max-insns", type=int, default=1000000000,
                    help="svmx run --max-insns (default 1e9)")
    ap.add_argument("--ref", help="compare every other implementation "
                    "with this one instead of with its svmx personality "
                    "(e.g. bochs-ryzen, to check the oracles against each "
                    "other)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--exclude", action="append", default=[],
                    metavar="GLOB", help="leave out kernels whose name "
                    "matches (repeatable), e.g. 'k_svm_*'")
    ap.add_argument("--known", action="append",
                    help="known-divergence tables (default: tools/diff/"
                    "known-*.toml)")
    ap.add_argument("--work", help="where outputs and images go "
                    "(default: BUILD/diff)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="also print every known divergence's lines")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    t_start = time.monotonic()

    work = os.path.abspath(args.work or os.path.join(args.build, "diff"))
    if os.path.isdir(os.path.join(work, "out")):
        shutil.rmtree(os.path.join(work, "out"))
    os.makedirs(work, exist_ok=True)
    known = Known(args.known or
                  sorted(glob.glob(os.path.join(HERE, "known-*.toml"))))
    runner = Runner(args, work)
    impls = [i for i in IMPLS if IMPLS[i].get("default", True)]
    if args.ref and args.ref not in IMPLS:
        ap.error("unknown implementation %s (known: %s)" %
                 (args.ref, ", ".join(IMPLS)))
    if args.only:
        want = [s.strip() for s in args.only.split(",") if s.strip()]
        bad = [s for s in want if s not in IMPLS]
        if bad:
            ap.error("unknown implementation %s (known: %s)" %
                     (", ".join(bad), ", ".join(IMPLS)))
        impls = [i for i in IMPLS if i in want or i == args.ref or
                 (not args.ref and any(ref_of(w, None) == i
                                       for w in want))]
    why = availability(runner)
    for impl in impls:
        if why[impl]:
            print("diff: skipping %s: %s" % (impl, why[impl]))
    refs = [args.ref] if args.ref else \
        [i for i in impls if IMPLS[i]["kind"] == "svmx"]
    if any(why[i] for i in refs):
        print("diff: the reference cannot run; nothing to compare")
        return 2
    usable = [i for i in impls if not why[i]]

    kernels = [k for k in find_kernels(args)
               if not any(fnmatch.fnmatchcase(k["name"], g)
                          for g in args.exclude)]
    if not kernels:
        print("diff: no kernels (build first: meson compile -C %s)" %
              args.build)
        return 2
    t_img = None
    if any(IMPLS[i]["kind"] == "bochs" for i in usable):
        t_img = time.monotonic()
        make_images(kernels, work)
        t_img = time.monotonic() - t_img
    print("diff: %d kernels x %d implementations (%s), %d jobs" %
          (len(kernels), len(usable), ", ".join(usable), args.jobs))

    runs = {}
    jobs = [(i, k) for k in kernels for i in usable]
    # Bochs runs are the long ones: start them first.
    jobs.sort(key=lambda j: IMPLS[j[0]]["kind"] != "bochs")
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        futs = {ex.submit(runner.run, i, k): (i, k["name"]) for i, k in jobs}
        for fut in concurrent.futures.as_completed(futs):
            r = fut.result()
            runs[(r["impl"], r["kernel"])] = r

    # Compare each oracle with its svmx personality.
    results = {}
    any_differ = False
    for k in kernels:
        for impl in usable:
            ref = ref_of(impl, args.ref)
            if not ref or ref not in usable:
                continue
            ra, rb = runs[(ref, k["name"])], runs[(impl, k["name"])]
            feats = svm_exits.features(ra["out"]) & \
                svm_exits.features(rb["out"])
            f = compare(k["name"], impl, cases_of(ra), cases_of(rb), known,
                        ref, feats)
            results[(impl, k["name"])] = f
            if any(x["verdict"] == "differ" for x in f):
                any_differ = True

    # Details: every difference, unexplained ones first.
    for want in ("differ", "known"):
        for (impl, kname), fs in sorted(results.items()):
            for f in fs:
                if f["verdict"] != want:
                    continue
                ref = ref_of(impl, args.ref)
                if want == "differ":
                    print("\nDIFFER %s %s %s (vs %s):" %
                          (kname, f["case"], impl, ref))
                    for line in f["only_ref"]:
                        print("  %-12s %s" % (ref + ":", line))
                    for line in f["only_oracle"]:
                        print("  %-12s %s" % (impl + ":", line))
                    print("  unexplained: %s" % "; ".join(f["unexplained"]))
                elif args.verbose:
                    print("\nknown  %s %s %s: %s%s" % (
                        kname, f["case"], impl, ", ".join(f["entries"]),
                        " [undefined]" if f["kind"] == "undefined" else ""))
                    for line in f.get("only_ref", []):
                        print("  %-12s %s" % (ref + ":", line))
                    for line in f.get("only_oracle", []):
                        print("  %-12s %s" % (impl + ":", line))
    if not args.verbose:
        known_cases = [(i, k, f["case"], ", ".join(f["entries"]) + (
                           " [undefined]" if f["kind"] == "undefined"
                           else ""))
                       for (i, k), fs in sorted(results.items())
                       for f in fs if f["verdict"] == "known"
                       and f["case"] != RESULT]
        if known_cases:
            print("\nknown divergences (oracle-known; [undefined]: the "
                  "manual leaves the outcome undefined\nand svmx follows "
                  "its own rule; -v shows the lines):")
            w = [max(len(r[j]) for r in known_cases) for j in range(3)]
            for r in known_cases:
                print("  %-*s  %-*s  %-*s  %s" % (w[0], r[0], w[1], r[1],
                                                  w[2], r[2], r[3]))

    # Runs that printed no verdict line: say how they ended.
    silent = [r for (_, _), r in sorted(runs.items())
              if RESULT not in dict(cases_of(r))]
    if silent:
        print("\nruns without a verdict line:")
        for r in silent:
            print("  %-12s %-17s ended by %s, status %s: %s" %
                  (r["impl"], r["kernel"], r["end"], r["status"],
                   r["why"][:160]))
    # Runs whose verdict is SHUTDOWN: what showed the shutdown.
    down = [r for (_, _), r in sorted(runs.items())
            if dict(cases_of(r)).get(RESULT) == [SHUTDOWN_VERDICT]]
    if down:
        print("\nruns that ended in the shutdown their kernel announced "
              "(verdict SHUTDOWN):")
        for r in down:
            print("  %-12s %-17s %s" % (r["impl"], r["kernel"],
                                        r["shutdown"][:160]))

    # The summary table.
    print()
    cols = ["kernel"] + impls
    rows = []
    for k in kernels:
        row = [k["name"]]
        for impl in impls:
            if why[impl]:
                row.append("skipped")
            elif not ref_of(impl, args.ref):
                row.append(svmx_cell(runs.get((impl, k["name"]))))
            else:
                row.append(cell(results.get((impl, k["name"]), []),
                                runs.get((impl, k["name"]))))
        rows.append(row)
    print_table(rows, cols, "summary (%s: the kernel's own verdict, SHUTDOWN "
                "if it ended in the shutdown it announced;\nthe others: cases "
                "differing from %s)" %
                (args.ref or "svmx columns", args.ref or "svmx"))

    # Wall time per implementation.
    print()
    trows = []
    for impl in impls:
        if why[impl]:
            continue
        rs = [r for (i, _), r in runs.items() if i == impl]
        tot = sum(r["secs"] for r in rs)
        trows.append([impl, "%d" % len(rs), "%.1f s" % tot,
                      "%.2f s" % (tot / len(rs)),
                      "%.2f s" % max(r["secs"] for r in rs)])
    print_table(trows, ["implementation", "runs", "total", "mean", "max"],
                "wall time per implementation (runs overlap with --jobs %d;"
                " Bochs includes its BIOS boot)" % args.jobs)
    if t_img is not None:
        print("boot images (loader and %d floppies): %.1f s" %
              (len(kernels), t_img))

    unused = [e for e in known.entries if not e["used"] and any(
        oracle_matches(e, i) for i in usable) and any(
        globs_match(e["kernel"], k["name"]) for k in kernels)]
    if unused:
        print("\nknown-divergence entries that matched nothing this run:")
        for e in unused:
            print("  %s (%s): %s %s %s" % (e["id"], e["where"], e["kernel"],
                                           e["case"], e["oracle"]))

    report = {
        "kernels": [k["name"] for k in kernels], "impls": impls,
        "skipped": {i: why[i] for i in impls if why[i]},
        "runs": [{k: r[k] for k in ("impl", "kernel", "status", "secs",
                                    "end", "shutdown")}
                 for r in runs.values()],
        "findings": [dict(impl=i, kernel=k, **{x: f[x] for x in f
                                               if x not in ("ref", "oracle")})
                     for (i, k), fs in sorted(results.items()) for f in fs
                     if f["verdict"] != "agree"],
    }
    with open(os.path.join(work, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print("\noutputs: %s/out/IMPL/KERNEL.txt (.err: command, status, "
          "stderr); report.json" % work)
    print("diff: %s in %.1f s" % ("UNEXPLAINED DIFFERENCES" if any_differ
                                  else "no unexplained difference",
                                  time.monotonic() - t_start))
    return 1 if any_differ else 0


if __name__ == "__main__":
    sys.exit(main())
