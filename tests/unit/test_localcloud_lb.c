/*
 * The commands that change a load balancer's maps and ACLs at run time
 * (localcloud/lbsync.c), checked as text: HAProxy 2.6 reads a command line
 * within its buffer, takes a map's lines as one payload, and takes no
 * payload for "add acl" (one pattern a command).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "localcloud/lb-int.h"

#define PATH "/s/lbs/x/l_1.acl"

/* Every command for `content`, one a line of the result. */
static char *commands(const char *kind, const char *content, size_t *n, size_t *longest)
{
	struct kiln_buf all = KILN_BUF_INIT, cmd = KILN_BUF_INIT;
	const char *p = content, *end;

	*n = 0;
	*longest = 0;
	while (*p) {
		kiln_buf_clear(&cmd);
		lc_lb_add_command(&cmd, kind, 7, PATH, p, &end);
		ck_assert_ptr_ne(end, p); /* progress, always */
		p = end;
		if (cmd.size == 0)
			continue;
		(*n)++;
		if (cmd.size > *longest)
			*longest = cmd.size;
		kiln_buf_printf(&all, "%s\n", cmd.ptr);
	}
	kiln_buf_release(&cmd);
	return kiln_buf_detach(&all);
}

START_TEST(acl_is_one_pattern_a_command)
{
	size_t n, longest;
	char *out = commands("acl", "10.0.0.5\n\n192.168.1.0/24\n10.0.0.6", &n, &longest);

	/* no payload, no empty pattern (HAProxy refuses "add acl" without one) */
	ck_assert_str_eq(out, "add acl @7 " PATH " 10.0.0.5;add acl @7 " PATH
	                      " 192.168.1.0/24;add acl @7 " PATH " 10.0.0.6\n");
	ck_assert_uint_eq(n, 1);
	free(out);
}
END_TEST

START_TEST(large_acl_is_split_within_the_buffer)
{
	struct kiln_buf in = KILN_BUF_INIT;
	size_t n, longest, count = 0;
	char *out, *p;

	for (int i = 0; i < 2000; i++)
		kiln_buf_printf(&in, "10.%d.%d.0/24\n", i / 256, i % 256);
	out = commands("acl", in.ptr, &n, &longest);
	ck_assert_uint_gt(n, 1);
	ck_assert_uint_le(longest, 8192);
	for (p = out; (p = strstr(p, "add acl @7 ")) != NULL; p++)
		count++;
	ck_assert_uint_eq(count, 2000);
	ck_assert_ptr_nonnull(strstr(out, " 10.7.207.0/24\n")); /* the last one */
	free(out);
	kiln_buf_release(&in);
}
END_TEST

START_TEST(map_lines_go_as_payloads)
{
	struct kiln_buf in = KILN_BUF_INIT;
	size_t n, longest;
	char *out;

	for (int i = 0; i < 1000; i++)
		kiln_buf_printf(&in, "%d tg_0123456789abcdef\n", i);
	out = commands("map", in.ptr, &n, &longest);
	ck_assert_uint_gt(n, 1);
	ck_assert_uint_le(longest, 8192 + 64);
	ck_assert_ptr_nonnull(strstr(out, "add map @7 " PATH " <<\n0 tg_0123456789abcdef\n"));
	ck_assert_ptr_nonnull(strstr(out, "\n999 tg_0123456789abcdef\n"));
	free(out);
	kiln_buf_release(&in);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("localcloud_lb");
	TCase *tc = tcase_create("runtime");

	tcase_add_test(tc, acl_is_one_pattern_a_command);
	tcase_add_test(tc, large_acl_is_split_within_the_buffer);
	tcase_add_test(tc, map_lines_go_as_payloads);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
