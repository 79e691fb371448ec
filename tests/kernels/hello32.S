/*
 * tests/kernels/hello32.S - the smallest multiboot (v1) ELF32 kernel:
 * checks the loader's magic, prints two lines on the debug console
 * (port 0xE9), the last one PASS, and exits through port 0xF4 with
 * status 0, so `svmx run` and QEMU both exit with 1.
 * It uses only what a freshly loaded kernel may rely on: the flat 32-bit
 * segments of the multiboot entry state (Multiboot 0.6.96 3.2).
 */
    .set MB_MAGIC, 0x1badb002
    .set MB_FLAGS, 0x0
    .section .text
    .code32
    .align 4
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

    .globl _start
_start:
    cmp  $0x2badb002, %eax      /* the loader's magic */
    jne  fail
    mov  $msg, %esi
    mov  $0xe9, %dx
1:  mov  (%esi), %al
    cmp  $0, %al
    je   done
    out  %al, %dx
    inc  %esi
    jmp  1b
done:
    mov  $0, %al
    out  %al, $0xf4
    hlt
fail:
    mov  $1, %al
    out  %al, $0xf4
    hlt

    .section .rodata
msg:
    .asciz "hello from a multiboot kernel\nPASS\n"
