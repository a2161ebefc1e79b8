/*
 * The library's events as people read them on stderr: one "kiln: ..." line
 * per step, warnings and errors as the log prints them, remote output as
 * "[label] line" with -v, and a percentage for uploads on a terminal.
 */
#include "cli/cli.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

static void transfer(const struct kiln_event *ev)
{
	if (!isatty(STDERR_FILENO))
		return;
	if (ev->total > 0)
		fprintf(stderr, "\rkiln: uploading %s: %3d%%%s", ev->label,
		        (int)(ev->done * 100 / ev->total), ev->done == ev->total ? "\n" : "");
	else
		fprintf(stderr, "\rkiln: uploading %s: %llu MiB", ev->label,
		        (unsigned long long)(ev->done >> 20));
}

int cli_on_event(const struct kiln_event *ev, void *payload)
{
	(void)payload;
	switch (ev->kind) {
	case KILN_EVENT_PROGRESS:
		if (kiln_log_enabled(KILN_LOG_WARN))
			fprintf(stderr, "kiln: %s\n", ev->message);
		break;
	case KILN_EVENT_TRANSFER:
		if (kiln_log_enabled(KILN_LOG_WARN))
			transfer(ev);
		break;
	case KILN_EVENT_OUTPUT:
		/* A hook's output is for the operator, as the hook's author meant (escaped). */
		if (ev->label != NULL && strcmp(ev->label, "hook") == 0 &&
		    kiln_log_enabled(KILN_LOG_WARN))
			fprintf(stderr, "[hook] %s\n", ev->message);
		else
			kiln_log_info("[%s] %s", ev->label, ev->message);
		break;
	case KILN_EVENT_WARNING:
		kiln_log_warn("%s", ev->message);
		break;
	case KILN_EVENT_ERROR:
		kiln_log_error("%s", ev->message);
		break;
	default:
		break;
	}
	return 0;
}

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* No SA_RESTART: blocking calls return early and see the flag. */
volatile int *cli_stop_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return &stop_flag;
}
