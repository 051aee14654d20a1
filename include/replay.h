/* replay.h: `renkei --replay TRACE`: the recorded flow in the real screens, no network. The REST
 * client answers from the trace's answers in order (api_set_replay), the recorded actions are fed
 * as keys one at a time (ui_set_key_source), the engineer steps with Space/n, p, g, q. */
#ifndef RENKEI_REPLAY_H
#define RENKEI_REPLAY_H

#include "options.h"

/* Read o->replay and play it (o's server, language and user code are set from the trace's
 * header). The exit status: EXIT_ALLOWED, EXIT_USAGE for a bad trace (FILE:LINE: what is wrong on
 * stderr), EXIT_ERROR without a terminal. */
int replay_run(struct options *o);

#endif
