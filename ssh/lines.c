#include "ssh/lines.h"

#include <string.h>

#include "core/log.h"

#define DEFAULT_TAIL 20

void kiln_ssh_lines_init(struct kiln_ssh_lines *l, const struct kiln_ssh_exec_opts *opts)
{
	int i;

	KILN_ASSERT_ARG(l != NULL && opts != NULL);
	memset(l, 0, sizeof(*l));
	l->opts = opts;
	l->label = opts->label ? opts->label : "remote";
	for (i = 0; i < 2; i++)
		kiln_buf_init(&l->partial[i], KILN_SSH_LINE_MAX);
	l->tail_max = opts->tail == NULL ? 0 : opts->tail_lines ? opts->tail_lines : DEFAULT_TAIL;
	if (l->tail_max > 0)
		l->tail = kiln_xcalloc(l->tail_max, sizeof(*l->tail));
}

static void add_tail(struct kiln_ssh_lines *l, const char *line, size_t len)
{
	struct kiln_buf esc;

	if (l->tail_max == 0)
		return;
	kiln_buf_init(&esc, 4 * KILN_SSH_TAIL_LINE_MAX);
	kiln_buf_put_escaped(&esc, line,
	                     len > KILN_SSH_TAIL_LINE_MAX ? KILN_SSH_TAIL_LINE_MAX : len, 0);
	if (l->tail_count == l->tail_max)
		free(l->tail[l->tail_next]);
	else
		l->tail_count++;
	l->tail[l->tail_next] = kiln_buf_detach(&esc);
	l->tail_next = (l->tail_next + 1) % l->tail_max;
}

static void pass_on(struct kiln_ssh_lines *l, enum kiln_ssh_stream stream)
{
	struct kiln_buf *b = &l->partial[stream];
	size_t len = b->size;

	if (len > 0 && b->ptr[len - 1] == '\r')
		len--;
	if (l->opts->on_line != NULL) {
		l->opts->on_line(l->opts->payload, stream, b->ptr, len);
	} else if (kiln_log_enabled(KILN_LOG_INFO)) {
		/* Escaped here: "%s" would stop at a NUL and cut the line. */
		struct kiln_buf esc;

		kiln_buf_init(&esc, 4 * KILN_SSH_LINE_MAX);
		kiln_buf_put_escaped(&esc, b->ptr, len, 0);
		kiln_log_info("[%s] %s", l->label, esc.ptr);
		kiln_buf_release(&esc);
	}
	add_tail(l, b->ptr, len);
	kiln_buf_clear(b);
}

void kiln_ssh_lines_feed(struct kiln_ssh_lines *l, enum kiln_ssh_stream stream, const char *p,
                         size_t n)
{
	struct kiln_buf *b = &l->partial[stream];

	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n, room = KILN_SSH_LINE_MAX - b->size;

		if (seg > room) {
			kiln_buf_put(b, p, room);
			pass_on(l, stream);
			p += room;
			n -= room;
			continue;
		}
		kiln_buf_put(b, p, seg);
		p += seg;
		n -= seg;
		if (nl != NULL) {
			pass_on(l, stream);
			p++;
			n--;
		}
	}
}

void kiln_ssh_lines_tail(const struct kiln_ssh_lines *l, struct kiln_buf *out, const char *sep)
{
	size_t i, at;

	kiln_buf_clear(out);
	for (i = 0; i < l->tail_count; i++) {
		at = (l->tail_next + l->tail_max - l->tail_count + i) % l->tail_max;
		kiln_buf_printf(out, "%s%s", i ? sep : "", l->tail[at]);
	}
}

void kiln_ssh_lines_finish(struct kiln_ssh_lines *l)
{
	int i;

	for (i = 0; i < 2; i++)
		if (l->partial[i].size > 0)
			pass_on(l, (enum kiln_ssh_stream)i);
	if (l->opts->tail != NULL)
		kiln_ssh_lines_tail(l, l->opts->tail, "\n");
}

void kiln_ssh_lines_release(struct kiln_ssh_lines *l)
{
	size_t i;
	int k;

	if (l == NULL)
		return;
	for (k = 0; k < 2; k++)
		kiln_buf_release(&l->partial[k]);
	for (i = 0; i < l->tail_count; i++)
		free(l->tail[i]);
	free(l->tail);
	l->tail = NULL;
	l->tail_count = 0;
}
