/*
 * src/cpu/insn_io.c - (being written)
 */
#include "cpu/exec.h"
