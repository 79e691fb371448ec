#!/usr/bin/env python3
"""tests/kernels/boot/mkimage.py - make a bootable floppy or disk image of a
multiboot (v1) kernel, for Bochs and for hardware.

    mkimage.py [-o IMAGE] [--disk] [--loader BOOT.BIN] KERNEL

The image is the loader of boot.S (a boot sector and the rest of the loader,
LOADER_SECTORS sectors in all) followed by the kernel file, unchanged, with the
file's size written into the boot sector. Without --loader, boot.S (next to
this script) is assembled with `as --32` and linked with `ld` first.

By default the image is a 1.44 MB floppy image (1474560 bytes): Bochs boots it
with `floppya: 1_44=IMAGE` and `boot: floppy`; `dd` it to a USB stick to boot
a machine. --disk pads to whole cylinders of a 16-head, 63-sector disk
instead (for `ata0-master: type=disk` or a larger kernel).
docs/differential.md tells more.
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SIGNATURE = b"svmxboot"
SIG_OFFSET = 0x1F2          # boot.S: .org 0x1f2, "svmxboot", kernel_bytes
FLOPPY = 1474560            # 80 cylinders, 2 heads, 18 sectors
DISK_CYL = 16 * 63 * 512


def build_loader(out_path):
    """Assembles boot.S into the flat binary out_path."""
    src = os.path.join(HERE, "boot.S")
    with tempfile.TemporaryDirectory() as tmp:
        obj = os.path.join(tmp, "boot.o")
        subprocess.run(["as", "--32", "-o", obj, src], check=True)
        subprocess.run(["ld", "-m", "elf_i386", "-Ttext=0x7c00", "-e", "_start",
                        "--oformat", "binary", "--build-id=none", "-o", out_path,
                        obj], check=True)


def make_image(loader, kernel, disk=False):
    """Returns the image bytes for the loader and kernel bytes."""
    if len(loader) % 512 or loader[SIG_OFFSET:SIG_OFFSET + 8] != SIGNATURE \
            or loader[510:512] != b"\x55\xaa":
        raise ValueError("the loader is not boot.S's (no signature at 0x1F2)")
    img = bytearray(loader)
    img[SIG_OFFSET + 8:SIG_OFFSET + 12] = len(kernel).to_bytes(4, "little")
    img += kernel
    img += bytes(-len(img) % 512)
    if disk:
        img += bytes(-len(img) % DISK_CYL)
    elif len(img) > FLOPPY:
        raise ValueError("the kernel does not fit a 1.44 MB floppy; use --disk")
    else:
        img += bytes(FLOPPY - len(img))
    return bytes(img)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kernel")
    ap.add_argument("-o", "--output", help="default: KERNEL with .img")
    ap.add_argument("--disk", action="store_true",
                    help="a hard-disk image (whole 16x63 cylinders)")
    ap.add_argument("--loader", help="a boot.bin already built from boot.S")
    a = ap.parse_args()
    out = a.output or os.path.splitext(a.kernel)[0] + ".img"
    try:
        if a.loader:
            with open(a.loader, "rb") as f:
                loader = f.read()
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "boot.bin")
                build_loader(path)
                with open(path, "rb") as f:
                    loader = f.read()
        with open(a.kernel, "rb") as f:
            kernel = f.read()
        img = make_image(loader, kernel, a.disk)
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print("mkimage: %s" % e, file=sys.stderr)
        return 1
    with open(out, "wb") as f:
        f.write(img)
    return 0


if __name__ == "__main__":
    sys.exit(main())
