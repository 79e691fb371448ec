#!/bin/sh
# tests/kernels/run-kernel.sh [--expect-shutdown] SVMX KERNEL [ARGS...] -
# run a test kernel under `svmx run` and judge it the way every
# implementation is judged: exit status 1 (port 0xF4 written with 0), no
# FAIL line, last line PASS.
# KERNEL "--demo" runs the demo built into svmx (`svmx run` without one).
#
# --expect-shutdown is for a kernel whose last case ends the whole run in
# a shutdown (DESIGN.md rule R2, an L2 triple fault without the SHUTDOWN
# intercept; docs/kernels.md section 8). Such a kernel cannot print PASS;
# the run passes when
#   - no console line starts with FAIL,
#   - the last console line starts with "expect: shutdown" (the kernel
#     printed it just before the case, after its other checks held), and
#   - svmx stopped with a shutdown: its stop line on stderr starts with
#     "svmx run: triple fault (shutdown)" (tools/cmd_run.c; the exit
#     status is 1 then too, which alone does not tell it from PASS).
set -u
expect_shutdown=false
if [ "${1:-}" = --expect-shutdown ]; then
    expect_shutdown=true
    shift
fi
svmx=$1 kernel=$2
shift 2
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
if [ "$kernel" = --demo ]; then
    kernel="the built-in demo"
else
    set -- "$@" "$kernel"
fi
if $expect_shutdown; then
    # Both streams are shown as they come (the demo's narrative on stdout
    # and svmx's exit trace on stderr belong together) and kept apart for
    # judging: the console is the kernel's, stderr is svmx's.
    fifos=$(mktemp -d)
    mkfifo "$fifos/out" "$fifos/err"
    tee "$out" <"$fifos/out" &
    tee_out=$!
    tee "$err" <"$fifos/err" >&2 &
    tee_err=$!
    "$svmx" run --max-insns 100000000 "$@" >"$fifos/out" 2>"$fifos/err"
    status=$?
    wait "$tee_out" "$tee_err"
    rm -rf "$fifos"
    if grep -q '^FAIL' "$out"; then
        echo "run-kernel: $kernel reported a failure"
        exit 1
    fi
    if ! tail -n 1 "$out" | grep -q '^expect: shutdown'; then
        echo "run-kernel: $kernel did not end with an 'expect: shutdown' line"
        exit 1
    fi
    if ! grep -q '^svmx run: triple fault (shutdown)' "$err"; then
        echo "run-kernel: $kernel was expected to end in a shutdown, but" \
             "svmx did not stop with one (exit status $status)"
        exit 1
    fi
    exit 0
fi
"$svmx" run --max-insns 100000000 "$@" >"$out"
status=$?
cat "$out"
if [ "$status" -ne 1 ]; then
    echo "run-kernel: $kernel exited with $status, expected 1 (port 0xF4 <- 0)"
    exit 1
fi
if grep -q '^FAIL' "$out"; then
    echo "run-kernel: $kernel reported a failure"
    exit 1
fi
if [ "$(tail -n 1 "$out")" != "PASS" ]; then
    echo "run-kernel: $kernel did not end with a PASS line"
    exit 1
fi
