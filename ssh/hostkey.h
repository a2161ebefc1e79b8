/*
 * Host key fingerprints, as printed on an instance's console between
 * "-----BEGIN SSH HOST KEY FINGERPRINTS-----" and
 * "-----END SSH HOST KEY FINGERPRINTS-----" (cloud-init on EC2, and the
 * local cloud's init), and the check of a server's key against them before
 * any authentication: kiln never accepts a builder's key blindly.
 *
 * Fingerprints are OpenSSH's: "SHA256:" and the unpadded base64 of the
 * sha256 of the key blob, as `ssh-keygen -l` prints them.
 */
#ifndef KILN_SSH_HOSTKEY_H
#define KILN_SSH_HOSTKEY_H

#include <stddef.h>

struct kiln_fingerprints {
	char **items; /* "SHA256:..." */
	size_t count;
};

/*
 * Parse the last fingerprint block of `console` (an instance prints a new
 * one on each boot). Lines look like "256 SHA256:xxx root@host (ED25519)",
 * optionally after "ec2: ". KILN_ENOTFOUND when no complete block is there.
 */
int kiln_fingerprints_parse(struct kiln_fingerprints *out, const char *console);
void kiln_fingerprints_release(struct kiln_fingerprints *fps);

/* "SHA256:..." of a raw key blob (as sent in the SSH handshake) into out[52]. */
void kiln_fingerprint_of_blob(char out[52], const void *blob, size_t len);

/* Whether `fingerprint` is one of `fps`. */
int kiln_fingerprints_match(const struct kiln_fingerprints *fps, const char *fingerprint);

#endif
