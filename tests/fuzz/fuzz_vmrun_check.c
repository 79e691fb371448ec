/*
 * tests/fuzz/fuzz_vmrun_check.c - libFuzzer entry point for the VMRUN
 * consistency checks and the VMCB lookups: the first 8 bytes pick the
 * capabilities, an exit code and a port/MSR, the rest is the VMCB (zero-
 * padded to 4 KiB). Nothing may crash, and every answer must be
 * deterministic and self-consistent - VMRUN's quick test
 * (svm_vmrun_check_fast) included: never true when a check fails, true
 * when all pass outside its corners; otherwise abort() keeps the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "svmx/svmx.h"
#include "svm/vmrun_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t head[8] = { 0 };
    size_t n = size < sizeof head ? size : sizeof head;
    memcpy(head, data, n);
    data += n;
    size -= n;

    svmx_vmcb vmcb;
    memset(&vmcb, 0, sizeof vmcb);
    memcpy(vmcb.bytes, data, size < sizeof vmcb ? size : sizeof vmcb);

    svmx_svm_caps caps;
    if (svmx_svm_caps_default(&caps) != SVMX_OK)
        abort();
    caps.maxphyaddr = (uint8_t)(32 + head[0] % 21);
    caps.long_mode = head[1] & 1;
    caps.host_paging = head[1] & 2;
    caps.host_long_mode = head[1] & 4;
    if (head[1] & 8)
        caps.svm_features ^= SVMX_SVM_FEATURE_NP;
    if (head[1] & 16)
        caps.svm_features |= SVMX_SVM_FEATURE_VNMI;
    if (head[1] & 32)
        caps.exception_vectors = ~0u;

    svmx_svm_check_result a, b;
    if (svmx_svm_vmrun_check(&vmcb, &caps, &a) != SVMX_OK ||
        svmx_svm_vmrun_check(&vmcb, &caps, &b) != SVMX_OK ||
        a.first != b.first || a.failed != b.failed || a.field != b.field ||
        a.value != b.value)
        abort();
    if ((a.failed == 0) != (a.first == SVMX_SVM_CHECK_OK) ||
        (a.failed & 1) || (a.first >= SVMX_SVM_CHECK_COUNT) ||
        (a.failed && (!((a.failed >> a.first) & 1) ||
                      (a.failed & ((1ull << a.first) - 1)))))
        abort();
    if (a.field != svmx_svm_check_field(a.first))
        abort();
    bool fast = svm_vmrun_check_fast(&vmcb, &caps);
    uint64_t maps = svmx_vmcb_get(&vmcb, SVMX_VMCB_IOPM_BASE_PA) |
                    svmx_vmcb_get(&vmcb, SVMX_VMCB_MSRPM_BASE_PA);
    bool corner = (svmx_vmcb_get(&vmcb, SVMX_VMCB_EVENTINJ) &
                   SVMX_SVM_EVENT_VALID) ||
                  (maps >> (caps.maxphyaddr - 1)) != 0;
    if (a.failed ? fast : !fast && !corner)
        abort();

    /* The exit table and the refine steps on the same bytes. */
    uint64_t code;
    memcpy(&code, head, sizeof code);
    code = (head[2] & 1) ? (uint64_t)(int64_t)(int8_t)head[3]
                         : code % 0x410;
    (void)svmx_svm_exit_name(code);
    const svmx_svm_exit_info *e = svmx_svm_exit_info_of(code);
    bool hit = svmx_svm_intercepted(&vmcb, code);
    if (e && e->intercept == SVMX_SVM_INTERCEPT_NONE && !hit)
        abort();
    if (!e && hit)
        abort();
    uint32_t msr = (uint32_t)head[4] << 24 | (uint32_t)head[5] << 8 |
                   head[6];
    (void)svmx_svm_msrpm_intercepted(vmcb.bytes, sizeof vmcb.bytes, msr,
                                     head[7] & 1);
    uint16_t port = (uint16_t)(head[5] << 8 | head[6]);
    (void)svmx_svm_iopm_intercepted(vmcb.bytes, head[4] * 16u, port,
                                    head[7] & 7);
    uint64_t exit_code = 0;
    (void)svmx_svm_cr0_write_intercepted(&vmcb, code, ~code, head[7] & 8,
                                         &exit_code);
    (void)svmx_vmcb_field_name((svmx_vmcb_field)(code & 0xfff));
    (void)svmx_vmcb_get(&vmcb, (svmx_vmcb_field)(code & 0xfff));
    return 0;
}
