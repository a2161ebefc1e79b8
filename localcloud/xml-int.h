/*
 * Internal to the local cloud: the XML of replies, written into a buffer.
 * Text goes through kiln_xml_escape(), which also replaces bytes that XML
 * cannot carry (invalid UTF-8 among them): whatever a client sent and a
 * reply echoes, the reply parses. Element names are kiln's own literals.
 */
#ifndef KILN_LOCALCLOUD_XML_INT_H
#define KILN_LOCALCLOUD_XML_INT_H

#include <jansson.h>

#include "core/buf.h"
#include "core/common.h"

/* <name> and </name>. */
void lc_xo(struct kiln_buf *b, const char *name);
void lc_xc(struct kiln_buf *b, const char *name);
/* <name>text</name>; nothing when text is NULL. */
void lc_xt(struct kiln_buf *b, const char *name, const char *text);
void lc_xtf(struct kiln_buf *b, const char *name, const char *fmt, ...) KILN_PRINTF(3, 4);
void lc_xbool(struct kiln_buf *b, const char *name, int v);
/* <name><item><key>K</key><value>V</value></item>...</name> (EC2's tag sets). */
void lc_xtags(struct kiln_buf *b, const char *name, json_t *tags);

#endif
