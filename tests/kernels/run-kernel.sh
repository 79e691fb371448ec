#!/bin/sh
# tests/kernels/run-kernel.sh SVMX KERNEL [ARGS...] - run a test kernel
# under `svmx run` and judge it the way every implementation is judged:
# exit status 1 (port 0xF4 written with 0), no FAIL line, last line PASS.
# KERNEL "--demo" runs the demo built into svmx (`svmx run` without one).
set -u
svmx=$1 kernel=$2
shift 2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ "$kernel" = --demo ]; then
    kernel="the built-in demo"
    "$svmx" run --max-insns 100000000 "$@" >"$out"
else
    "$svmx" run --max-insns 100000000 "$@" "$kernel" >"$out"
fi
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
