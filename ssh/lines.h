/*
 * The output of a remote command, cut into lines: one splitter and one tail
 * for both ways of running a command (ssh/exec.c over libssh2, ssh/openssh.c
 * through ssh(1)); not for other modules.
 *
 * Each stream (stdout, stderr) is cut at '\n' (a '\r' before it is dropped).
 * A line goes to opts->on_line as the bytes came, NUL and control bytes
 * included; a line longer than KILN_SSH_LINE_MAX is passed on in pieces of
 * that size, so memory stays bounded whatever the command prints. Without
 * on_line, lines go to the log at info level as "[label] line", escaped
 * (kiln_buf_put_escaped). The tail keeps the last opts->tail_lines lines
 * (default 20) for error messages, escaped, each from at most
 * KILN_SSH_TAIL_LINE_MAX bytes of its line.
 */
#ifndef KILN_SSH_LINES_H
#define KILN_SSH_LINES_H

#include "ssh/session.h"

#define KILN_SSH_LINE_MAX      (64 * 1024)
#define KILN_SSH_TAIL_LINE_MAX 1024

struct kiln_ssh_lines {
	const struct kiln_ssh_exec_opts *opts; /* borrowed */
	const char *label;
	struct kiln_buf partial[2]; /* per stream, the line not yet ended */
	char **tail;                /* a ring of tail_max escaped lines */
	size_t tail_max, tail_count, tail_next;
};

void kiln_ssh_lines_init(struct kiln_ssh_lines *l, const struct kiln_ssh_exec_opts *opts);
/* Cut `n` bytes of `stream` into lines, passing on every line ended. */
void kiln_ssh_lines_feed(struct kiln_ssh_lines *l, enum kiln_ssh_stream stream, const char *p,
                         size_t n);
/* Pass on unfinished lines (a last line without '\n') and fill opts->tail. */
void kiln_ssh_lines_finish(struct kiln_ssh_lines *l);
/* The tail so far, oldest first, joined with `sep`, into `out` (cleared first). */
void kiln_ssh_lines_tail(const struct kiln_ssh_lines *l, struct kiln_buf *out, const char *sep);
void kiln_ssh_lines_release(struct kiln_ssh_lines *l);

#endif
