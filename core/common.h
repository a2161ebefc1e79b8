/*
 * Common definitions shared by every module of libkiln: the error codes and
 * per-thread error slot of the public API (kiln/common.h) and what only the
 * library uses: adding context to errors, allocation that aborts on failure,
 * argument assertions.
 *
 * Functions return 0 on success and a negative KILN_E* code on failure, with
 * a message in the calling thread's error slot. Callers add context with
 * kiln_error_prefix(); they never overwrite a message set deeper down.
 */
#ifndef KILN_CORE_COMMON_H
#define KILN_CORE_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "kiln/common.h"

#ifdef KILN_UNITTEST
#define KILN_STATIC
#else
#define KILN_STATIC static
#endif

#define KILN_NORETURN      __attribute__((noreturn))
#define KILN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

int kiln_error_vset(int code, const char *fmt, va_list ap) KILN_PRINTF(2, 0);
/* Put "context: " in front of the current message; returns `code`. */
int kiln_error_prefix(int code, const char *fmt, ...) KILN_PRINTF(2, 3);
/* Map an error code to a process exit code: 2 for bad input, 1 otherwise. */
int kiln_exit_code(int error);

void *kiln_xmalloc(size_t n);
void *kiln_xcalloc(size_t nmemb, size_t size);
void *kiln_xrealloc(void *p, size_t n);
char *kiln_xstrdup(const char *s);
char *kiln_xstrndup(const char *s, size_t n);
char *kiln_xasprintf(const char *fmt, ...) KILN_PRINTF(1, 2);
KILN_NORETURN void kiln_die(const char *fmt, ...) KILN_PRINTF(1, 2);

/* Free after overwriting: for keys, tokens and anything secret. */
void kiln_free_secret(char *s);

#define KILN_ASSERT_ARG(cond)                                                                      \
	do {                                                                                       \
		if (!(cond))                                                                       \
			kiln_die("%s:%d: %s: invalid argument: %s", __FILE__, __LINE__, __func__,  \
			         #cond);                                                           \
	} while (0)

#endif
