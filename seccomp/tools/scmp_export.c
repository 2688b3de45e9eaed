/* Comparison helper for hull-seccomp's tests (never linked into hull): builds a filter with C
 * libseccomp from a line-based description on stdin and writes libseccomp's BPF to stdout.
 *
 *   default <action>
 *   arch <token>
 *   rule <action> <syscall name> <nargs> [<index> <op> <datum_a> <datum_b>]...
 *
 * Numbers are decimal; ops are libseccomp's enum scmp_compare values (1 NE .. 7 MASKED_EQ).
 * Rules libseccomp refuses (e.g. an action equal to the default, a duplicate) are skipped, as
 * runc does with the first and reports with the second. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    char kind[16];
    unsigned long long action;
    scmp_filter_ctx ctx = NULL;
    while (scanf("%15s", kind) == 1) {
        if (!strcmp(kind, "default")) {
            if (scanf("%llu", &action) != 1) return 2;
            ctx = seccomp_init((uint32_t)action);
            if (!ctx) return 3;
        } else if (!strcmp(kind, "arch")) {
            unsigned long long token;
            if (scanf("%llu", &token) != 1 || !ctx) return 2;
            int rc = seccomp_arch_add(ctx, (uint32_t)token);
            if (rc != 0 && rc != -EEXIST) return 4;
        } else if (!strcmp(kind, "rule")) {
            char name[64];
            unsigned n;
            struct scmp_arg_cmp cmp[6];
            if (scanf("%llu %63s %u", &action, name, &n) != 3 || n > 6 || !ctx) return 2;
            for (unsigned i = 0; i < n; i++) {
                unsigned idx, op;
                unsigned long long a, b;
                if (scanf("%u %u %llu %llu", &idx, &op, &a, &b) != 4) return 2;
                cmp[i].arg = idx;
                cmp[i].op = op;
                cmp[i].datum_a = a;
                cmp[i].datum_b = b;
            }
            int nr = seccomp_syscall_resolve_name(name);
            if (nr == __NR_SCMP_ERROR) continue;
            seccomp_rule_add_array(ctx, (uint32_t)action, nr, n, cmp);
        } else {
            return 2;
        }
    }
    if (!ctx) return 2;
    return seccomp_export_bpf(ctx, 1) == 0 ? 0 : 5;
}
