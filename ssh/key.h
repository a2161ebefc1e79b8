/*
 * SSH keys kiln makes for itself: the temporary ed25519 key pair a bake uses
 * to log in to its builder (and, in tests, a server's host key).
 *
 * The private key is a secret. It lives in memory in OpenSSH's own format
 * ("openssh-key-v1", unencrypted), which libssh2 reads from memory and
 * OpenSSH reads from a file; kiln_ssh_key_free() overwrites it, and
 * kiln_ssh_key_write_private() is the only way it reaches a disk (mode 0600).
 * It never appears in a log line or an error message.
 */
#ifndef KILN_SSH_KEY_H
#define KILN_SSH_KEY_H

#include <stddef.h>

struct kiln_ssh_key {
	char *public_line; /* "ssh-ed25519 AAAA... comment", no newline */
	char *fingerprint; /* "SHA256:..." as ssh-keygen -l prints it */
	char *private_pem; /* "-----BEGIN OPENSSH PRIVATE KEY-----..."; secret */
	size_t private_len;
};

/* Generate a fresh ed25519 key pair; `comment` ends the public line. */
int kiln_ssh_keygen_ed25519(struct kiln_ssh_key **out, const char *comment);

/*
 * Write the private key to `path`, created with mode 0600 and refusing to
 * follow or replace an existing file. The caller deletes it when done.
 */
int kiln_ssh_key_write_private(const struct kiln_ssh_key *key, const char *path);

/* The OpenSSH fingerprint ("SHA256:" + unpadded base64) of a key blob. */
char *kiln_ssh_fingerprint(const unsigned char *blob, size_t len);

/* Wipe the private key and free everything; NULL is a no-op. */
void kiln_ssh_key_free(struct kiln_ssh_key *key);

#endif
