/*
 * The profile's hooks and the audit log around a command's events: the
 * library's events pass through kiln_hooks_on_event() to cli_on_event().
 */
#include "cli/cli.h"

#include "kiln.h"

int cli_hooks(struct kiln_hooks **out, const struct kiln_cli *cli,
              const struct kiln_profile *profile, volatile int *stop)
{
	struct kiln_hooks_options ho = KILN_HOOKS_OPTIONS_INIT;

	ho.next = cli_on_event;
	ho.audit_file = cli->audit;
	ho.stop = stop;
	return kiln_hooks_new(out, profile, &ho);
}
