/*
 * tests/kernels/rt/rt.h - the bare-metal runtime of the svmx test kernels.
 *
 * A kernel is a C file with a `void kmain(void)`, linked with this runtime
 * into a flat multiboot image (docs/kernels.md). When kmain runs, the CPU
 * is in 64-bit mode at CPL 0 with:
 *   - the GDT below (RT_* selectors), a 64-bit TSS (RSP0, IST1 for #DF,
 *     an I/O permission bitmap that denies every port), TR loaded;
 *   - the first GiB identity-mapped (4-level paging, 2 MiB pages; the
 *     first 2 MiB in 4 KiB pages with page 0 not present), supervisor-only
 *     except the kernel's user sections (RT_USER_FN, RT_USER_DATA);
 *     CR0.WP = 1, EFER.NXE = 1 when CPUID has NX;
 *   - an IDT whose 256 vectors record every exception in rt_last and then
 *     either call the handler a test set (rt_set_handler), resume at a
 *     recovery label (RT_ARM), return into a pending rt_try(), or print
 *     the exception and end the run with FAIL;
 *   - IF = 0 and the legacy PICs masked.
 * kmain runs its cases with RT_RUN(); when it returns the runtime prints
 * PASS (no check failed) or FAIL and writes 0 or 1 to port 0xF4.
 *
 * Compiled with gcc -m64 -ffreestanding -mgeneral-regs-only -mno-red-zone:
 * no SSE, no libc; <stdint.h>, <stddef.h>, <stdbool.h>, <stdarg.h> work.
 */
#ifndef RT_H
#define RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt_asm.h"

/* Flat descriptors as 64-bit words (SDM Vol. 3A 3.4.5), accessed bit set. */
#define RT_DESC_DPL(dpl)    ((uint64_t)(dpl) << 45)
#define RT_DESC_CODE64(dpl) (UINT64_C(0x00af9b000000ffff) | RT_DESC_DPL(dpl))
#define RT_DESC_CODE32(dpl) (UINT64_C(0x00cf9b000000ffff) | RT_DESC_DPL(dpl))
#define RT_DESC_DATA(dpl)   (UINT64_C(0x00cf93000000ffff) | RT_DESC_DPL(dpl))

#define RT_FL_CF (UINT64_C(1) << 0)
#define RT_FL_PF (UINT64_C(1) << 2)
#define RT_FL_AF (UINT64_C(1) << 4)
#define RT_FL_ZF (UINT64_C(1) << 6)
#define RT_FL_SF (UINT64_C(1) << 7)
#define RT_FL_TF (UINT64_C(1) << 8)
#define RT_FL_IF (UINT64_C(1) << 9)
#define RT_FL_DF (UINT64_C(1) << 10)
#define RT_FL_OF (UINT64_C(1) << 11)
#define RT_FL_IOPL(n) ((uint64_t)(n) << 12)
#define RT_FL_NT (UINT64_C(1) << 14)
#define RT_FL_RF (UINT64_C(1) << 16)
#define RT_FL_AC (UINT64_C(1) << 18)
#define RT_FL_STATUS                                                          \
    (RT_FL_CF | RT_FL_PF | RT_FL_AF | RT_FL_ZF | RT_FL_SF | RT_FL_OF)

/* Exception vectors (SDM Vol. 3A Table 6-1). */
enum {
    RT_DE = 0, RT_DB = 1, RT_NMI = 2, RT_BP = 3, RT_OF = 4, RT_BR = 5,
    RT_UD = 6, RT_NM = 7, RT_DF = 8, RT_TS = 10, RT_NP = 11, RT_SS = 12,
    RT_GP = 13, RT_PF = 14, RT_MF = 16, RT_AC = 17, RT_MC = 18, RT_XM = 19,
};
/* rt_last.error of a vector without an error code */
#define RT_NOERR UINT64_C(0xffffffffffffffff)

/* -------------------------------------------------- exception frames -- */

typedef struct rt_regs {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
} rt_regs;

/*
 * What an exception stub leaves on the stack: the GPRs, then the vector
 * and error code (0 for vectors without one), then the frame the CPU
 * pushed (SDM Vol. 3A 6.14.2). A handler may change any field; the stub
 * restores them all and returns with IRETQ.
 */
typedef struct rt_frame {
    rt_regs  r;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
} rt_frame;

/* The last exception the runtime saw (any vector but RT_VEC_USER_RET). */
typedef struct rt_exc {
    uint64_t count;  /* exceptions so far                         */
    uint64_t vector;
    uint64_t error;  /* RT_NOERR for vectors without an error code */
    uint64_t rip, cs, rflags, rsp, ss;
    uint64_t cr2;    /* CR2 when the handler ran                   */
    uint64_t frame;  /* address of the saved RIP on the handler stack */
    rt_regs  r;      /* the GPRs at the exception                  */
} rt_exc;
extern volatile rt_exc rt_last;

/* Called with the frame; returning resumes it (IRETQ). NULL removes it. */
typedef void (*rt_handler)(rt_frame *f);
void rt_set_handler(unsigned vector, rt_handler h);

/*
 * setjmp-style catch: returns 0; if an exception (with no handler set for
 * it) happens before rt_try_end(), execution comes back out of rt_try()
 * a second time, at CPL 0 on the kernel stack, returning vector + 1.
 * Works across rings: a fault in rt_user_call() code lands here too. As
 * with setjmp, locals changed after rt_try() must be volatile.
 */
int rt_try(void) __attribute__((returns_twice));
void rt_try_end(void);

/*
 * Evaluates stmt; yields the vector + 1 of the exception it raised, or 0.
 * The details are in rt_last.
 */
#define RT_FAULT(stmt)                                                        \
    ({                                                                        \
        int rt_f_ = rt_try();                                                 \
        if (!rt_f_) {                                                         \
            stmt;                                                             \
            rt_try_end();                                                     \
        }                                                                     \
        rt_f_;                                                                \
    })

/*
 * Same-context recovery for inline assembly: RT_ARM(label) makes the next
 * exception (with no handler set) resume at `label` with every register
 * as it was at the exception; RT_DISARM cancels. In extended asm, e.g.
 *   asm volatile(RT_ARM("2f") "1: ud2\n2:\n" RT_DISARM ::: RT_ARM_CLOBBER);
 * and then check rt_last. Clobbers r11 (so does SYSCALL anyway).
 */
extern volatile uint64_t rt_recover_rip;
#define RT_ARM(label)                                                         \
    "leaq " label "(%%rip), %%r11\n\tmovq %%r11, rt_recover_rip(%%rip)\n\t"
#define RT_DISARM "movq $0, rt_recover_rip(%%rip)\n\t"
#define RT_ARM_CLOBBER "r11", "memory"

/* --------------------------------------------------------- the tables -- */

extern uint64_t rt_gdt[RT_GDT_SLOTS];
void rt_gdt_set(unsigned selector, uint64_t desc);

typedef struct __attribute__((packed)) rt_tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
    uint8_t  iomap[8192 + 1]; /* SDM Vol. 3A 19.5.2: ends with 0xff */
} rt_tss;
extern rt_tss rt_tss64;
#define RT_TSS_LIMIT (sizeof(rt_tss) - 1)
/* Rewrites the TSS descriptor with `limit` and reloads TR. */
void rt_tss_reload(uint32_t limit);
/* Allows (true) or denies ring-3 access to one port in the I/O bitmap. */
void rt_io_allow(uint16_t port, bool allow);

typedef struct rt_gate {
    uint16_t off0, sel;
    uint8_t  ist, attr; /* attr: P(7) DPL(6:5) 0 type(3:0) */
    uint16_t off1;
    uint32_t off2, reserved;
} rt_gate;
extern rt_gate rt_idt[256];
#define RT_GATE_INT  0x0e
#define RT_GATE_TRAP 0x0f
/* Points vector at the runtime's stub with the given type, DPL and IST. */
void rt_idt_set(unsigned vector, unsigned type, unsigned dpl, unsigned ist,
                bool present);
/* Puts back the runtime's own gate for vector. */
void rt_idt_reset(unsigned vector);
uint64_t rt_stub_addr(unsigned vector);

/* Stacks: the IST1 (#DF) stack and the RSP0 stack (TSS.RSP0). */
#define RT_STACK_SIZE 16384
extern uint8_t rt_df_stack[RT_STACK_SIZE], rt_rsp0_stack[RT_STACK_SIZE];

/* ------------------------------------------------------- rings, modes -- */

/* Marks a function or object that ring-3 code uses: its pages are user
   pages. Such a function must not call the kernel or read its rodata
   (strings, switch tables). */
#define RT_USER_FN   __attribute__((section(".user.text"), noipa, used))
#define RT_USER_DATA __attribute__((section(".user.data")))

/*
 * Runs fn(arg) at CPL 3 in 64-bit mode on the user stack with RFLAGS =
 * rflags (bit 1 is forced; IF should stay 0), and returns its result. fn
 * returns by returning. A fault in fn ends in the pending rt_try(), or is
 * an unexpected exception.
 */
uint64_t rt_user_call(uint64_t (*fn)(uint64_t), uint64_t arg,
                      uint64_t rflags);
/*
 * 32-bit code (written in a .S file with .code32, in .user.text for the
 * user form): called with EAX = arg, returns EAX. rt_compat_call runs it
 * at CPL 0 in compatibility mode (CS = RT_KCODE32), rt_user_call32 at
 * CPL 3 (CS = RT_UCODE32).
 */
uint32_t rt_compat_call(uint32_t (*fn32)(void), uint32_t arg);
uint32_t rt_user_call32(uint32_t (*fn32)(void), uint32_t arg,
                        uint64_t rflags);
/* The user stack's top (16-byte aligned). */
extern uint8_t rt_user_stack_top[];

/* ------------------------------------------------------------- paging -- */

#define RT_PTE_P   (UINT64_C(1) << 0)
#define RT_PTE_W   (UINT64_C(1) << 1)
#define RT_PTE_U   (UINT64_C(1) << 2)
#define RT_PTE_PWT (UINT64_C(1) << 3)
#define RT_PTE_PCD (UINT64_C(1) << 4)
#define RT_PTE_A   (UINT64_C(1) << 5)
#define RT_PTE_D   (UINT64_C(1) << 6)
#define RT_PTE_PS  (UINT64_C(1) << 7)
#define RT_PTE_G   (UINT64_C(1) << 8)
#define RT_PTE_NX  (UINT64_C(1) << 63)
#define RT_PTE_ADDR UINT64_C(0x000ffffffffff000)

/* Physical memory the runtime never uses: [16 MiB, 64 MiB). */
#define RT_SCRATCH      UINT64_C(0x01000000)
#define RT_SCRATCH_END  UINT64_C(0x04000000)
/* Virtual addresses not mapped at start: [1 GiB, 512 GiB). */
#define RT_FREE_VA      UINT64_C(0x40000000)

extern uint64_t rt_pml4[512];
/*
 * The entry that maps va at `level` (4 = PML4E, 3 = PDPTE, 2 = PDE,
 * 1 = PTE), creating the tables above it and splitting a larger page
 * into smaller ones (same attributes) when needed. Never NULL: runs out
 * of table pages as a FAIL. Changing it needs rt_invlpg().
 */
uint64_t *rt_pte(uint64_t va, int level);
/* Maps one page of 4 KiB (level 1), 2 MiB (2) or 1 GiB (3) and flushes it. */
void rt_map(uint64_t va, uint64_t pa, uint64_t flags, int level);
/* Where the walk for va ends now: the leaf entry, or the first entry that
   is not present; *level says which level. */
uint64_t *rt_walk(uint64_t va, int *level);

/* ------------------------------------------------------------ console -- */

void rt_putc(char c);
void rt_puts(const char *s); /* no newline added */

/* Mirrors the console to COM1 (0x3F8, 115200 8N1) from now on if a UART
   answers there - on a PC, not on svmx, which has none (rt_main calls it
   first). */
void rt_serial_init(void);
int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rt_vprintf(const char *fmt, va_list ap);
int rt_snprintf(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------- checks and reports -- */

extern unsigned rt_checks, rt_failures;

void rt_fail_at(const char *file, int line, const char *cond,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void rt_fail_eq(const char *file, int line, const char *what, uint64_t got,
                uint64_t want);

/* Counts a check; if cond is false prints "FAIL: case: file:line: ..." with
   the message (or the condition's text). */
#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        rt_checks++;                                                          \
        if (!(cond))                                                          \
            rt_fail_at(__FILE__, __LINE__, #cond, "" __VA_ARGS__);            \
    } while (0)
/* CHECK(got == want) that prints both values. */
#define CHECK_EQ(got, want)                                                   \
    do {                                                                      \
        uint64_t rt_g_ = (uint64_t)(got), rt_w_ = (uint64_t)(want);          \
        rt_checks++;                                                          \
        if (rt_g_ != rt_w_)                                                   \
            rt_fail_eq(__FILE__, __LINE__, #got, rt_g_, rt_w_);               \
    } while (0)
/*
 * Checks rt_last against an expected exception: vector, error code
 * (RT_NOERR: the vector has none) and, unless 0, the faulting RIP.
 * `caught` is what RT_FAULT or rt_try returned (0: nothing was raised).
 */
#define CHECK_EXC(caught, vec, err, rip)                                      \
    rt_check_exc(__FILE__, __LINE__, (caught), (vec), (err), (rip))
void rt_check_exc(const char *file, int line, int caught, unsigned vector,
                  uint64_t error, uint64_t rip);

/* Runs one case: prints "ok - name" if none of its checks failed. */
void rt_run_case(const char *name, void (*fn)(void));
#define RT_RUN(fn) rt_run_case(#fn, fn)
/* Prints "skip - name: why" for a case that cannot run here. */
void rt_skip(const char *name, const char *why);
/* The name of the running case ("" outside one). */
extern const char *rt_case_name;

/* Prints the totals and PASS or FAIL, exits through port 0xF4. */
__attribute__((noreturn)) void rt_report(void);
/* Prints "FAIL: why" and "FAIL", exits with status 1. */
__attribute__((noreturn)) void rt_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void rt_exit(unsigned value);

/* The kernel's entry, called once the runtime is set up. */
void kmain(void);

/* Multiboot: what the loader passed (EAX, EBX) and the EFER value the
   runtime wrote when entering long mode. */
extern uint32_t rt_mb_magic, rt_mb_info;
extern uint64_t rt_efer_written;

/* Whether the multiboot command line (MBI flag bit 2; "<kernel> <args>"
   as QEMU's -append and svmx run --append build it) has `word` among its
   space-separated words. */
bool rt_cmdline_has(const char *word);
/* The number of a `key=NUMBER` word of the command line (decimal, or hex
   with 0x): true and *value set if there is one whose number parses and
   fits 64 bits; false, *value untouched, otherwise. */
bool rt_cmdline_u64(const char *key, uint64_t *value);

/* Human names: "#GP", "#PF", ... ("vector" for others). */
const char *rt_vector_name(unsigned vector);
bool rt_vector_has_error(unsigned vector);

/* ------------------------------------------------ instruction helpers -- */

static inline void rt_outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t rt_inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline void rt_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}
static inline uint64_t rt_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}
static inline void rt_wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr"
                     :
                     : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                     : "memory");
}
#define RT_CR_RW(n)                                                           \
    static inline uint64_t rt_read_cr##n(void)                                \
    {                                                                         \
        uint64_t v;                                                           \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                     \
        return v;                                                             \
    }                                                                         \
    static inline void rt_write_cr##n(uint64_t v)                             \
    {                                                                         \
        __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");            \
    }
RT_CR_RW(0)
RT_CR_RW(2)
RT_CR_RW(3)
RT_CR_RW(4)
#undef RT_CR_RW
static inline uint64_t rt_read_flags(void)
{
    uint64_t v;
    __asm__ volatile("pushfq; popq %0" : "=r"(v));
    return v;
}
static inline void rt_invlpg(uint64_t va)
{
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}
/* CR3 reload: flushes every non-global translation. */
static inline void rt_flush_tlb(void)
{
    rt_write_cr3(rt_read_cr3());
}

/* One access to a linear address, exactly one instruction (no compiler
   assumptions about what lives there). */
static inline uint64_t rt_peek64(uint64_t a)
{
    uint64_t v;
    __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(a) : "memory");
    return v;
}
static inline void rt_poke64(uint64_t a, uint64_t v)
{
    __asm__ volatile("movq %1, (%0)" : : "r"(a), "r"(v) : "memory");
}
static inline uint8_t rt_peek8(uint64_t a)
{
    uint8_t v;
    __asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(a) : "memory");
    return v;
}
static inline void rt_poke8(uint64_t a, uint8_t v)
{
    __asm__ volatile("movb %1, (%0)" : : "r"(a), "q"(v) : "memory");
}

/* CPUID facts the kernels ask often. */
typedef struct rt_cpu {
    bool     intel, amd;
    char     vendor[13];
    uint32_t max_basic, max_ext;
    uint32_t sig;           /* CPUID 1 EAX                     */
    unsigned family, model, stepping; /* display values (SDM CPUID) */
    uint32_t f1_ecx, f1_edx, f7_ebx, x1_ecx, x1_edx;
    unsigned maxphyaddr;
    char     hypervisor[13]; /* CPUID 4000_0000h when 1:ECX[31] is set */
    bool     tcg;            /* QEMU's TCG ("TCGTCGTCGTCG")            */
} rt_cpu;
extern rt_cpu rt_cpuinfo;

/*
 * On QEMU TCG only: true if got == want or got == tcg_got, a known place
 * where QEMU's emulator differs from the manuals; the first time a
 * given `what` is excused it prints "note: QEMU TCG: what". On svmx and on
 * hardware it is simply got == want. Keeps the kernels green on QEMU
 * without loosening them anywhere else.
 */
bool rt_tcg_excuse(uint64_t got, uint64_t want, uint64_t tcg_got,
                   const char *what);
/* CHECK_EXC that on QEMU TCG (only) also accepts "nothing raised", a
   known gap of TCG's that `note` names. */
#define CHECK_EXC_TCG_NONE(caught, vec, err, rip, note)                       \
    do {                                                                      \
        int t_ = (caught);                                                    \
        if (!t_ && rt_tcg_excuse(1, 0, 1, note))                              \
            rt_checks++;                                                      \
        else                                                                  \
            CHECK_EXC(t_, vec, err, rip);                                     \
    } while (0)
/* On QEMU TCG only: prints "note: QEMU TCG: not tried: what" and returns
   true, for a check that QEMU cannot survive. */
bool rt_tcg_cannot(const char *what);

/* freestanding libc bits */
void *memset(void *d, int c, size_t n);
void *memcpy(void *__restrict d, const void *__restrict s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

#endif /* RT_H */
