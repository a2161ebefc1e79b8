/*
 * What signing (aws/sigv4.c) and verifying (aws/sigv4_verify.c) share;
 * not for other modules.
 */
#ifndef KILN_AWS_SIGV4_INT_H
#define KILN_AWS_SIGV4_INT_H

#include "core/buf.h"

#define KILN_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

/* 1 when the ';'-separated `list` holds `name` exactly. */
int kiln_sigv4__list_has(const char *list, const char *name);

/* "AWS4-HMAC-SHA256\n<date>\n<scope>\n<sha256 of the canonical request>". */
int kiln_sigv4__string_to_sign(struct kiln_buf *out, const char *amz_date, const char *date8,
                               const char *region, const char *service, const char *canonical);

/* The hex signature of `string_to_sign` under the key derived from `secret`. */
int kiln_sigv4__signature_hex(char out[65], const char *secret, const char *date8,
                              const char *region, const char *service, const char *string_to_sign);

/* The value of the first header `name` (lower-case) in "Name: value" lines,
 * trimmed; NULL when absent. */
char *kiln_sigv4__header_value(const char *const *lines, const char *name);

#endif
