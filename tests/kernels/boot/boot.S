/*
 * tests/kernels/boot/boot.S - a boot sector and a small multiboot (v1)
 * loader, so that the test kernels run on Bochs (and from a floppy image or
 * a USB stick on hardware) exactly as `svmx run` and `qemu -kernel` run them.
 *
 * The image (mkimage.py): sector 0 is this boot sector, sectors 1 to
 * LOADER_SECTORS - 1 the rest of this loader, and the kernel file follows at
 * sector LOADER_SECTORS, unchanged; mkimage.py writes its size in bytes into
 * `kernel_bytes` (offset 0x1FA, after the signature "svmxboot").
 *
 * What it does, in order:
 *   1. (real mode, sector 0) asks the BIOS for the boot drive's geometry
 *      (INT 13h AH=08h; a 1.44 MB floppy if that fails) and reads the rest of
 *      the loader with INT 13h AH=02h (CHS, never across a track);
 *   2. enables A20 (already on? INT 15h AX=2401h, port 92h, the keyboard
 *      controller, checking after each);
 *   3. gathers the memory information: INT 12h for mem_lower, INT 15h E820
 *      for the memory map and mem_upper (E801h, then 88h, if there is no
 *      E820 entry at 1 MiB);
 *   4. reads the whole kernel file, 64 sectors at a time, through a buffer
 *      at 0x10000 and copies it in "unreal" mode (4 GiB segment limits) to
 *      the staging area at 16 MiB;
 *   5. enters 32-bit protected mode, finds the multiboot header in the first
 *      8 KiB (Multiboot 0.6.96 3.1.1), places the kernel by the header's
 *      address fields when flag bit 16 is set (3.1.3) or by the ELF32
 *      program headers otherwise, zeroes the bss, and enters it in the state
 *      of Multiboot 3.2 and docs/multiboot.md section 4: EAX = 0x2BADB002,
 *      EBX = 0x9500 (the MBI, at QEMU's address, the memory map at 0x9000),
 *      CS = 0x08 and DS = ES = FS = GS = SS = 0x10 flat 4 GiB segments,
 *      CR0 = PE | ET (paging off, caches on: a BIOS may leave CD and NW set),
 *      EFLAGS = 2 (IF = 0), ESP = 0x7000, ECX = entry.
 *
 * Any failure prints "FAIL: boot: why" and "FAIL" on port 0xE9 (and the
 * screen, while the BIOS is there), writes 1 to port 0xF4 and halts.
 *
 * Memory it uses: 0x0500-0x7000 stack, 0x7C00-0x8800 itself, 0x9000-0x9600
 * memory map and MBI, 0x10000-0x18000 sector buffer, and 16 MiB upwards for
 * the size of the kernel file (a kernel must not be placed there; the
 * loader says so if it would be).
 *
 * Assembled with `as --32` and linked at 0x7C00 as a flat binary
 * (mkimage.py does both); no C preprocessor.
 */
    .set LOADER_SECTORS, 6
    .set STACK_TOP, 0x7000
    .set MMAP, 0x9000
    .set MMAP_MAX, 40                   /* entries of 24 bytes */
    .set MBI, 0x9500
    .set BUF_SEG, 0x1000                /* sector buffer at 0x10000 */
    .set BUF_SECTORS, 64                /* 32 KiB: no 64 KiB DMA crossing */
    .set STAGE, 0x1000000               /* the file is staged at 16 MiB */
    .set MB_MAGIC, 0x1badb002
    .set MB_BOOT_MAGIC, 0x2badb002

    /* MBI field offsets (Multiboot 0.6.96 3.3) */
    .set MBI_FLAGS, 0
    .set MBI_MEM_LOWER, 4
    .set MBI_MEM_UPPER, 8
    .set MBI_BOOT_DEVICE, 12
    .set MBI_MMAP_LENGTH, 44
    .set MBI_MMAP_ADDR, 48
    .set MBI_LOADER_NAME, 64
    .set MBI_SIZE, 88

    .section .text
    .code16
    .globl _start
_start:
    jmp start
    nop
    /* A BIOS parameter block for a 1.44 MB floppy: some BIOSes that boot a
       USB stick as a floppy rewrite these bytes, so no code lives here. */
    .ascii "SVMXBOOT"                   /* OEM name                 */
    .word 512                           /* bytes per sector         */
    .byte 1                             /* sectors per cluster      */
    .word 1                             /* reserved sectors         */
    .byte 2                             /* FATs                     */
    .word 224                           /* root directory entries   */
    .word 2880                          /* sectors                  */
    .byte 0xf0                          /* media                    */
    .word 9                             /* sectors per FAT          */
    .word 18                            /* sectors per track        */
    .word 2                             /* heads                    */
    .long 0                             /* hidden sectors           */
    .long 0                             /* sectors (32-bit)         */
    .byte 0, 0, 0                       /* drive, reserved, no EBPB */
    .fill 26, 1, 0

start:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw $STACK_TOP, %sp
    ljmp $0, $1f                        /* CS = 0, whatever the BIOS used */
1:  sti
    cld
    movb %dl, boot_drive

    /* Geometry: AH=08h gives the last sector (CL[5:0]) and head (DH). */
    movb $0x08, %ah
    xorw %di, %di
    int $0x13
    jc 2f
    andw $0x3f, %cx
    jz 2f
    movw %cx, spt
    movzbw %dh, %ax
    incw %ax
    movw %ax, heads
2:  xorw %ax, %ax                       /* AH=08h may return ES:DI */
    movw %ax, %es

    movl $1, %eax
    movw $(LOADER_SECTORS - 1), %cx
    movw $stage2, %bx
    call read_sectors
    jmp stage2

/* Reads CX sectors from LBA EAX to ES:BX (which must not wrap); on a disk
   error it gives up with a message. */
read_sectors:
    movl %eax, rd_lba
    movw %cx, rd_count
rd_next:
    cmpw $0, rd_count
    je rd_done
    movl rd_lba, %eax
    xorl %edx, %edx
    movzwl spt, %ecx
    divl %ecx                           /* EAX = track, EDX = sector - 1 */
    movw spt, %si
    subw %dx, %si                       /* sectors left on this track */
    cmpw rd_count, %si
    jbe 1f
    movw rd_count, %si
1:  incw %dx
    movw %dx, %di                       /* 1-based sector */
    xorl %edx, %edx
    movzwl heads, %ecx
    divl %ecx                           /* EAX = cylinder, EDX = head */
    movb %al, %ch
    movb %ah, %cl
    shlb $6, %cl
    orw %di, %cx                        /* CL = cyl[9:8] << 6 | sector */
    movb %dl, %dh
    movb boot_drive, %dl
    movb $4, rd_tries
2:  movw %si, %ax
    movb $0x02, %ah
    pushw %bx
    pushw %cx
    pushw %dx
    pushw %si
    int $0x13
    popw %si
    popw %dx
    popw %cx
    popw %bx
    jnc 3f
    decb rd_tries
    jz disk_error
    pushw %dx
    xorw %ax, %ax                       /* reset the drive, then retry */
    int $0x13
    popw %dx
    jmp 2b
3:  movzwl %si, %eax
    addl %eax, rd_lba
    subw %si, rd_count
    shlw $9, %si
    addw %si, %bx
    jmp rd_next
rd_done:
    ret

disk_error:
    movw $msg_disk, %si
    /* fall through */

/* Prints "FAIL: boot: " and the string at SI, then "FAIL"; exits through
   port 0xF4 (QEMU's isa-debug-exit, svmx) with 1 and halts. */
fatal16:
    pushw %si
    movw $msg_fail, %si
    call print
    popw %si
    call print
    movw $msg_fail_end, %si
    call print
    movb $1, %al
    outb %al, $0xf4
1:  cli
    hlt
    jmp 1b

/* Prints the string at SI on port 0xE9 and the BIOS teletype. */
print:
    lodsb
    testb %al, %al
    jz 2f
    outb %al, $0xe9
    cmpb $'\n', %al
    jne 1f
    pushw %ax
    movw $0x0e0d, %ax
    movw $7, %bx
    int $0x10
    popw %ax
1:  movb $0x0e, %ah
    movw $7, %bx
    int $0x10
    jmp print
2:  ret

boot_drive: .byte 0
rd_tries:   .byte 0
spt:        .word 18
heads:      .word 2
rd_lba:     .long 0
rd_count:   .word 0
msg_fail:   .asciz "FAIL: boot: "
msg_fail_end: .asciz "\nFAIL\n"
msg_disk:   .asciz "disk read error (INT 13h)"

    .org 0x1f2
    .ascii "svmxboot"                   /* mkimage.py looks for this    */
kernel_bytes:
    .long 0                             /* and writes the file size here */
    .word 0xaa55

/* ------------------------------------------------------------ stage 2 -- */
stage2:
    call a20_enable
    call mem_info

    movl kernel_bytes, %eax
    testl %eax, %eax
    jnz 1f
    movw $msg_nokernel, %si
    jmp fatal16
1:  addl $511, %eax
    shrl $9, %eax
    movl %eax, sectors_left
    movl $LOADER_SECTORS, %eax
    movl %eax, next_lba
    movl $STAGE, %eax
    movl %eax, stage_dst

load_next:
    movl sectors_left, %eax
    cmpl $BUF_SECTORS, %eax
    jbe 1f
    movl $BUF_SECTORS, %eax
1:  movw %ax, chunk
    movw $BUF_SEG, %bx
    movw %bx, %es
    xorw %bx, %bx
    movw %ax, %cx
    movl next_lba, %eax
    call read_sectors
    call unreal                         /* DS = ES = 0, 4 GiB limits */
    movl $(BUF_SEG << 4), %esi
    movl stage_dst, %edi
    movzwl chunk, %ecx
    shll $7, %ecx                       /* dwords */
    .byte 0x67                          /* addr32: ESI, EDI, ECX */
    rep movsl
    movzwl chunk, %eax
    addl %eax, next_lba
    subl %eax, sectors_left
    shll $9, %eax
    addl %eax, stage_dst
    cmpl $0, sectors_left
    jne load_next

    /* Floppy: motor off (the BIOS timer that would do it stays masked). */
    cmpb $0x80, boot_drive
    jae 1f
    movw $0x3f2, %dx
    movb $0x0c, %al
    outb %al, %dx
1:
    cli
    lgdtl gdt_desc
    movl $0x00000011, %eax              /* PE, ET: caches on, as QEMU's ROM */
    movl %eax, %cr0
    ljmpl $0x08, $pm32

/* Enables A20 and checks it; gives up if nothing works. */
a20_enable:
    call a20_on
    jne 9f
    movw $0x2401, %ax                   /* the BIOS */
    int $0x15
    call a20_on
    jne 9f
    inb $0x92, %al                      /* "fast A20" (port 92h) */
    orb $2, %al
    andb $0xfe, %al                     /* not the reset bit */
    outb %al, $0x92
    call a20_on
    jne 9f
    call kbc_wait                       /* the 8042's output port */
    movb $0xd1, %al
    outb %al, $0x64
    call kbc_wait
    movb $0xdf, %al
    outb %al, $0x60
    call kbc_wait
    call a20_on
    jne 9f
    movw $msg_a20, %si
    jmp fatal16
9:  ret

kbc_wait:
    movw $0xffff, %cx
1:  inb $0x64, %al
    testb $2, %al
    loopnz 1b
    ret

/* ZF clear if A20 is on: 0000:0500 and FFFF:0510 are different bytes. */
a20_on:
    pushw %ds
    pushw %es
    xorw %ax, %ax
    movw %ax, %ds
    decw %ax
    movw %ax, %es
    movb %ds:0x500, %dl
    movb %es:0x510, %dh
    movb $0x00, %ds:0x500
    movb $0xff, %es:0x510
    movb %ds:0x500, %al
    movb %dh, %es:0x510
    movb %dl, %ds:0x500
    popw %es
    popw %ds
    cmpb $0xff, %al
    ret

/* Loads 4 GiB limits into DS, ES, FS, GS through protected mode and comes
   back to real mode with their bases 0 ("unreal" mode). */
unreal:
    cli
    lgdtl gdt_desc
    movl %cr0, %eax
    orb $1, %al
    movl %eax, %cr0
    jmp 1f
1:  movw $0x10, %bx
    movw %bx, %ds
    movw %bx, %es
    movw %bx, %fs
    movw %bx, %gs
    andb $0xfe, %al
    movl %eax, %cr0
    jmp 2f
2:  xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    sti
    ret

/* The MBI at 0x9500 and the memory map at 0x9000 (Multiboot 3.3). */
mem_info:
    xorw %ax, %ax
    movw %ax, %es
    movw $MMAP, %di
    movw $(MBI + MBI_SIZE - MMAP), %cx
    xorb %al, %al
    rep stosb

    movl $0x203, %eax                   /* mem_*, boot_device, loader name */
    movl %eax, MBI + MBI_FLAGS
    movzbl boot_drive, %eax
    shll $24, %eax
    orl $0x00ffffff, %eax               /* no partition */
    movl %eax, MBI + MBI_BOOT_DEVICE
    movl $loader_name, MBI + MBI_LOADER_NAME

    int $0x12                           /* KiB below 640 KiB */
    movzwl %ax, %eax
    movl %eax, MBI + MBI_MEM_LOWER

    xorl %ebx, %ebx
    movw $(MMAP + 4), %di
1:  movl $0xe820, %eax
    movl $20, %ecx
    movl $0x534d4150, %edx              /* "SMAP" */
    int $0x15
    jc 4f
    cmpl $0x534d4150, %eax
    jne 4f
    movl $20, -4(%di)
    cmpl $0x100000, (%di)               /* the block at 1 MiB: mem_upper */
    jne 3f
    cmpl $0, 4(%di)
    jne 3f
    cmpl $1, 16(%di)
    jne 3f
    movl 8(%di), %eax
    cmpl $0, 12(%di)
    je 2f
    movl $0xfff00000, %eax              /* capped below 4 GiB */
2:  shrl $10, %eax
    movl %eax, MBI + MBI_MEM_UPPER
    movb $1, have_upper
3:  addw $24, %di
    testl %ebx, %ebx
    jz 4f
    cmpw $(MMAP + 4 + 24 * MMAP_MAX), %di
    jb 1b
4:  movzwl %di, %eax
    subl $(MMAP + 4), %eax
    jz 5f
    movl %eax, MBI + MBI_MMAP_LENGTH
    movl $MMAP, MBI + MBI_MMAP_ADDR
    orb $0x40, MBI + MBI_FLAGS
5:  cmpb $0, have_upper
    jne 7f
    xorw %cx, %cx
    xorw %dx, %dx
    movw $0xe801, %ax
    int $0x15
    jc 6f
    jcxz 5f                             /* some BIOSes answer in AX/BX */
    movw %cx, %ax
    movw %dx, %bx
5:  movzwl %ax, %eax
    cmpl $15360, %eax                   /* all of 1-16 MiB: add the rest */
    jne 5f
    movzwl %bx, %ebx
    shll $6, %ebx
    addl %ebx, %eax
5:  movl %eax, MBI + MBI_MEM_UPPER
    jmp 7f
6:  movb $0x88, %ah
    int $0x15
    movzwl %ax, %eax
    movl %eax, MBI + MBI_MEM_UPPER
7:  ret

/* ------------------------------------------------------- 32-bit part -- */
    .code32
pm32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl $STACK_TOP, %esp

    /* The header: 32-bit aligned, in the first 8192 bytes, magic + flags +
       checksum = 0 (Multiboot 3.1.1, 3.1.2). */
    movl kernel_bytes, %ecx
    cmpl $8192, %ecx
    jbe 1f
    movl $8192, %ecx
1:  subl $12, %ecx                      /* last offset with room for 12 */
    jb no_header
    xorl %ebx, %ebx
2:  cmpl %ecx, %ebx
    ja no_header
    cmpl $MB_MAGIC, STAGE(%ebx)
    jne 3f
    movl STAGE(%ebx), %eax
    addl STAGE + 4(%ebx), %eax
    addl STAGE + 8(%ebx), %eax
    jz found
3:  addl $4, %ebx
    jmp 2b

found:
    testl $0x10000, STAGE + 4(%ebx)
    jz elf

    /* Flag bit 16 (3.1.3): header_addr, load_addr, load_end_addr,
       bss_end_addr, entry_addr. The file byte at the header's offset goes
       to header_addr, so the image starts at file offset
       ebx - (header_addr - load_addr). */
    leal 32(%ebx), %eax                 /* the address fields fit */
    cmpl kernel_bytes, %eax
    ja bad_fields
    movl STAGE + 12(%ebx), %eax         /* header_addr */
    movl STAGE + 16(%ebx), %edx         /* load_addr */
    subl %edx, %eax
    jb bad_fields
    movl %ebx, %esi
    subl %eax, %esi                     /* file offset of load_addr */
    jb bad_fields
    movl STAGE + 20(%ebx), %ecx         /* load_end_addr */
    testl %ecx, %ecx
    jnz 4f
    movl kernel_bytes, %ecx             /* 0: to the end of the file */
    subl %esi, %ecx
    jmp 5f
4:  subl %edx, %ecx
    jb bad_fields
    movl kernel_bytes, %eax
    subl %esi, %eax
    cmpl %eax, %ecx
    ja bad_fields                       /* past the end of the file */
5:  movl STAGE + 24(%ebx), %eax         /* bss_end_addr */
    movl %eax, bss_end
    movl STAGE + 28(%ebx), %eax
    movl %eax, entry
    movl %edx, %edi
    addl $STAGE, %esi
    call check_dest
    call memmove
    movl bss_end, %ecx                  /* 0: no bss */
    subl %edi, %ecx                     /* EDI = load_end */
    jbe go
    call check_dest
    call memzero
    jmp go

    /* An ELF32 kernel (3.1.3: without bit 16 the loader uses the ELF
       headers): each PT_LOAD at p_paddr, p_filesz bytes, zeroed to
       p_memsz. */
elf:
    cmpl $0x464c457f, STAGE             /* "\x7fELF" */
    jne not_elf
    cmpw $0x0101, STAGE + 4             /* ELFCLASS32, little-endian */
    jne not_elf
    cmpw $3, STAGE + 18                 /* EM_386 */
    jne not_elf
    movl STAGE + 24, %eax
    movl %eax, entry
    movl STAGE + 28, %ebx               /* e_phoff */
    addl $STAGE, %ebx
    movzwl STAGE + 44, %eax             /* e_phnum */
    movl %eax, phnum
6:  cmpl $0, phnum
    je go
    cmpl $1, (%ebx)                     /* PT_LOAD */
    jne 7f
    movl 4(%ebx), %esi                  /* p_offset */
    movl 16(%ebx), %ecx                 /* p_filesz */
    movl %esi, %eax
    addl %ecx, %eax
    jc bad_fields
    cmpl kernel_bytes, %eax
    ja bad_fields
    addl $STAGE, %esi
    movl 12(%ebx), %edi                 /* p_paddr */
    movl 20(%ebx), %eax                 /* p_memsz */
    subl %ecx, %eax
    jb bad_fields
    pushl %eax
    pushl %ecx
    addl %eax, %ecx
    call check_dest
    popl %ecx
    call memmove
    popl %ecx
    call memzero
7:  movzwl STAGE + 42, %eax             /* e_phentsize */
    addl %eax, %ebx
    decl phnum
    jmp 6b

go:
    movl $MB_BOOT_MAGIC, %eax
    movl $MBI, %ebx
    movl entry, %ecx
    xorl %edx, %edx
    xorl %esi, %esi
    xorl %edi, %edi
    xorl %ebp, %ebp
    pushl $2
    popfl
    jmp *%ecx

/* Refuses to place ECX bytes at EDI if they would reach the loader's own
   memory (below 1 MiB) or the staging area. */
check_dest:
    cmpl $0x100000, %edi
    jb low_dest
    movl %edi, %eax
    addl %ecx, %eax
    jc bad_fields
    cmpl $STAGE, %eax                   /* ends before the staging area */
    jbe 1f
    movl kernel_bytes, %eax
    addl $STAGE, %eax
    cmpl %eax, %edi                     /* or starts after it */
    jb staged_over
1:  ret

/* Copies ECX bytes from ESI to EDI, overlapping or not; returns EDI past
   the destination. */
memmove:
    leal (%edi,%ecx), %eax
    pushl %eax
    cmpl %esi, %edi
    jbe 1f
    movl %esi, %eax
    addl %ecx, %eax
    cmpl %eax, %edi
    jae 1f
    leal -1(%esi,%ecx), %esi            /* overlapping, destination above */
    leal -1(%edi,%ecx), %edi
    std
1:  rep movsb
    cld
    popl %edi
    ret

/* Zeroes ECX bytes at EDI. */
memzero:
    xorl %eax, %eax
    rep stosb
    ret

no_header:
    movl $msg_noheader, %esi
    jmp fatal32
not_elf:
    movl $msg_notelf, %esi
    jmp fatal32
bad_fields:
    movl $msg_fields, %esi
    jmp fatal32
low_dest:
    movl $msg_low, %esi
    jmp fatal32
staged_over:
    movl $msg_stage, %esi
    /* fall through */

/* As fatal16, without the BIOS: port 0xE9 only. */
fatal32:
    pushl %esi
    movl $msg_fail, %esi
    call print32
    popl %esi
    call print32
    movl $msg_fail_end, %esi
    call print32
    movb $1, %al
    outb %al, $0xf4
1:  cli
    hlt
    jmp 1b

print32:
    lodsb
    testb %al, %al
    jz 1f
    outb %al, $0xe9
    jmp print32
1:  ret

    .balign 8
gdt:
    .quad 0
    .quad 0x00cf9b000000ffff            /* 0x08: 32-bit code, flat      */
    .quad 0x00cf93000000ffff            /* 0x10: data, flat             */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt

have_upper:    .byte 0
chunk:         .word 0
sectors_left:  .long 0
next_lba:      .long 0
stage_dst:     .long 0
bss_end:       .long 0
entry:         .long 0
phnum:         .long 0
loader_name:   .asciz "svmx-boot"
msg_nokernel:  .asciz "no kernel in the image (kernel size 0)"
msg_a20:       .asciz "cannot enable A20"
msg_noheader:  .asciz "no multiboot header in the first 8192 bytes"
msg_notelf:    .asciz "multiboot header without flag bit 16, and not an ELF32 i386 file"
msg_fields:    .asciz "the multiboot address fields or ELF headers do not fit the file"
msg_low:       .asciz "the kernel would be placed below 1 MiB (the loader lives there)"
msg_stage:     .asciz "the kernel would be placed over the staging area at 16 MiB"

    .org LOADER_SECTORS * 512
