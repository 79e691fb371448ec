/*
 * src/cpu/insn_seg.c - (being written)
 */
#include "cpu/exec.h"
