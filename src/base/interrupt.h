/* Ctrl-C for long loops: after nt_interrupt_install, SIGINT and SIGTERM only set a flag that
 * the loop polls at a safe point (the trainer: after an optimizer step, where it writes a
 * resumable checkpoint and stops). A second SIGINT while the flag is set ends the process the
 * default way, so a stuck program can still be stopped. */
#ifndef NEWT_BASE_INTERRUPT_H
#define NEWT_BASE_INTERRUPT_H

#include <stdbool.h>

void nt_interrupt_install(void);
bool nt_interrupt_pending(void);
int nt_interrupt_signal(void); /* the signal received (0: none) */

#endif
