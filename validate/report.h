/*
 * Reports (kiln/report.h) from inside the library: stages append results.
 * The strings given are copied; `message` is escaped for a terminal (it
 * may hold what a machine printed or a server answered), bounded in length.
 */
#ifndef KILN_VALIDATE_REPORT_H
#define KILN_VALIDATE_REPORT_H

#include "kiln/report.h"

/* Say what the report is about, unless a stage already did. */
void kiln_report_subject(struct kiln_report *report, const char *profile, const char *env);

/* Append one result; `message` and `where` may be NULL. */
void kiln_report_add(struct kiln_report *report, const char *stage, const char *name,
                     const char *kind, int passed, double duration_s, const char *message,
                     const char *where);

#endif
