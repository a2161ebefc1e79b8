/*
 * Common definitions shared by every module of libkiln: error codes, the
 * per-thread error slot, allocation that aborts on failure, and argument
 * assertions.
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

#ifdef KILN_UNITTEST
#define KILN_STATIC
#else
#define KILN_STATIC static
#endif

#define KILN_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#define KILN_NORETURN      __attribute__((noreturn))
#define KILN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum kiln_error_code {
	KILN_OK = 0,
	KILN_ERROR = -1,  /* failure outside kiln: cloud, remote, machine */
	KILN_EINVAL = -2, /* bad input: profile, flag, repo, reply */
	KILN_ENOTFOUND = -3,
	KILN_ETIMEOUT = -4,
	KILN_EAUTH = -5,
	KILN_EINTR = -6, /* interrupted by a signal */
	KILN_EEXISTS = -7,
	KILN_ETOOBIG = -8, /* a size cap was hit */
};

/* Set the calling thread's error message; returns `code` for tail calls. */
int kiln_error_set(int code, const char *fmt, ...) KILN_PRINTF(2, 3);
int kiln_error_vset(int code, const char *fmt, va_list ap) KILN_PRINTF(2, 0);
/* Put "context: " in front of the current message; returns `code`. */
int kiln_error_prefix(int code, const char *fmt, ...) KILN_PRINTF(2, 3);
/* The last message of this thread, "" when none; borrowed. */
const char *kiln_error_last(void);
/* The code stored with the last message (KILN_OK when none). */
int kiln_error_last_code(void);
void kiln_error_clear(void);
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
