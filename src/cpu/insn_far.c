/*
 * src/cpu/insn_far.c - (being written)
 */
#include "cpu/exec.h"
