/*
 * The words inside unit files, as systemd reads them: quoted and escaped
 * words, % specifiers, time spans, environment variables (EnvironmentFile=
 * text and $VAR in command lines). See units-int.h.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/utf8.h"
#include "localcloud/units-int.h"

#define WHITESPACE " \t\n\r"

void lc_strv_push(struct lc_strv *sv, char *owned)
{
	sv->v = kiln_xrealloc(sv->v, (sv->n + 2) * sizeof(*sv->v));
	sv->v[sv->n++] = owned;
	sv->v[sv->n] = NULL;
}

void lc_strv_release(struct lc_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

static void put_utf8(struct kiln_buf *b, uint32_t cp)
{
	if (cp < 0x80) {
		kiln_buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		kiln_buf_putc(b, (char)(0xc0 | (cp >> 6)));
		kiln_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		kiln_buf_putc(b, (char)(0xe0 | (cp >> 12)));
		kiln_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		kiln_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		kiln_buf_putc(b, (char)(0xf0 | (cp >> 18)));
		kiln_buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
		kiln_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		kiln_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	}
}

/*
 * One C escape after a backslash (systemd's cunescape_one): the bytes it
 * took, or -1 when it is not one; a NUL is never produced.
 */
static int unescape_one(struct kiln_buf *b, const char *s)
{
	static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"''s ";
	uint32_t v = 0;
	int n;

	for (size_t i = 0; s[0] != '\0' && simple[i] != '\0'; i += 2) {
		if (simple[i] == s[0]) {
			kiln_buf_putc(b, simple[i + 1]);
			return 1;
		}
	}
	if (s[0] == 'x' || s[0] == 'u' || s[0] == 'U') {
		n = s[0] == 'x' ? 2 : s[0] == 'u' ? 4 : 8;
		for (int i = 1; i <= n; i++) {
			if (!isxdigit((unsigned char)s[i]))
				return -1;
			v = (v << 4) | (uint32_t)(isdigit((unsigned char)s[i])
			                              ? s[i] - '0'
			                              : tolower((unsigned char)s[i]) - 'a' + 10);
		}
		if (v == 0 || (s[0] != 'x' && (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))))
			return -1;
		if (s[0] == 'x')
			kiln_buf_putc(b, (char)v);
		else
			put_utf8(b, v);
		return n + 1;
	}
	if (s[0] >= '0' && s[0] <= '7') {
		for (int i = 0; i < 3; i++) {
			if (s[i] < '0' || s[i] > '7')
				return -1;
			v = v * 8 + (uint32_t)(s[i] - '0');
		}
		if (v == 0 || v > 255)
			return -1;
		kiln_buf_putc(b, (char)v);
		return 3;
	}
	return -1;
}

int lc_word_next(char **out, const char **pp, unsigned flags)
{
	struct kiln_buf w = KILN_BUF_INIT;
	const char *p = *pp;
	char quote = 0;

	*out = NULL;
	p += strspn(p, WHITESPACE);
	if (*p == '\0') {
		*pp = p;
		return 0;
	}
	for (;;) {
		char c = *p;
		if (c == '\0') {
			if (quote != 0 && !(flags & LC_WORD_RELAX)) {
				kiln_buf_release(&w);
				return kiln_error_set(KILN_EINVAL, "unbalanced quotes");
			}
			break;
		}
		if (quote == 0 && strchr(WHITESPACE, c) != NULL)
			break;
		if (quote != 0 && c == quote) {
			quote = 0;
			p++;
		} else if (quote == 0 && (c == '\'' || c == '"')) {
			quote = c;
			p++;
		} else if (c == '\\' && p[1] == '\0') {
			/* A trailing backslash outside quotes stays, as in systemd. */
			if (quote != 0 && !(flags & LC_WORD_RELAX)) {
				kiln_buf_release(&w);
				return kiln_error_set(KILN_EINVAL, "unbalanced quotes");
			}
			kiln_buf_putc(&w, '\\');
			p++;
		} else if (c == '\\') {
			int n = (flags & LC_WORD_CUNESCAPE) ? unescape_one(&w, p + 1) : -1;
			if (n > 0) {
				p += 1 + n;
			} else if (flags & LC_WORD_CUNESCAPE) {
				/* Not an escape: kept as written, as systemd does after its
				 * warning. */
				kiln_buf_put(&w, p, 2);
				p += 2;
			} else {
				kiln_buf_putc(&w, p[1]);
				p += 2;
			}
		} else {
			kiln_buf_putc(&w, c);
			p++;
		}
	}
	*pp = p;
	*out = kiln_buf_detach(&w);
	return 1;
}

int lc_specifiers(char **out, const char *s, const struct lc_unit *u, const struct lc_unit_ctx *ctx)
{
	static const struct {
		char c;
		const char *value;
	} fixed[] = {{'h', "/root"},    {'u', "root"}, {'U', "0"},        {'g', "root"},
	             {'G', "0"},        {'t', "/run"}, {'S', "/var/lib"}, {'C', "/var/cache"},
	             {'L', "/var/log"}, {'E', "/etc"}, {'T', "/tmp"},     {'V', "/var/tmp"}};
	struct kiln_buf b = KILN_BUF_INIT;
	const char *name = u->name, *dot = strrchr(name, '.'), *at = strchr(name, '@');
	const char *host = ctx && ctx->hostname ? ctx->hostname : "localhost";
	size_t nlen = dot ? (size_t)(dot - name) : strlen(name);

	*out = NULL;
	for (const char *p = s; *p != '\0'; p++) {
		const char *v = NULL;
		if (*p != '%') {
			kiln_buf_putc(&b, *p);
			continue;
		}
		p++;
		switch (*p) {
		case '%':
			kiln_buf_putc(&b, '%');
			continue;
		case 'n':
			kiln_buf_puts(&b, name);
			continue;
		case 'N':
			kiln_buf_put(&b, name, nlen);
			continue;
		case 'p':
			kiln_buf_put(&b, name, at ? (size_t)(at - name) : nlen);
			continue;
		case 'i':
			if (at != NULL && dot != NULL && dot > at)
				kiln_buf_put(&b, at + 1, (size_t)(dot - at - 1));
			continue;
		case 'H':
			kiln_buf_puts(&b, host);
			continue;
		case 'l':
			kiln_buf_put(&b, host, strcspn(host, "."));
			continue;
		default:
			break;
		}
		for (size_t i = 0; *p != '\0' && i < KILN_ARRAY_SIZE(fixed); i++)
			if (fixed[i].c == *p)
				v = fixed[i].value;
		if (v == NULL) {
			char *what = kiln_xstrndup(p - 1, *p ? 2 : 1);
			char *esc = kiln_escape(what);
			kiln_error_set(KILN_EINVAL, "specifier '%s' is not supported", esc);
			free(what);
			free(esc);
			kiln_buf_release(&b);
			return KILN_EINVAL;
		}
		kiln_buf_puts(&b, v);
	}
	*out = kiln_buf_detach(&b);
	return 0;
}

int lc_timespan_parse(uint64_t *out, const char *s)
{
	static const struct {
		const char *name;
		uint64_t usec;
	} units[] = {{"us", 1},
	             {"usec", 1},
	             {"ms", 1000},
	             {"msec", 1000},
	             {"s", 1000000},
	             {"sec", 1000000},
	             {"second", 1000000},
	             {"seconds", 1000000},
	             {"m", 60000000},
	             {"min", 60000000},
	             {"minute", 60000000},
	             {"minutes", 60000000},
	             {"h", 3600000000},
	             {"hr", 3600000000},
	             {"hour", 3600000000},
	             {"hours", 3600000000},
	             {"d", 86400000000},
	             {"day", 86400000000},
	             {"days", 86400000000},
	             {"w", 604800000000},
	             {"week", 604800000000},
	             {"weeks", 604800000000}};
	const char *p = s + strspn(s, WHITESPACE);
	uint64_t total = 0;
	int any = 0;

	if (strcmp(p, "infinity") == 0) {
		*out = LC_USEC_INFINITY;
		return 0;
	}
	while (*p != '\0') {
		uint64_t whole = 0, frac = 0, scale = 1, mult = 1000000, part;
		size_t ulen;
		int digits = 0;

		for (; isdigit((unsigned char)*p); p++, digits++) {
			if (whole > UINT64_MAX / 10 / 1000000)
				goto bad;
			whole = whole * 10 + (uint64_t)(*p - '0');
		}
		if (*p == '.') {
			for (p++; isdigit((unsigned char)*p); p++, digits++) {
				if (scale < 1000000000) {
					frac = frac * 10 + (uint64_t)(*p - '0');
					scale *= 10;
				}
			}
		}
		if (digits == 0)
			goto bad;
		p += strspn(p, " \t");
		ulen = strspn(p, "abcdefghijklmnopqrstuvwxyz");
		if (ulen > 0) {
			size_t i;
			for (i = 0; i < KILN_ARRAY_SIZE(units); i++)
				if (strlen(units[i].name) == ulen &&
				    strncmp(units[i].name, p, ulen) == 0)
					break;
			if (i == KILN_ARRAY_SIZE(units))
				goto bad;
			mult = units[i].usec;
			p += ulen;
		}
		if (whole > UINT64_MAX / mult)
			goto bad;
		part = whole * mult + frac * mult / scale;
		if (total > UINT64_MAX - 1 - part)
			goto bad;
		total += part;
		any = 1;
		p += strspn(p, WHITESPACE);
	}
	if (!any)
		goto bad;
	*out = total;
	return 0;
bad:
	return kiln_error_set(KILN_EINVAL, "not a time span");
}

int lc_env_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > 256 || isdigit((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

int lc_text_clean(const char *s, size_t len, int newline)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t' && !(newline && c == '\n')) || c == 0x7f)
			return 0;
	}
	return kiln_utf8_valid(s, len);
}

static size_t name_len(const char *assignment)
{
	const char *eq = strchr(assignment, '=');
	return eq ? (size_t)(eq - assignment) : strlen(assignment);
}

void lc_env_set(struct lc_strv *env, const char *assignment)
{
	size_t len = name_len(assignment);

	for (size_t i = 0; i < env->n; i++) {
		if (name_len(env->v[i]) == len && strncmp(env->v[i], assignment, len) == 0) {
			free(env->v[i]);
			env->v[i] = kiln_xstrdup(assignment);
			return;
		}
	}
	lc_strv_push(env, kiln_xstrdup(assignment));
}

const char *lc_env_get(const struct lc_strv *env, const char *name, size_t len)
{
	for (size_t i = env->n; i-- > 0;)
		if (name_len(env->v[i]) == len && strncmp(env->v[i], name, len) == 0 &&
		    env->v[i][len] == '=')
			return env->v[i] + len + 1;
	return NULL;
}

static int env_file_push(struct lc_strv *env, const char *file, unsigned line, struct kiln_buf *key,
                         struct kiln_buf *value)
{
	int error = 0;

	kiln_buf_rtrim(key);
	if (!kiln_utf8_valid(key->ptr, key->size) || !kiln_utf8_valid(value->ptr, value->size)) {
		char *esc = kiln_escape(key->ptr);
		error =
		    kiln_error_set(KILN_EINVAL, "%s:%u: '%s': not valid UTF-8", file, line, esc);
		free(esc);
	} else if (lc_env_name_valid(key->ptr, key->size) &&
	           lc_text_clean(value->ptr, value->size, 1)) {
		char *a = kiln_xasprintf("%s=%s", key->ptr, value->ptr);
		lc_env_set(env, a);
		free(a);
	}
	/* Otherwise dropped, as systemd drops invalid assignments. */
	kiln_buf_clear(key);
	kiln_buf_clear(value);
	return error;
}

/*
 * systemd's env-file state machine: a key up to '=', then a value that is
 * unquoted (backslash takes the next byte, trailing blanks dropped), single-
 * quoted (literal) or double-quoted (backslash escapes \"\\`$ and newlines);
 * quoted and unquoted parts may follow each other.
 */
int lc_env_file_parse(struct lc_strv *env, const char *file, const char *text, size_t len)
{
	enum { PRE_KEY, KEY, PRE_VALUE, VALUE, VALUE_ESC, SQ, DQ, DQ_ESC, COMMENT } st = PRE_KEY;
	struct kiln_buf key = KILN_BUF_INIT, value = KILN_BUF_INIT;
	size_t keep = 0; /* value bytes before trailing blanks of an unquoted part */
	unsigned line = 1;
	int error = 0;

	for (size_t i = 0; i < len && error == 0; i++) {
		char c = text[i];
		int nl = c == '\n' || c == '\r';

		if (c == '\0') {
			error = kiln_error_set(KILN_EINVAL, "%s:%u: NUL byte", file, line);
			break;
		}
		switch (st) {
		case PRE_KEY:
			if (c == '#' || c == ';')
				st = COMMENT;
			else if (strchr(WHITESPACE, c) == NULL) {
				kiln_buf_putc(&key, c);
				st = KEY;
			}
			break;
		case KEY:
			if (nl) {
				kiln_buf_clear(&key);
				st = PRE_KEY;
			} else if (c == '=') {
				st = PRE_VALUE;
			} else {
				kiln_buf_putc(&key, c);
			}
			break;
		case PRE_VALUE:
			if (nl) {
				error = env_file_push(env, file, line, &key, &value);
				st = PRE_KEY;
			} else if (c == '\'' || c == '"') {
				st = c == '"' ? DQ : SQ;
			} else if (c == '\\') {
				st = VALUE_ESC;
			} else if (strchr(WHITESPACE, c) == NULL) {
				kiln_buf_putc(&value, c);
				keep = value.size;
				st = VALUE;
			}
			break;
		case VALUE:
			/* Quotes are quotes only at the start of a value (or after one). */
			if (nl) {
				kiln_buf_truncate(&value, keep);
				error = env_file_push(env, file, line, &key, &value);
				st = PRE_KEY;
			} else if (c == '\\') {
				st = VALUE_ESC;
			} else {
				kiln_buf_putc(&value, c);
				if (strchr(WHITESPACE, c) == NULL)
					keep = value.size;
			}
			break;
		case VALUE_ESC:
			if (!nl) {
				kiln_buf_putc(&value, c);
				keep = value.size;
			}
			st = VALUE;
			break;
		case SQ:
			if (c == '\'')
				st = PRE_VALUE;
			else
				kiln_buf_putc(&value, c);
			keep = value.size;
			break;
		case DQ:
			if (c == '"')
				st = PRE_VALUE;
			else if (c == '\\')
				st = DQ_ESC;
			else
				kiln_buf_putc(&value, c);
			keep = value.size;
			break;
		case DQ_ESC:
			if (strchr("\"\\`$", c) != NULL) {
				kiln_buf_putc(&value, c);
			} else if (c != '\n') {
				kiln_buf_putc(&value, '\\');
				kiln_buf_putc(&value, c);
			}
			keep = value.size;
			st = DQ;
			break;
		case COMMENT:
			if (nl)
				st = PRE_KEY;
			break;
		}
		if (c == '\n' || (c == '\r' && (i + 1 == len || text[i + 1] != '\n')))
			line++;
	}
	if (error == 0 && st != PRE_KEY && st != KEY && st != COMMENT) {
		if (st == VALUE)
			kiln_buf_truncate(&value, keep);
		error = env_file_push(env, file, line, &key, &value);
	}
	kiln_buf_release(&key);
	kiln_buf_release(&value);
	return error;
}

/* Split a variable's value into words: quotes honoured, unbalanced ones tolerated. */
static int push_split(struct lc_strv *out, const char *value, size_t *total, size_t cap)
{
	const char *p = value;
	char *w;

	while (lc_word_next(&w, &p, LC_WORD_RELAX) > 0) {
		*total += strlen(w) + 1;
		lc_strv_push(out, w);
		if (*total > cap)
			return kiln_error_set(KILN_ETOOBIG, "command line too long");
	}
	return 0;
}

/* "${NAME}", "${NAME:-default}", "${NAME:+alternate}" and "$$" inside one word. */
static void replace_env(struct kiln_buf *b, const char *s, const struct lc_strv *env)
{
	for (const char *p = s; *p != '\0'; p++) {
		const char *end, *colon, *v;
		size_t nlen;

		if (p[0] != '$' || (p[1] != '$' && p[1] != '{')) {
			kiln_buf_putc(b, *p);
			continue;
		}
		if (p[1] == '$') {
			kiln_buf_putc(b, '$');
			p++;
			continue;
		}
		end = strchr(p + 2, '}');
		if (end == NULL) {
			kiln_buf_puts(b, p);
			return;
		}
		colon = memchr(p + 2, ':', (size_t)(end - p - 2));
		nlen = (size_t)((colon ? colon : end) - (p + 2));
		v = lc_env_get(env, p + 2, nlen);
		if (colon != NULL && colon[1] == '-')
			kiln_buf_put(b, v && *v ? v : colon + 2,
			             v && *v ? strlen(v) : (size_t)(end - colon - 2));
		else if (colon != NULL && colon[1] == '+')
			kiln_buf_put(b, colon + 2, v && *v ? (size_t)(end - colon - 2) : 0);
		else if (colon == NULL && v != NULL)
			kiln_buf_puts(b, v);
		p = end;
	}
}

int lc_exec_expand(struct lc_strv *out, const struct lc_exec *e, const struct lc_strv *env,
                   size_t cap)
{
	size_t total = 0;
	int error = 0;

	for (size_t i = 0; i < e->argv.n && error == 0; i++) {
		const char *w = e->argv.v[i];
		struct kiln_buf b = KILN_BUF_INIT;

		if (e->flags & LC_EXEC_NO_ENV) {
			kiln_buf_puts(&b, w);
		} else if (i > 0 && w[0] == '$' && w[1] != '{' && w[1] != '$') {
			const char *v = lc_env_get(env, w + 1, strlen(w + 1));
			if (v != NULL)
				error = push_split(out, v, &total, cap);
			continue;
		} else {
			replace_env(&b, w, env);
		}
		total += b.size + 1;
		lc_strv_push(out, kiln_buf_detach(&b));
		if (total > cap)
			error = kiln_error_set(KILN_ETOOBIG, "command line too long");
	}
	return error;
}
