/*
 * git for the unit suites that make repositories (test_layers, test_track):
 * run it in a directory with a fixed default branch, fail the test when it
 * fails, and return its output.
 */
#ifndef KILN_TEST_GIT_FIXTURE_H
#define KILN_TEST_GIT_FIXTURE_H

#include <check.h>
#include <stdarg.h>

#include "core/buf.h"
#include "core/proc.h"

/* Run git with the given arguments (NULL-terminated) in `dir`; return stdout. */
static char *git(const char *dir, ...)
{
	char *argv[32];
	struct kiln_buf out = KILN_BUF_INIT, err = KILN_BUF_INIT;
	va_list ap;
	int n = 0, status = -1;

	argv[n++] = "git";
	argv[n++] = "-C";
	argv[n++] = (char *)dir;
	argv[n++] = "-c";
	argv[n++] = "init.defaultBranch=main";
	va_start(ap, dir);
	while (n < 31 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	ck_assert_int_eq(kiln_proc_run(&status, &out, &err, argv), 0);
	if (status != 0)
		ck_abort_msg("git %s failed: %s", argv[5], err.ptr);
	kiln_buf_release(&err);
	kiln_buf_rtrim(&out);
	return kiln_buf_detach(&out);
}

#endif
