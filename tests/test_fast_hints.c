/*
 * tests/test_fast_hints.c - the interpreter's successor hints (exec.c,
 * hostmap.h) kept across world switches, and voided by every write of
 * code they did not see:
 *   - a hint made in L1 is not followed in L2, whose page tables put
 *     other bytes at the same linear address (the fetch environment);
 *   - #VMEXIT writing the VMCB page, which holds code L1 runs;
 *   - a port handler or the route hook (embedder callbacks) rewriting
 *     code in RAM;
 *   - the page walker setting an accessed bit in a page table that is
 *     also a code page.
 * In each, an instruction reaches a piece of code once to decode it and
 * once more to hint it, then the bytes change behind the fast loop's
 * back (other bytes in the other context, a #VMEXIT, a callback), and
 * the same instruction reaches it again: the counts show which bytes
 * ran. The whole scenario is one svmx_cpu_run(), as every run starts a
 * new epoch.
 *
 * The last three check an instruction the fast loop hands over to
 * step_one and then goes on from (run_fast, exec.c): a run stops on its
 * budget exactly wherever it ends, in the state single steps reach; a
 * stop request or an event a port handler raises during the hand-over
 * is seen at the boundary right after it.
 *
 * The machine is svm_fixture.h's: L1 at 0x7C00 in 64-bit mode, the VMCB
 * at 0x4000. The guest's code and the code that changes are at 0x9100,
 * away from L1's in the direct-mapped decode cache (its slot index is
 * the low bits of the address folded with the page number): two pieces
 * of code in one slot would refill it, which ends the epoch by itself
 * and would hide a stale hint.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "svm_fixture.h"

#define GPT   0x40000u       /* the guest's 4-level tables                 */
#define PG_X  0x50000u       /* a linear page the two contexts map apart   */
#define TGT   0x60000u       /* where the guest's PG_X is                  */
#define CODE  0x9100u        /* the guest's code; the callback's           */
#define GSTACK2 0x70000u     /* a guest stack off the code's page          */

/* `inc rcx; ret` and `inc rbx; ret`, padded to 8 bytes with NOPs: the
 * two differ only in byte 2 (0xc1 / 0xc3). */
#define CODE_RCX 0x90909090c3c1ff48ull
#define CODE_RBX 0x90909090c3c3ff48ull


/* At PG_X: `nop; mov rsi, imm64; ret`, the MOV padded with operand-size
 * prefixes to 15 bytes, so that its last byte (offset 15) lies outside
 * the NOP's 15-byte window. */
static void put_pg_x(uint64_t at, uint8_t last)
{
    static const uint8_t code[17] = {
        0x90,                                           /* nop          */
        0x66, 0x66, 0x66, 0x66, 0x66, 0x48, 0xbe,       /* mov rsi, ... */
        0, 0, 0, 0, 0, 0, 0, 0,                         /* imm64        */
        0xc3,                                           /* ret          */
    };
    memcpy(m.ram + at, code, sizeof code);
    m.ram[at + 15] = last;
}

/*
 * The host and the guest call PG_X, where their page tables put pages
 * that differ in one byte, inside the MOV after a NOP: the host's sets
 * RSI to 0x11 << 56, the guest's to 0x22 << 56. The NOP's window (its
 * 15 bytes) is the same in both, so it is one cached decode, and its
 * hint to the MOV, made by the host, names the host's MOV: followed in
 * the guest it would load the host's value. Three rounds: from the
 * second on VMRUN keeps the guest's TLB context (same ASID, same inputs:
 * APM Vol. 2 15.16), and by the third every instruction but the two
 * MOVs, which take turns in one decode-cache slot, is decoded, and the
 * guest's stack is off its code page, so nothing but the fetch
 * environment tells the contexts apart. The guest runs last.
 */
static void test_hints_per_context(void **state)
{
    (void)state;
    static const uint8_t l1[] = {
        0x48, 0xc7, 0xc0, 0x00, 0x40, 0x00, 0x00, /* mov rax, VMCB       */
        0xba, 0x00, 0x00, 0x05, 0x00,             /* mov edx, PG_X       */
        0x41, 0xb8, 0x03, 0x00, 0x00, 0x00,       /* mov r8d, 3          */
        0xff, 0xd2,                               /* 1: call rdx         */
        0xff, 0xd2,                               /*    call rdx         */
        0x0f, 0x01, 0xd8,                         /*    vmrun            */
        0x4c, 0x8b, 0x90, 0xc8, 0x00, 0x00, 0x00, /*    mov r10, [rax+NRIP] */
        0x4c, 0x89, 0x90, 0x78, 0x05, 0x00, 0x00, /*    mov [rax+RIP], r10 */
        0x41, 0xff, 0xc8,                         /*    dec r8d          */
        0x75, 0xe6,                               /*    jnz 1b           */
        0xf4,                                     /*    hlt              */
    };
    /* The guest calls PG_X and halts (intercepted); L1 moves its RIP to
     * NRIP (15.7.1), past the HLT, so the next round starts with a JMP
     * back to the call. */
    static const uint8_t guest[] = {
        0xba, 0x00, 0x00, 0x05, 0x00,             /* 1: mov edx, PG_X    */
        0xff, 0xd2,                               /*    call rdx         */
        0xf4,                                     /*    hlt              */
        0xeb, 0xf6,                               /*    jmp 1b           */
    };
    setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, NULL, 0, false);
    memcpy(m.ram + CODE, guest, sizeof guest);
    vset(SVMX_VMCB_RIP, CODE);
    identity_tables(GPT);
    put64(GPT + 0x3000 + 8 * (PG_X >> 12), TGT | 7);
    vset(SVMX_VMCB_CR3, GPT);
    vset(SVMX_VMCB_RSP, GSTACK2);
    put_pg_x(PG_X, 0x11);
    put_pg_x(TGT, 0x22);
    svmx_stop st = run_vm(200);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c00 + sizeof l1);
    assert_int_equal(reg(SVMX_RSI), 0x22ull << 56);
    assert_int_equal(vout(SVMX_VMCB_EXITCODE), SVMX_SVM_EXIT_HLT);
}

/*
 * L1 runs code inside the VMCB page: the 8 bytes of the guest's RAX
 * (VMCB offset 0x5F8, Table B-2), `inc rcx; ret` or `inc rbx; ret`.
 * Each round L1 calls them twice from one CALL (a decode, then a hint)
 * and runs the guest for one instruction: it single-steps (TF set,
 * exception 1 intercepted, so its RIP moves on and L1 never writes the
 * page itself) through `xor rax, K; jmp` - every other round flips RAX
 * between the two codes. The #VMEXIT stores RAX into the page (15.6),
 * and the next round's CALL must run the new bytes, not follow its hint
 * to the old decode.
 */
static void test_hints_vmexit_writes_code(void **state)
{
    (void)state;
    static const uint8_t l1[] = {
        0x48, 0xc7, 0xc0, 0x00, 0x40, 0x00, 0x00, /* mov rax, VMCB        */
        0xba, 0xf8, 0x45, 0x00, 0x00,             /* mov edx, VMCB+0x5f8  */
        0x41, 0xb8, 0x06, 0x00, 0x00, 0x00,       /* mov r8d, 6           */
        0x41, 0xb9, 0x02, 0x00, 0x00, 0x00,       /* 1: mov r9d, 2        */
        0xff, 0xd2,                               /* 2: call rdx          */
        0x41, 0xff, 0xc9,                         /*    dec r9d           */
        0x75, 0xf9,                               /*    jnz 2b            */
        0x0f, 0x01, 0xd8,                         /*    vmrun             */
        0x41, 0xff, 0xc8,                         /*    dec r8d           */
        0x75, 0xeb,                               /*    jnz 1b            */
        0xf4,                                     /*    hlt               */
    };
    static const uint8_t guest[] = {
        0x48, 0x35, 0x00, 0x00, 0x02, 0x00,       /* 1: xor rax, 0x20000  */
        0xeb, 0xf8,                               /*    jmp 1b            */
    };
    setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, NULL, 0, false);
    memcpy(m.ram + CODE, guest, sizeof guest);
    vset(SVMX_VMCB_RIP, CODE);
    assert_int_equal(CODE_RCX ^ CODE_RBX, 0x20000);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(1));
    vset(SVMX_VMCB_RFLAGS, 0x102);                /* TF                   */
    vset(SVMX_VMCB_RAX, CODE_RCX);
    set_reg(SVMX_RBX, 0);
    set_reg(SVMX_RCX, 0);
    svmx_stop st = run_vm(400);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c00 + sizeof l1);
    /* The guest's XORs ran in rounds 1, 3 and 5, so rounds 1, 4 and 5
     * ran `inc rcx` twice, rounds 2, 3 and 6 `inc rbx`. */
    assert_int_equal(reg(SVMX_RCX), 6);
    assert_int_equal(reg(SVMX_RBX), 6);
    assert_int_equal(get(VMCB + 0x5f8, 8), CODE_RBX);
    assert_int_equal(get(VMCB + 0x70, 8), SVMX_SVM_EXIT_EXCP(1));
}

/* The port handler of test_hints_callback_writes_code: every OUT to port
 * 0x80 flips the code at CODE between the two. */
static svmx_status flip_out(void *ctx, uint16_t port, unsigned size,
                            uint32_t value)
{
    (void)ctx, (void)size, (void)value;
    if (port == 0x80)
        m.ram[CODE + 2] ^= 0x02;
    return SVMX_OK;
}

/*
 * A device (the embedder's port handler) rewrites code while the CPU
 * runs, as DMA would: each OUT flips `inc rcx; ret` at CODE into `inc
 * rbx; ret` and back, and the code after it calls there twice. The fast
 * loop must not follow its hint from the CALL into the old decode.
 */
static void test_hints_callback_writes_code(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xba, 0x00, 0x91, 0x00, 0x00,             /* mov edx, CODE        */
        0x41, 0xb8, 0x04, 0x00, 0x00, 0x00,       /* mov r8d, 4           */
        0xe6, 0x80,                               /* 1: out 0x80, al      */
        0x41, 0xb9, 0x02, 0x00, 0x00, 0x00,       /*    mov r9d, 2        */
        0xff, 0xd2,                               /* 2: call rdx          */
        0x41, 0xff, 0xc9,                         /*    dec r9d           */
        0x75, 0xf9,                               /*    jnz 2b            */
        0x41, 0xff, 0xc8,                         /*    dec r8d           */
        0x75, 0xec,                               /*    jnz 1b            */
        0xf4,                                     /*    hlt               */
    };
    boot_long(code, sizeof code, false);
    m.io.pio_out = flip_out;
    put64(CODE, CODE_RCX);
    set_reg(SVMX_RBX, 0);
    set_reg(SVMX_RCX, 0);
    svmx_stop st = run(200);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c00 + sizeof code);
    /* OUTs 1 and 3 leave `inc rbx`, 2 and 4 `inc rcx`. */
    assert_int_equal(reg(SVMX_RBX), 4);
    assert_int_equal(reg(SVMX_RCX), 4);
}

/* For the route hook's test: CPUID overwrites RBX and RCX, so the two
 * codes count in R10 and R11, `inc r10; ret` and `inc r11; ret`, which
 * differ in byte 2 (0xc2 / 0xc3). */
#define CODE_R10 0x90909090c3c2ff49ull
#define CODE_R11 0x90909090c3c3ff49ull

/* The route hook of test_hints_hook_writes_code: every CPUID flips the
 * code at CODE between the two. */
static void flip_hook(void *opaque, const svmx_decision *d)
{
    (void)opaque;
    if (d->exit.kind == SVMX_EVENT_CPUID)
        m.ram[CODE + 2] ^= 0x01;
}

/*
 * The same with the route hook as the writer: with an L1 policy set,
 * L1's CPUID reaches the router (and the hook) before it executes, and
 * the hook rewrites the code the CALL after it has a hint to.
 */
static void test_hints_hook_writes_code(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x41, 0xb8, 0x04, 0x00, 0x00, 0x00,       /* mov r8d, 4           */
        0x31, 0xc0,                               /* 1: xor eax, eax      */
        0x0f, 0xa2,                               /*    cpuid             */
        0xba, 0x00, 0x91, 0x00, 0x00,             /*    mov edx, CODE     */
        0x41, 0xb9, 0x02, 0x00, 0x00, 0x00,       /*    mov r9d, 2        */
        0xff, 0xd2,                               /* 2: call rdx          */
        0x41, 0xff, 0xc9,                         /*    dec r9d           */
        0x75, 0xf9,                               /*    jnz 2b            */
        0x41, 0xff, 0xc8,                         /*    dec r8d           */
        0x75, 0xe5,                               /*    jnz 1b            */
        0xf4,                                     /*    hlt               */
    };
    boot_long(code, sizeof code, false);
    /* A policy that wants another leaf: CPUID 0 is routed, then runs. */
    svmx_policy p = { .l1 = { .ncpuid = 1,
                              .cpuid = { { 0x40000000u, 0x40000000u } } } };
    assert_int_equal(svmx_cpu_set_policy(m.cpu, &p), SVMX_OK);
    assert_int_equal(svmx_cpu_set_route_hook(m.cpu, flip_hook, NULL),
                     SVMX_OK);
    assert_int_equal(CODE_R10 ^ CODE_R11, 0x10000);
    put64(CODE, CODE_R10);
    set_reg(SVMX_R10, 0);
    set_reg(SVMX_R11, 0);
    svmx_stop st = run(200);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c00 + sizeof code);
    /* CPUIDs 1 and 3 leave `inc r11`, 2 and 4 `inc r10`. */
    assert_int_equal(reg(SVMX_R10), 4);
    assert_int_equal(reg(SVMX_R11), 4);
    assert_int_equal(get(CODE, 8), CODE_R10);
}

/*
 * The page walker's accessed-bit write into a code page. The PTE of the
 * page L (0x388000 -> 0x50000, a RET), in a page table at 0x7000 - the
 * code page - is the 8-byte immediate of the loop's `mov rax, imm64`.
 * Each round clears the PTE's A bit and flushes L, then runs the MOV
 * three times, always coming to it through the same JMP: the second time
 * by a hint made in this epoch, and before the third it calls L, whose
 * fetch walks the tables and sets the A bit (SDM Vol. 3A 4.8, APM Vol. 2
 * 5.4.2). The third MOV must read the immediate with the A bit set: the
 * walk's write ends the epoch (phys_access in paging.c), or the JMP's
 * hint would run the MOV decoded before it.
 *
 * The first round decodes everything, so that in the second no decode
 * is refilled between the hint and the walk (a refill ends the epoch by
 * itself and would hide a stale hint); INVLPG empties the hostmap, so
 * PUSH and POP put the stack page, which holds the slots the MOV's
 * results go to, back in it for the same reason.
 */
static void test_hints_walker_writes_code(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x41, 0xb8, 0x02, 0x00, 0x00, 0x00,       /* 7c00 mov r8d, 2        */
        0xb9, 0x03, 0x00, 0x00, 0x00,             /* 7c06 R: mov ecx, 3     */
        0xc7, 0x04, 0x25, 0x40, 0x7c, 0x00, 0x00, /* 7c0b mov dword [7c40], */
        0x03, 0x00, 0x05, 0x00,                   /*      0x50003: A clear  */
        0x0f, 0x01, 0x3c, 0x25, 0x00, 0x80, 0x38, 0x00, /* 7c16 invlpg [L] */
        0x50, 0x58,                               /* 7c1e push rax; pop rax */
        0xeb, 0x0e,                               /* 7c20 jmp J             */
        0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, /* 7c22                   */
        0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0xeb, 0x0c,                               /* 7c30 J: jmp MOV        */
        0x90, 0x90, 0x90, 0x90, 0x90, 0x90,       /* 7c32                   */
        0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0x48, 0xb8,                               /* 7c3e MOV: mov rax,     */
        0x03, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, /* 7c40 the PTE   */
        0x48, 0x89, 0x04, 0xcd, 0x00, 0x60, 0x00, 0x00, /* 7c48 mov
                                                     [rcx*8+0x6000], rax */
        0xff, 0xc9,                               /* 7c50 dec ecx           */
        0x74, 0x0c,                               /* 7c52 jz 7c60           */
        0x83, 0xf9, 0x01,                         /* 7c54 cmp ecx, 1        */
        0x75, 0x05,                               /* 7c57 jne 7c5e          */
        0xe8, 0xa2, 0x03, 0x38, 0x00,             /* 7c59 call L (walks)    */
        0xeb, 0xd0,                               /* 7c5e jmp J             */
        0x41, 0xff, 0xc8,                         /* 7c60 dec r8d           */
        0x75, 0xa1,                               /* 7c63 jnz R             */
        0xf4,                                     /* 7c65 hlt               */
    };
    assert_int_equal(sizeof code, 0x66);
    boot_long(code, sizeof code, false);
    put64(0x12008, 0x7000 | 3);     /* PD[1]: a page table at 0x7000 */
    m.ram[0x50000] = 0xc3;          /* L: ret */
    svmx_stop st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c66);
    assert_int_equal(get(0x6018, 8), 0x50003);  /* the round's first MOV */
    assert_int_equal(get(0x6010, 8), 0x50003);  /* by the hint           */
    assert_int_equal(get(0x6008, 8), 0x50023);  /* after the walk        */
    assert_int_equal(get(0x7c40, 8), 0x50023);
}

/*
 * The round trip of bench/roundtrip.c: L1 `vmrun; cmp; jne; mov; mov;
 * dec; jnz`, L2 `cpuid; jmp` with CPUID intercepted. VMRUN and CPUID are
 * not for the fast loop, which hands them to step_one and, when the CPU
 * is still quiet after the world switch, goes on by itself (run_fast).
 */
static const uint8_t trip_l1[] = {
    0x48, 0xc7, 0xc0, 0x00, 0x40, 0x00, 0x00,       /* mov rax, VMCB     */
    0x41, 0xb8, 0x05, 0x00, 0x00, 0x00,             /* mov r8d, 5        */
    0x0f, 0x01, 0xd8,                               /* 1: vmrun          */
    0x48, 0x83, 0x78, 0x70, 0x72,                   /* cmp [rax+0x70], 0x72 */
    0x75, 0x13,                                     /* jne 9f            */
    0x48, 0x8b, 0x90, 0xc8, 0x00, 0x00, 0x00,       /* mov rdx, [rax+NRIP] */
    0x48, 0x89, 0x90, 0x78, 0x05, 0x00, 0x00,       /* mov [rax+RIP], rdx */
    0x41, 0xff, 0xc8,                               /* dec r8d           */
    0x75, 0xe3,                                     /* jnz 1b            */
    0xf4,                                           /* 9: hlt            */
};
static const uint8_t trip_l2[] = {
    0x0f, 0xa2,                                     /* 1: cpuid          */
    0xeb, 0xfc,                                     /* jmp 1b            */
};
/* Two MOVs, eight instructions in the first trip (L2 starts at its
 * CPUID), nine in each other one, and the HLT. */
#define TRIP_INSNS (2u + 8u + 4u * 9u + 1u)

static void boot_trips(void)
{
    setup_l1(SVMX_VENDOR_AMD, trip_l1, sizeof trip_l1, NULL, 0, false);
    memcpy(m.ram + CODE, trip_l2, sizeof trip_l2);
    vset(SVMX_VMCB_RIP, CODE);
    icpt(SVMX_SVM_INTERCEPT_CPUID);
}

typedef struct trip_state {
    uint64_t insns;
    svmx_stop_reason reason;
    svmx_regs regs;
    svmx_sregs sregs;
    uint64_t tsc;
} trip_state;

static trip_state trip_state_now(uint64_t insns, svmx_stop_reason reason)
{
    trip_state t;
    memset(&t, 0, sizeof t);
    t.insns = insns;
    t.reason = reason;
    svmx_cpu_get_regs(m.cpu, &t.regs);
    t.sregs = sregs();
    t.tsc = msr(0x10); /* IA32_TIME_STAMP_COUNTER */
    return t;
}

/*
 * A run of budget k ends after exactly k instructions, wherever the k-th
 * falls - a fast instruction, a hand-over, the instruction after a world
 * switch - in the same state, with the same count and TSC, as k runs of
 * one instruction each (each of which starts a new epoch, so no hint is
 * followed there).
 */
static void test_handoff_budget_exact(void **state)
{
    (void)state;
    for (uint64_t k = 1; k <= TRIP_INSNS + 2; k++) {
        boot_trips();
        svmx_stop st = run_vm(k);
        trip_state whole = trip_state_now(st.insns, st.reason);
        assert_int_equal(st.rip, whole.regs.rip);
        fixture_teardown(NULL);

        boot_trips();
        st = run_vm(1);
        uint64_t insns = st.insns;
        for (uint64_t i = 1; i < k && st.reason == SVMX_STOP_BUDGET; i++) {
            st = run(1);
            insns += st.insns;
        }
        trip_state steps = trip_state_now(insns, st.reason);
        fixture_teardown(NULL);

        assert_int_equal(whole.insns, steps.insns);
        assert_int_equal(whole.insns, k <= TRIP_INSNS ? k : TRIP_INSNS);
        assert_int_equal(whole.reason, steps.reason);
        assert_int_equal(whole.reason, k <= TRIP_INSNS ? SVMX_STOP_BUDGET
                                                       : SVMX_STOP_HLT);
        assert_int_equal(whole.tsc, steps.tsc);
        assert_memory_equal(&whole.regs, &steps.regs, sizeof whole.regs);
        assert_memory_equal(&whole.sregs, &steps.sregs, sizeof whole.sregs);
    }
}

/* The program of the hand-over tests: four OUTs, each handed over by
 * the fast loop, between INC/DEC/JNZ it runs itself. */
static const uint8_t out_loop[] = {
    0xb9, 0x04, 0x00, 0x00, 0x00,             /* mov ecx, 4           */
    0xe6, 0x80,                               /* 1: out 0x80, al      */
    0xff, 0xc3,                               /*    inc ebx           */
    0xff, 0xc9,                               /*    dec ecx           */
    0x75, 0xf8,                               /*    jnz 1b            */
    0xf4,                                     /*    hlt               */
};

/* The port handler of test_handoff_stop_request: the second OUT asks
 * the run to stop. */
static unsigned outs;
static svmx_status stop_out(void *ctx, uint16_t port, unsigned size,
                            uint32_t value)
{
    (void)ctx, (void)port, (void)size, (void)value;
    if (++outs == 2)
        svmx_cpu_request_stop(m.cpu);
    return SVMX_OK;
}

/*
 * A stop request from a port handler, while OUT runs as a hand-over
 * inside the fast loop's stretch (run_fast): the run stops right after
 * that OUT, which is counted, and runs nothing more.
 */
static void test_handoff_stop_request(void **state)
{
    (void)state;
    boot_long(out_loop, sizeof out_loop, false);
    m.io.pio_out = stop_out;
    outs = 0;
    set_reg(SVMX_RBX, 0);
    uint64_t tsc = msr(0x10);
    svmx_stop st = run(200);
    assert_int_equal(st.reason, SVMX_STOP_REQUESTED);
    assert_int_equal(st.insns, 6);          /* MOV, OUT, INC, DEC, JNZ, OUT */
    assert_int_equal(st.rip, 0x7c00 + 7);   /* after the second OUT        */
    assert_int_equal(reg(SVMX_RBX), 1);
    assert_int_equal(msr(0x10), tsc + 6);
    /* The next run goes on from there. */
    st = run(200);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RBX), 4);
}

/* The port handler of test_handoff_event: the second OUT raises an NMI. */
static svmx_status nmi_out(void *ctx, uint16_t port, unsigned size,
                           uint32_t value)
{
    (void)ctx, (void)port, (void)size, (void)value;
    if (++outs == 2)
        assert_int_equal(svmx_cpu_inject_nmi(m.cpu), SVMX_OK);
    return SVMX_OK;
}

/*
 * An event a port handler raises while OUT runs as a hand-over inside
 * the fast loop's stretch is taken at the boundary right after that OUT:
 * the NMI handler (a HLT) finds the OUT's successor in its frame, and
 * nothing else ran.
 */
static void test_handoff_event(void **state)
{
    (void)state;
    setup_l1(SVMX_VENDOR_AMD, out_loop, sizeof out_loop, NULL, 0, false);
    m.io.pio_out = nmi_out;
    outs = 0;
    set_reg(SVMX_RBX, 0);
    svmx_stop st = run_vm(200);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, L1HANDLER(2) + 1);
    assert_int_equal(st.insns, 7);          /* ... OUT, then the HLT       */
    assert_int_equal(reg(SVMX_RBX), 1);
    assert_int_equal(get(reg(SVMX_RSP), 8), 0x7c00 + 7); /* the frame's RIP */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hints_per_context, fixture_teardown),
        cmocka_unit_test_teardown(test_hints_vmexit_writes_code,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_hints_callback_writes_code,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_hints_hook_writes_code,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_hints_walker_writes_code,
                                  fixture_teardown),
        cmocka_unit_test(test_handoff_budget_exact),
        cmocka_unit_test_teardown(test_handoff_stop_request,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_handoff_event, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
