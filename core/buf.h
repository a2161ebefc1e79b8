/*
 * A growable byte buffer with a size cap (after curl's dynbuf). The data is
 * always NUL-terminated and `ptr` is never NULL, so it can be used as a C
 * string at any time. Anything read from outside (the network, a file, a
 * child process) goes into a buffer whose cap bounds how far it can grow:
 * appending past the cap fails with KILN_ETOOBIG and leaves the buffer as it
 * was.
 */
#ifndef KILN_CORE_BUF_H
#define KILN_CORE_BUF_H

#include "core/common.h"

#include <stdint.h>

struct kiln_buf {
	char *ptr;
	size_t size;  /* bytes used, not counting the terminating NUL */
	size_t asize; /* bytes allocated; 0 while ptr points at a static "" */
	size_t cap;   /* most bytes the buffer may hold */
};

extern char kiln_buf__empty[];

/* A buffer capped at 64 MiB; use kiln_buf_init() to choose a cap. */
#define KILN_BUF_DEFAULT_CAP ((size_t)64 << 20)
#define KILN_BUF_INIT                                                                              \
	{                                                                                          \
		kiln_buf__empty, 0, 0, KILN_BUF_DEFAULT_CAP                                        \
	}

void kiln_buf_init(struct kiln_buf *buf, size_t cap);
/* Free the contents; the buffer is empty and reusable afterwards. */
void kiln_buf_release(struct kiln_buf *buf);
/* Like release, but overwrites the contents first (secrets). */
void kiln_buf_wipe(struct kiln_buf *buf);
void kiln_buf_clear(struct kiln_buf *buf);
/* Hand the string to the caller (free() it); the buffer is empty afterwards. */
char *kiln_buf_detach(struct kiln_buf *buf);

int kiln_buf_put(struct kiln_buf *buf, const void *data, size_t len);
int kiln_buf_puts(struct kiln_buf *buf, const char *s);
int kiln_buf_putc(struct kiln_buf *buf, char c);
int kiln_buf_printf(struct kiln_buf *buf, const char *fmt, ...) KILN_PRINTF(2, 3);
int kiln_buf_vprintf(struct kiln_buf *buf, const char *fmt, va_list ap) KILN_PRINTF(2, 0);
/* Make room for `extra` more bytes without changing the contents. */
int kiln_buf_grow(struct kiln_buf *buf, size_t extra);
void kiln_buf_truncate(struct kiln_buf *buf, size_t len);
/* Remove trailing whitespace. */
void kiln_buf_rtrim(struct kiln_buf *buf);

/*
 * Bytes from outside (a file name from a repository, a line a remote command
 * printed, a server's message) made safe to show on a terminal: printable
 * ASCII, tabs and valid UTF-8 text are kept; every other byte becomes
 * "\xNN" (lowercase hex): control bytes (ESC, BEL, CR, NUL...), DEL, bytes
 * that are not valid UTF-8, and the UTF-8 encodings of C1 controls
 * (U+0080-U+009F, which some terminals obey like ESC) and of bidirectional
 * overrides (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C), which can
 * make text read otherwise than it is. A backslash is kept as it is: the
 * result is for people to read, and escaping escaped text changes nothing.
 * With KILN_ESCAPE_LINES, "\n" and "\r\n" are kept as line ends ("\n"),
 * for multi-line excerpts; with KILN_ESCAPE_BACKSLASH a backslash becomes
 * "\\", so that records can be read back unambiguously.
 */
#define KILN_ESCAPE_LINES     1u
#define KILN_ESCAPE_BACKSLASH 2u
int kiln_buf_put_escaped(struct kiln_buf *buf, const void *data, size_t len, unsigned flags);
/* The escaped copy of a C string, as above without flags; free() it. */
char *kiln_escape(const char *s);

#endif
