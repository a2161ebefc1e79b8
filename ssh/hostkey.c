#include "ssh/hostkey.h"
#include "core/common.h"

#include <openssl/evp.h>
#include <string.h>

#define BEGIN "-----BEGIN SSH HOST KEY FINGERPRINTS-----"
#define END   "-----END SSH HOST KEY FINGERPRINTS-----"

void kiln_fingerprints_release(struct kiln_fingerprints *fps)
{
	size_t i;

	if (fps == NULL)
		return;
	for (i = 0; i < fps->count; i++)
		free(fps->items[i]);
	free(fps->items);
	fps->items = NULL;
	fps->count = 0;
}

/* The "SHA256:..." word of one line, if it has one. */
static char *fingerprint_in_line(const char *line, size_t len)
{
	const char *p = line, *end = line + len;

	while (p < end) {
		const char *word = p;
		size_t n;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		n = (size_t)(p - word);
		if (n > 7 && strncmp(word, "SHA256:", 7) == 0)
			return kiln_xstrndup(word, n);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
	}
	return NULL;
}

int kiln_fingerprints_parse(struct kiln_fingerprints *out, const char *console)
{
	const char *begin = NULL, *p, *end;

	memset(out, 0, sizeof(*out));
	/* The newest block wins: a rebooted instance prints its keys again. */
	for (p = strstr(console, BEGIN); p != NULL; p = strstr(p + 1, BEGIN))
		begin = p;
	if (begin == NULL)
		return kiln_error_set(KILN_ENOTFOUND, "no host key fingerprints on the console");
	end = strstr(begin, END);
	if (end == NULL)
		return kiln_error_set(KILN_ENOTFOUND,
		                      "the host key fingerprints on the console are incomplete");
	for (p = begin + strlen(BEGIN); p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *fp = fingerprint_in_line(p, len);
		if (fp != NULL) {
			out->items = kiln_xrealloc(out->items, (out->count + 1) * sizeof(char *));
			out->items[out->count++] = fp;
		}
		p += len + 1;
	}
	if (out->count == 0)
		return kiln_error_set(KILN_ENOTFOUND,
		                      "the console's host key block lists no fingerprints");
	return 0;
}

void kiln_fingerprint_of_blob(char out[52], const void *blob, size_t len)
{
	unsigned char md[32], b64[48];
	unsigned int mdlen = 0;
	int n;

	EVP_Digest(blob, len, md, &mdlen, EVP_sha256(), NULL);
	n = EVP_EncodeBlock(b64, md, 32);
	/* OpenSSH drops the base64 padding. */
	while (n > 0 && b64[n - 1] == '=')
		n--;
	snprintf(out, 52, "SHA256:%.*s", n, (const char *)b64);
}

int kiln_fingerprints_match(const struct kiln_fingerprints *fps, const char *fingerprint)
{
	size_t i;

	for (i = 0; i < fps->count; i++)
		if (strcmp(fps->items[i], fingerprint) == 0)
			return 1;
	return 0;
}
