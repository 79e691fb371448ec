/*
 * src/cpu/insn_system.c - (being written)
 */
#include "cpu/exec.h"
