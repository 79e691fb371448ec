/*
 * tools/svmx.c - the svmx command: dispatch to subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "svmx/svmx.h"
#include "cmd.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: svmx COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  decode [--mode M] [--cpu amd|intel] [HEXBYTES...]\n"
            "          decode x86 instructions and print each one's class,\n"
            "          length and exit inputs; without bytes, a built-in\n"
            "          sample of intercepted instructions\n"
            "  run [--cpu amd|intel] [-m MIB] [--max-insns N] [--trace WHAT]\n"
            "      [--trace-format text|jsonl] [--digest] [KERNEL]\n"
            "          load a multiboot kernel as QEMU's -kernel does and run it\n"
            "  version print the library version\n"
            "  help    this text\n"
            "\n"
            "Run 'svmx decode --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "svmx: missing command (try 'svmx help')\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "decode"))
        return cmd_decode(argc - 1, argv + 1);
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("svmx %s\n", svmx_version_string());
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "svmx: unknown command '%s' (try 'svmx help')\n", cmd);
    return 2;
}
