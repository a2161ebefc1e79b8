#include <stdarg.h>

#include "aws/xml.h"
#include "localcloud/xml-int.h"

void lc_xo(struct kiln_buf *b, const char *name)
{
	kiln_buf_printf(b, "<%s>", name);
}

void lc_xc(struct kiln_buf *b, const char *name)
{
	kiln_buf_printf(b, "</%s>", name);
}

void lc_xt(struct kiln_buf *b, const char *name, const char *text)
{
	if (text == NULL)
		return;
	kiln_buf_printf(b, "<%s>", name);
	kiln_xml_escape(b, text);
	kiln_buf_printf(b, "</%s>", name);
}

void lc_xtf(struct kiln_buf *b, const char *name, const char *fmt, ...)
{
	struct kiln_buf text = KILN_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	kiln_buf_vprintf(&text, fmt, ap);
	va_end(ap);
	lc_xt(b, name, text.ptr);
	kiln_buf_release(&text);
}

void lc_xbool(struct kiln_buf *b, const char *name, int v)
{
	lc_xt(b, name, v ? "true" : "false");
}

void lc_xtags(struct kiln_buf *b, const char *name, json_t *tags)
{
	const char *k;
	json_t *v;

	lc_xo(b, name);
	json_object_foreach(tags, k, v)
	{
		lc_xo(b, "item");
		lc_xt(b, "key", k);
		lc_xt(b, "value", json_string_value(v));
		lc_xc(b, "item");
	}
	lc_xc(b, name);
}
