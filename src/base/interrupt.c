#include "base/interrupt.h"

#include <signal.h>
#include <string.h>

/* The one piece of process state a signal handler may touch. */
static volatile sig_atomic_t pending_sig;

static void on_signal(int sig) {
    if (pending_sig && sig == SIGINT) {
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
        return;
    }
    pending_sig = sig;
}

void nt_interrupt_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool nt_interrupt_pending(void) { return pending_sig != 0; }
int nt_interrupt_signal(void) { return (int)pending_sig; }
