/* exitcodes.h: renkei's exit statuses, listed in --help and the manual page.
 * Scripts at a branch tell the outcome of a flow from these alone. */
#ifndef RENKEI_EXITCODES_H
#define RENKEI_EXITCODES_H

enum {
	EXIT_ALLOWED = 0, /* the customer allowed; the partner receives its token */
	EXIT_ERROR = 1,   /* network, TLS, server, configuration or token failure */
	EXIT_USAGE = 2,   /* bad command line or configuration */
	EXIT_DENIED = 3,  /* denied or cancelled: the partner receives access_denied */
	EXIT_LOCKED = 4,  /* the customer's login is locked */
	EXIT_STAFF = 5,   /* kiosk: staff left kiosk mode with their PIN (supervisors do not restart) */
};

#endif
