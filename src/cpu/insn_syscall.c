/*
 * src/cpu/insn_syscall.c - (being written)
 */
#include "cpu/exec.h"
