#!/bin/sh
# tests/kernels/run-qemu.sh QEMU KERNEL [CPU] - run a test kernel on QEMU
# with TCG and judge it as run-kernel.sh judges svmx: exit status 1 (port
# 0xF4 written with 0), no FAIL line, last line PASS. CPU defaults to
# qemu64 with SVM and nested paging.
set -u
qemu=$1 kernel=$2 cpu=${3:-qemu64,+svm,+npt}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 100 "$qemu" -accel tcg -cpu "$cpu" -m 128 -kernel "$kernel" \
    -debugcon stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -display none -no-reboot -nodefaults >"$out" 2>/dev/null </dev/null
status=$?
cat "$out"
if [ "$status" -ne 1 ]; then
    echo "run-qemu: $kernel exited with $status, expected 1 (port 0xF4 <- 0)"
    exit 1
fi
if grep -q '^FAIL' "$out"; then
    echo "run-qemu: $kernel reported a failure"
    exit 1
fi
if [ "$(tail -n 1 "$out")" != "PASS" ]; then
    echo "run-qemu: $kernel did not end with a PASS line"
    exit 1
fi
