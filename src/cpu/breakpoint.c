/*
 * src/cpu/breakpoint.c - matching accesses against DR0-DR3 (see
 * breakpoint.h).
 *
 * DR7 layout (SDM Vol. 3B 18.2.4, Figure 18-1; APM Vol. 2 13.1.1.5):
 *   bits 2n, 2n+1     Ln, Gn: breakpoint n enabled (locally, globally;
 *                     the model has no task switches, so both mean "on")
 *   bits 16+4n..17+4n R/Wn: 00 instruction execution, 01 data writes,
 *                     10 I/O reads and writes (CR4.DE = 1), 11 data reads
 *                     and writes
 *   bits 18+4n..19+4n LENn: 00 1 byte, 01 2, 11 4, 10 8 bytes
 * The address in DRn is aligned down to the length (18.2.5: "the
 * breakpoint address ... must be aligned on ... boundary"; unaligned low
 * bits are ignored by the processor).
 *
 * Choices where the manuals leave room (docs/interpreter.md):
 *   - B0-B3 are set only for enabled breakpoints (18.2.3 allows either);
 *   - LEN = 10 is 8 bytes in every mode (18.2.5: 8 bytes or undefined);
 *   - an instruction breakpoint with LEN != 00 still matches the one
 *     address in DRn (18.2.5 calls that undefined);
 *   - R/W = 10 with CR4.DE = 0 matches nothing (undefined in 18.2.4).
 */
#include "cpu/breakpoint.h"
#include "cpu/cpu_internal.h"

enum { RW_EXEC = 0, RW_WRITE = 1, RW_IO = 2, RW_DATA = 3 };

static unsigned rw_of(uint64_t dr7, unsigned n)
{
    return (unsigned)(dr7 >> (16 + 4 * n)) & 3;
}

static uint64_t len_of(uint64_t dr7, unsigned n)
{
    static const uint8_t bytes[4] = { 1, 2, 8, 4 };
    return bytes[(dr7 >> (18 + 4 * n)) & 3];
}

static bool on(uint64_t dr7, unsigned n)
{
    return (dr7 >> (2 * n)) & 3;
}

/* Does [a, a + size - 1] overlap breakpoint n's range? */
static bool overlaps(const svmx_cpu *cpu, unsigned n, uint64_t a, unsigned size)
{
    uint64_t len = len_of(cpu->dregs.dr7, n);
    uint64_t base = cpu->dregs.dr[n] & ~(len - 1);
    return a <= base + len - 1 && base <= a + size - 1;
}

unsigned bp_instruction(const svmx_cpu *cpu, uint64_t lin)
{
    uint64_t dr7 = cpu->dregs.dr7;
    unsigned hits = 0;
    for (unsigned n = 0; n < 4; n++)
        if (on(dr7, n) && rw_of(dr7, n) == RW_EXEC && cpu->dregs.dr[n] == lin)
            hits |= 1u << n;
    return hits;
}

void bp_data_access(svmx_cpu *cpu, uint64_t lin, unsigned size, bool write)
{
    uint64_t dr7 = cpu->dregs.dr7;
    for (unsigned n = 0; n < 4; n++) {
        unsigned rw = rw_of(dr7, n);
        if (on(dr7, n) && (rw == RW_DATA || (rw == RW_WRITE && write)) &&
            overlaps(cpu, n, lin, size))
            cpu->bp_hits |= (uint8_t)(1u << n);
    }
}

void bp_io_access(svmx_cpu *cpu, uint16_t port, unsigned size)
{
    uint64_t dr7 = cpu->dregs.dr7;
    if (!(cpu->sregs.cr4 & CPU_CR4_DE))
        return;
    for (unsigned n = 0; n < 4; n++)
        if (on(dr7, n) && rw_of(dr7, n) == RW_IO && overlaps(cpu, n, port, size))
            cpu->bp_hits |= (uint8_t)(1u << n);
}
