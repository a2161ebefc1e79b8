/*
 * Shared main() for the Check suites: each test file defines
 * `Suite *kiln_test_suite(void)` and includes this header last.
 */
#ifndef KILN_TEST_CHECK_MAIN_H
#define KILN_TEST_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

Suite *kiln_test_suite(void);

int main(void)
{
	SRunner *sr = srunner_create(kiln_test_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
