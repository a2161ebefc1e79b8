/*
 * The deploy's pure parts: names within AWS's limits and unique per
 * environment, colours, the lease's record. The flow itself is tested end
 * to end (tests/integration/deploy_moto.py and deploy_local.py).
 */
#include <check.h>
#include <string.h>

#include "core/common.h"
#include "deploy/lease.h"
#include "deploy/names.h"

static int aws_name_ok(const char *s, size_t limit)
{
	size_t n = strlen(s);

	return n > 0 && n <= limit && s[0] != '-' && s[n - 1] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

START_TEST(names_are_plain_when_short)
{
	char *n = kiln_deploy_name("web", "prod", "blue", 32);

	ck_assert_str_eq(n, "kiln-web-prod-blue");
	free(n);
	n = kiln_deploy_name("web", NULL, NULL, 32);
	ck_assert_str_eq(n, "kiln-web-default");
	free(n);
}
END_TEST

/* The longest profile and environment names still give valid, distinct names. */
START_TEST(names_fit_32_and_stay_distinct)
{
	const char *p = "abcdefghijklmnopqrstuvwxyz012345"; /* 32: the profile limit */
	const char *envs[] = {"production-eu-west-1-primary-aa", "production-eu-west-1-primary-ab"};
	const char *suffixes[] = {NULL, "blue", "green"};
	char *all[6];
	size_t i, k, n = 0;

	for (i = 0; i < 2; i++)
		for (k = 0; k < 3; k++) {
			all[n] = kiln_deploy_name(p, envs[i], suffixes[k], 32);
			ck_assert_msg(aws_name_ok(all[n], 32), "'%s'", all[n]);
			n++;
		}
	for (i = 0; i < n; i++)
		for (k = i + 1; k < n; k++)
			ck_assert_str_ne(all[i], all[k]);
	/* The same inputs give the same name: found again by it. */
	{
		char *again = kiln_deploy_name(p, envs[1], "green", 32);
		ck_assert_str_eq(again, all[5]);
		free(again);
	}
	for (i = 0; i < n; i++)
		free(all[i]);
}
END_TEST

START_TEST(group_names_keep_the_release_readable)
{
	char *n = kiln_deploy_group_name("web", "dev", KILN_GREEN, "v1.1.0", "3fa2c1d0");
	char *odd = kiln_deploy_group_name("web", "dev", KILN_BLUE, "rel/2026 11:x*", "00000000");

	ck_assert_str_eq(n, "kiln-web-dev-green-v1.1.0-3fa2c1d0");
	ck_assert_str_eq(odd, "kiln-web-dev-blue-rel-2026-11-x--00000000");
	free(n);
	free(odd);
}
END_TEST

START_TEST(colors)
{
	ck_assert_str_eq(kiln_color_name(KILN_BLUE), "blue");
	ck_assert_str_eq(kiln_color_name(KILN_GREEN), "green");
	ck_assert_int_eq(kiln_color_parse("green"), KILN_GREEN);
	ck_assert_int_eq(kiln_color_parse("blue"), KILN_BLUE);
	ck_assert_int_eq(kiln_color_parse("Blue"), -1);
	ck_assert_int_eq(kiln_color_parse(NULL), -1);
}
END_TEST

START_TEST(lease_names)
{
	char *n = kiln_deploy_lease_name("web", "prod");

	ck_assert_str_eq(n, "/kiln/lease/web/prod");
	free(n);
	n = kiln_deploy_lease_name("web", NULL);
	ck_assert_str_eq(n, "/kiln/lease/web/default");
	free(n);
}
END_TEST

START_TEST(lease_record)
{
	struct kiln_lease_holder h;
	char *s;

	ck_assert_int_eq(kiln_lease_parse(&h, "{\"run_id\": \"deploy-1\", \"caller\": "
	                                      "\"arn:aws:iam::1:user/ci\", \"host\": \"ci-7\", "
	                                      "\"pid\": 42, \"started\": 1, \"expires\": "
	                                      "1800000000}"),
	                 0);
	ck_assert_str_eq(h.run_id, "deploy-1");
	ck_assert_str_eq(h.host, "ci-7");
	ck_assert_int_eq(h.pid, 42);
	ck_assert(h.expires == 1800000000.0);
	s = kiln_lease_holder_describe(&h);
	ck_assert_str_eq(s, "run deploy-1 (arn:aws:iam::1:user/ci on ci-7, pid 42) until "
	                    "2027-01-15T08:00:00Z");
	free(s);
	kiln_lease_holder_release(&h);
}
END_TEST

/* A parameter that is not a lease is refused, and a hostile one is escaped in messages. */
START_TEST(lease_record_hostile)
{
	struct kiln_lease_holder h;
	char *s;

	ck_assert_int_eq(kiln_lease_parse(&h, "not json"), KILN_EINVAL);
	ck_assert_int_eq(kiln_lease_parse(&h, "{\"run_id\": \"x\"}"), KILN_EINVAL);
	ck_assert_int_eq(kiln_lease_parse(&h, "{\"expires\": 1}"), KILN_EINVAL);
	ck_assert_int_eq(kiln_lease_parse(&h, "[1, 2]"), KILN_EINVAL);
	ck_assert_int_eq(
	    kiln_lease_parse(
	        &h, "{\"run_id\": \"a\\u001b[31mb\", \"host\": \"h\\nx\", \"expires\": 0}"),
	    0);
	s = kiln_lease_holder_describe(&h);
	ck_assert_ptr_null(strchr(s, '\033'));
	ck_assert_ptr_null(strchr(s, '\n'));
	free(s);
	kiln_lease_holder_release(&h);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("deploy");
	TCase *tc = tcase_create("names");

	tcase_add_test(tc, names_are_plain_when_short);
	tcase_add_test(tc, names_fit_32_and_stay_distinct);
	tcase_add_test(tc, group_names_keep_the_release_readable);
	tcase_add_test(tc, colors);
	tcase_add_test(tc, lease_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("lease");
	tcase_add_test(tc, lease_record);
	tcase_add_test(tc, lease_record_hostile);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
