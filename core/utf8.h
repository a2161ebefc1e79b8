/*
 * UTF-8 as the outside sends it: every decoder here refuses overlong forms,
 * surrogates and code points past U+10FFFF, so that a byte string is either
 * valid UTF-8 by RFC 3629 or reported as not.
 */
#ifndef KILN_CORE_UTF8_H
#define KILN_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decode the character at s[0..len): its code point in *cp and its length
 * in bytes (1 to 4), or -1 when the bytes there are not valid UTF-8 (*cp is
 * then the first byte).
 */
int kiln_utf8_decode(uint32_t *cp, const char *s, size_t len);
/* Is s[0..len) valid UTF-8 throughout? */
int kiln_utf8_valid(const char *s, size_t len);

struct kiln_buf;
/*
 * Append s[0..len) to `out` as valid, printable UTF-8: kiln_buf_put_escaped()
 * with a backslash as \\, so that the escaping can be read back
 * unambiguously. For logs and records that must hold whatever a client sent.
 */
int kiln_utf8_escape(struct kiln_buf *out, const char *s, size_t len);

#endif
