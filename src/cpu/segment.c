/*
 * src/cpu/segment.c - (being written)
 */
#include "cpu/exec.h"
