/*
 * The report's layout, shared by report.c (the results, JSON) and junit.c
 * (JUnit XML); not for other files.
 */
#ifndef KILN_VALIDATE_REPORT_INT_H
#define KILN_VALIDATE_REPORT_INT_H

#include "kiln/report.h"

struct kiln_report {
	char *profile, *env;
	struct kiln_result *v; /* strings owned */
	size_t n, alloc;
};

#endif
