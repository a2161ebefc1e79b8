#include "ssh/hostkey.h"

#include <ctype.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/log.h"

#define BEGIN_MARK  "-----BEGIN SSH HOST KEY FINGERPRINTS-----"
#define END_MARK    "-----END SSH HOST KEY FINGERPRINTS-----"
#define SHA256_B64  43 /* unpadded base64 of 32 bytes */
#define MAX_FPRINTS 64 /* a console is outside input: bound what we keep */

static int is_b64(int c)
{
	return isalnum(c) || c == '+' || c == '/';
}

/* Whether `s` is exactly "SHA256:" and 43 base64 characters. */
static int valid_sha256(const char *s, size_t len)
{
	size_t i;

	if (len != 7 + SHA256_B64 || strncmp(s, "SHA256:", 7) != 0)
		return 0;
	for (i = 7; i < len; i++)
		if (!is_b64((unsigned char)s[i]))
			return 0;
	return 1;
}

int kiln_ssh_fingerprints_add(struct kiln_ssh_fingerprints *fps, const char *sha256,
                              const char *type)
{
	struct kiln_ssh_fingerprint *fp;

	KILN_ASSERT_ARG(fps != NULL && sha256 != NULL);
	if (!valid_sha256(sha256, strlen(sha256)))
		return kiln_error_set(KILN_EINVAL, "invalid host key fingerprint '%s'", sha256);
	if (fps->count == MAX_FPRINTS)
		return kiln_error_set(KILN_ETOOBIG, "more than %d host key fingerprints",
		                      MAX_FPRINTS);
	fps->items = kiln_xrealloc(fps->items, (fps->count + 1) * sizeof(*fps->items));
	fp = &fps->items[fps->count++];
	fp->sha256 = kiln_xstrdup(sha256);
	fp->type = kiln_xstrdup(type ? type : "");
	fp->bits = 0;
	return 0;
}

/*
 * One line of a block: "[prefix] BITS SHA256:xxx [comment] (TYPE)". The
 * prefix is whatever the console put first ("ec2: ", a timestamp, a
 * cloud-init tag); the fingerprint must follow a number of bits.
 */
static int parse_line(struct kiln_ssh_fingerprints *fps, const char *line, size_t len)
{
	const char *p, *end = line + len, *fp, *bits, *open, *close;
	char *sha = NULL, *type = NULL;
	int error = 0;

	for (p = line; p + 7 <= end; p++) {
		if (strncmp(p, "SHA256:", 7) == 0 && (p == line || isspace((unsigned char)p[-1])))
			break;
	}
	if (p + 7 > end)
		return 0;
	fp = p;
	while (p < end && !isspace((unsigned char)*p))
		p++;
	if (!valid_sha256(fp, (size_t)(p - fp)))
		return 0;

	/* The token before must be the key size. */
	bits = fp;
	while (bits > line && isspace((unsigned char)bits[-1]))
		bits--;
	if (bits == fp || bits == line || !isdigit((unsigned char)bits[-1]))
		return 0;
	while (bits > line && isdigit((unsigned char)bits[-1]))
		bits--;
	if (bits > line && !isspace((unsigned char)bits[-1]))
		return 0;

	open = NULL;
	close = NULL;
	for (; p < end; p++) {
		if (*p == '(')
			open = p;
		else if (*p == ')' && open != NULL)
			close = p;
	}
	sha = kiln_xstrndup(fp, 7 + SHA256_B64);
	type = open && close && close > open ? kiln_xstrndup(open + 1, (size_t)(close - open - 1))
	                                     : kiln_xstrdup("");
	error = kiln_ssh_fingerprints_add(fps, sha, type);
	if (error == 0)
		fps->items[fps->count - 1].bits = atoi(bits);
	free(sha);
	free(type);
	return error;
}

int kiln_ssh_fingerprints_parse(struct kiln_ssh_fingerprints *out, const char *console)
{
	struct kiln_ssh_fingerprints block = KILN_SSH_FINGERPRINTS_INIT;
	struct kiln_ssh_fingerprints found = KILN_SSH_FINGERPRINTS_INIT;
	const char *line, *nl;
	int in_block = 0, seen_block = 0, error = 0;
	size_t len;

	KILN_ASSERT_ARG(out != NULL && console != NULL);
	for (line = console; *line != '\0'; line = nl + (*nl != '\0')) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line);
		len = (size_t)(nl - line);
		if (memmem(line, len, BEGIN_MARK, strlen(BEGIN_MARK)) != NULL) {
			/* A later boot prints a new block: only the last one counts. */
			kiln_ssh_fingerprints_release(&block);
			in_block = 1;
		} else if (in_block && memmem(line, len, END_MARK, strlen(END_MARK)) != NULL) {
			in_block = 0;
			seen_block = 1;
			kiln_ssh_fingerprints_release(&found);
			found = block;
			block.items = NULL;
			block.count = 0;
		} else if (in_block) {
			error = parse_line(&block, line, len);
			if (error < 0)
				goto done;
		}
	}

	if (!seen_block) {
		error = kiln_error_set(KILN_ENOTFOUND,
		                       "no host key fingerprints in the console output");
		goto done;
	}
	if (found.count == 0) {
		error = kiln_error_set(KILN_ENOTFOUND,
		                       "the host key fingerprint block on the console is empty");
		goto done;
	}
	*out = found;
	found.items = NULL;
	found.count = 0;

done:
	kiln_ssh_fingerprints_release(&block);
	kiln_ssh_fingerprints_release(&found);
	return error;
}

int kiln_ssh_fingerprints_contains(const struct kiln_ssh_fingerprints *fps, const char *sha256)
{
	size_t i;

	for (i = 0; fps != NULL && i < fps->count; i++)
		if (strcmp(fps->items[i].sha256, sha256) == 0)
			return 1;
	return 0;
}

void kiln_ssh_fingerprints_release(struct kiln_ssh_fingerprints *fps)
{
	size_t i;

	if (fps == NULL)
		return;
	for (i = 0; i < fps->count; i++) {
		free(fps->items[i].sha256);
		free(fps->items[i].type);
	}
	free(fps->items);
	fps->items = NULL;
	fps->count = 0;
}

int kiln_ssh_hostkey_check(const struct kiln_ssh_fingerprints *expected,
                           enum kiln_ssh_hostkey_policy policy, const char *where,
                           const char *offered, const char *offered_type)
{
	struct kiln_buf list = KILN_BUF_INIT;
	size_t i;
	int error;

	if (expected == NULL || expected->count == 0) {
		if (policy == KILN_SSH_HOSTKEY_ACCEPT_NEW) {
			kiln_log_warn("accepting the unverified %s host key of '%s': %s "
			              "(no fingerprints to check it against)",
			              offered_type, where, offered);
			return 0;
		}
		return kiln_error_set(KILN_EAUTH,
		                      "refusing the %s host key of '%s' (%s): no fingerprints to "
		                      "check it against",
		                      offered_type, where, offered);
	}
	if (kiln_ssh_fingerprints_contains(expected, offered)) {
		kiln_log_debug("host key of '%s' verified: %s %s", where, offered_type, offered);
		return 0;
	}
	for (i = 0; i < expected->count; i++)
		kiln_buf_printf(&list, "%s%s%s%s%s", i ? ", " : "", expected->items[i].sha256,
		                expected->items[i].type[0] ? " (" : "", expected->items[i].type,
		                expected->items[i].type[0] ? ")" : "");
	error =
	    kiln_error_set(KILN_EAUTH, "host key mismatch for '%s': offered %s (%s), expected %s",
	                   where, offered, offered_type, list.ptr);
	kiln_buf_release(&list);
	return error;
}
