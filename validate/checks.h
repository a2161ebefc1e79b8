/*
 * Checks on a machine (DESIGN.md §7): each check of a profile's
 * validate.checks becomes one POSIX shell script that exits 0 when the check
 * holds, and otherwise prints one line saying what was found and exits 1.
 * The scripts rely only on what a minimal Debian (or busybox) system has:
 * sh, test, stat, grep, awk, sha256sum, id, /proc/net. Values from the
 * profile are always single-quoted, never expanded.
 *
 * The profile module has already checked the shape of every check.
 */
#ifndef KILN_VALIDATE_CHECKS_H
#define KILN_VALIDATE_CHECKS_H

#include <jansson.h>

#include "core/buf.h"

/* A short description: "file /opt/web/VERSION contains 'v1.0.0'". */
char *kiln_check_label(const json_t *check);
/* The shell script for `check`, appended to `out`. */
int kiln_check_script(struct kiln_buf *out, const json_t *check);

#endif
