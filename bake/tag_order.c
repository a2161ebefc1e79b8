/*
 * The order of tracked tags (bake/tag_order.h). Versions are compared in
 * place, digit runs as numbers of any length (leading zeros stripped, then
 * by length, then by digits), so that no tag can overflow anything.
 */
#include "bake/tag_order.h"

#include <fnmatch.h>
#include <string.h>

struct version {
	int ok;                /* a version at all */
	const char *num, *pre; /* "1.10.0", "rc1" (NULL when none) */
	size_t num_len, pre_len;
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_ident(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* Dot-separated, non-empty identifiers of `ok` bytes, up to `stop` or the end. */
static size_t dotted(const char *s, int (*ok)(char), char stop)
{
	size_t n = 0, run = 0;

	for (; s[n] != '\0' && s[n] != stop; n++) {
		if (s[n] == '.') {
			if (run == 0)
				return 0;
			run = 0;
		} else if (ok(s[n])) {
			run++;
		} else {
			return 0;
		}
	}
	return run == 0 ? 0 : n;
}

static void parse(struct version *v, const char *s)
{
	size_t n;

	memset(v, 0, sizeof(*v));
	if ((s[0] == 'v' || s[0] == 'V') && is_digit(s[1]))
		s++;
	if (!is_digit(s[0]))
		return;
	v->num = s;
	n = dotted(s, is_digit, '-');
	if (n == 0) /* digits and dots, then '-' or '+' or the end */
		n = dotted(s, is_digit, '+');
	if (n == 0)
		return;
	v->num_len = n;
	s += n;
	if (*s == '-') {
		n = dotted(s + 1, is_ident, '+');
		if (n == 0)
			return;
		v->pre = s + 1;
		v->pre_len = n;
		s += 1 + n;
	}
	if (*s == '+') {
		n = dotted(s + 1, is_ident, '\0');
		if (n == 0)
			return;
		s += 1 + n;
	}
	v->ok = *s == '\0';
}

/* Two runs of digits as numbers. */
static int number_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c;

	while (an > 1 && *a == '0')
		a++, an--;
	while (bn > 1 && *b == '0')
		b++, bn--;
	if (an != bn)
		return an < bn ? -1 : 1;
	c = memcmp(a, b, an);
	return c < 0 ? -1 : c > 0;
}

/* Numbers of "1.10.0"-style strings, component by component, a missing one as 0. */
static int numbers_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	while (an > 0 || bn > 0) {
		size_t ai = 0, bi = 0;
		int c;

		while (ai < an && a[ai] != '.')
			ai++;
		while (bi < bn && b[bi] != '.')
			bi++;
		c = number_cmp(ai ? a : "0", ai ? ai : 1, bi ? b : "0", bi ? bi : 1);
		if (c != 0)
			return c;
		a += ai, an -= ai;
		b += bi, bn -= bi;
		if (an > 0)
			a++, an--;
		if (bn > 0)
			b++, bn--;
	}
	return 0;
}

/* One identifier against another: runs of digits as numbers, other runs as bytes. */
static int ident_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	while (an > 0 && bn > 0) {
		int ad = is_digit(*a), bd = is_digit(*b), c;
		size_t ar = 0, br = 0;

		if (ad != bd)
			return ad ? -1 : 1;
		while (ar < an && is_digit(a[ar]) == ad)
			ar++;
		while (br < bn && is_digit(b[br]) == bd)
			br++;
		if (ad) {
			c = number_cmp(a, ar, b, br);
		} else {
			c = memcmp(a, b, ar < br ? ar : br);
			c = c < 0 ? -1 : c > 0 ? 1 : ar < br ? -1 : ar > br;
		}
		if (c != 0)
			return c;
		a += ar, an -= ar;
		b += br, bn -= br;
	}
	return an == bn ? 0 : an < bn ? -1 : 1;
}

static int pre_cmp(const struct version *a, const struct version *b)
{
	const char *x = a->pre, *y = b->pre;
	size_t xn = a->pre_len, yn = b->pre_len;

	if (x == NULL || y == NULL)
		return x == y ? 0 : x != NULL ? -1 : 1; /* the release after its pre-releases */
	while (xn > 0 && yn > 0) {
		size_t xi = 0, yi = 0;
		int c;

		while (xi < xn && x[xi] != '.')
			xi++;
		while (yi < yn && y[yi] != '.')
			yi++;
		c = ident_cmp(x, xi, y, yi);
		if (c != 0)
			return c;
		x += xi, xn -= xi;
		y += yi, yn -= yi;
		if (xn > 0)
			x++, xn--;
		if (yn > 0)
			y++, yn--;
	}
	return xn == yn ? 0 : xn < yn ? -1 : 1;
}

/*
 * Where versions start under `pattern`: after its literal prefix, less any
 * version the prefix already spells ("v1.*" and "v2.0.0-*" start after "v").
 */
static size_t prefix_len(const char *pattern)
{
	size_t n = strcspn(pattern, "*?[\\");

	while (n > 0 && (is_digit(pattern[n - 1]) || pattern[n - 1] == '.' ||
	                 (pattern[n - 1] == '-' && n >= 2 && is_digit(pattern[n - 2]))))
		n--;
	return n;
}

/* The version part of `tag` under `pattern`: after the pattern's literal prefix. */
static void version_of(struct version *v, const char *pattern, const char *tag)
{
	size_t n = prefix_len(pattern);

	parse(v, strncmp(tag, pattern, n) == 0 ? tag + n : tag);
}

int kiln_tag_order_candidate(const char *pattern, const char *tag)
{
	struct version v;

	if (fnmatch(pattern, tag, 0) != 0)
		return 0;
	version_of(&v, pattern, tag);
	if (v.ok && v.pre != NULL && strchr(pattern + prefix_len(pattern), '-') == NULL)
		return 0;
	return 1;
}

int kiln_tag_order_cmp(const char *pattern, const char *a, const char *b)
{
	struct version va, vb;
	int c;

	version_of(&va, pattern, a);
	version_of(&vb, pattern, b);
	if (va.ok != vb.ok)
		return va.ok ? 1 : -1;
	if (va.ok) {
		c = numbers_cmp(va.num, va.num_len, vb.num, vb.num_len);
		if (c == 0)
			c = pre_cmp(&va, &vb);
		if (c != 0)
			return c;
	}
	c = strcmp(a, b);
	return c < 0 ? -1 : c > 0;
}

const char *kiln_tag_order_newest(const char *pattern, const char *const *tags, size_t n)
{
	const char *best = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!kiln_tag_order_candidate(pattern, tags[i]))
			continue;
		if (best == NULL || kiln_tag_order_cmp(pattern, tags[i], best) > 0)
			best = tags[i];
	}
	return best;
}
