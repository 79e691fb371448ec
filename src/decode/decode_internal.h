/*
 * src/decode/decode_internal.h - cross-file internals of the decoder.
 */
#ifndef SVMX_DECODE_INTERNAL_H
#define SVMX_DECODE_INTERNAL_H

#include <Zydis/Zydis.h>

#include "svmx/decode.h"

/* Class of a Zydis mnemonic before operand-based refinement; OTHER if the
 * model has no class for it. */
svmx_insn_class decode_class_of(ZydisMnemonic mnemonic);

/* Condition code (0-15) of a Jcc/SETcc/CMOVcc mnemonic, or 0xff. */
uint8_t decode_cond_of(ZydisMnemonic mnemonic);

/* Initialises a Zydis decoder for an svmx mode; false for a bad mode. */
bool decode_init_zydis(ZydisDecoder *dec, svmx_mode mode);

/* svmx_decode() with a ready decoder: the cache's miss path. */
svmx_status decode_with(const ZydisDecoder *dec, svmx_mode mode,
                        unsigned flags, const uint8_t *bytes, size_t len,
                        svmx_insn *out, size_t *needed);

/* Fills insn->io, insn->crdr and insn->vmx_insn_info for the classes that
 * have exit inputs. Runs once per decode, never on an exit path. */
void decode_exit_inputs(svmx_insn *insn);

#endif /* SVMX_DECODE_INTERNAL_H */
