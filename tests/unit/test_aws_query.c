#include <check.h>
#include <string.h>

#include "aws/query.h"

START_TEST(encode_in_insertion_order)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_buf b = KILN_BUF_INIT;

	kiln_query_add(&q, "Action", "DescribeImages");
	kiln_query_add(&q, "Version", "2016-11-15");
	kiln_query_add(&q, "Filter.1.Name", "tag:kiln layer");
	kiln_query_add(&q, "Empty", "");
	kiln_query_add(&q, "Odd", "a+b/c=d&e~\xc3\xa9*");
	ck_assert_int_eq(kiln_query_encode(&b, &q), 0);
	ck_assert_str_eq(b.ptr, "Action=DescribeImages&Version=2016-11-15"
	                        "&Filter.1.Name=tag%3Akiln%20layer&Empty="
	                        "&Odd=a%2Bb%2Fc%3Dd%26e~%C3%A9%2A");
	kiln_buf_release(&b);
	kiln_query_release(&q);
	ck_assert_uint_eq(q.count, 0);
}
END_TEST

START_TEST(list_styles)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_buf b = KILN_BUF_INIT;
	const char *ids[] = {"ami-1", "ami-2"};
	const char *arns[] = {"arn:a", "arn:b", "arn:c"};

	kiln_query_add_list(&q, KILN_QUERY_EC2, "ImageId", ids, 2);
	kiln_query_add_list(&q, KILN_QUERY_MEMBER, "TargetGroupArns", arns, 3);
	kiln_query_addf(&q, "web", "Filter.%d.Value.%d", 1, 1);
	kiln_query_addf(&q, "Name", "TagSpecification.%d.Tag.%d.Key", 1, 2);
	kiln_query_add_list(&q, KILN_QUERY_EC2, "None", NULL, 0);
	ck_assert_uint_eq(q.count, 7);
	ck_assert_int_eq(kiln_query_encode(&b, &q), 0);
	ck_assert_str_eq(b.ptr, "ImageId.1=ami-1&ImageId.2=ami-2"
	                        "&TargetGroupArns.member.1=arn%3Aa&TargetGroupArns.member.2=arn%3Ab"
	                        "&TargetGroupArns.member.3=arn%3Ac&Filter.1.Value.1=web"
	                        "&TagSpecification.1.Tag.2.Key=Name");
	ck_assert_str_eq(kiln_query_get(&q, "TargetGroupArns.member.3"), "arn:c");
	ck_assert_ptr_null(kiln_query_get(&q, "ImageId.3"));
	kiln_buf_release(&b);
	kiln_query_release(&q);
}
END_TEST

START_TEST(parse_forms)
{
	struct kiln_query q = KILN_QUERY_INIT;
	const char *s = "Action=RunInstances&a=1&a=2&empty=&flag&&sp=a+b%20c&enc=%2B%2f%C3%A9";

	ck_assert_int_eq(kiln_query_parse(&q, s, strlen(s)), 0);
	ck_assert_uint_eq(q.count, 7);
	ck_assert_str_eq(kiln_query_get(&q, "Action"), "RunInstances");
	/* Repeated keys are all kept, in order; get() returns the first. */
	ck_assert_str_eq(q.params[1].key, "a");
	ck_assert_str_eq(q.params[1].value, "1");
	ck_assert_str_eq(q.params[2].key, "a");
	ck_assert_str_eq(q.params[2].value, "2");
	ck_assert_str_eq(kiln_query_get(&q, "a"), "1");
	ck_assert_str_eq(kiln_query_get(&q, "empty"), "");
	ck_assert_str_eq(kiln_query_get(&q, "flag"), "");
	ck_assert_str_eq(kiln_query_get(&q, "sp"), "a b c");
	ck_assert_str_eq(kiln_query_get(&q, "enc"), "+/\xc3\xa9");
	kiln_query_release(&q);

	ck_assert_int_eq(kiln_query_parse(&q, "", 0), 0);
	ck_assert_uint_eq(q.count, 0);
	/* Only `len` bytes are read. */
	ck_assert_int_eq(kiln_query_parse(&q, "k=v&ignored", 3), 0);
	ck_assert_uint_eq(q.count, 1);
	ck_assert_str_eq(kiln_query_get(&q, "k"), "v");
	kiln_query_release(&q);
}
END_TEST

START_TEST(parse_refuses_bad_escapes_and_keeps_out)
{
	struct kiln_query q = KILN_QUERY_INIT;

	kiln_query_add(&q, "kept", "1");
	ck_assert_int_eq(kiln_query_parse(&q, "a=1&b=%zz", 9), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "invalid query string"));
	ck_assert_uint_eq(q.count, 1);
	ck_assert_int_eq(kiln_query_parse(&q, "a=%2", 4), KILN_EINVAL);
	ck_assert_int_eq(kiln_query_parse(&q, "a=x%00y", 7), KILN_EINVAL);
	ck_assert_uint_eq(q.count, 1);
	kiln_query_release(&q);
}
END_TEST

START_TEST(round_trip)
{
	static const char *const values[] = {
	    "",     " ",       "+",      "%", "&=", "a b+c", "\xe6\x97\xa5\xe6\x9c\xac",
	    "~-._", "x\ty\nz", "/?#[]@",
	};
	struct kiln_query q = KILN_QUERY_INIT, back = KILN_QUERY_INIT;
	struct kiln_buf b = KILN_BUF_INIT;
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(values); i++)
		kiln_query_addf(&q, values[i], "K%zu%s", i, values[i]);
	ck_assert_int_eq(kiln_query_encode(&b, &q), 0);
	ck_assert_int_eq(kiln_query_parse(&back, b.ptr, b.size), 0);
	ck_assert_uint_eq(back.count, q.count);
	for (i = 0; i < q.count; i++) {
		ck_assert_str_eq(back.params[i].key, q.params[i].key);
		ck_assert_str_eq(back.params[i].value, q.params[i].value);
	}
	kiln_buf_release(&b);
	kiln_query_release(&q);
	kiln_query_release(&back);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("aws_query");
	TCase *tc = tcase_create("query");

	tcase_add_test(tc, encode_in_insertion_order);
	tcase_add_test(tc, list_styles);
	tcase_add_test(tc, parse_forms);
	tcase_add_test(tc, parse_refuses_bad_escapes_and_keeps_out);
	tcase_add_test(tc, round_trip);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
