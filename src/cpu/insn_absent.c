/*
 * src/cpu/insn_absent.c - instructions of features the personality does
 * not offer. Their CPUID bit is clear, so executing one is #UD, as on a
 * processor without the feature (SDM Vol. 2, each instruction's
 * "Protected Mode Exceptions": "#UD If CPUID...[bit] = 0"; APM Vol. 3
 * likewise). Should a personality ever advertise one of them, the model
 * stops UNSUPPORTED instead of guessing.
 */
#include "cpu/exec.h"
#include "svm/svm_exec.h"

/* A CPUID feature bit: leaf, subleaf, register (0 EAX .. 3 EDX), bit. */
typedef struct feature_bit {
    uint32_t leaf, subleaf;
    uint8_t  reg, bit;
} feature_bit;

enum { EAX, EBX, ECX, EDX };

/* Class -> the CPUID bit that enumerates it (SDM Vol. 2 / APM Vol. 3,
 * the instruction pages' CPUID Feature Flag column). */
static const feature_bit features[SVMX_INSN_CLASS_COUNT] = {
    [SVMX_INSN_INVPCID]   = { 7, 0, EBX, 10 },
    [SVMX_INSN_XSAVES]    = { 0xd, 1, EAX, 3 },
    [SVMX_INSN_XRSTORS]   = { 0xd, 1, EAX, 3 },
    [SVMX_INSN_RDRAND]    = { 1, 0, ECX, 30 },
    [SVMX_INSN_RDSEED]    = { 7, 0, EBX, 18 },
    [SVMX_INSN_RDPRU]     = { 0x80000008u, 0, EBX, 4 },
    [SVMX_INSN_UMWAIT]    = { 7, 0, ECX, 5 },
    [SVMX_INSN_TPAUSE]    = { 7, 0, ECX, 5 },
    [SVMX_INSN_INVLPGB]   = { 0x80000008u, 0, EBX, 3 },
    [SVMX_INSN_TLBSYNC]   = { 0x80000008u, 0, EBX, 3 },
    [SVMX_INSN_MCOMMIT]   = { 0x80000008u, 0, EBX, 8 },
    [SVMX_INSN_GETSEC]    = { 1, 0, ECX, 6 },
    [SVMX_INSN_ENCLS]     = { 7, 0, EBX, 2 },
    [SVMX_INSN_ENCLV]     = { 7, 0, EBX, 2 },
    [SVMX_INSN_PCONFIG]   = { 7, 0, EDX, 18 },
    [SVMX_INSN_LOADIWKEY] = { 0x19, 0, EBX, 0 },
};

static bool offered(const svmx_cpu *cpu, const feature_bit *fb)
{
    svmx_cpuid_result r;
    svmx_cpu_cpuid(cpu, fb->leaf, fb->subleaf, &r);
    uint32_t v = fb->reg == EAX ? r.eax : fb->reg == EBX ? r.ebx
               : fb->reg == ECX ? r.ecx : r.edx;
    return (v >> fb->bit) & 1;
}

cpu_res insn_absent(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    if (offered(cpu, &features[insn->cls]))
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                         "an advertised feature's instruction is not modelled");
    return cpu_raise(f, CPU_VEC_UD, false, 0);
}

/* RSM outside system-management mode, which is never entered here:
 * #UD (SDM Vol. 2B RSM, APM Vol. 3 RSM). */
cpu_res insn_rsm(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    /* SVM: RSM's intercept precedes its #UD (APM Vol. 2 15.9; src/svm) */
    cpu_res r = svm_intercept(cpu, SVMX_SVM_EXIT_RSM, 0, 0);
    return r != CPU_OK ? r : cpu_raise(f, CPU_VEC_UD, false, 0);
}

/*
 * The VMX instructions while the CPU is not in VMX operation, which this
 * model never enters yet: #UD on the AMD personality, which has no VMX
 * (CPUID.1:ECX.VMX = 0), and on the Intel one for every VMX instruction
 * but VMXON ("#UD if not in VMX operation", SDM Vol. 2C each VMX
 * instruction; VMCALL and VMFUNC likewise outside VMX non-root
 * operation). VMXON itself is #UD with CR4.VMXE = 0 (SDM Vol. 2C VMXON);
 * with CR4.VMXE = 1 it would enter VMX operation, which the VMX issue
 * brings: until then the run stops UNSUPPORTED.
 */
cpu_res insn_vmx(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    /* VMCALL is the Intel personality's hypercall: the L0 policy sees it
     * from L1 before the #UD of a CPU outside VMX operation (DESIGN.md R1,
     * src/nested/route.c); on AMD it is #UD like the rest. */
    if (cpu->vendor == SVMX_VENDOR_INTEL && insn->cls == SVMX_INSN_VMCALL) {
        cpu_res r = svm_intercept(cpu, SVMX_SVM_EXIT_VMMCALL, 0, 0);
        if (r != CPU_OK)
            return r;
    }
    if (cpu->vendor == SVMX_VENDOR_INTEL && insn->cls == SVMX_INSN_VMXON &&
        (cpu->sregs.cr4 & CPU_CR4_VMXE))
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                         "VMX operation (VMXON) is not modelled yet");
    return cpu_raise(f, CPU_VEC_UD, false, 0);
}
