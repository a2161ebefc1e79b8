/*
 * AWS XML replies, parsed with libxml2 with network access, entity
 * substitution and DTD loading all off. Lookups ignore namespaces and take
 * slash-separated element paths relative to a node ("reservationSet/item").
 * Returned strings are borrowed from the document and live as long as it.
 */
#ifndef KILN_AWS_XML_H
#define KILN_AWS_XML_H

#include <libxml/tree.h>

#include "core/buf.h"

struct kiln_xml {
	xmlDocPtr doc;
	struct kiln_buf strings; /* reserved for the implementation */
	void *interned;          /* reserved for the implementation */
};

/* An AWS error reply, of any of the three shapes kiln meets. */
struct kiln_aws_error {
	char code[128]; /* "InvalidAMIID.NotFound" */
	char message[1024];
	char request_id[128];
	int http_status;
};

int kiln_xml_parse(struct kiln_xml **out, const char *data, size_t len);
void kiln_xml_free(struct kiln_xml *x);
xmlNodePtr kiln_xml_root(const struct kiln_xml *x);

/* The first element at `path` below `node`, or NULL. */
xmlNodePtr kiln_xml_find(xmlNodePtr node, const char *path);
/* The text of the first element at `path` (NULL when absent; "" when empty). */
const char *kiln_xml_text(const struct kiln_xml *x, xmlNodePtr node, const char *path);
/* Iterate the element children of the element at `path` (an item/member list). */
xmlNodePtr kiln_xml_first_child(xmlNodePtr node, const char *path);
xmlNodePtr kiln_xml_next(xmlNodePtr item);

/*
 * Parse an error reply: EC2's Response/Errors/Error, the Query services'
 * ErrorResponse/Error, or a JSON 1.1 body ({"__type": ..., "message": ...}).
 * Returns 0 when one was found, KILN_ENOTFOUND when the body is no error.
 */
int kiln_aws_error_parse(struct kiln_aws_error *out, const char *body, size_t len, int http_status);

/* Append `s` to `out` with XML escaping (&, <, >, ", '), for writers of replies. */
int kiln_xml_escape(struct kiln_buf *out, const char *s);

#endif
