/*
 * AWS XML replies. AWS never sends a document type declaration, so a reply
 * that has one is refused outright: that closes external entities (XXE) and
 * entity expansion bombs without relying on parser options that differ
 * between libxml2 versions. The parser still runs with network access off
 * and without entity substitution or DTD loading, and libxml2's default
 * depth and size limits (no XML_PARSE_HUGE) apply.
 */
#include <ctype.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include "aws/xml.h"
#include "core/utf8.h"

/* Replies kiln parses are lists of images or instances; this is ample. */
#define XML_MAX_INPUT ((size_t)32 << 20)

/* Strings built by kiln_xml_text() that the document does not hold itself. */
struct interned {
	char **v;
	size_t n;
	size_t alloc;
};

int kiln_xml_parse(struct kiln_xml **out, const char *data, size_t len)
{
	struct kiln_xml *x = NULL;
	xmlParserCtxtPtr ctxt = NULL;
	xmlDocPtr doc = NULL;
	int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
	int error = 0;

	KILN_ASSERT_ARG(out && (data || len == 0));
	*out = NULL;
#if LIBXML_VERSION >= 21300
	options |= XML_PARSE_NO_XXE;
#endif
	if (len > XML_MAX_INPUT) {
		error =
		    kiln_error_set(KILN_ETOOBIG, "xml reply of %zu bytes exceeds the limit of %zu",
		                   len, XML_MAX_INPUT);
		goto done;
	}
	if (len == 0) {
		error = kiln_error_set(KILN_EINVAL, "empty xml reply");
		goto done;
	}
	xmlInitParser();
	ctxt = xmlNewParserCtxt();
	if (!ctxt) {
		error = kiln_error_set(KILN_ERROR, "cannot create an xml parser");
		goto done;
	}
	doc = xmlCtxtReadMemory(ctxt, data, (int)len, NULL, NULL, options);
	if (!doc || !ctxt->wellFormed) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		size_t mlen = e && e->message ? strlen(e->message) : 0;

		while (mlen > 0 && isspace((unsigned char)e->message[mlen - 1]))
			mlen--;
		error =
		    kiln_error_set(KILN_EINVAL, "malformed xml reply (line %d): %.*s",
		                   e ? e->line : 0, (int)mlen, mlen ? e->message : "parse error");
		goto done;
	}
	if (doc->intSubset || doc->extSubset) {
		error = kiln_error_set(KILN_EINVAL,
		                       "xml reply has a document type declaration, which AWS never "
		                       "sends; refused");
		goto done;
	}
	if (!xmlDocGetRootElement(doc)) {
		error = kiln_error_set(KILN_EINVAL, "xml reply has no root element");
		goto done;
	}
	x = kiln_xcalloc(1, sizeof(*x));
	x->doc = doc;
	kiln_buf_init(&x->strings, KILN_BUF_DEFAULT_CAP);
	x->interned = kiln_xcalloc(1, sizeof(struct interned));
	doc = NULL;
	*out = x;
done:
	if (doc)
		xmlFreeDoc(doc);
	if (ctxt)
		xmlFreeParserCtxt(ctxt);
	return error;
}

void kiln_xml_free(struct kiln_xml *x)
{
	struct interned *in;
	size_t i;

	if (!x)
		return;
	in = x->interned;
	if (in) {
		for (i = 0; i < in->n; i++)
			free(in->v[i]);
		free(in->v);
		free(in);
	}
	kiln_buf_release(&x->strings);
	xmlFreeDoc(x->doc);
	free(x);
}

xmlNodePtr kiln_xml_root(const struct kiln_xml *x)
{
	return x ? xmlDocGetRootElement(x->doc) : NULL;
}

static int name_is(xmlNodePtr n, const char *name, size_t len)
{
	return n->type == XML_ELEMENT_NODE && strlen((const char *)n->name) == len &&
	       memcmp(n->name, name, len) == 0;
}

/* Depth-first: the first descendant along `path`, backtracking on misses. */
static xmlNodePtr find_path(xmlNodePtr node, const char *path)
{
	const char *slash;
	size_t len;
	xmlNodePtr c;

	while (*path == '/')
		path++;
	if (!*path)
		return node;
	slash = strchr(path, '/');
	len = slash ? (size_t)(slash - path) : strlen(path);
	for (c = node->children; c; c = c->next) {
		xmlNodePtr found;

		if (!name_is(c, path, len))
			continue;
		found = find_path(c, path + len);
		if (found)
			return found;
	}
	return NULL;
}

xmlNodePtr kiln_xml_find(xmlNodePtr node, const char *path)
{
	if (!node || node->type != XML_ELEMENT_NODE)
		return NULL;
	return find_path(node, path ? path : "");
}

const char *kiln_xml_text(const struct kiln_xml *x, xmlNodePtr node, const char *path)
{
	struct interned *in;
	struct kiln_buf b = KILN_BUF_INIT;
	xmlNodePtr el = kiln_xml_find(node, path), c, only = NULL;
	size_t ntext = 0;

	KILN_ASSERT_ARG(x);
	if (!el)
		return NULL;
	/* Only direct text: entity references stay unexpanded. */
	for (c = el->children; c; c = c->next) {
		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
			only = c;
			ntext++;
		}
	}
	if (ntext == 0)
		return "";
	if (ntext == 1)
		return (const char *)only->content;
	for (c = el->children; c; c = c->next)
		if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
		    kiln_buf_puts(&b, (const char *)c->content) < 0) {
			kiln_buf_release(&b);
			return NULL;
		}
	in = x->interned;
	if (in->n == in->alloc) {
		in->alloc = in->alloc ? in->alloc * 2 : 8;
		in->v = kiln_xrealloc(in->v, in->alloc * sizeof(*in->v));
	}
	in->v[in->n] = kiln_buf_detach(&b);
	return in->v[in->n++];
}

static xmlNodePtr next_element(xmlNodePtr n)
{
	while (n && n->type != XML_ELEMENT_NODE)
		n = n->next;
	return n;
}

xmlNodePtr kiln_xml_first_child(xmlNodePtr node, const char *path)
{
	xmlNodePtr list = kiln_xml_find(node, path);

	return list ? next_element(list->children) : NULL;
}

xmlNodePtr kiln_xml_next(xmlNodePtr item)
{
	return item ? next_element(item->next) : NULL;
}

static void copy_str(char *dst, size_t size, const char *s)
{
	snprintf(dst, size, "%s", s ? s : "");
}

static int error_parse_json(struct kiln_aws_error *out, const char *body, size_t len)
{
	json_t *j;
	json_error_t jerr;
	const char *type, *msg, *hash;
	int error = KILN_ENOTFOUND;

	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j || !json_is_object(j))
		goto done;
	type = json_string_value(json_object_get(j, "__type"));
	if (!type)
		type = json_string_value(json_object_get(j, "code"));
	if (!type)
		type = json_string_value(json_object_get(j, "Code"));
	if (!type || !*type)
		goto done;
	/* "com.amazonaws.ssm#ParameterNotFound" -> "ParameterNotFound". */
	hash = strrchr(type, '#');
	if (hash)
		type = hash + 1;
	msg = json_string_value(json_object_get(j, "message"));
	if (!msg)
		msg = json_string_value(json_object_get(j, "Message"));
	copy_str(out->code, sizeof(out->code), type);
	copy_str(out->message, sizeof(out->message), msg);
	error = 0;
done:
	json_decref(j);
	return error;
}

int kiln_aws_error_parse(struct kiln_aws_error *out, const char *body, size_t len, int http_status)
{
	struct kiln_xml *x = NULL;
	xmlNodePtr root, err = NULL;
	const char *code, *rid = NULL;
	size_t i = 0;
	int error = KILN_ENOTFOUND;

	KILN_ASSERT_ARG(out && (body || len == 0));
	memset(out, 0, sizeof(*out));
	out->http_status = http_status;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i < len && body[i] == '{') {
		error = error_parse_json(out, body + i, len - i);
		goto done;
	}
	if (i == len || body[i] != '<' || kiln_xml_parse(&x, body, len) < 0)
		goto done;
	root = kiln_xml_root(x);
	if (name_is(root, "Response", 8)) {
		/* EC2: Response/Errors/Error, RequestID. */
		err = kiln_xml_find(root, "Errors/Error");
		rid = kiln_xml_text(x, root, "RequestID");
		if (!rid)
			rid = kiln_xml_text(x, root, "RequestId");
	} else if (name_is(root, "ErrorResponse", 13)) {
		/* ELBv2, Auto Scaling, STS: ErrorResponse/Error, RequestId. */
		err = kiln_xml_find(root, "Error");
		rid = kiln_xml_text(x, root, "RequestId");
	} else if (name_is(root, "Error", 5)) {
		/* A bare Error (S3 style, some proxies). */
		err = root;
		rid = kiln_xml_text(x, root, "RequestId");
	}
	code = err ? kiln_xml_text(x, err, "Code") : NULL;
	if (!code || !*code)
		goto done;
	copy_str(out->code, sizeof(out->code), code);
	copy_str(out->message, sizeof(out->message), kiln_xml_text(x, err, "Message"));
	copy_str(out->request_id, sizeof(out->request_id), rid);
	error = 0;
done:
	kiln_xml_free(x);
	if (error == KILN_ENOTFOUND)
		kiln_error_set(KILN_ENOTFOUND, "reply (http %d) is not an aws error", http_status);
	return error;
}

/*
 * Text for XML 1.0, from bytes that may come from anywhere: the five
 * special characters escaped, and whatever XML cannot carry (C0 controls but
 * tab and newline, invalid UTF-8, U+FFFE and U+FFFF) replaced by U+FFFD, so
 * that every document written with it parses.
 */
int kiln_xml_escape(struct kiln_buf *out, const char *s)
{
	static const char replacement[] = "\xef\xbf\xbd";
	size_t i = 0, len;
	int error = 0;

	KILN_ASSERT_ARG(out && s);
	len = strlen(s);
	while (i < len && error == 0) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		int n;

		switch (c) {
		case '&':
			error = kiln_buf_puts(out, "&amp;");
			break;
		case '<':
			error = kiln_buf_puts(out, "&lt;");
			break;
		case '>':
			error = kiln_buf_puts(out, "&gt;");
			break;
		case '"':
			error = kiln_buf_puts(out, "&quot;");
			break;
		case '\'':
			error = kiln_buf_puts(out, "&apos;");
			break;
		case '\r':
			/* Escaped so that line-end normalization keeps it. */
			error = kiln_buf_puts(out, "&#xD;");
			break;
		default:
			if (c < 0x80) {
				error = c < 0x20 && c != '\t' && c != '\n'
				            ? kiln_buf_puts(out, replacement)
				            : kiln_buf_putc(out, (char)c);
				break;
			}
			n = kiln_utf8_decode(&cp, s + i, len - i);
			if (n < 0) {
				error = kiln_buf_puts(out, replacement);
				break;
			}
			error = cp == 0xfffe || cp == 0xffff ? kiln_buf_puts(out, replacement)
			                                     : kiln_buf_put(out, s + i, (size_t)n);
			i += (size_t)n;
			continue;
		}
		i++;
	}
	return error;
}
