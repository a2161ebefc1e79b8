#include <stdio.h>

#include "core/buf.h"
#include "core/utf8.h"

int kiln_utf8_decode(uint32_t *cp, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c, min;
	int n;

	*cp = len ? p[0] : 0;
	if (len == 0)
		return -1;
	c = p[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return -1;
	}
	if (len < (size_t)n)
		return -1;
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*cp = c;
	return n;
}

int kiln_utf8_valid(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		int n;

		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		n = kiln_utf8_decode(&cp, s + i, len - i);
		if (n < 0)
			return 0;
		i += (size_t)n;
	}
	return 1;
}

int kiln_utf8_escape(struct kiln_buf *out, const char *s, size_t len)
{
	return kiln_buf_put_escaped(out, s, len, KILN_ESCAPE_BACKSLASH);
}
