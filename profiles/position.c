#include "profiles/position.h"
#include "core/buf.h"
#include "core/common.h"

#include <string.h>

struct scanner {
	const char *p;
	const char *end;
	int line;
	int col;
	struct kiln_json_posmap *map;
	int depth;
	int too_deep;
};

/* Deeper than any profile; stops a hostile document from exhausting the stack. */
#define MAX_DEPTH 64

static void advance(struct scanner *s)
{
	unsigned char c = (unsigned char)*s->p++;

	if (c == '\n') {
		s->line++;
		s->col = 1;
	} else if ((c & 0xC0) != 0x80) {
		s->col++;
	}
}

static void skip_ws(struct scanner *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		advance(s);
}

static void record(struct scanner *s, const char *ptr, int kline, int kcol, int line, int col)
{
	struct kiln_json_posmap *m = s->map;
	struct kiln_json_pos *e;

	if (m->count == m->alloc) {
		m->alloc = m->alloc ? m->alloc * 2 : 64;
		m->items = kiln_xrealloc(m->items, m->alloc * sizeof(*m->items));
	}
	e = &m->items[m->count];
	e->ptr = kiln_xstrdup(ptr);
	e->key_line = kline;
	e->key_col = kcol;
	e->line = line;
	e->col = col;
	e->order = m->count;
	m->count++;
}

static void put_utf8(struct kiln_buf *b, unsigned long cp)
{
	char u[4];

	if (cp < 0x80) {
		kiln_buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		kiln_buf_put(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		kiln_buf_put(b, u, 3);
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		kiln_buf_put(b, u, 4);
	}
}

static unsigned long hex4(const char *p)
{
	unsigned long v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned long)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned long)(c - 'A' + 10);
	}
	return v;
}

/* Read a string token into `out` (decoded), the scanner on its opening quote. */
static int scan_string(struct scanner *s, struct kiln_buf *out)
{
	advance(s); /* " */
	while (s->p < s->end && *s->p != '"') {
		if (*s->p == '\\' && s->p + 1 < s->end) {
			char e = s->p[1];
			advance(s);
			advance(s);
			switch (e) {
			case 'n':
				kiln_buf_putc(out, '\n');
				break;
			case 't':
				kiln_buf_putc(out, '\t');
				break;
			case 'r':
				kiln_buf_putc(out, '\r');
				break;
			case 'b':
				kiln_buf_putc(out, '\b');
				break;
			case 'f':
				kiln_buf_putc(out, '\f');
				break;
			case 'u':
				if (s->end - s->p >= 4) {
					unsigned long cp = hex4(s->p);
					for (int i = 0; i < 4; i++)
						advance(s);
					if (cp >= 0xD800 && cp < 0xDC00 && s->end - s->p >= 6 &&
					    s->p[0] == '\\' && s->p[1] == 'u') {
						unsigned long lo = hex4(s->p + 2);
						for (int i = 0; i < 6; i++)
							advance(s);
						cp =
						    0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					}
					put_utf8(out, cp);
				}
				break;
			default:
				kiln_buf_putc(out, e);
			}
			continue;
		}
		kiln_buf_putc(out, *s->p);
		advance(s);
	}
	if (s->p >= s->end)
		return -1;
	advance(s); /* " */
	return 0;
}

static int scan_value(struct scanner *s, const char *ptr, int kline, int kcol);

static int scan_object(struct scanner *s, const char *ptr)
{
	struct kiln_buf key = KILN_BUF_INIT;
	int error = 0;

	advance(s); /* { */
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		advance(s);
		return 0;
	}
	while (s->p < s->end) {
		int kline, kcol;
		char *child;

		skip_ws(s);
		if (s->p >= s->end || *s->p != '"')
			return -1;
		kline = s->line;
		kcol = s->col;
		kiln_buf_clear(&key);
		if (scan_string(s, &key) < 0) {
			error = -1;
			break;
		}
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':') {
			error = -1;
			break;
		}
		advance(s);
		child = kiln_json_ptr_child(ptr, key.ptr);
		error = scan_value(s, child, kline, kcol);
		free(child);
		if (error < 0)
			break;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			advance(s);
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			advance(s);
			break;
		}
		error = -1;
		break;
	}
	kiln_buf_release(&key);
	return error;
}

static int scan_array(struct scanner *s, const char *ptr)
{
	size_t i = 0;

	advance(s); /* [ */
	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		advance(s);
		return 0;
	}
	while (s->p < s->end) {
		char idx[32], *child;
		int error;

		snprintf(idx, sizeof(idx), "%zu", i++);
		child = kiln_json_ptr_child(ptr, idx);
		error = scan_value(s, child, 0, 0);
		free(child);
		if (error < 0)
			return error;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			advance(s);
			continue;
		}
		if (s->p < s->end && *s->p == ']') {
			advance(s);
			return 0;
		}
		return -1;
	}
	return -1;
}

static int scan_value(struct scanner *s, const char *ptr, int kline, int kcol)
{
	int error = 0;

	skip_ws(s);
	if (s->p >= s->end)
		return -1;
	record(s, ptr, kline, kcol, s->line, s->col);
	if (++s->depth > MAX_DEPTH) {
		s->too_deep = 1;
		return -1;
	}
	if (*s->p == '{') {
		error = scan_object(s, ptr);
	} else if (*s->p == '[') {
		error = scan_array(s, ptr);
	} else if (*s->p == '"') {
		struct kiln_buf tmp = KILN_BUF_INIT;
		error = scan_string(s, &tmp);
		kiln_buf_release(&tmp);
	} else {
		while (s->p < s->end && strchr(",]} \t\r\n", *s->p) == NULL)
			advance(s);
	}
	s->depth--;
	return error;
}

int kiln_json_posmap_build(struct kiln_json_posmap *map, const char *text, size_t len)
{
	struct scanner s = {text, text + len, 1, 1, map, 0, 0};

	if (scan_value(&s, "", 0, 0) < 0) {
		if (s.too_deep)
			return kiln_error_set(KILN_EINVAL,
			                      "%d:%d: values nested deeper than %d levels", s.line,
			                      s.col, MAX_DEPTH);
		return kiln_error_set(KILN_EINVAL, "%d:%d: cannot locate positions in the document",
		                      s.line, s.col);
	}
	return 0;
}

void kiln_json_posmap_release(struct kiln_json_posmap *map)
{
	size_t i;

	for (i = 0; i < map->count; i++)
		free(map->items[i].ptr);
	free(map->items);
	map->items = NULL;
	map->count = map->alloc = 0;
}

const struct kiln_json_pos *kiln_json_posmap_get(const struct kiln_json_posmap *map,
                                                 const char *ptr)
{
	size_t i;

	for (i = 0; i < map->count; i++)
		if (strcmp(map->items[i].ptr, ptr) == 0)
			return &map->items[i];
	return NULL;
}

char *kiln_json_ptr_child(const char *ptr, const char *key)
{
	struct kiln_buf b = KILN_BUF_INIT;
	const char *k;

	kiln_buf_puts(&b, ptr);
	kiln_buf_putc(&b, '/');
	for (k = key; *k != '\0'; k++) {
		if (*k == '~')
			kiln_buf_puts(&b, "~0");
		else if (*k == '/')
			kiln_buf_puts(&b, "~1");
		else
			kiln_buf_putc(&b, *k);
	}
	return kiln_buf_detach(&b);
}

const struct kiln_json_pos *kiln_json_posmap_get_env(const struct kiln_json_posmap *map,
                                                     const char *env, const char *ptr)
{
	const struct kiln_json_pos *p = NULL;

	if (env != NULL) {
		char *envptr = kiln_json_ptr_child("/environments", env);
		char *full = kiln_xasprintf("%s%s", envptr, ptr);
		p = kiln_json_posmap_get(map, full);
		free(envptr);
		free(full);
	}
	return p != NULL ? p : kiln_json_posmap_get(map, ptr);
}

char *kiln_json_posmap_where(const struct kiln_json_posmap *map, const char *file, const char *env,
                             const char *ptr, int at_key)
{
	char *p = kiln_xstrdup(ptr);
	const struct kiln_json_pos *pos = NULL;
	int line = 1, col = 1;
	char *at;

	for (;;) {
		char *slash;

		/* The file's root, not the override's: nothing on the way sets it. */
		pos = p[0] != '\0' ? kiln_json_posmap_get_env(map, env, p)
		                   : kiln_json_posmap_get(map, "");
		if (pos != NULL || p[0] == '\0')
			break;
		/* Absent: its parent holds the default. */
		at_key = 0;
		slash = strrchr(p, '/');
		*slash = '\0';
	}
	if (pos != NULL) {
		line = at_key && pos->key_line > 0 ? pos->key_line : pos->line;
		col = at_key && pos->key_line > 0 ? pos->key_col : pos->col;
	}
	at = kiln_xasprintf("%s:%d:%d", file, line, col);
	free(p);
	return at;
}
