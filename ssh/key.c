#include "ssh/key.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/util.h"

#define ED25519_LEN 32

/*
 * SSH wire encoding into a buffer. The first failure sticks and later calls
 * do nothing, so a message is built with one check at the end.
 */
struct wire {
	struct kiln_buf buf;
	int error;
};

#define WIRE_INIT                                                                                  \
	{                                                                                          \
		KILN_BUF_INIT, 0                                                                   \
	}

static void wire_bytes(struct wire *w, const void *data, size_t len)
{
	if (w->error == 0)
		w->error = kiln_buf_put(&w->buf, data, len);
}

static void wire_u32(struct wire *w, unsigned long v)
{
	unsigned char be[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                       (unsigned char)(v >> 8), (unsigned char)v};

	wire_bytes(w, be, 4);
}

/* An SSH "string": a 32-bit big-endian length, then the bytes. */
static void wire_string(struct wire *w, const void *data, size_t len)
{
	wire_u32(w, len);
	wire_bytes(w, data, len);
}

static char *base64(const unsigned char *in, size_t len, int pad)
{
	char *out = kiln_xmalloc(4 * ((len + 2) / 3) + 1);
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);

	while (!pad && n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	return out;
}

char *kiln_ssh_fingerprint(const unsigned char *blob, size_t len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *b64, *fp;

	SHA256(blob, len, md);
	b64 = base64(md, sizeof(md), 0);
	fp = kiln_xasprintf("SHA256:%s", b64);
	free(b64);
	return fp;
}

static int openssl_error(const char *what)
{
	char msg[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, msg, sizeof(msg));
	ERR_clear_error();
	return kiln_error_set(KILN_ERROR, "cannot %s: %s", what, e ? msg : "unknown openssl error");
}

/*
 * OpenSSL writes ed25519 private keys only as PKCS#8, which libssh2 1.10
 * cannot always use for signing; OpenSSH's own format works everywhere, so
 * build it: see PROTOCOL.key in the OpenSSH sources.
 */
static int encode_private(struct kiln_buf *pem, const unsigned char pub[ED25519_LEN],
                          const unsigned char seed[ED25519_LEN], const char *comment)
{
	struct wire blob = WIRE_INIT, priv = WIRE_INIT, file = WIRE_INIT;
	unsigned char pad;
	uint32_t check;
	char *b64 = NULL;
	size_t i, n;
	int error;

	error = kiln_random_bytes(&check, sizeof(check));
	if (error < 0)
		goto done;
	/* Grow once up front: a realloc would leave copies of the key behind. */
	kiln_buf_grow(&priv.buf, 512);
	kiln_buf_grow(&file.buf, 1024);
	kiln_buf_grow(pem, 2048);
	wire_string(&blob, "ssh-ed25519", 11);
	wire_string(&blob, pub, ED25519_LEN);

	/* The 64-byte private part is the seed then the public key. */
	wire_u32(&priv, check);
	wire_u32(&priv, check);
	wire_string(&priv, "ssh-ed25519", 11);
	wire_string(&priv, pub, ED25519_LEN);
	wire_u32(&priv, 2 * ED25519_LEN);
	wire_bytes(&priv, seed, ED25519_LEN);
	wire_bytes(&priv, pub, ED25519_LEN);
	wire_string(&priv, comment, strlen(comment));
	for (pad = 1; priv.buf.size % 8 != 0; pad++)
		wire_bytes(&priv, &pad, 1);

	wire_bytes(&file, "openssh-key-v1", 15);
	wire_string(&file, "none", 4); /* cipher */
	wire_string(&file, "none", 4); /* kdf */
	wire_string(&file, "", 0);     /* kdf options */
	wire_u32(&file, 1);
	wire_string(&file, blob.buf.ptr, blob.buf.size);
	wire_string(&file, priv.buf.ptr, priv.buf.size);
	error = blob.error < 0 ? blob.error : priv.error < 0 ? priv.error : file.error;
	if (error < 0)
		goto done;

	b64 = base64((const unsigned char *)file.buf.ptr, file.buf.size, 1);
	n = strlen(b64);
	kiln_buf_puts(pem, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
	for (i = 0; i < n; i += 70) {
		kiln_buf_put(pem, b64 + i, n - i < 70 ? n - i : 70);
		kiln_buf_putc(pem, '\n');
	}
	/* The key is a few hundred bytes: only the last append can tell a cap. */
	error = kiln_buf_puts(pem, "-----END OPENSSH PRIVATE KEY-----\n");

done:
	if (b64 != NULL) {
		OPENSSL_cleanse(b64, strlen(b64));
		free(b64);
	}
	kiln_buf_release(&blob.buf);
	kiln_buf_wipe(&priv.buf);
	kiln_buf_wipe(&file.buf);
	return error;
}

int kiln_ssh_keygen_ed25519(struct kiln_ssh_key **out, const char *comment)
{
	struct kiln_ssh_key *key = NULL;
	struct kiln_buf pem = KILN_BUF_INIT;
	struct wire blob = WIRE_INIT;
	unsigned char pub[ED25519_LEN], seed[ED25519_LEN];
	size_t publen = sizeof(pub), seedlen = sizeof(seed);
	EVP_PKEY *pkey = NULL;
	char *b64 = NULL;
	int error;

	KILN_ASSERT_ARG(out != NULL);
	KILN_ASSERT_ARG(comment != NULL && strchr(comment, '\n') == NULL);
	*out = NULL;

	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pkey == NULL) {
		error = openssl_error("generate an ed25519 key");
		goto done;
	}
	if (EVP_PKEY_get_raw_public_key(pkey, pub, &publen) != 1 || publen != ED25519_LEN ||
	    EVP_PKEY_get_raw_private_key(pkey, seed, &seedlen) != 1 || seedlen != ED25519_LEN) {
		error = openssl_error("read the ed25519 key");
		goto done;
	}

	wire_string(&blob, "ssh-ed25519", 11);
	wire_string(&blob, pub, sizeof(pub));
	error = blob.error;
	if (error < 0)
		goto done;
	error = encode_private(&pem, pub, seed, comment);
	if (error < 0)
		goto done;

	key = kiln_xcalloc(1, sizeof(*key));
	b64 = base64((const unsigned char *)blob.buf.ptr, blob.buf.size, 1);
	key->public_line = comment[0] ? kiln_xasprintf("ssh-ed25519 %s %s", b64, comment)
	                              : kiln_xasprintf("ssh-ed25519 %s", b64);
	key->fingerprint = kiln_ssh_fingerprint((const unsigned char *)blob.buf.ptr, blob.buf.size);
	key->private_len = pem.size;
	key->private_pem = kiln_buf_detach(&pem);
	*out = key;
	key = NULL;

done:
	OPENSSL_cleanse(seed, sizeof(seed));
	EVP_PKEY_free(pkey);
	free(b64);
	kiln_buf_release(&blob.buf);
	kiln_buf_wipe(&pem);
	kiln_ssh_key_free(key);
	return error;
}

int kiln_ssh_key_write_private(const struct kiln_ssh_key *key, const char *path)
{
	size_t off = 0;
	ssize_t n;
	int fd, error = 0;

	KILN_ASSERT_ARG(key != NULL && path != NULL);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return kiln_error_set(KILN_ERROR, "cannot create '%s': %s", path, strerror(errno));
	/* An umask cannot widen 0600, but a pre-set ACL default could: be explicit. */
	if (fchmod(fd, 0600) < 0) {
		error = kiln_error_set(KILN_ERROR, "cannot chmod '%s': %s", path, strerror(errno));
		goto done;
	}
	while (off < key->private_len) {
		n = write(fd, key->private_pem + off, key->private_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = kiln_error_set(KILN_ERROR, "cannot write '%s': %s", path,
			                       strerror(errno));
			goto done;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		error = kiln_error_set(KILN_ERROR, "cannot sync '%s': %s", path, strerror(errno));

done:
	close(fd);
	if (error < 0)
		unlink(path);
	return error;
}

void kiln_ssh_key_free(struct kiln_ssh_key *key)
{
	if (key == NULL)
		return;
	free(key->public_line);
	free(key->fingerprint);
	if (key->private_pem != NULL) {
		OPENSSL_cleanse(key->private_pem, key->private_len);
		free(key->private_pem);
	}
	free(key);
}
