/*
 * Checks on a machine (DESIGN.md §7): each check of a profile's
 * validate.checks becomes one POSIX shell script that exits 0 when the check
 * holds, and otherwise prints one line saying what was found and exits 1.
 * The scripts rely only on what a minimal Debian (or busybox) system has:
 * sh, test, stat, grep, awk, sha256sum, id, /proc/net. Values from the
 * profile are always single-quoted, never expanded.
 *
 * The checks come typed and checked from profiles/ (struct kiln_check_spec).
 */
#ifndef KILN_VALIDATE_CHECKS_H
#define KILN_VALIDATE_CHECKS_H

#include "core/buf.h"
#include "profiles/spec.h"

/* A short description: "file /opt/web/VERSION contains 'v1.0.0'"; free() it. */
char *kiln_check_label(const struct kiln_check_spec *check);
/* The shell script for `check`, appended to `out`. */
int kiln_check_script(struct kiln_buf *out, const struct kiln_check_spec *check);

/*
 * An HTTP check (validate.http) as a script run on the machine: GET
 * http://127.0.0.1:PORT/PATH with curl or wget, then status, body and
 * headers judged; on failure one line says what was found.
 */
int kiln_http_check_script(struct kiln_buf *out, const struct kiln_http_check_spec *check);
/* "http GET :8080/health status 200", or the check's name; free() it. */
char *kiln_http_check_label(const struct kiln_http_check_spec *check);

#endif
