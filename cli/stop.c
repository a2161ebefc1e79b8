/*
 * Ctrl-C and SIGTERM for the commands that change the cloud: the handler
 * only sets a flag, which the library's options carry as `stop`; the stage
 * then stops at its next safe point and cleans up what it made.
 */
#include "cli/cli.h"

#include <signal.h>
#include <string.h>

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

volatile int *cli_stop_flag(void)
{
	struct sigaction sa;

	/* No SA_RESTART: blocking calls return early and see the flag. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return &stop_flag;
}
