/*
 * tests/test_exec_arith.c - the data instructions of insn_arith.c and
 * insn_stack.c through the run loop: code bytes in RAM, registers, flags
 * and memory in, svmx_cpu_run, registers, flags, memory and the
 * exception frame out.
 *
 * Most cases are rows of one table (cases[]), run by one loop that names
 * a failing row by its line: each row runs in real, protected or 64-bit
 * mode on one or both personalities, and states all six arithmetic
 * flags afterwards, so the flags the manuals leave undefined are checked
 * against docs/flags.md too (a row with FI() gives the Intel value where
 * it differs). Registers a row does not name must come back unchanged.
 * The multi-slot stack instructions (PUSHA/POPA, ENTER/LEAVE) and the
 * cases that need paging or segment set-up follow as their own tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>

#include "exec_fixture.h"

#define CODE   0x7c00u /* where the fixture places the code           */
#define STACK  0x7000u /* SP/ESP/RSP at boot                          */
#define DATA   0x5000u /* the rows' memory operand                    */
#define HANDLER 0x9000u /* vector v is handled by a HLT at HANDLER + v */

enum { REAL, PROT, LONG };
enum { AMD = 1, INTEL = 2, BOTH = 3 };

/* A register and its value; .r is the svmx_gpr number + 1 (0 = unused). */
typedef struct rv {
    uint8_t  r;
    uint64_t v;
} rv;
#define R(g, val) { SVMX_##g + 1, (val) }

typedef struct acase {
    int         line;
    const char *code;     /* the instruction; a HLT is appended          */
    unsigned    len;
    uint8_t     mode, vendors;
    rv          in[6];
    uint64_t    fin;      /* the six arithmetic flags before             */
    rv          out[6];   /* registers that change                       */
    uint64_t    fout;     /* the six after (AMD, and Intel unless FI)    */
    uint64_t    fi;       /* ... Intel's, when fi_set                    */
    bool        fi_set;
    bool        mem;      /* DATA holds mem_in before, mem_out after     */
    uint64_t    mem_in[2], mem_out[2];
    int         exc;      /* vector raised + 1; 0: none (see EXC)        */
    uint32_t    err;      /* its error code, when it has one             */
} acase;

#define C(s) .line = __LINE__, .code = s, .len = sizeof(s) - 1
#define IN(...) .in = { __VA_ARGS__ }
#define OUT(...) .out = { __VA_ARGS__ }
#define NOOUT .out = { { 0, 0 } }
#define FI(x) .fi = (x), .fi_set = true
#define MEM(i0, i1, o0, o1) .mem = true, .mem_in = { i0, i1 }, .mem_out = { o0, o1 }
#define EXC(v, e) .exc = (v) + 1, .err = (e)

static const acase cases[] = {
    /* ---- MUL: CF = OF = high half != 0; SF ZF AF PF undefined (AMD
     * keeps them, Intel: SZP of the low half, AF 0) ---- */
    { C("\xf6\xe1"), REAL, BOTH, IN(R(RAX, 0x80), R(RCX, 2)), SF | ZF | AF | PF,
      OUT(R(RAX, 0x100)), ALL, FI(CF | OF | ZF | PF) },                  /* mul cl */
    { C("\xf7\xe1"), REAL, BOTH, IN(R(RAX, 0x1234), R(RCX, 0x10), R(RDX, 0xffff)), 0,
      OUT(R(RAX, 0x2340), R(RDX, 1)), CF | OF, FI(CF | OF) },           /* mul cx */
    { C("\x66\xf7\xe1"), REAL, BOTH, IN(R(RAX, 0x10000), R(RCX, 0x1000), R(RDX, 7)), 0,
      OUT(R(RAX, 0x10000000), R(RDX, 0)), 0, FI(PF) },                  /* mul ecx */
    { C("\x48\xf7\xe1"), LONG, BOTH, IN(R(RAX, ~0ull), R(RCX, 2)), 0,
      OUT(R(RAX, ~1ull), R(RDX, 1)), CF | OF, FI(CF | OF | SF) },       /* mul rcx */
    { C("\xf7\xe1"), LONG, BOTH,
      IN(R(RAX, 0xdeadbeef00000003), R(RCX, 5), R(RDX, ~0ull)), 0,
      OUT(R(RAX, 15), R(RDX, 0)), 0, FI(PF) },                          /* mul ecx */

    /* ---- IMUL: CF = OF = the product does not fit ---- */
    { C("\xf6\xe9"), REAL, BOTH, IN(R(RAX, 0xff), R(RCX, 0x80)), 0,
      OUT(R(RAX, 0x0080)), CF | OF, FI(CF | OF | SF) },                 /* imul cl */
    { C("\xf7\xe9"), REAL, BOTH, IN(R(RAX, 0xfffe), R(RCX, 3)), 0,
      OUT(R(RAX, 0xfffa), R(RDX, 0xffff)), 0, FI(SF | PF) },            /* imul cx */
    { C("\x0f\xaf\xc1"), PROT, BOTH, IN(R(RAX, 0x40000000), R(RCX, 2)), 0,
      OUT(R(RAX, 0x80000000)), CF | OF, FI(CF | OF | SF | PF) },        /* imul eax, ecx */
    { C("\x6b\xc1\x05"), PROT, BOTH, IN(R(RAX, 7), R(RCX, 0xfffffffd)), 0,
      OUT(R(RAX, 0xfffffff1)), 0, FI(SF) },                             /* imul eax, ecx, 5 */
    { C("\x66\x69\xc1\xff\x7f"), PROT, BOTH, IN(R(RAX, 0xaaaa0000), R(RCX, 2)), 0,
      OUT(R(RAX, 0xaaaafffe)), CF | OF, FI(CF | OF | SF) },             /* imul ax, cx, 0x7fff */
    { C("\x48\x6b\xc1\xfe"), LONG, BOTH, IN(R(RCX, 0x4000000000000000)), 0,
      OUT(R(RAX, 0x8000000000000000)), 0, FI(SF | PF) },                /* imul rax, rcx, -2 */
    { C("\x48\xf7\xe9"), LONG, BOTH, IN(R(RAX, ~0ull), R(RCX, ~0ull), R(RDX, 5)), 0,
      OUT(R(RAX, 1), R(RDX, 0)), 0, FI(0) },                            /* imul rcx */
    { C("\x0f\xaf\x03"), LONG, BOTH, IN(R(RAX, 0xffffffff00000006), R(RBX, DATA)), 0,
      OUT(R(RAX, 42)), 0, FI(0), MEM(7, 0, 7, 0) },                     /* imul eax, [rbx] */

    /* ---- DIV IDIV: #DE writes nothing; AMD: CF OF kept, AF 1, SF ZF
     * PF 0; Intel: all kept ---- */
    { C("\xf6\xf1"), REAL, BOTH, IN(R(RAX, 0x0107), R(RCX, 0x10)), CF | ZF,
      OUT(R(RAX, 0x0710)), CF | AF, FI(CF | ZF) },                      /* div cl */
    { C("\xf7\xf1"), REAL, BOTH, IN(R(RAX, 0), R(RDX, 1), R(RCX, 0x10)), 0,
      OUT(R(RAX, 0x1000), R(RDX, 0)), AF, FI(0) },                      /* div cx */
    { C("\xf6\xf1"), REAL, BOTH, IN(R(RAX, 0x1000), R(RCX, 0x10)), ZF,
      NOOUT, ZF, EXC(0, 0) },                                           /* div cl: quotient 0x100 */
    { C("\xf6\xf1"), REAL, BOTH, IN(R(RAX, 0x1234), R(RCX, 0)), 0,
      NOOUT, 0, EXC(0, 0) },                                            /* div cl: by zero */
    { C("\xf6\xf9"), REAL, BOTH, IN(R(RAX, 0xff80), R(RCX, 0xff)), 0,
      NOOUT, 0, EXC(0, 0) },                                            /* idiv cl: -128 / -1 */
    { C("\xf6\xf9"), REAL, BOTH, IN(R(RAX, 0xfff9), R(RCX, 2)), 0,
      OUT(R(RAX, 0xfffd)), AF, FI(0) },                                 /* idiv cl: -7 / 2 */
    { C("\xf7\xf9"), PROT, BOTH,
      IN(R(RAX, 0x80000000), R(RDX, 0xffffffff), R(RCX, 0xffffffff)), 0,
      NOOUT, 0, EXC(0, 0) },                                            /* idiv ecx: INT_MIN / -1 */
    { C("\xf7\xf1"), PROT, BOTH, IN(R(RAX, 100), R(RCX, 7)), OF,
      OUT(R(RAX, 14), R(RDX, 2)), OF | AF, FI(OF) },                    /* div ecx */
    { C("\x48\xf7\xf1"), LONG, BOTH, IN(R(RAX, 0), R(RDX, 1), R(RCX, 2)), 0,
      OUT(R(RAX, 0x8000000000000000), R(RDX, 0)), AF, FI(0) },          /* div rcx */
    { C("\x48\xf7\xf9"), LONG, BOTH,
      IN(R(RAX, 0x8000000000000000), R(RDX, ~0ull), R(RCX, ~0ull)), 0,
      NOOUT, 0, EXC(0, 0) },                                            /* idiv rcx: -2^63 / -1 */
    { C("\x48\xf7\xf1"), LONG, BOTH, IN(R(RAX, 5), R(RDX, 2), R(RCX, 2)), 0,
      NOOUT, 0, EXC(0, 0) },                                            /* div rcx: rdx >= rcx */
    { C("\xf7\xf1"), LONG, BOTH,
      IN(R(RAX, 0xffffffff00000064), R(RDX, 0xffffffff00000000), R(RCX, 7)), 0,
      OUT(R(RAX, 14), R(RDX, 2)), AF, FI(0) },                          /* div ecx */

    /* ---- XCHG XADD ---- */
    { C("\x86\xe0"), REAL, BOTH, IN(R(RAX, 0x1234)), 0,
      OUT(R(RAX, 0x3412)), 0 },                                         /* xchg al, ah */
    { C("\x87\x0b"), PROT, BOTH, IN(R(RBX, DATA), R(RCX, 0xaabbccdd)), 0,
      OUT(R(RCX, 0x11223344)), 0,
      MEM(0x5555555511223344, 0, 0x55555555aabbccdd, 0) },              /* xchg [ebx], ecx */
    { C("\x91"), LONG, BOTH,
      IN(R(RAX, 0xffffffff00000001), R(RCX, 0xeeeeeeee00000002)), 0,
      OUT(R(RAX, 2), R(RCX, 1)), 0 },                                   /* xchg ecx, eax */
    { C("\x87\xc0"), LONG, BOTH, IN(R(RAX, 0xffffffff12345678)), 0,
      OUT(R(RAX, 0x12345678)), 0 },                                     /* xchg eax, eax */
    { C("\x90"), LONG, BOTH, IN(R(RAX, 0xffffffff12345678)), 0,
      NOOUT, 0 },                                                       /* nop, not xchg */
    { C("\x48\x91"), LONG, BOTH, IN(R(RAX, 1), R(RCX, 0xfedcba9876543210)), 0,
      OUT(R(RAX, 0xfedcba9876543210), R(RCX, 1)), 0 },                  /* xchg rcx, rax */
    { C("\x0f\xc1\x0b"), PROT, BOTH, IN(R(RBX, DATA), R(RCX, 3)), ALL,
      OUT(R(RCX, 5)), 0, MEM(5, 0, 8, 0) },                             /* xadd [ebx], ecx */
    { C("\x0f\xc0\xc0"), REAL, BOTH, IN(R(RAX, 0x81)), 0,
      OUT(R(RAX, 0x02)), CF | OF },                                     /* xadd al, al */
    { C("\x0f\xc1\xc8"), LONG, BOTH,
      IN(R(RAX, 0xffffffff00000001), R(RCX, 0xffffffff00000002)), 0,
      OUT(R(RAX, 3), R(RCX, 1)), PF },                                  /* xadd eax, ecx */

    /* ---- CMPXCHG: memory always written; a register destination only
     * on success; the accumulator only on failure ---- */
    { C("\x0f\xb1\x0b"), PROT, BOTH, IN(R(RAX, 5), R(RBX, DATA), R(RCX, 9)), 0,
      NOOUT, ZF | PF, MEM(5, 0, 9, 0) },                                /* cmpxchg [ebx], ecx */
    { C("\x0f\xb1\x0b"), PROT, BOTH, IN(R(RAX, 4), R(RBX, DATA), R(RCX, 9)), 0,
      OUT(R(RAX, 5)), CF | PF | AF | SF, MEM(5, 0, 5, 0) },             /* ... failing */
    { C("\x0f\xb1\xd1"), LONG, BOTH,
      IN(R(RAX, 0xaaaaaaaa00000001), R(RCX, 0xcccccccc00000002),
         R(RDX, 0xdddddddd00000003)), 0,
      OUT(R(RAX, 2)), CF | PF | AF | SF },                              /* cmpxchg ecx, edx: fail */
    { C("\x0f\xb1\xd1"), LONG, BOTH,
      IN(R(RAX, 0xaaaaaaaa00000002), R(RCX, 0xcccccccc00000002),
         R(RDX, 0xdddddddd00000003)), 0,
      OUT(R(RCX, 3)), ZF | PF },                                        /* ... succeeding */
    { C("\x0f\xb0\xcc"), REAL, BOTH, IN(R(RAX, 0x2211), R(RCX, 0x33)), 0,
      OUT(R(RAX, 0x2222)), CF | SF | AF },                              /* cmpxchg ah, cl failing */
    { C("\x0f\xb1\x0b"), LONG, BOTH,
      IN(R(RAX, 0xffffffffffffffff), R(RBX, DATA), R(RCX, 0)), 0,
      NOOUT, ZF | PF,
      MEM(0xffffffffffffffff, 0, 0xffffffff00000000, 0) },              /* cmpxchg [rbx], ecx */

    /* ---- CMPXCHG8B CMPXCHG16B: only ZF changes ---- */
    { C("\x0f\xc7\x0e"), PROT, BOTH,
      IN(R(RAX, 0x55667788), R(RDX, 0x11223344), R(RBX, 0x99), R(RCX, 0x77),
         R(RSI, DATA)), CF | SF,
      NOOUT, CF | SF | ZF,
      MEM(0x1122334455667788, 0, 0x0000007700000099, 0) },              /* cmpxchg8b [esi] */
    { C("\x0f\xc7\x0e"), PROT, BOTH, IN(R(RBX, 0x99), R(RCX, 0x77), R(RSI, DATA)),
      CF | ZF, OUT(R(RAX, 0x55667788), R(RDX, 0x11223344)), CF,
      MEM(0x1122334455667788, 0, 0x1122334455667788, 0) },              /* ... failing */
    { C("\x0f\xc7\x0e"), LONG, BOTH,
      IN(R(RAX, 0xaaaaaaaa00000000), R(RDX, 0xdddddddd00000000), R(RSI, DATA)), 0,
      OUT(R(RAX, 0x55667788), R(RDX, 0x11223344)), 0,
      MEM(0x1122334455667788, 0, 0x1122334455667788, 0) },              /* failing: zero-extends */
    { C("\x0f\xc7\x0e"), LONG, BOTH,
      IN(R(RAX, 0xaaaaaaaa55667788), R(RDX, 0xdddddddd11223344), R(RBX, 0x99),
         R(RCX, 0x77), R(RSI, DATA)), 0,
      NOOUT, ZF, MEM(0x1122334455667788, 0, 0x0000007700000099, 0) },   /* equal: no extension */
    { C("\x48\x0f\xc7\x0e"), LONG, BOTH,
      IN(R(RAX, 1), R(RDX, 2), R(RBX, 3), R(RCX, 4), R(RSI, DATA)), 0,
      NOOUT, ZF, MEM(1, 2, 3, 4) },                                     /* cmpxchg16b [rsi] */
    { C("\x48\x0f\xc7\x0e"), LONG, BOTH,
      IN(R(RAX, 1), R(RDX, 5), R(RBX, 3), R(RCX, 4), R(RSI, DATA)), ZF,
      OUT(R(RDX, 2)), 0, MEM(1, 2, 1, 2) },                             /* ... failing */
    { C("\x48\x0f\xc7\x0e"), LONG, BOTH,
      IN(R(RAX, 1), R(RDX, 2), R(RBX, 3), R(RCX, 4), R(RSI, DATA + 8)), 0,
      NOOUT, 0, MEM(0, 1, 0, 1), EXC(13, 0) },                          /* misaligned: #GP(0) */

    /* ---- BT BTS BTR BTC: only CF is written ---- */
    { C("\x0f\xba\xe0\x03"), REAL, BOTH, IN(R(RAX, 8)), ZF | SF,
      NOOUT, ZF | SF | CF },                                            /* bt ax, 3 */
    { C("\x0f\xba\xe0\x13"), REAL, BOTH, IN(R(RAX, 8)), CF | PF,
      NOOUT, CF | PF },                                                 /* bt ax, 19 = 3 */
    { C("\x0f\xba\xe0\x14"), REAL, BOTH, IN(R(RAX, 8)), CF | PF,
      NOOUT, PF },                                                      /* bt ax, 20 = 4 */
    { C("\x0f\xab\xc1"), PROT, BOTH, IN(R(RAX, 33), R(RCX, 0x80000000)), CF,
      OUT(R(RCX, 0x80000002)), 0 },                                     /* bts ecx, eax */
    { C("\x0f\xb3\x03"), PROT, BOTH, IN(R(RAX, 0xffffffff), R(RBX, DATA + 8)), 0,
      NOOUT, CF, MEM(0x8000000100000000, 0, 0x0000000100000000, 0) },   /* btr [ebx], -1 */
    { C("\x0f\xbb\x03"), PROT, BOTH, IN(R(RAX, (uint32_t)-33), R(RBX, DATA + 8)), 0,
      NOOUT, 0, MEM(0, 0, 0x80000000, 0) },                             /* btc [ebx], -33 */
    { C("\x0f\xa3\x07"), REAL, BOTH, IN(R(RAX, 0xffff), R(RBX, DATA + 2)), 0,
      NOOUT, CF, MEM(0x8000, 0, 0x8000, 0) },                           /* bt [bx], -1 */
    { C("\x0f\xab\x07"), REAL, BOTH, IN(R(RAX, 0x7fff), R(RBX, DATA - 0xffe)), 0,
      NOOUT, 0, MEM(0, 0, 0x8000, 0) },                                 /* bts [bx], 0x7fff */
    { C("\x48\x0f\xa3\x03"), LONG, BOTH,
      IN(R(RAX, (uint64_t)-65), R(RBX, DATA + 16)), 0,
      NOOUT, CF, MEM(0x8000000000000000, 0, 0x8000000000000000, 0) },   /* bt [rbx], -65 */
    { C("\x48\x0f\xba\x2b\x41"), LONG, BOTH, IN(R(RBX, DATA)), 0,
      NOOUT, CF, MEM(3, 0, 3, 0) },                                     /* bts [rbx], 65 = 1 */

    /* ---- BSF BSR LZCNT TZCNT POPCNT ---- */
    { C("\x0f\xbc\xc1"), PROT, BOTH, IN(R(RCX, 0x80)), ALL,
      OUT(R(RAX, 7)), 0 },                                              /* bsf eax, ecx */
    { C("\x0f\xbd\xc1"), PROT, BOTH, IN(R(RCX, 0x80000001)), ALL,
      OUT(R(RAX, 31)), 0 },                                             /* bsr eax, ecx */
    { C("\x0f\xbc\xc1"), PROT, BOTH, IN(R(RAX, 0x1234), R(RCX, 0)), CF | SF,
      NOOUT, ZF | PF, FI(CF | SF | ZF) },                               /* bsf eax, 0 */
    { C("\x0f\xbc\xc1"), LONG, BOTH, IN(R(RAX, 0xffffffff12345678)), 0,
      NOOUT, ZF | PF, FI(ZF) },                                         /* bsf eax, 0: RAX kept */
    { C("\x0f\xbc\x07"), REAL, BOTH, IN(R(RBX, DATA)), 0,
      OUT(R(RAX, 4)), 0, MEM(0x10, 0, 0x10, 0) },                       /* bsf ax, [bx] */
    { C("\xf3\x0f\xbd\xc1"), LONG, BOTH,
      IN(R(RAX, ~0ull), R(RCX, 0x00010000)), OF | SF,
      OUT(R(RAX, 15)), OF, FI(OF | SF) },                               /* lzcnt eax, ecx */
    { C("\xf3\x0f\xbd\xc1"), LONG, BOTH, IN(R(RAX, ~0ull)), ZF,
      OUT(R(RAX, 32)), CF, FI(CF) },                                    /* lzcnt eax, 0 */
    { C("\xf3\x0f\xbc\xc1"), LONG, BOTH, IN(R(RAX, 0x1234)), CF,
      NOOUT, ZF | PF, FI(CF | ZF) },                                    /* tzcnt, no BMI1: bsf */
    { C("\xf3\x0f\xbc\xc1"), LONG, BOTH, IN(R(RCX, 8)), 0,
      OUT(R(RAX, 3)), PF },                                             /* ... of 8 */
    { C("\xf3\x0f\xb8\xc1"), LONG, BOTH, IN(R(RAX, ~0ull), R(RCX, 0xff00ff)), ALL,
      OUT(R(RAX, 16)), 0 },                                             /* popcnt eax, ecx */
    { C("\xf3\x0f\xb8\xc1"), LONG, BOTH, IN(R(RAX, ~0ull)), ALL,
      OUT(R(RAX, 0)), ZF },                                             /* popcnt eax, 0 */
    { C("\x66\xf3\x0f\xb8\xc1"), LONG, BOTH, IN(R(RAX, ~0ull), R(RCX, 0x7ffff)), 0,
      OUT(R(RAX, 0xffffffffffff0010)), 0 },                             /* popcnt ax, cx */

    /* ---- BSWAP MOVZX MOVSX MOVSXD CBW CWD ---- */
    { C("\x0f\xc9"), PROT, BOTH, IN(R(RCX, 0x12345678)), 0,
      OUT(R(RCX, 0x78563412)), 0 },                                     /* bswap ecx */
    { C("\x48\x0f\xc9"), LONG, BOTH, IN(R(RCX, 0x0102030405060708)), 0,
      OUT(R(RCX, 0x0807060504030201)), 0 },                             /* bswap rcx */
    { C("\x66\x0f\xc9"), LONG, BOTH, IN(R(RCX, 0x1111111111112233)), 0,
      OUT(R(RCX, 0x1111111111110000)), 0 },                             /* bswap cx */
    { C("\x0f\xb6\xc3"), REAL, BOTH, IN(R(RAX, 0xffff), R(RBX, 0x80)), 0,
      OUT(R(RAX, 0x0080)), 0 },                                         /* movzx ax, bl */
    { C("\x0f\xbe\xc7"), PROT, BOTH, IN(R(RBX, 0x8000)), 0,
      OUT(R(RAX, 0xffffff80)), 0 },                                     /* movsx eax, bh */
    { C("\x0f\xbf\x03"), PROT, BOTH, IN(R(RBX, DATA)), 0,
      OUT(R(RAX, 0xffff8001)), 0, MEM(0x8001, 0, 0x8001, 0) },          /* movsx eax, [ebx] */
    { C("\x48\x0f\xbe\xc1"), LONG, BOTH, IN(R(RCX, 0xfe)), 0,
      OUT(R(RAX, ~1ull)), 0 },                                          /* movsx rax, cl */
    { C("\x0f\xb7\xc1"), LONG, BOTH, IN(R(RAX, ~0ull), R(RCX, 0xffff8001)), 0,
      OUT(R(RAX, 0x8001)), 0 },                                         /* movzx eax, cx */
    { C("\x48\x63\xc1"), LONG, BOTH, IN(R(RCX, 0x80000000)), 0,
      OUT(R(RAX, 0xffffffff80000000)), 0 },                             /* movsxd rax, ecx */
    { C("\x63\xc1"), LONG, BOTH, IN(R(RAX, 0x1111111111111111), R(RCX, 0x87654321)), 0,
      OUT(R(RAX, 0x87654321)), 0 },                                     /* movsxd eax, ecx */
    { C("\x66\x63\xc1"), LONG, BOTH, IN(R(RAX, 0x1111111111111111), R(RCX, 0x8765fedc)), 0,
      OUT(R(RAX, 0x111111111111fedc)), 0 },                             /* movsxd ax, cx */
    { C("\x48\x63\x03"), LONG, BOTH, IN(R(RBX, DATA)), 0,
      OUT(R(RAX, 0xfffffffffffffffe)), 0, MEM(0x12345678fffffffe, 0, 0x12345678fffffffe, 0) },
    { C("\x98"), REAL, BOTH, IN(R(RAX, 0x1280)), 0,
      OUT(R(RAX, 0xff80)), 0 },                                         /* cbw */
    { C("\x99"), REAL, BOTH, IN(R(RAX, 0x8000), R(RDX, 0x1234)), 0,
      OUT(R(RDX, 0xffff)), 0 },                                         /* cwd */
    { C("\x98"), PROT, BOTH, IN(R(RAX, 0x8000)), 0,
      OUT(R(RAX, 0xffff8000)), 0 },                                     /* cwde */
    { C("\x99"), PROT, BOTH, IN(R(RAX, 0x7fffffff), R(RDX, 0x1234)), 0,
      OUT(R(RDX, 0)), 0 },                                              /* cdq */
    { C("\x48\x98"), LONG, BOTH, IN(R(RAX, 0x80000000)), 0,
      OUT(R(RAX, 0xffffffff80000000)), 0 },                             /* cdqe */
    { C("\x48\x99"), LONG, BOTH, IN(R(RAX, ~0ull)), 0,
      OUT(R(RDX, ~0ull)), 0 },                                          /* cqo */
    { C("\x98"), LONG, BOTH, IN(R(RAX, 0xffffffff00007fff)), 0,
      OUT(R(RAX, 0x7fff)), 0 },                                         /* cwde */
    { C("\x99"), LONG, BOTH, IN(R(RAX, 0x80000000), R(RDX, 0x5555555555555555)), 0,
      OUT(R(RDX, 0xffffffff)), 0 },                                     /* cdq */

    /* ---- SHLD SHRD: AF undefined (AMD 1, Intel 0); count 0 changes no
     * flag; 16-bit counts above 16 per docs/flags.md ---- */
    { C("\x0f\xa4\xc8\x04"), PROT, BOTH, IN(R(RAX, 0x12345678), R(RCX, 0x9abcdef0)), 0,
      OUT(R(RAX, 0x23456789)), CF | OF | AF, FI(CF | OF) },             /* shld eax, ecx, 4 */
    { C("\x0f\xad\xc8"), PROT, BOTH, IN(R(RAX, 0x12345678), R(RCX, 0x9abcde00)), ALL,
      NOOUT, ALL },                                                     /* shrd eax, ecx, cl=0 */
    { C("\x0f\xa5\xc8"), LONG, BOTH, IN(R(RAX, 0xaaaaaaaa00000001)), 0,
      OUT(R(RAX, 1)), 0 },                                              /* shld eax, ecx, cl=0 */
    { C("\x48\x0f\xac\xc8\x08"), LONG, BOTH,
      IN(R(RAX, 0x1122334455667788), R(RCX, 0xff)), 0,
      OUT(R(RAX, 0xff11223344556677)), CF | SF | PF | AF, FI(CF | SF | PF) },
    { C("\x0f\xa4\xc8\x14"), REAL, AMD, IN(R(RAX, 0x1234), R(RCX, 0xabcd)), 0,
      OUT(R(RAX, 0xbcda)), SF | AF },                                   /* shld ax, cx, 20 */
    { C("\x0f\xa4\xc8\x14"), REAL, INTEL, IN(R(RAX, 0x1234), R(RCX, 0xabcd)), 0,
      OUT(R(RAX, 0xbcd1)), OF | SF | PF },                              /* ... Intel */

    /* ---- LAHF SAHF XLAT ---- */
    { C("\x9f"), REAL, BOTH, IN(R(RAX, 0x0055)), CF | ZF | SF | OF,
      OUT(R(RAX, 0xc355)), CF | ZF | SF | OF },                         /* lahf */
    { C("\x9e"), REAL, BOTH, IN(R(RAX, 0xff00)), OF,
      NOOUT, ALL },                                                     /* sahf */
    { C("\x9e"), REAL, BOTH, IN(R(RAX, 0x2800)), ALL,
      NOOUT, OF },                                                      /* sahf: bits 5 3 ignored */
    { C("\x9f"), LONG, BOTH, IN(R(RAX, ~0ull)), PF | AF,
      OUT(R(RAX, 0xffffffffffff16ff)), PF | AF },                       /* lahf in 64-bit mode */
    { C("\xd7"), REAL, BOTH, IN(R(RAX, 0x1203), R(RBX, DATA)), 0,
      OUT(R(RAX, 0x1244)), 0, MEM(0x44332211, 0, 0x44332211, 0) },      /* xlat */
    { C("\xd7"), REAL, BOTH, IN(R(RAX, 0x20), R(RBX, 0xfff0)), 0,
      OUT(R(RAX, 0x04)), 0 },                                           /* wraps to IVT[4] */
    { C("\xd7"), LONG, BOTH, IN(R(RAX, 0x107), R(RBX, DATA)), 0,
      OUT(R(RAX, 0x166)), 0, MEM(0x6600000000000000, 0, 0x6600000000000000, 0) },
    { C("\x67\xd7"), LONG, BOTH, IN(R(RAX, 1), R(RBX, 0x100000000 + DATA)), 0,
      OUT(R(RAX, 0x22)), 0, MEM(0x44332211, 0, 0x44332211, 0) },        /* addr32 xlat */

    /* ---- decoder #UDs: not in 64-bit mode, no register operand ---- */
    { C("\x60"), LONG, BOTH, IN(R(RAX, 1)), 0, NOOUT, 0, EXC(6, 0) },  /* pusha */
    { C("\x61"), LONG, BOTH, IN(R(RAX, 1)), 0, NOOUT, 0, EXC(6, 0) },  /* popa */
    { C("\x0f\xc7\xc8"), PROT, BOTH, IN(R(RAX, 1)), 0, NOOUT, 0,
      EXC(6, 0) },                                                      /* cmpxchg8b eax */
};

/* ---- the machine ------------------------------------------------------ */

static uint8_t saved_ram[RAM_SIZE];

/* Boots `mode` with code at CODE on a CPU of `vendor`. The fixture boots
 * protected and long mode on AMD; another vendor gets a new CPU with the
 * same state and memory. */
static void boot_mode(int mode, svmx_vendor vendor, const uint8_t *code,
                      size_t n)
{
    if (mode == REAL) {
        boot_real(vendor, code, n);
        return;
    }
    if (mode == PROT)
        boot_protected(code, n, false);
    else
        boot_long(code, n, false);
    if (vendor == SVMX_VENDOR_AMD)
        return;
    svmx_regs r;
    svmx_sregs s;
    svmx_cpu_get_regs(m.cpu, &r);
    svmx_cpu_get_sregs(m.cpu, &s);
    memcpy(saved_ram, m.ram, RAM_SIZE);
    boot_real(vendor, code, n);
    memcpy(m.ram, saved_ram, RAM_SIZE);
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
    assert_int_equal(svmx_cpu_set_regs(m.cpu, &r), SVMX_OK);
}

/* Vector v (0-31) goes to a HLT at HANDLER + v: IVT, 32-bit or 64-bit
 * interrupt gates. */
static void install_handlers(int mode)
{
    for (unsigned v = 0; v < 32; v++) {
        uint32_t off = HANDLER + v;
        m.ram[off] = 0xf4;
        if (mode == REAL) {
            m.ram[4 * v] = (uint8_t)off;
            m.ram[4 * v + 1] = (uint8_t)(off >> 8);
            m.ram[4 * v + 2] = 0;
            m.ram[4 * v + 3] = 0;
        } else if (mode == PROT) {
            put64(IDT + 8 * v, gate32(off, 0x08, 0x8e));
        } else {
            put64(IDT + 16 * v, (off & 0xffff) | 0x18ull << 16 | 0x8eull << 40 |
                                    (uint64_t)(off >> 16) << 48);
            put64(IDT + 16 * v + 8, 0);
        }
    }
}

static void set_flags(uint64_t six)
{
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags = (r.rflags & ~(uint64_t)ALL) | six;
    svmx_cpu_set_regs(m.cpu, &r);
}

/*
 * The physical address of a linear one: the identity map of the fixture,
 * and the test pages of map_test_pages(), which alias the DATA page.
 */
#define TEST_RO 0x200000u
#define TEST_RW 0x201000u
#define TEST_NP 0x202000u
static uint64_t lin2phys(uint64_t lin)
{
    if (lin >= TEST_RO && lin < TEST_NP)
        return DATA + (lin & 0xfff);
    return lin;
}

static bool has_error_code(unsigned v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21;
}

/*
 * The frame the handler of vector v sees for a fault at CODE: the return
 * address is the faulting instruction (SDM Vol. 3A 6.5); real mode: IP,
 * CS, FLAGS (SDM Vol. 3A 21.1.4); protected and 64-bit mode: the error
 * code, then EIP/RIP (SDM Vol. 3A 6.12.1, 6.14.2). Returns the number of
 * mismatches, printing each.
 */
static int check_frame(int mode, unsigned v, uint32_t err, const char *what)
{
    int bad = 0;
    uint64_t sp = lin2phys(reg(SVMX_RSP)), ip, e = err;
    unsigned w = mode == REAL ? 2 : mode == PROT ? 4 : 8;
    bool has_err = mode != REAL && has_error_code(v);
    if (has_err)
        e = get(sp, w);
    ip = get(sp + (has_err ? w : 0), w);
    if (ip != CODE) {
        print_error("%s: frame return address %#llx, want %#x\n", what,
                    (unsigned long long)ip, CODE);
        bad++;
    }
    if (e != err) {
        print_error("%s: error code %#llx, want %#x\n", what,
                    (unsigned long long)e, err);
        bad++;
    }
    return bad;
}

/* Runs one row on one vendor; returns the number of mismatches. */
static int run_case(const acase *c, svmx_vendor vendor)
{
    char what[64];
    uint8_t code[32];
    int bad = 0;
    uint64_t want[SVMX_GPR_COUNT];

    snprintf(what, sizeof what, "row at line %d (%s)", c->line,
             vendor == SVMX_VENDOR_AMD ? "amd" : "intel");
    memcpy(code, c->code, c->len);
    code[c->len] = 0xf4;
    boot_mode(c->mode, vendor, code, c->len + 1);
    install_handlers(c->mode);
    for (unsigned g = 0; g < SVMX_GPR_COUNT; g++) /* no reset values */
        if (g != SVMX_RSP)
            set_reg((svmx_gpr)g, 0);
    for (unsigned i = 0; i < 6 && c->in[i].r; i++)
        set_reg((svmx_gpr)(c->in[i].r - 1), c->in[i].v);
    set_flags(c->fin);
    if (c->mem) {
        put64(DATA, c->mem_in[0]);
        put64(DATA + 8, c->mem_in[1]);
    }
    for (unsigned g = 0; g < SVMX_GPR_COUNT; g++)
        want[g] = reg((svmx_gpr)g);
    if (!c->exc)
        for (unsigned i = 0; i < 6 && c->out[i].r; i++)
            want[c->out[i].r - 1] = c->out[i].v;

    svmx_stop st = run(10);
    uint64_t end = c->exc ? HANDLER + (unsigned)c->exc : CODE + c->len + 1;
    if (st.reason != SVMX_STOP_HLT || st.rip != end) {
        print_error("%s: stop %s at %#llx, want HLT at %#llx\n", what,
                    svmx_stop_reason_name(st.reason),
                    (unsigned long long)st.rip, (unsigned long long)end);
        return 1;
    }
    for (unsigned g = 0; g < SVMX_GPR_COUNT; g++) {
        if (c->exc && g == SVMX_RSP)
            continue;
        if (reg((svmx_gpr)g) != want[g]) {
            print_error("%s: gpr %u = %#llx, want %#llx\n", what, g,
                        (unsigned long long)reg((svmx_gpr)g),
                        (unsigned long long)want[g]);
            bad++;
        }
    }
    uint64_t fwant = c->exc ? c->fin
                   : (vendor == SVMX_VENDOR_INTEL && c->fi_set) ? c->fi
                                                                : c->fout;
    if ((rflags() & ALL) != fwant) {
        print_error("%s: flags %#llx, want %#llx\n", what,
                    (unsigned long long)(rflags() & ALL),
                    (unsigned long long)fwant);
        bad++;
    }
    if (c->mem && (get(DATA, 8) != c->mem_out[0] || get(DATA + 8, 8) != c->mem_out[1])) {
        print_error("%s: memory %#llx %#llx, want %#llx %#llx\n", what,
                    (unsigned long long)get(DATA, 8),
                    (unsigned long long)get(DATA + 8, 8),
                    (unsigned long long)c->mem_out[0],
                    (unsigned long long)c->mem_out[1]);
        bad++;
    }
    if (c->exc)
        bad += check_frame(c->mode, (unsigned)c->exc - 1, c->err, what);
    return bad;
}

static void test_rows(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].vendors & AMD)
            bad += run_case(&cases[i], SVMX_VENDOR_AMD);
        if (cases[i].vendors & INTEL)
            bad += run_case(&cases[i], SVMX_VENDOR_INTEL);
    }
    assert_int_equal(bad, 0);
}

/* ---- helpers of the tests below --------------------------------------- */

/* Runs to the HLT of vector v's handler and checks the frame. */
static void expect_exception(int mode, unsigned v, uint32_t err)
{
    svmx_stop st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, HANDLER + v + 1);
    assert_int_equal(check_frame(mode, v, err, "exception"), 0);
}

static uint64_t cr2(void)
{
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    return s.cr2;
}

/*
 * Long mode only: 4 KiB pages above the fixture's 2 MiB identity map.
 * Linear TEST_RO (see lin2phys) maps the DATA page read-only, TEST_RW maps it writable,
 * TEST_NP is not present; CR0.WP = 1 so supervisor writes honour R/W
 * (SDM Vol. 3A 4.6).
 */
static void map_test_pages(void)
{
    put64(0x12000 + 8, 0x13000 | 7);  /* PD[1] -> page table at 0x13000 */
    put64(0x13000 + 0, DATA | 5);     /* P, U, read-only */
    put64(0x13000 + 8, DATA | 7);     /* P, R/W, U */
    put64(0x13000 + 16, 0);           /* not present */
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    s.cr0 |= 1u << 16;
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
}

/* Long mode: #PF delivered on IST1 = 0xa000, so its frame cannot cover
 * the stack slots a test inspects (SDM Vol. 3A 6.14.5). Returns the RSP
 * the interrupted code had, from the frame. */
static void pf_on_ist(void)
{
    m.ram[IDT + 16 * 14 + 4] = 1;
    put64(TSS + 0x24, 0xa000);
}

static uint64_t interrupted_rsp(void)
{
    return get(reg(SVMX_RSP) + 32, 8); /* error code, RIP, CS, RFLAGS, RSP */
}

static void boot_with(int mode, svmx_vendor vendor, const uint8_t *code,
                      size_t n)
{
    boot_mode(mode, vendor, code, n);
    install_handlers(mode);
}

/* ---- PUSHA POPA ---------------------------------------------------------- */

/* PUSHA stores AX CX DX BX SP BP SI DI downwards; POPA restores all but
 * SP, which it skips (SDM Vol. 2B PUSHA, POPA); 16-bit forms leave the
 * upper halves alone. */
static void test_pusha_popa_real(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x60, 0x61, 0xf4 }; /* pusha; popa; hlt */
    static const uint16_t vals[8] = { 0x1111, 0x2222, 0x3333, 0x4444, 0x7000,
                                      0x6666, 0x7777, 0x8888 };
    boot_with(REAL, SVMX_VENDOR_AMD, code, sizeof code);
    for (unsigned g = 0; g < 8; g++)
        set_reg((svmx_gpr)g, vals[g] | (g == SVMX_RSP ? 0 : 0xabcd0000u));
    svmx_stop st;
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);
    assert_int_equal(reg(SVMX_RSP), 0x7000 - 16);
    for (unsigned g = 0; g < 8; g++)
        assert_int_equal(get(0x7000 - 2 - 2 * g, 2), vals[g]);
    for (unsigned g = 0; g < 8; g++)
        if (g != SVMX_RSP)
            set_reg((svmx_gpr)g, 0xffff0000u);
    m.ram[0x7000 - 16 + 6] = 0x34; /* the saved SP slot is not popped */
    m.ram[0x7000 - 16 + 7] = 0x12;
    st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RSP), 0x7000);
    for (unsigned g = 0; g < 8; g++)
        if (g != SVMX_RSP)
            assert_int_equal(reg((svmx_gpr)g), 0xffff0000u | vals[g]);
}

static void test_pushad_popad_protected(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x60, 0x61, 0xf4 }; /* pushad; popad; hlt */
    boot_with(PROT, SVMX_VENDOR_INTEL, code, sizeof code);
    for (unsigned g = 0; g < 8; g++)
        if (g != SVMX_RSP)
            set_reg((svmx_gpr)g, 0x10101010u * (g + 1));
    svmx_stop st;
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);
    assert_int_equal(reg(SVMX_RSP), 0x7000 - 32);
    for (unsigned g = 0; g < 8; g++)
        assert_int_equal(get(0x7000 - 4 - 4 * g, 4),
                         g == SVMX_RSP ? 0x7000 : 0x10101010u * (g + 1));
    for (unsigned g = 0; g < 8; g++)
        if (g != SVMX_RSP)
            set_reg((svmx_gpr)g, 0);
    st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RSP), 0x7000);
    for (unsigned g = 0; g < 8; g++)
        if (g != SVMX_RSP)
            assert_int_equal(reg((svmx_gpr)g), 0x10101010u * (g + 1));
}

/* A stack segment whose limit the eighth PUSHAD slot crosses: #SS(0) with
 * ESP and the seven slots above it untouched. An expand-down segment
 * (limit 0x6fe0: offsets 0x6fe1 and up are valid) leaves room above for
 * the #SS frame. */
static void test_pushad_fault_writes_nothing(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x60, 0xf4 };
    boot_with(PROT, SVMX_VENDOR_AMD, code, sizeof code);
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    s.seg[SVMX_SS].limit = 0x6fe0;
    s.seg[SVMX_SS].attr = 0x497; /* P, S, data RW expand-down, B */
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
    memset(m.ram + 0x6fe0, 0xaa, 0x20);
    set_reg(SVMX_RAX, 0x11111111);
    expect_exception(PROT, 12, 0);
    assert_int_equal(reg(SVMX_RSP), 0x7000 - 16); /* only the #SS frame */
    for (unsigned a = 0x6fe0; a < 0x7000 - 16; a++)
        assert_int_equal(m.ram[a], 0xaa);
    assert_int_equal(reg(SVMX_RAX), 0x11111111);
}

/* Real-mode PUSHA with SP = 7: a slot straddles offset FFFFh. Intel
 * lists #GP for it (SDM Vol. 2B PUSHA), AMD the #SS of the fourth push
 * (APM Vol. 3 PUSHA); neither writes a slot. */
static void test_pusha_real_straddle(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x60, 0xf4 };
    for (svmx_vendor v = 0; v < SVMX_VENDOR_COUNT; v++) {
        boot_with(REAL, v, code, sizeof code);
        set_reg(SVMX_RSP, 7);
        set_reg(SVMX_RAX, 0x1234);
        m.ram[0xffff] = 0xee;
        expect_exception(REAL, v == SVMX_VENDOR_INTEL ? 13 : 12, 0);
        assert_int_equal(reg(SVMX_RSP), 1); /* 7 minus the 6-byte frame */
        assert_int_equal(m.ram[0xffff], 0xee);
        assert_int_equal(reg(SVMX_RAX), 0x1234);
    }
}

/* POPAD reading past an expand-up limit: #SS(0), no register written. */
static void test_popad_fault_writes_nothing(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x61, 0xf4 };
    boot_with(PROT, SVMX_VENDOR_AMD, code, sizeof code);
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    s.seg[SVMX_SS].limit = 0x700f; /* DI SI BP (SP) readable, BX is not */
    s.seg[SVMX_SS].attr = 0x493;
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
    memset(m.ram + 0x7000, 0x55, 0x20);
    set_reg(SVMX_RDI, 1);
    set_reg(SVMX_RSI, 2);
    expect_exception(PROT, 12, 0);
    assert_int_equal(reg(SVMX_RDI), 1);
    assert_int_equal(reg(SVMX_RSI), 2);
    assert_int_equal(reg(SVMX_RSP), 0x7000 - 16);
}

/* ---- ENTER LEAVE --------------------------------------------------------- */

/* Nesting level 0, and 32 which is 0 modulo 32 (SDM Vol. 2A ENTER). */
static void test_enter_level0_real(void **state)
{
    (void)state;
    const uint8_t l0[] = { 0xc8, 0x04, 0x00, 0x00, 0xf4 };  /* enter 4, 0 */
    const uint8_t l32[] = { 0xc8, 0x00, 0x00, 0x20, 0xf4 }; /* enter 0, 32 */
    boot_with(REAL, SVMX_VENDOR_AMD, l0, sizeof l0);
    set_reg(SVMX_RBP, 0xabcd1234);
    assert_int_equal(run(10).reason, SVMX_STOP_HLT);
    assert_int_equal(get(0x6ffe, 2), 0x1234);
    assert_int_equal(reg(SVMX_RBP), 0xabcd6ffe);
    assert_int_equal(reg(SVMX_RSP), 0x6ffa);

    boot_with(REAL, SVMX_VENDOR_INTEL, l32, sizeof l32);
    set_reg(SVMX_RBP, 0x1234);
    m.ram[0x6ffc] = 0x77;
    assert_int_equal(run(10).reason, SVMX_STOP_HLT);
    assert_int_equal(get(0x6ffe, 2), 0x1234);
    assert_int_equal(m.ram[0x6ffc], 0x77);
    assert_int_equal(reg(SVMX_RBP), 0x6ffe);
    assert_int_equal(reg(SVMX_RSP), 0x6ffe);
}

/* Level 1: push EBP, then FrameTemp itself; no frame pointer is copied. */
static void test_enter_level1_protected(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xc8, 0x08, 0x00, 0x01, 0xf4 }; /* enter 8, 1 */
    boot_with(PROT, SVMX_VENDOR_AMD, code, sizeof code);
    set_reg(SVMX_RBP, 0x6f00);
    assert_int_equal(run(10).reason, SVMX_STOP_HLT);
    assert_int_equal(get(0x6ffc, 4), 0x6f00);
    assert_int_equal(get(0x6ff8, 4), 0x6ffc);
    assert_int_equal(reg(SVMX_RBP), 0x6ffc);
    assert_int_equal(reg(SVMX_RSP), 0x6ff0);
}

/* Level 3 in 64-bit mode, then LEAVE: the two outer frame pointers come
 * from [RBP-8] and [RBP-16] (checked against an AMD host, which gives
 * the same frame). */
static void test_enter_level3_leave_long(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xc8, 0x20, 0x00, 0x03, 0xc9, 0xf4 };
    boot_with(LONG, SVMX_VENDOR_AMD, code, sizeof code);
    set_reg(SVMX_RBP, 0x6f80);
    put64(0x6f78, 0xaaaa);
    put64(0x6f70, 0xbbbb);
    svmx_stop st;
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);
    assert_int_equal(get(0x6ff8, 8), 0x6f80);
    assert_int_equal(get(0x6ff0, 8), 0xaaaa);
    assert_int_equal(get(0x6fe8, 8), 0xbbbb);
    assert_int_equal(get(0x6fe0, 8), 0x6ff8);
    assert_int_equal(reg(SVMX_RBP), 0x6ff8);
    assert_int_equal(reg(SVMX_RSP), 0x6fc0);
    assert_int_equal(run(10).reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RSP), 0x7000);
    assert_int_equal(reg(SVMX_RBP), 0x6f80);
}

/* ENTER with a 16-bit operand size in 64-bit mode: word slots, RBP
 * walked at 64 bits, only BP written (the AMD host does the same). */
static void test_enter16_long(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x66, 0xc8, 0x20, 0x00, 0x03, 0x66, 0xc9, 0xf4 };
    boot_with(LONG, SVMX_VENDOR_INTEL, code, sizeof code);
    set_reg(SVMX_RBP, 0x16f80);
    put64(0x16f78, 0x1111222233334444);
    svmx_stop st;
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);
    assert_int_equal(get(0x6ffe, 2), 0x6f80);
    assert_int_equal(get(0x6ffc, 2), 0x1111);
    assert_int_equal(get(0x6ffa, 2), 0x2222);
    assert_int_equal(get(0x6ff8, 2), 0x6ffe);
    assert_int_equal(reg(SVMX_RBP), 0x16ffe);
    assert_int_equal(reg(SVMX_RSP), 0x6fd8);
    /* leave (16-bit): RSP = RBP, BP = [RSP] */
    assert_int_equal(run(10).reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RSP), 0x17000);
    assert_int_equal(reg(SVMX_RBP), 0x10000 | get(0x16ffe, 2));
}

/* The write check at the final RSP (SDM Vol. 2A ENTER: #PF "if a write
 * using the final value of the stack pointer ... would cause a page
 * fault"): it comes before anything is written. */
static void test_enter_final_write_fault(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xc8, 0x00, 0x01, 0x00, 0xf4 }; /* enter 0x100, 0 */
    boot_with(LONG, SVMX_VENDOR_AMD, code, sizeof code);
    map_test_pages();
    pf_on_ist();
    set_reg(SVMX_RSP, TEST_RW + 0x100);
    set_reg(SVMX_RBP, 0x1234);
    put64(DATA + 0xf8, 0x5555);
    expect_exception(LONG, 14, 3); /* present, write */
    assert_int_equal(cr2(), TEST_RW + 0xf8 - 0x100);
    assert_int_equal(get(DATA + 0xf8, 8), 0x5555); /* RBP not pushed */
    assert_int_equal(reg(SVMX_RBP), 0x1234);
    assert_int_equal(interrupted_rsp(), TEST_RW + 0x100);
}

/* A frame-pointer copy that faults: #PF for the read, in order after
 * the first push, which is not written either. */
static void test_enter_copy_fault(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xc8, 0x00, 0x00, 0x02, 0xf4 }; /* enter 0, 2 */
    boot_with(LONG, SVMX_VENDOR_INTEL, code, sizeof code);
    map_test_pages();
    pf_on_ist();
    set_reg(SVMX_RSP, TEST_RW + 0x100);
    set_reg(SVMX_RBP, TEST_NP + 8);
    expect_exception(LONG, 14, 0); /* not present, read */
    assert_int_equal(cr2(), TEST_NP);
    assert_int_equal(get(DATA + 0xf8, 8), 0);
    assert_int_equal(reg(SVMX_RBP), TEST_NP + 8);
    assert_int_equal(interrupted_rsp(), TEST_RW + 0x100);
}

/* LEAVE with a non-canonical RBP: #SS(0) (the pop is through SS), RSP
 * unchanged (the frame lands where RSP was). */
static void test_leave_fault(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xc9, 0xf4 };
    boot_with(LONG, SVMX_VENDOR_AMD, code, sizeof code);
    set_reg(SVMX_RBP, 0x8000000000000000);
    expect_exception(LONG, 12, 0);
    assert_int_equal(reg(SVMX_RSP), 0x7000 - 48);
    assert_int_equal(reg(SVMX_RBP), 0x8000000000000000);
}

/* LEAVE in real mode: SP = BP, BP = pop. */
static void test_leave_real(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xc9, 0xf4 };
    boot_with(REAL, SVMX_VENDOR_AMD, code, sizeof code);
    set_reg(SVMX_RBP, 0xffff6ff0);
    m.ram[0x6ff0] = 0x34;
    m.ram[0x6ff1] = 0x12;
    assert_int_equal(run(10).reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RSP), 0x6ff2);
    assert_int_equal(reg(SVMX_RBP), 0xffff1234);
}

/* ---- memory-operand cases that need paging or segments ------------------- */

/* CMPXCHG writes its memory operand even when the comparison fails, so
 * a read-only page faults with W = 1 and the accumulator stays. */
static void test_cmpxchg_read_only_page(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x0f, 0xb1, 0x0b, 0xf4 }; /* cmpxchg [rbx], ecx */
    for (svmx_vendor v = 0; v < SVMX_VENDOR_COUNT; v++) {
        boot_with(LONG, v, code, sizeof code);
        map_test_pages();
        put64(DATA, 5);
        set_reg(SVMX_RAX, 4);
        set_reg(SVMX_RBX, TEST_RO);
        set_reg(SVMX_RCX, 9);
        expect_exception(LONG, 14, 3);
        assert_int_equal(cr2(), TEST_RO);
        assert_int_equal(reg(SVMX_RAX), 4);
        assert_int_equal(get(DATA, 8), 5);
    }
}

/* MOVSXD r16, m: Intel reads a word (SDM Vol. 2B MOVSXD r16, r/m16), AMD
 * a doubleword, so two bytes before a not-present page only AMD faults. */
static void test_movsxd16_memory_width(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x66, 0x63, 0x03, 0xf4 }; /* movsxd ax, [rbx] */
    boot_with(LONG, SVMX_VENDOR_INTEL, code, sizeof code);
    map_test_pages();
    m.ram[DATA + 0xffe] = 0x34;
    m.ram[DATA + 0xfff] = 0x92;
    set_reg(SVMX_RAX, 0x1111111111111111);
    set_reg(SVMX_RBX, TEST_NP - 2);
    assert_int_equal(run(10).reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RAX), 0x1111111111119234);

    boot_with(LONG, SVMX_VENDOR_AMD, code, sizeof code);
    map_test_pages();
    set_reg(SVMX_RAX, 0x1111111111111111);
    set_reg(SVMX_RBX, TEST_NP - 2);
    expect_exception(LONG, 14, 0);
    assert_int_equal(cr2(), TEST_NP);
    assert_int_equal(reg(SVMX_RAX), 0x1111111111111111);
}

/* XLAT through an FS override: FS base + BX + AL (SDM Vol. 2D XLAT). */
static void test_xlat_segment_override(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x64, 0xd7, 0xd7, 0xf4 }; /* fs xlat; xlat */
    boot_with(REAL, SVMX_VENDOR_AMD, code, sizeof code);
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    s.seg[SVMX_FS].selector = 0x100;
    s.seg[SVMX_FS].base = 0x1000;
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
    m.ram[DATA + 2] = 0x07;          /* FS:BX+2 */
    m.ram[DATA - 0x1000 + 7] = 0x99; /* DS:BX+7 */
    set_reg(SVMX_RBX, DATA - 0x1000);
    set_reg(SVMX_RAX, 2);
    assert_int_equal(run(10).reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RAX), 0x99);
}

/* DIV #DE in real mode: the IVT handler sees IP of the DIV itself, CS,
 * FLAGS, and every register as before (SDM Vol. 2A DIV, Vol. 3A 21.1.4). */
static void test_div_fault_frame_real(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf7, 0xf3, 0xf4 }; /* div bx */
    boot_with(REAL, SVMX_VENDOR_INTEL, code, sizeof code);
    set_reg(SVMX_RAX, 0x5678);
    set_reg(SVMX_RDX, 0x1234);
    set_reg(SVMX_RBX, 0x1234); /* DX >= BX: the quotient needs 17 bits */
    set_flags(CF | ZF);
    expect_exception(REAL, 0, 0);
    assert_int_equal(reg(SVMX_RSP), 0x7000 - 6);
    assert_int_equal(get(0x7000 - 4, 2), 0);               /* CS */
    assert_int_equal(get(0x7000 - 2, 2) & ALL, CF | ZF);   /* FLAGS */
    assert_int_equal(reg(SVMX_RAX), 0x5678);
    assert_int_equal(reg(SVMX_RDX), 0x1234);
    assert_int_equal(rflags() & ALL, CF | ZF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_pusha_popa_real),
        cmocka_unit_test(test_pushad_popad_protected),
        cmocka_unit_test(test_pushad_fault_writes_nothing),
        cmocka_unit_test(test_pusha_real_straddle),
        cmocka_unit_test(test_popad_fault_writes_nothing),
        cmocka_unit_test(test_enter_level0_real),
        cmocka_unit_test(test_enter_level1_protected),
        cmocka_unit_test(test_enter_level3_leave_long),
        cmocka_unit_test(test_enter16_long),
        cmocka_unit_test(test_enter_final_write_fault),
        cmocka_unit_test(test_enter_copy_fault),
        cmocka_unit_test(test_leave_fault),
        cmocka_unit_test(test_leave_real),
        cmocka_unit_test(test_cmpxchg_read_only_page),
        cmocka_unit_test(test_movsxd16_memory_width),
        cmocka_unit_test(test_xlat_segment_override),
        cmocka_unit_test(test_div_fault_frame_real),
    };
    return cmocka_run_group_tests(tests, NULL, fixture_teardown);
}
