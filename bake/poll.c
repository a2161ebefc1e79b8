#include "bake/poll.h"
#include "core/common.h"
#include "core/util.h"

void kiln_poll_start(struct kiln_poll *p, double timeout, volatile int *stop)
{
	KILN_ASSERT_ARG(p != NULL && timeout >= 0);
	p->delay = 0;
	p->timeout = timeout;
	p->deadline = kiln_time_mono() + timeout;
	p->stop = stop;
}

double kiln_poll_next_delay(double prev)
{
	double next = prev <= 0 ? KILN_POLL_FIRST : prev * 2;

	return next > KILN_POLL_MAX ? KILN_POLL_MAX : next;
}

int kiln_poll_wait(struct kiln_poll *p, const char *what)
{
	double left = p->deadline - kiln_time_mono();
	int error;

	if (p->stop != NULL && *p->stop)
		return kiln_error_set(KILN_EINTR, "interrupted while waiting for %s", what);
	if (left <= 0)
		return kiln_error_set(KILN_ETIMEOUT, "timed out after %.0f s waiting for %s",
		                      p->timeout, what);
	p->delay = kiln_poll_next_delay(p->delay);
	error = kiln_sleep(p->delay < left ? p->delay : left, p->stop);
	if (error < 0)
		return kiln_error_set(KILN_EINTR, "interrupted while waiting for %s", what);
	return 0;
}
