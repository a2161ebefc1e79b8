/*
 * Host key verification for machines kiln has just launched. kiln never
 * accepts a host key blindly: it compares the key the server offers with the
 * fingerprints the machine printed on its console at first boot (what
 * cloud-init and kiln's local cloud print between "-----BEGIN SSH HOST KEY
 * FINGERPRINTS-----" and "-----END SSH HOST KEY FINGERPRINTS-----").
 */
#ifndef KILN_SSH_HOSTKEY_H
#define KILN_SSH_HOSTKEY_H

#include <stddef.h>

enum kiln_ssh_hostkey_policy {
	/* Refuse unless the offered key is among the expected fingerprints. */
	KILN_SSH_HOSTKEY_STRICT = 0,
	/* With no expected fingerprints, accept and log a warning; a mismatch
	 * with known fingerprints is still refused (as OpenSSH's accept-new). */
	KILN_SSH_HOSTKEY_ACCEPT_NEW,
};

struct kiln_ssh_fingerprint {
	char *sha256; /* "SHA256:" + 43 base64 characters */
	char *type;   /* "ED25519", "ECDSA", "RSA", ... or "" when not printed */
	int bits;
};

struct kiln_ssh_fingerprints {
	struct kiln_ssh_fingerprint *items;
	size_t count;
};

#define KILN_SSH_FINGERPRINTS_INIT                                                                 \
	{                                                                                          \
		NULL, 0                                                                            \
	}

/*
 * Parse the last complete fingerprint block in console text. Lines inside the
 * block look like "256 SHA256:xxxx root@host (ED25519)", optionally after a
 * "ec2: " prefix; other lines there (kernel messages interleaved on a serial
 * console) are skipped. KILN_ENOTFOUND when there is no complete block or it
 * holds no fingerprint.
 */
int kiln_ssh_fingerprints_parse(struct kiln_ssh_fingerprints *out, const char *console);
/* Add one fingerprint ("SHA256:..."); KILN_EINVAL when malformed. */
int kiln_ssh_fingerprints_add(struct kiln_ssh_fingerprints *fps, const char *sha256,
                              const char *type);
/* Whether `sha256` is one of `fps`. */
int kiln_ssh_fingerprints_contains(const struct kiln_ssh_fingerprints *fps, const char *sha256);
void kiln_ssh_fingerprints_release(struct kiln_ssh_fingerprints *fps);

/*
 * Decide on an offered host key (its fingerprint and type name, e.g.
 * "ssh-ed25519") for `where` ("host:port", for messages): 0 to go on,
 * KILN_EAUTH with both the offered and the expected fingerprints otherwise.
 */
int kiln_ssh_hostkey_check(const struct kiln_ssh_fingerprints *expected,
                           enum kiln_ssh_hostkey_policy policy, const char *where,
                           const char *offered, const char *offered_type);

#endif
