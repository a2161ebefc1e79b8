/*
 * Signed release tags (policy.require_signed_tags): an annotated tag's SSH
 * signature checked as `git verify-tag` checks it with
 * gpg.ssh.allowedSignersFile set and gpg.minTrustLevel=fully, that is, with
 * the same program and the same arguments git uses:
 *
 *   ssh-keygen -Y find-principals -f ALLOWED_SIGNERS -s SIG -Overify-time=T
 *   ssh-keygen -Y verify -n git -f ALLOWED_SIGNERS -I PRINCIPAL -s SIG
 *              -Overify-time=T < PAYLOAD
 *
 * where PAYLOAD is the tag object up to its last signature block, SIG that
 * block, and T the tagger's time (the key's valid-after/valid-before in the
 * allowed_signers file are judged at the time the tag was made, as git
 * does). ssh-keygen is what git runs, so the allowed_signers file means
 * exactly what it means to git (principal patterns, namespaces=, validity
 * windows, cert-authority); reimplementing SSHSIG and that file's grammar
 * over OpenSSL would be a second reading of it that could disagree.
 *
 * Unlike git's default, a good signature by a key that no principal of the
 * file holds is refused: the rule is about who signed, not that someone
 * did. The tag's own "tag" and "object" headers must name the ref and the
 * commit being baked, so a signed tag cannot be replayed under another name.
 */
#ifndef KILN_VALIDATE_TAGSIG_H
#define KILN_VALIDATE_TAGSIG_H

#include <stddef.h>

/*
 * Verify `tag_object` (`len` raw bytes of an annotated tag) as tag
 * `tag_name` of commit `commit` (40 hex) against `allowed_signers`. 0 with
 * *principal (free() it) naming the signer; KILN_EINVAL with the reason
 * (not signed, signed with OpenPGP, a bad signature, an unknown key, a tag
 * for another name or commit); KILN_ERROR when ssh-keygen cannot be run or
 * the allowed_signers file cannot be read.
 */
int kiln_tagsig_verify(char **principal, const char *tag_object, size_t len, const char *tag_name,
                       const char *commit, const char *allowed_signers);

#endif
