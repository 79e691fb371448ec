/*
 * tests/kernels/rt/rt.c - the runtime's set-up, exception dispatch,
 * checks and final report.
 */
#include "rt.h"

/* From boot.S and isr.S. */
extern uint8_t rt_stubs[];
extern uint8_t rt_user_resume[], rt_try_landing[];
extern uint64_t rt_try_buf[8]; /* rip rsp rbx rbp r12 r13 r14 r15 */
extern volatile uint32_t rt_try_armed, rt_user_active;
extern uint64_t rt_user_ksp;
void rt_main(void);
void rt_isr_dispatch(rt_frame *f);
void rt_paging_init(void);

volatile rt_exc rt_last;
volatile uint64_t rt_recover_rip;
static rt_handler handlers[256];
rt_gate rt_idt[256] __attribute__((aligned(16)));
rt_tss rt_tss64 __attribute__((aligned(16)));
uint8_t rt_df_stack[RT_STACK_SIZE] __attribute__((aligned(16)));
uint8_t rt_rsp0_stack[RT_STACK_SIZE] __attribute__((aligned(16)));
#define rt_df_stack_end   (rt_df_stack + sizeof rt_df_stack)
#define rt_rsp0_stack_end (rt_rsp0_stack + sizeof rt_rsp0_stack)
rt_cpu rt_cpuinfo;
unsigned rt_checks, rt_failures;
const char *rt_case_name = "";
static unsigned cases_run, dispatch_depth;

/* ----------------------------------------------------------- vectors -- */

static const char *const vector_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
    "#DF", "vector 9", "#TS", "#NP", "#SS", "#GP", "#PF", "vector 15",
    "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "vector 22", "vector 23",
    "vector 24", "vector 25", "vector 26", "vector 27", "#HV", "#VC",
    "#SX", "vector 31",
};

const char *rt_vector_name(unsigned vector)
{
    return vector < 32 ? vector_names[vector] : "vector";
}

/* SDM Vol. 3A Table 6-1; APM Vol. 2 Table 8-1 (#VC 29, #SX 30). */
bool rt_vector_has_error(unsigned v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 ||
           v == 30;
}

uint64_t rt_stub_addr(unsigned vector)
{
    return (uint64_t)(uintptr_t)rt_stubs + 16u * (vector & 0xff);
}

void rt_idt_set(unsigned vector, unsigned type, unsigned dpl, unsigned ist,
                bool present)
{
    uint64_t off = rt_stub_addr(vector);
    rt_gate *g = &rt_idt[vector & 0xff];
    g->off0 = (uint16_t)off;
    g->sel = RT_KCODE64;
    g->ist = (uint8_t)(ist & 7);
    g->attr = (uint8_t)((present ? 0x80 : 0) | (dpl & 3) << 5 | (type & 0xf));
    g->off1 = (uint16_t)(off >> 16);
    g->off2 = (uint32_t)(off >> 32);
    g->reserved = 0;
}

/* Interrupt gates; #BP and the user return are reachable from ring 3;
   #DF runs on IST1. */
void rt_idt_reset(unsigned vector)
{
    unsigned dpl = vector == RT_BP || vector == RT_VEC_USER_RET ? 3 : 0;
    rt_idt_set(vector, RT_GATE_INT, dpl, vector == RT_DF ? 1 : 0, true);
}

void rt_set_handler(unsigned vector, rt_handler h)
{
    handlers[vector & 0xff] = h;
}

/* -------------------------------------------------------- GDT and TSS -- */

void rt_gdt_set(unsigned selector, uint64_t desc)
{
    rt_gdt[(selector >> 3) % RT_GDT_SLOTS] = desc;
}

/* 64-bit available TSS descriptor (SDM Vol. 3A 8.2.3), type 9. */
void rt_tss_reload(uint32_t limit)
{
    uint64_t base = (uint64_t)(uintptr_t)&rt_tss64;
    /* limit 15:0, base 23:0, P + type 9, limit 19:16, base 31:24 */
    rt_gdt[RT_TSS_SEL >> 3] = (limit & 0xffffull) |
                              (base & 0xffffffull) << 16 | 0x89ull << 40 |
                              (uint64_t)(limit >> 16 & 0xf) << 48 |
                              (base >> 24 & 0xff) << 56;
    rt_gdt[(RT_TSS_SEL >> 3) + 1] = base >> 32;
    __asm__ volatile("ltr %w0" : : "r"(RT_TSS_SEL) : "memory");
}

void rt_io_allow(uint16_t port, bool allow)
{
    if (allow)
        rt_tss64.iomap[port >> 3] &= (uint8_t)~(1u << (port & 7));
    else
        rt_tss64.iomap[port >> 3] |= (uint8_t)(1u << (port & 7));
}

static void tables_init(void)
{
    memset(&rt_tss64, 0, sizeof rt_tss64);
    rt_tss64.rsp[0] = (uint64_t)(uintptr_t)rt_rsp0_stack_end;
    rt_tss64.ist[0] = (uint64_t)(uintptr_t)rt_df_stack_end;
    rt_tss64.iomap_base = (uint16_t)offsetof(rt_tss, iomap);
    memset(rt_tss64.iomap, 0xff, sizeof rt_tss64.iomap); /* deny all */
    rt_tss_reload(RT_TSS_LIMIT);
    /* no LDT: references through TI = 1 are #GP (SDM Vol. 2A LLDT) */
    __asm__ volatile("lldt %w0" : : "r"(0));

    for (unsigned v = 0; v < 256; v++)
        rt_idt_reset(v);
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr = { sizeof rt_idt - 1, (uint64_t)(uintptr_t)rt_idt };
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

/* ----------------------------------------------------------- CPUID -- */

static void cpu_init(void)
{
    rt_cpu *c = &rt_cpuinfo;
    uint32_t r[4];
    rt_cpuid(0, 0, r);
    c->max_basic = r[0];
    memcpy(c->vendor, &r[1], 4);
    memcpy(c->vendor + 4, &r[3], 4);
    memcpy(c->vendor + 8, &r[2], 4);
    c->vendor[12] = 0;
    c->intel = !strcmp(c->vendor, "GenuineIntel");
    c->amd = !strcmp(c->vendor, "AuthenticAMD");
    rt_cpuid(1, 0, r);
    c->sig = r[0];
    c->f1_ecx = r[2];
    c->f1_edx = r[3];
    if (c->max_basic >= 7) {
        rt_cpuid(7, 0, r);
        c->f7_ebx = r[1];
    }
    rt_cpuid(0x80000000u, 0, r);
    c->max_ext = r[0];
    if (c->max_ext >= 0x80000001u) {
        rt_cpuid(0x80000001u, 0, r);
        c->x1_ecx = r[2];
        c->x1_edx = r[3];
    }
    if (c->f1_ecx >> 31) {
        /* the hypervisor's leaf (not architectural: an agreed convention) */
        rt_cpuid(0x40000000u, 0, r);
        memcpy(c->hypervisor, &r[1], 4);
        memcpy(c->hypervisor + 4, &r[2], 4);
        memcpy(c->hypervisor + 8, &r[3], 4);
        c->hypervisor[12] = 0;
        c->tcg = !strcmp(c->hypervisor, "TCGTCGTCGTCG");
    }
    c->maxphyaddr = 36; /* SDM Vol. 3A 4.1.4 without leaf 80000008H */
    if (c->max_ext >= 0x80000008u) {
        rt_cpuid(0x80000008u, 0, r);
        c->maxphyaddr = r[0] & 0xff;
    }
    /*
     * Display family and model: SDM Vol. 2A CPUID (extended model for
     * family 6 or 15), APM Vol. 3 E.3.2 (extended model for family 15
     * only).
     */
    unsigned fam = c->sig >> 8 & 0xf, model = c->sig >> 4 & 0xf;
    c->family = fam == 0xf ? fam + (c->sig >> 20 & 0xff) : fam;
    c->model = model;
    if (fam == 0xf || (fam == 6 && !c->amd))
        c->model += (c->sig >> 16 & 0xf) << 4;
    c->stepping = c->sig & 0xf;
}

/* --------------------------------------------------------- dispatch -- */

static void unexpected(const rt_frame *f)
{
    rt_failures++;
    rt_printf("FAIL: %s%sunexpected %s (vector %lu)", rt_case_name,
              *rt_case_name ? ": " : "", rt_vector_name((unsigned)f->vector),
              f->vector);
    if (rt_vector_has_error((unsigned)f->vector))
        rt_printf(" error %#lx", f->error);
    rt_printf(" at %04lx:%016lx RFLAGS %#lx RSP %04lx:%016lx CR2 %#lx\n",
              f->cs, f->rip, f->rflags, f->ss, f->rsp, rt_last.cr2);
    rt_report();
}

static void record(const rt_frame *f)
{
    rt_last.count++;
    rt_last.vector = f->vector;
    rt_last.error = rt_vector_has_error((unsigned)f->vector) ? f->error
                                                              : RT_NOERR;
    rt_last.rip = f->rip;
    rt_last.cs = f->cs;
    rt_last.rflags = f->rflags;
    rt_last.rsp = f->rsp;
    rt_last.ss = f->ss;
    rt_last.cr2 = rt_read_cr2();
    rt_last.frame = (uint64_t)(uintptr_t)&f->rip;
    memcpy((void *)&rt_last.r, &f->r, sizeof f->r);
}

/* Back out of rt_try() a second time, at CPL 0 on the kernel stack. */
static void return_to_try(rt_frame *f)
{
    rt_try_armed = 0;
    rt_user_active = 0;
    f->rip = (uint64_t)(uintptr_t)rt_try_landing;
    f->rsp = rt_try_buf[1];
    f->r.rbx = rt_try_buf[2];
    f->r.rbp = rt_try_buf[3];
    f->r.r12 = rt_try_buf[4];
    f->r.r13 = rt_try_buf[5];
    f->r.r14 = rt_try_buf[6];
    f->r.r15 = rt_try_buf[7];
    f->r.rax = f->vector + 1;
    f->cs = RT_KCODE64;
    f->ss = RT_KDATA;
    f->rflags = 2;
}

void rt_isr_dispatch(rt_frame *f)
{
    if (f->vector == RT_VEC_USER_RET && rt_user_active && (f->cs & 3) == 3) {
        rt_user_active = 0;
        f->r.rax = f->r.rdi;
        f->rip = (uint64_t)(uintptr_t)rt_user_resume;
        f->cs = RT_KCODE64;
        f->ss = RT_KDATA;
        f->rsp = rt_user_ksp;
        f->rflags = 2;
        return;
    }
    if (++dispatch_depth > 4) {
        rt_puts("FAIL: exceptions nest too deep in the runtime\nFAIL\n");
        rt_exit(3);
    }
    record(f);
    /* SDM Vol. 3A 6.14.2, APM Vol. 2 8.9.3: in long mode RSP is aligned to
       16 before the frame is pushed, so the saved RIP is at 16n + 8. A
       stub that guessed the error code wrong would see it elsewhere. */
    if (((uintptr_t)&f->rip & 15) != 8) {
        rt_printf("FAIL: %s frame's RIP slot at %p is not 16n + 8 (SDM "
                  "6.14.2), or an INT n hit an error-code vector\n",
                  rt_vector_name((unsigned)f->vector), (void *)&f->rip);
        rt_failures++;
        rt_report();
    }
    rt_handler h = handlers[f->vector & 0xff];
    if (h) {
        h(f);
    } else if (rt_recover_rip) {
        f->rip = rt_recover_rip;
        rt_recover_rip = 0;
    } else if (rt_try_armed) {
        return_to_try(f);
    } else {
        unexpected(f);
    }
    dispatch_depth--;
}

void rt_try_end(void)
{
    rt_try_armed = 0;
}

/* ------------------------------------------------ checks and report -- */

bool rt_tcg_cannot(const char *what)
{
    if (rt_cpuinfo.tcg)
        rt_printf("note: QEMU TCG: not tried: %s\n", what);
    return rt_cpuinfo.tcg;
}

bool rt_tcg_excuse(uint64_t got, uint64_t want, uint64_t tcg_got,
                   const char *what)
{
    static const char *noted[16];
    if (got == want)
        return true;
    if (!rt_cpuinfo.tcg || got != tcg_got)
        return false;
    for (unsigned i = 0; i < 16; i++) {
        if (noted[i] == what)
            return true;
        if (!noted[i]) {
            noted[i] = what;
            break;
        }
    }
    rt_printf("note: QEMU TCG: %s\n", what);
    return true;
}

static void fail_prefix(const char *file, int line)
{
    rt_failures++;
    rt_printf("FAIL: %s%s%s:%d: ", rt_case_name, *rt_case_name ? ": " : "",
              file, line);
}

void rt_fail_at(const char *file, int line, const char *cond,
                const char *fmt, ...)
{
    fail_prefix(file, line);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        rt_vprintf(fmt, ap);
        va_end(ap);
    } else {
        rt_printf("%s", cond);
    }
    rt_putc('\n');
}

void rt_fail_eq(const char *file, int line, const char *what, uint64_t got,
                uint64_t want)
{
    fail_prefix(file, line);
    rt_printf("%s is %#lx, expected %#lx\n", what, got, want);
}

static void print_exc(unsigned vector, uint64_t error)
{
    rt_printf("%s", rt_vector_name(vector));
    if (vector >= 32)
        rt_printf(" %u", vector);
    if (error != RT_NOERR)
        rt_printf("(%#lx)", error);
}

void rt_check_exc(const char *file, int line, int caught, unsigned vector,
                  uint64_t error, uint64_t rip)
{
    rt_checks++;
    bool ok = caught && rt_last.vector == vector && rt_last.error == error &&
              (!rip || rt_last.rip == rip);
    if (ok)
        return;
    fail_prefix(file, line);
    rt_printf("expected ");
    print_exc(vector, error);
    if (rip)
        rt_printf(" at %#lx", rip);
    if (!caught) {
        rt_printf(", nothing was raised\n");
        return;
    }
    rt_printf(", got ");
    print_exc((unsigned)rt_last.vector, rt_last.error);
    rt_printf(" at %#lx\n", rt_last.rip);
}

void rt_run_case(const char *name, void (*fn)(void))
{
    unsigned before = rt_failures;
    rt_case_name = name;
    cases_run++;
    fn();
    if (rt_try_armed || rt_recover_rip) {
        rt_try_armed = 0;
        rt_recover_rip = 0;
        rt_failures++;
        rt_printf("FAIL: %s: left rt_try() or RT_ARM armed\n", name);
    }
    if (rt_failures == before)
        rt_printf("ok - %s\n", name);
    rt_case_name = "";
}

void rt_skip(const char *name, const char *why)
{
    rt_printf("skip - %s: %s\n", name, why);
}

void rt_exit(unsigned value)
{
    /* isa-debug-exit (QEMU) and svmx run: status (value << 1) | 1. */
    rt_outb(0xf4, (uint8_t)value);
    for (;;)
        __asm__ volatile("cli; hlt");
}

void rt_report(void)
{
    if (cases_run)
        rt_printf("# %u checks in %u cases, %u failed\n", rt_checks,
                  cases_run, rt_failures);
    else
        rt_printf("# %u checks, %u failed\n", rt_checks, rt_failures);
    if (rt_failures) {
        rt_puts("FAIL\n");
        rt_exit(1);
    }
    rt_puts("PASS\n");
    rt_exit(0);
}

void rt_panic(const char *fmt, ...)
{
    va_list ap;
    rt_failures++;
    rt_puts("FAIL: ");
    va_start(ap, fmt);
    rt_vprintf(fmt, ap);
    va_end(ap);
    rt_putc('\n');
    rt_report();
}

/* ------------------------------------------------------ command line -- */

/* The next space-separated word of the command line from *s: its start,
 * *len its length; NULL after the last. */
static const char *cmdline_word(const char **s, size_t *len)
{
    const char *w = *s;
    while (*w == ' ')
        w++;
    if (!*w)
        return NULL;
    *len = 0;
    while (w[*len] && w[*len] != ' ')
        (*len)++;
    *s = w + *len;
    return w;
}

/* The command line (Multiboot 0.6.96 3.3: flags bit 2, cmdline at offset
 * 16, a physical address below 4 GiB, identity-mapped by the runtime), or
 * NULL. */
static const char *cmdline(void)
{
    const uint32_t *mbi = (const uint32_t *)(uintptr_t)rt_mb_info;
    if (!mbi || !(mbi[0] & 4) || !mbi[4])
        return NULL;
    return (const char *)(uintptr_t)mbi[4];
}

bool rt_cmdline_has(const char *word)
{
    const char *s = cmdline(), *w;
    size_t len, n = strlen(word);
    while (s && (w = cmdline_word(&s, &len)))
        if (len == n && !memcmp(w, word, n))
            return true;
    return false;
}

/* The digits of [d, end) in `base`: false if one is not a digit or the
 * number does not fit 64 bits. */
static bool parse_number(const char *d, const char *end, unsigned base,
                         uint64_t *value)
{
    uint64_t v = 0;
    for (; d < end; d++) {
        unsigned dig;
        if (*d >= '0' && *d <= '9')
            dig = (unsigned)(*d - '0');
        else if (base == 16 && (*d | 0x20) >= 'a' && (*d | 0x20) <= 'f')
            dig = (unsigned)((*d | 0x20) - 'a' + 10);
        else
            return false;
        if (dig >= base || v > (UINT64_MAX - dig) / base)
            return false;
        v = v * base + dig;
    }
    *value = v;
    return true;
}

bool rt_cmdline_u64(const char *key, uint64_t *value)
{
    const char *s = cmdline(), *w;
    size_t len, n = strlen(key);
    while (s && (w = cmdline_word(&s, &len))) {
        if (len <= n + 1 || memcmp(w, key, n) || w[n] != '=')
            continue;
        const char *d = w + n + 1, *end = w + len;
        unsigned base = 10;
        if (end - d > 2 && d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
            base = 16;
            d += 2;
        }
        uint64_t v;
        if (parse_number(d, end, base, &v)) {
            *value = v;
            return true;
        }
    }
    return false;
}

/* -------------------------------------------------------------- main -- */

void rt_main(void)
{
    rt_serial_init();
    cpu_init();
    tables_init();
    rt_paging_init();
    /* Mask both 8259 PICs: nothing may arrive even if a test sets IF. */
    rt_outb(0x21, 0xff);
    rt_outb(0xa1, 0xff);
    if (rt_mb_magic != 0x2badb002u)
        rt_panic("the loader's EAX is %#x, not the multiboot magic "
                 "0x2badb002 (Multiboot 0.6.96 3.2)", rt_mb_magic);
    kmain();
    rt_report();
}
