/*
 * tests/kernels/rt/printf.c - formatted output on the console: port 0xE9
 * (QEMU's -debugcon, svmx run's stdout), mirrored to COM1 when a UART is
 * there (bare metal).
 *
 * Conversions: %d %i %u %x %X %o %p %s %c %%, flags '-' '0' '#' ' ' '+',
 * a width (or '*'), a precision for %s, and the length modifiers hh h l ll
 * z j t.
 */
#include "rt.h"

typedef struct sink {
    char  *buf;   /* NULL: the console */
    size_t size, len;
} sink;

/* COM1 (a 16550 at 0x3F8), when rt_serial_init() found one. */
#define COM1 0x3f8
static bool com1;

void rt_serial_init(void)
{
    /* The scratch register (offset 7) keeps what is written to it on a
     * 16450/16550; nothing there reads back all ones. */
    rt_outb(COM1 + 7, 0x5a);
    if (rt_inb(COM1 + 7) != 0x5a)
        return;
    rt_outb(COM1 + 3, 0x80);    /* DLAB: the divisor follows           */
    rt_outb(COM1 + 0, 1);       /* 115200 baud                         */
    rt_outb(COM1 + 1, 0);
    rt_outb(COM1 + 3, 0x03);    /* 8 data bits, no parity, 1 stop bit  */
    rt_outb(COM1 + 2, 0xc7);    /* FIFOs on and cleared                */
    rt_outb(COM1 + 4, 0x03);    /* DTR, RTS                            */
    com1 = true;
}

static void serial_byte(uint8_t c)
{
    /* Wait (boundedly) for the transmit holding register to empty: LSR
     * bit 5. */
    for (unsigned i = 0; i < 100000 && !(rt_inb(COM1 + 5) & 0x20); i++)
        ;
    rt_outb(COM1, c);
}

/* A console byte: port 0xE9 (QEMU's -debugcon, svmx run's stdout), and
 * COM1 when there is one, so that a kernel on bare metal is seen too. */
static void console(char c)
{
    rt_outb(0xe9, (uint8_t)c);
    if (com1) {
        if (c == '\n')
            serial_byte('\r');
        serial_byte((uint8_t)c);
    }
}

static void put(sink *s, char c)
{
    if (!s->buf)
        console(c);
    else if (s->len + 1 < s->size)
        s->buf[s->len] = c;
    s->len++;
}

static void pad(sink *s, char c, int n)
{
    while (n-- > 0)
        put(s, c);
}

typedef struct spec {
    bool left, zero, alt, space, plus;
    int  width, prec;
} spec;

static void emit(sink *s, const spec *sp, const char *prefix,
                 const char *body, int len)
{
    int plen = (int)strlen(prefix);
    int fill = sp->width - len - plen;
    if (!sp->left && !sp->zero)
        pad(s, ' ', fill);
    for (const char *p = prefix; *p; p++)
        put(s, *p);
    if (!sp->left && sp->zero)
        pad(s, '0', fill);
    for (int i = 0; i < len; i++)
        put(s, body[i]);
    if (sp->left)
        pad(s, ' ', fill);
}

static void number(sink *s, const spec *sp, uint64_t v, bool neg,
                   unsigned base, bool upper, const char *alt)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = sizeof tmp;
    do {
        tmp[--n] = digits[v % base];
        v /= base;
    } while (v);
    const char *prefix = neg ? "-" : sp->plus ? "+" : sp->space ? " " : "";
    if (alt && sp->alt)
        prefix = alt;
    emit(s, sp, prefix, tmp + n, (int)sizeof tmp - n);
}

static int format(sink *s, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(s, *fmt);
            continue;
        }
        spec sp = { false, false, false, false, false, 0, -1 };
        for (;; fmt++) {
            char c = fmt[1];
            if (c == '-')
                sp.left = true;
            else if (c == '0')
                sp.zero = true;
            else if (c == '#')
                sp.alt = true;
            else if (c == ' ')
                sp.space = true;
            else if (c == '+')
                sp.plus = true;
            else
                break;
        }
        fmt++;
        if (*fmt == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) {
                sp.left = true;
                sp.width = -sp.width;
            }
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            sp.width = sp.width * 10 + (*fmt++ - '0');
        if (*fmt == '.') {
            sp.prec = 0;
            fmt++;
            if (*fmt == '*') {
                sp.prec = va_arg(ap, int);
                fmt++;
            }
            while (*fmt >= '0' && *fmt <= '9')
                sp.prec = sp.prec * 10 + (*fmt++ - '0');
        }
        int longs = 0;
        while (*fmt == 'l' || *fmt == 'h' || *fmt == 'z' || *fmt == 'j' ||
               *fmt == 't') {
            if (*fmt != 'h')
                longs = 1;
            fmt++;
        }
        char c = *fmt;
        if (!c)
            break;
        uint64_t u;
        int64_t i;
        switch (c) {
        case 'd':
        case 'i':
            i = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            number(s, &sp, i < 0 ? 0 - (uint64_t)i : (uint64_t)i, i < 0, 10,
                   false, NULL);
            break;
        case 'u':
        case 'x':
        case 'X':
        case 'o':
            u = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            if (c == 'u')
                number(s, &sp, u, false, 10, false, NULL);
            else if (c == 'o')
                number(s, &sp, u, false, 8, false, "0");
            else
                number(s, &sp, u, false, 16, c == 'X', c == 'X' ? "0X" : "0x");
            break;
        case 'p':
            sp.alt = true;
            number(s, &sp, (uint64_t)(uintptr_t)va_arg(ap, void *), false, 16,
                   false, "0x");
            break;
        case 'c': {
            char ch = (char)va_arg(ap, int);
            emit(s, &sp, "", &ch, 1);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            int len = (int)strlen(str);
            if (sp.prec >= 0 && sp.prec < len)
                len = sp.prec;
            sp.zero = false;
            emit(s, &sp, "", str, len);
            break;
        }
        default:
            put(s, c);
            break;
        }
    }
    return (int)s->len;
}

void rt_putc(char c)
{
    console(c);
}

void rt_puts(const char *str)
{
    while (*str)
        rt_putc(*str++);
}

int rt_vprintf(const char *fmt, va_list ap)
{
    sink s = { NULL, 0, 0 };
    return format(&s, fmt, ap);
}

int rt_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = rt_vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int rt_snprintf(char *buf, size_t n, const char *fmt, ...)
{
    sink s = { buf, n, 0 };
    va_list ap;
    va_start(ap, fmt);
    format(&s, fmt, ap);
    va_end(ap);
    if (n)
        buf[s.len < n ? s.len : n - 1] = 0;
    return (int)s.len;
}
