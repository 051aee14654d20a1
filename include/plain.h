/* plain.h: the line mode (--plain, TERM=dumb, or no terminal ncurses can drive): the consent flow as
 * numbered prompts written line by line for screen readers and braille displays (no escape sequence,
 * nothing overwritten), driving the same flow.c as the full-screen mode. */
#ifndef RENKEI_PLAIN_H
#define RENKEI_PLAIN_H
#include <stdbool.h>

#include "options.h"

/* Whether renkei runs in line mode: --plain, TERM unset, empty or "dumb", standard output not a
 * terminal, or a terminal ncurses cannot move the cursor on. */
bool plain_wanted(const struct options *o);

/* Run the whole flow in line mode (with --kiosk, flows until the input ends or a signal). Reads
 * standard input, writes standard output. Returns the exit status (include/exitcodes.h). */
int plain_run(const struct options *o);

#endif
