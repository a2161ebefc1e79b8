/*
 * The order of the tags a layer tracks (`layers.<name>.track`, a glob such
 * as "v*" or "os-*"): which matching tag is the newest.
 *
 * A tag's version is what follows the pattern's literal prefix (the text
 * before its first '*', '?', '[' or '\', less the start of a version it
 * may spell: "v1.*" and "v2.0.0-*" have the prefix "v"), with one leading
 * 'v' or 'V' skipped when a digit follows: numbers separated by dots ("1.10.0"), then
 * optionally a pre-release after '-' ("-rc1", "-beta.2"), then optionally
 * build metadata after '+', which does not count in the order. Anything
 * else ("latest", "1.2.3a", "1..2") is not a version.
 *
 * Order, oldest first:
 *   1. every tag that is not a version, by the bytes of its name; so a
 *      non-version tag is chosen only when no version tag matches;
 *   2. versions, by their numbers compared as numbers, left to right, a
 *      missing number counting as 0 ("v1.9.2" < "v1.10.0"; "1.2" = "1.2.0");
 *      at equal numbers a pre-release comes before the release
 *      ("1.2.0-rc1" < "1.2.0"); pre-releases compare by dot-separated
 *      identifiers, each split into runs of digits (compared as numbers) and
 *      of other bytes (compared as bytes), digits before others, fewer
 *      identifiers first: "rc2" < "rc10", "alpha" < "beta" < "rc";
 *   3. versions that are still equal ("1.2" and "1.2.0", "1.2.0+b1" and
 *      "1.2.0+b2") by the bytes of the whole tag name.
 * The order is total: two different tags never compare equal.
 *
 * Pre-releases are candidates only when the pattern asks for them: when the
 * part of the pattern after that prefix contains a '-' ("v*-rc*",
 * "v2.0.0-*", but not "os-*"). With "v*", "v1.3.0-rc1" is never chosen.
 */
#ifndef KILN_BAKE_TAG_ORDER_H
#define KILN_BAKE_TAG_ORDER_H

#include <stddef.h>

/* 1 when `tag` matches `pattern` and is a candidate under it (see above), else 0. */
int kiln_tag_order_candidate(const char *pattern, const char *tag);

/* <0, 0 or >0 as tag `a` is older than, the same as, or newer than `b` under `pattern`. */
int kiln_tag_order_cmp(const char *pattern, const char *a, const char *b);

/* The newest candidate of `tags` under `pattern` (borrowed from `tags`), or NULL. */
const char *kiln_tag_order_newest(const char *pattern, const char *const *tags, size_t n);

#endif
