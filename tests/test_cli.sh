#!/bin/sh
# tests/test_cli.sh - the svmx command as a user runs it: output lines for
# known bytes, one clear error line and a non-zero status for bad input.
# Usage: test_cli.sh PATH-TO-SVMX
set -u
svmx=$1
fails=0
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# expect_ok DESCRIPTION PATTERN ARGS... : exit 0, stdout matches PATTERN
expect_ok() {
    desc=$1 pattern=$2
    shift 2
    if ! "$svmx" "$@" >"$out" 2>"$err"; then
        echo "FAIL $desc: exit status $? ($(cat "$err"))"; fails=$((fails + 1)); return
    fi
    if ! grep -q -- "$pattern" "$out"; then
        echo "FAIL $desc: no line matching '$pattern' in:"; cat "$out"; fails=$((fails + 1))
    fi
}

# expect_err DESCRIPTION STATUS PATTERN ARGS... : that status, one stderr
# line matching PATTERN, nothing on stdout
expect_err() {
    desc=$1 status=$2 pattern=$3
    shift 3
    "$svmx" "$@" >"$out" 2>"$err"
    got=$?
    if [ "$got" -ne "$status" ]; then
        echo "FAIL $desc: exit status $got, expected $status"; fails=$((fails + 1)); return
    fi
    if ! grep -q -- "$pattern" "$err" || [ "$(wc -l <"$err")" -ne 1 ] || [ -s "$out" ]; then
        echo "FAIL $desc: expected one error line matching '$pattern', got:"
        cat "$err" "$out"; fails=$((fails + 1))
    fi
}

expect_ok "version" "^svmx [0-9]*\.[0-9]*\.[0-9]*$" version
expect_ok "help" "decode" help
expect_ok "demo sample" "VMMCALL len=3" decode
expect_ok "demo sample io" "IN len=2 io port=0x80 size=1 in a64 svm=0x00800211 vmxq=0x00800048" decode
expect_ok "bytes in one arg" "CPUID len=2" decode 0fa2
expect_ok "bytes split" "VMRUN len=3" decode 0f 01 d8
expect_ok "0x and commas" "VMMCALL len=3" decode 0x0f,0x01,0xd9
expect_ok "mode 32" "PUSHA len=1" decode --mode 32 60
expect_ok "mode 16 string io" "INS len=1 io port=dx size=1 in str a16 seg=es" decode --mode 16 6c
expect_ok "mode names" "INTO len=1" decode --mode compat32 ce
expect_ok "intel lock mov cr0" "#UD" decode --mode 32 --cpu intel f0 0f 22 c0
expect_ok "amd lock mov cr0" "MOV_CR len=4 lock cr8 <- rax" decode --mode 32 --cpu amd f0 0f 22 c0
expect_ok "sequence offsets" "^0002 .*HLT len=1" decode 0fa2 f4
expect_ok "truncated tail" "truncated: at least 3 more bytes" decode e8 00
expect_ok "undecodable" "#UD" decode 0f 0a
expect_ok "too long" "#GP(0) len=15" decode 66666666666666666666666666666666 90
expect_ok "decode help" "usage: svmx decode" decode --help

expect_err "no command" 2 "missing command"
expect_err "unknown command" 2 "unknown command 'frobnicate'" frobnicate
expect_err "bad hex digit" 2 "'g' is not a hex digit" decode 0fg2
expect_err "odd digits" 2 "odd number of hex digits" decode 0fa
expect_err "bad mode" 2 "unknown mode '48'" decode --mode 48 90
expect_err "missing mode value" 2 "--mode needs a value" decode --mode
expect_err "bad cpu" 2 "unknown cpu 'via'" decode --cpu via 90
expect_err "unknown option" 2 "unknown option '--frob'" decode --frob

expect_ok "run help" "usage: svmx run" run --help
expect_err "run missing file" 1 "cannot open '/nonexistent/kernel'" run /nonexistent/kernel
expect_err "run not multiboot" 1 "no multiboot header" run "$svmx"
expect_err "run demo budget" 1 "ran past --max-insns 10" run --max-insns 10
expect_err "run bad -m" 2 "-m wants MiB from 2 to 4096, not '1'" run -m 1 k
expect_err "run bad budget" 2 "--max-insns wants a positive count" run --max-insns 0 k
expect_err "run bad trace" 2 "unknown trace 'exit'" run --trace exit k
expect_err "run bad trace list" 2 "unknown trace 'insns,'" run --trace insns, k
expect_err "run bad trace format" 2 "unknown trace format 'xml'" run --trace-format xml k
expect_err "run two kernels" 2 "more than one kernel" run a b
expect_err "run bad l0 kind" 2 "--l0: unknown kind" run --l0 rdtsc k
expect_err "run l0 hypercall from L2" 2 "never L0's (rule R1)" run --l0 l2:hypercall k
expect_err "run l0 bad range" 2 "--l0: range ends before it starts" run --l0 io=0x80-0x10 k
expect_err "run l0 range on hlt" 2 "--l0: this kind takes no range" run --l0 hlt=1 k
expect_err "run l0 too many" 2 "more than 8 ranges" run --l0 io=1,io=2,io=3,io=4,io=5,io=6,io=7,io=8,io=9 k
expect_err "run l0 empty item" 2 "--l0: empty item" run --l0 hlt,,io k
expect_err "run bad break" 2 "--break wants ADDR, ADDR:l1 or ADDR:l2, not 'zz'" run --break zz k
expect_err "run bad break level" 2 "not '0x10:l3'" run --break 0x10:l3 k
expect_err "run break empty" 2 "not ':l1'" run --break :l1 k
expect_err "run break too many" 2 "--break: at most 8 breakpoints" run \
    --break 1 --break 2 --break 3 --break 4 --break 5 --break 6 --break 7 --break 8 --break 9 k

# The demo's exit trace: the rules are decided as docs/router.md says.
"$svmx" run --trace-format jsonl >"$out" 2>"$err"
for want in '"exit":"CPUID".*"route":"REFLECT"' '"exit":"VMMCALL".*"route":"ARCH","rule":"R1"' \
            '"level":1,"exit":"SHUTDOWN".*"rule":"R2"'; do
    if ! grep -q "$want" "$err"; then
        echo "FAIL demo jsonl trace: no line matching $want"; fails=$((fails + 1))
    fi
done
# --l0 io=0xe9: the CLI, as L0, sees the demo's console writes and lets
# them run: the console output is the same as without it.
"$svmx" run >"$out.plain" 2>/dev/null
"$svmx" run --l0 io=0xe9 >"$out" 2>"$err"
if ! grep -q '^exit: L1 IOIO .* port=0xe9 size=1 -> L0' "$err" ||
   ! cmp -s "$out" "$out.plain"; then
    echo "FAIL --l0 io=0xe9: no L0 decision traced, or the output changed"
    fails=$((fails + 1))
fi
rm -f "$out.plain"

# --break: the demo's CPUID in L2 (its RIP from the instruction trace) ends
# the run there, before the #VMEXIT, in the same state whether run or
# stepped; for L1 alone it never stops the demo.
cpuid=$("$svmx" run --trace insns,exits 2>&1 >/dev/null |
        grep -B1 '^exit: L2 CPUID' | head -n 1 | sed 's/^[0-9a-f]*:0*\([0-9a-f]*\) .*/0x\1/')
"$svmx" run --break "$cpuid:l2" --digest >"$out" 2>"$err"
got=$?
a=$(tail -n 1 "$out")
b=$("$svmx" run --break "$cpuid:l2" --digest --trace insns 2>/dev/null | tail -n 1)
if [ "$got" -ne 1 ] || ! grep -q "^svmx run: breakpoint 0 (--break) in L2 at RIP $cpuid, after" "$err" ||
   grep -q "exit: L2 CPUID" "$err" || [ "$a" != "$b" ]; then
    echo "FAIL --break $cpuid:l2: status $got, '$a' vs '$b',"; cat "$err"; fails=$((fails + 1))
fi
"$svmx" run >"$out.plain" 2>/dev/null
"$svmx" run --break "$cpuid:l1" >"$out" 2>/dev/null
if ! cmp -s "$out" "$out.plain"; then
    echo "FAIL --break $cpuid:l1 changed the demo's run"; fails=$((fails + 1))
fi
rm -f "$out.plain"

# expect_digest DESCRIPTION ARGS... : `svmx run --digest ARGS` ends stdout
# with one line 'digest: ' and 16 lowercase hex digits, whatever ended the
# run, and a second run prints the same line
expect_digest() {
    desc=$1
    shift
    "$svmx" run --digest "$@" >"$out" 2>"$err"
    first=$(tail -n 1 "$out")
    if [ "$(grep -c '^digest: ' "$out")" -ne 1 ] ||
       ! printf '%s\n' "$first" | grep -qx 'digest: [0-9a-f]\{16\}'; then
        echo "FAIL $desc: expected a last line 'digest: <16 hex digits>', got:"
        cat "$out"; fails=$((fails + 1)); return
    fi
    "$svmx" run --digest "$@" >"$out" 2>"$err"
    if [ "$(tail -n 1 "$out")" != "$first" ]; then
        echo "FAIL $desc: '$first', then '$(tail -n 1 "$out")'"; fails=$((fails + 1))
    fi
}

expect_digest "digest demo"
expect_digest "digest demo intel" --cpu intel
expect_digest "digest budget" --max-insns 10
expect_digest "digest traced" --trace insns --max-insns 5
expect_err "run digest, no kernel" 1 "cannot open '/nonexistent/kernel'" run --digest /nonexistent/kernel

# The run loop and single-stepping (--trace insns) end in the same state.
for cpu in amd intel; do
    a=$("$svmx" run --cpu $cpu --digest 2>/dev/null | tail -n 1)
    b=$("$svmx" run --cpu $cpu --digest --trace insns 2>/dev/null | tail -n 1)
    if [ "$a" != "$b" ]; then
        echo "FAIL digest $cpu run vs trace: '$a', '$b'"; fails=$((fails + 1))
    fi
done

if [ "$fails" -ne 0 ]; then
    echo "$fails CLI check(s) failed"
    exit 1
fi
echo "all CLI checks passed"
