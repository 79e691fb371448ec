/*
 * src/decode/describe.c - one line of text per decoded instruction: its
 * class, length, prefixes and exit inputs. Used by `svmx decode` and by the
 * decoder tests, which compare against these lines; never on a hot path.
 */
#include <stdarg.h>
#include <stdio.h>

#include "decode/decode_internal.h"

static const char *const gpr_names[16] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
};
static const char *const seg_names[SVMX_SEG_COUNT] = {
    "es", "cs", "ss", "ds", "fs", "gs",
};

static const char *gpr_name(unsigned n)
{
    return n < 16 ? gpr_names[n] : "-";
}

static const char *seg_name(unsigned s)
{
    return s < SVMX_SEG_COUNT ? seg_names[s] : "-";
}

typedef struct out_buf {
    char  *p;
    size_t size, len;
} out_buf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(out_buf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->size ? o->size - o->len : 0;
    int n = vsnprintf(room ? o->p + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static void describe_io(out_buf *o, const svmx_io_inputs *io)
{
    if (io->port_in_dx)
        put(o, " io port=dx");
    else
        put(o, " io port=0x%x", io->port);
    put(o, " size=%u %s%s%s a%u", io->size, io->is_in ? "in" : "out",
        io->string ? " str" : "", io->rep ? " rep" : "",
        io->address_size * 8u);
    if (io->segment != SVMX_SEG_NONE)
        put(o, " seg=%s", seg_name(io->segment));
    put(o, " svm=0x%08x vmxq=0x%08x", io->svm_exitinfo1,
        io->vmx_qualification);
    if (io->string)
        put(o, " vmxi=0x%08x", io->vmx_insn_info);
}

static void describe_crdr(out_buf *o, const svmx_insn *insn)
{
    const svmx_crdr_inputs *c = &insn->crdr;
    switch ((svmx_insn_class)insn->cls) {
    case SVMX_INSN_MOV_CR:
    case SVMX_INSN_MOV_DR:
        put(o, " %s%u %s %s", insn->cls == SVMX_INSN_MOV_CR ? "cr" : "dr",
            c->num, c->write ? "<-" : "->", gpr_name(c->gpr));
        break;
    case SVMX_INSN_LMSW:
        put(o, " src=%s", c->lmsw_mem ? "mem" : gpr_name(c->gpr));
        break;
    case SVMX_INSN_CLTS:
        break;
    default:
        return;
    }
    put(o, " vmxq=0x%08x", c->vmx_qualification);
}

size_t svmx_insn_describe(const svmx_insn *insn, char *buf, size_t size)
{
    out_buf o = { buf, buf ? size : 0, 0 };
    if (o.size)
        buf[0] = '\0';
    if (!insn)
        return 0;
    if (insn->fault == SVMX_DECODE_FAULT_UD) {
        put(&o, "#UD");
        return o.len;
    }
    if (insn->fault == SVMX_DECODE_FAULT_GP) {
        put(&o, "#GP(0) len=%u", insn->length);
        return o.len;
    }

    put(&o, "%s len=%u", svmx_insn_class_name((svmx_insn_class)insn->cls),
        insn->length);
    if (insn->prefixes & SVMX_PFX_LOCK)
        put(&o, " lock");
    if (insn->cond != 0xff && (insn->cls == SVMX_INSN_JCC ||
                               insn->cls == SVMX_INSN_SETCC ||
                               insn->cls == SVMX_INSN_CMOVCC ||
                               insn->cls == SVMX_INSN_LOOP))
        put(&o, " cc=%x", insn->cond);
    if (svmx_insn_class_flags((svmx_insn_class)insn->cls) & SVMX_ICF_IO)
        describe_io(&o, &insn->io);
    describe_crdr(&o, insn);
    if (insn->has_vmx_insn_info)
        put(&o, " vmxi=0x%08x", insn->vmx_insn_info);
    return o.len;
}
