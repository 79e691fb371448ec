"""tools/diff/svm_exits.py - which fields of an SVM kernel's exit line the
APM defines, so that run-diff.py compares those and masks the rest.

The SVM kernels print one line per #VMEXIT (docs/kernels.md section 7):

    exit code=0x7b info1=0x800211 info2=0x104c21 nrip=0x104c21 intinfo=0x0

with each VMCB field as the CPU left it. Where the APM leaves a field
undefined for an exit, two correct CPUs may leave different values there, so
before two exit lines are compared each such field becomes "*":

  info1, info2  per exit code, the table below (APM Vol. 2 15.8-15.14, 15.25,
                15.33 and appendix C); fields that only decode assists define
                count only when both CPUs advertise decode assists (CPUID
                8000_000A EDX[7]);
  nrip          only when both CPUs advertise NRIP save (EDX[3]) and the exit
                is an instruction intercept, IOIO, MSR, or #BP/#OF from INT3
                or INTO (15.7.1);
  intinfo       only the V bit (31) when V = 0 (15.7.2: the rest describes
                no event).

A field whose bits are defined only in part is printed with the undefined
bits cleared and named: the IOIO EXITINFO1's SEG field (bits 12:10) is
defined only with decode assists (15.10.2, 15.33), so without them on both
sides `info1=0x800e14` becomes `info1=0x800214&~0x1c00`.

A CPU's features come from the kernel's own "svm: ... CPUID 8000_000A EDX
0x.." line (tests/kernels/svm/svm.c, svm_init); without it, none.
"""
import re

RE_EXIT = re.compile(r"^exit code=(0x[0-9a-f]+) info1=(0x[0-9a-f]+) "
                     r"info2=(0x[0-9a-f]+) nrip=(0x[0-9a-f]+) "
                     r"intinfo=(0x[0-9a-f]+)$")
RE_FEATURES = re.compile(r"CPUID 8000_000A EDX (0x[0-9a-f]+)")

NRIPS = 1 << 3            # CPUID 8000_000A EDX[3]
DECODE_ASSISTS = 1 << 7   # CPUID 8000_000A EDX[7]
IOIO_SEG = 0x7 << 10      # IOIO EXITINFO1[12:10], the segment (15.10.2)

# Exception vectors that push an error code (APM Vol. 2 8.2): EXITINFO1 of
# their exception intercept is that error code (15.12).
ERROR_CODE_VECTORS = {8, 10, 11, 12, 13, 14, 17, 21, 29, 30}

ALWAYS, NEVER, WITH_DA = "always", "never", "decode-assists"


def _info_rules(code):
    """(info1, info2) rules for an exit code."""
    if code <= 0x3f or code == 0x65:
        # MOV CRx/DRx and the selective CR0 write: EXITINFO1 bit 63 and the
        # GPR number with decode assists (15.33.1)
        return WITH_DA, NEVER
    if 0x40 <= code <= 0x5f:
        vec = code - 0x40
        # 15.12: error code in EXITINFO1, CR2 in EXITINFO2 for #PF
        return (ALWAYS if vec in ERROR_CODE_VECTORS else NEVER,
                ALWAYS if vec == 14 else NEVER)
    if code == 0x75 or code == 0x79:
        # INTn: the vector; INVLPG: the linear address (15.33.1, 15.33.2)
        return WITH_DA, NEVER
    if code == 0x7b:
        return ALWAYS, ALWAYS       # IOIO: 15.10.2, EXITINFO2 = next RIP
    if code == 0x7c:
        return ALWAYS, NEVER        # MSR: 0 = RDMSR, 1 = WRMSR (15.11)
    if code == 0x7d:
        return ALWAYS, ALWAYS       # task switch (15.14.5)
    if 0x8f <= code <= 0x9f:
        return ALWAYS, NEVER        # EFER/CRx write traps: the new value
    if code in (0x400, 0x401, 0x402):
        return ALWAYS, ALWAYS       # NPF (15.25.6), AVIC exits
    # Everything else, VMEXIT_INVALID (-1) included, defines neither; the
    # exit code itself is always compared.
    return NEVER, NEVER


def _nrip_defined(code):
    """15.7.1: instruction intercepts, IOIO, MSR, and #BP/#OF from INT3/INTO."""
    return (code <= 0x3f or 0x65 <= code <= 0x7c or 0x80 <= code <= 0x8e or
            0xa0 <= code <= 0xa5 or code in (0x43, 0x44))


def features(text):
    """The CPUID 8000_000A EDX a kernel printed, or 0."""
    m = RE_FEATURES.search(text)
    return int(m.group(1), 16) if m else 0


def normalize(line, feats):
    """The exit line with the fields the APM leaves undefined for its exit
    (on a CPU with the features feats) replaced by '*'; other lines as
    they are."""
    m = RE_EXIT.match(line)
    if not m:
        return line
    code = int(m.group(1), 16)
    info1, info2, nrip, intinfo = m.group(2, 3, 4, 5)
    r1, r2 = _info_rules(code)
    da = bool(feats & DECODE_ASSISTS)
    if r1 == NEVER or (r1 == WITH_DA and not da):
        info1 = "*"
    if r2 == NEVER or (r2 == WITH_DA and not da):
        info2 = "*"
    if code == 0x7b and not da:
        info1 = "%#x&~%#x" % (int(info1, 16) & ~IOIO_SEG, IOIO_SEG)
    if not (feats & NRIPS) or not _nrip_defined(code):
        nrip = "*"
    if not int(intinfo, 16) & (1 << 31):
        intinfo = "*"
    return "exit code=%s info1=%s info2=%s nrip=%s intinfo=%s" % (
        m.group(1), info1, info2, nrip, intinfo)
