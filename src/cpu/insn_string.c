/*
 * src/cpu/insn_string.c - (being written)
 */
#include "cpu/exec.h"
