/* pause.c: the pod sandbox's init for hull's CRI tests (e2e/cri.sh builds it with gcc -static).
 * Holds the pod's namespaces open: sleeps until SIGINT/SIGTERM (then exits 0) and reaps every
 * child it inherits, as the Kubernetes pause container does. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) {
    (void)sig;
    _exit(0);
}

static void on_child(int sig) {
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

int main(int argc, char **argv) {
    if (argc > 1 && argv[1][0] == '-' && argv[1][1] == 'v') {
        puts("hull-cri-pause 1");
        return 0;
    }
    if (getpid() != 1)
        fprintf(stderr, "pause: warning: not pid 1\n");
    struct sigaction term = {.sa_handler = on_term};
    struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
    if (sigaction(SIGINT, &term, NULL) || sigaction(SIGTERM, &term, NULL) ||
        sigaction(SIGCHLD, &child, NULL)) {
        perror("pause: sigaction");
        return 1;
    }
    for (;;)
        pause();
}
