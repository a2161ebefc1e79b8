#include "validate/tagsig.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/proc.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SSH_BEGIN "-----BEGIN SSH SIGNATURE-----"

/* The signature formats git knows, by the line that starts their block. */
static const char *const sig_starts[] = {
    "-----BEGIN PGP SIGNATURE-----",
    "-----BEGIN PGP MESSAGE-----",
    "-----BEGIN SIGNED MESSAGE-----",
    SSH_BEGIN,
};

/* Where the last line that starts a signature block begins (`len` when none), as git finds it. */
static size_t signature_start(const char *buf, size_t len, const char **kind)
{
	size_t at = 0, match = len, i;

	*kind = NULL;
	while (at < len) {
		const char *eol = memchr(buf + at, '\n', len - at);

		for (i = 0; i < KILN_ARRAY_SIZE(sig_starts); i++) {
			size_t n = strlen(sig_starts[i]);
			if (len - at >= n && memcmp(buf + at, sig_starts[i], n) == 0) {
				match = at;
				*kind = sig_starts[i];
			}
		}
		at = eol != NULL ? (size_t)(eol - buf) + 1 : len;
	}
	return match;
}

/* The value of header `name` in the tag's header block, or NULL; free() it. */
static char *header(const char *buf, size_t len, const char *name)
{
	size_t at = 0, n = strlen(name);

	while (at < len && buf[at] != '\n') {
		const char *eol = memchr(buf + at, '\n', len - at);
		size_t end = eol != NULL ? (size_t)(eol - buf) : len;

		if (end - at > n && memcmp(buf + at, name, n) == 0 && buf[at + n] == ' ')
			return kiln_xstrndup(buf + at + n + 1, end - at - n - 1);
		at = end + 1;
	}
	return NULL;
}

/* "-Overify-time=YYYYMMDDHHMMSS" in local time from the tagger line, or NULL without one. */
static char *verify_time(const char *buf, size_t len)
{
	char *tagger = header(buf, len, "tagger"), *gt, *end = NULL, *arg = NULL;
	char text[32];
	struct tm tm;
	long long t;
	time_t tt;

	if (tagger == NULL)
		return NULL;
	gt = strrchr(tagger, '>');
	if (gt != NULL) {
		errno = 0;
		t = strtoll(gt + 1, &end, 10);
		tt = (time_t)t;
		/* Key validity has no zone in allowed_signers: local time, as git passes it. */
		if (errno == 0 && end != gt + 1 && t > 0 && localtime_r(&tt, &tm) != NULL &&
		    strftime(text, sizeof(text), "%Y%m%d%H%M%S", &tm) > 0)
			arg = kiln_xasprintf("-Overify-time=%s", text);
	}
	free(tagger);
	return arg;
}

static int write_file(const char *path, const char *data, size_t len)
{
	int error = kiln_file_write_atomic(path, data, len, 0600);

	return error < 0 ? kiln_error_prefix(error, "writing '%s'", path) : 0;
}

/* Run ssh-keygen with `argv`, the payload on stdin when `payload` is given. */
static int keygen(int *status, struct kiln_buf *out, struct kiln_buf *err, char *const argv[],
                  const char *payload)
{
	int fd = -1, error;

	if (payload != NULL) {
		fd = open(payload, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return kiln_error_set(KILN_ERROR, "cannot open '%s': %s", payload,
			                      strerror(errno));
	}
	kiln_buf_clear(out);
	kiln_buf_clear(err);
	error = kiln_proc_run_fd(status, out, err, argv, fd);
	if (fd >= 0)
		close(fd);
	if (error >= 0 && *status == 127)
		error = kiln_error_set(
		    KILN_ERROR, "cannot run ssh-keygen (OpenSSH's client) to check a signature");
	return error;
}

/* ssh-keygen's last line, escaped, for a message. */
static char *last_line(struct kiln_buf *b)
{
	char *nl;

	kiln_buf_rtrim(b);
	nl = strrchr(b->ptr, '\n');
	return kiln_escape(nl != NULL ? nl + 1 : b->ptr);
}

/* Why a signature that no principal holds fails: a bad signature, or a stranger's key. */
static int unknown_signer(const char *tag, char *sig, char *payload, const char *vt)
{
	struct kiln_buf out = KILN_BUF_INIT, err = KILN_BUF_INIT;
	char *argv[] = {"ssh-keygen", "-Y", "check-novalidate", "-n", "git",
	                "-s",         sig,  (char *)vt,         NULL};
	char *why = NULL;
	int status = 1, error;

	error = keygen(&status, &out, &err, argv, payload);
	if (error < 0)
		goto done;
	if (status == 0) {
		/* "Good "git" signature with ED25519 key SHA256:..." */
		const char *key = strstr(out.ptr, " key ");
		why = kiln_escape(key != NULL ? key + 5 : "");
		kiln_buf_rtrim(&out);
		error = kiln_error_set(KILN_EINVAL,
		                       "tag '%s' is signed with key %s, which no principal of the "
		                       "allowed signers holds",
		                       tag, why);
	} else {
		why = last_line(err.size > 0 ? &err : &out);
		error = kiln_error_set(KILN_EINVAL, "tag '%s' has a bad signature: %s", tag, why);
	}
done:
	free(why);
	kiln_buf_release(&out);
	kiln_buf_release(&err);
	return error;
}

/* Try each principal ssh-keygen found (a line may list several, comma-separated). */
static int verify_principals(char **principal, const char *found, const char *tag,
                             const char *signers, char *sig, char *payload, const char *vt)
{
	struct kiln_buf out = KILN_BUF_INIT, err = KILN_BUF_INIT;
	char *list = kiln_xstrdup(found), *save = NULL, *p;
	char *why = NULL;
	int status = 1, error = 0;

	for (p = strtok_r(list, ",\n", &save); p != NULL; p = strtok_r(NULL, ",\n", &save)) {
		char *argv[] = {
		    "ssh-keygen", "-Y", "verify", "-n", "git",      "-f", (char *)signers,
		    "-I",         p,    "-s",     sig,  (char *)vt, NULL};

		if (p[0] == '\0')
			continue;
		error = keygen(&status, &out, &err, argv, payload);
		if (error < 0)
			goto done;
		if (status == 0 && strncmp(out.ptr, "Good", 4) == 0) {
			*principal = kiln_xstrdup(p);
			goto done;
		}
		free(why);
		why = last_line(err.size > 0 ? &err : &out);
	}
	error = kiln_error_set(KILN_EINVAL, "tag '%s': signature not accepted: %s", tag,
	                       why != NULL ? why : "no principal");
done:
	free(why);
	free(list);
	kiln_buf_release(&out);
	kiln_buf_release(&err);
	return error;
}

/* The tag must be the one asked for: its own name and target, signed with SSH. */
static int check_headers(const char *obj, size_t len, const char *tag_name, const char *commit)
{
	char *object = header(obj, len, "object"), *type = header(obj, len, "type");
	char *name = header(obj, len, "tag"), *shown = NULL;
	const char *want = strncmp(tag_name, "refs/tags/", 10) == 0 ? tag_name + 10 : tag_name;
	int error = 0;

	if (name == NULL || strcmp(name, want) != 0) {
		shown = kiln_escape(name != NULL ? name : "(none)");
		error =
		    kiln_error_set(KILN_EINVAL,
		                   "tag '%s' was signed as tag '%s': a signed tag is valid under "
		                   "its own name only",
		                   want, shown);
	} else if (object == NULL || type == NULL || strcmp(type, "commit") != 0 ||
	           (commit != NULL && strcmp(object, commit) != 0)) {
		shown = kiln_escape(object != NULL ? object : "(none)");
		error = kiln_error_set(KILN_EINVAL,
		                       "tag '%s' points at %s, not at commit %s: sign the commit "
		                       "itself",
		                       want, shown, commit != NULL ? commit : "(unknown)");
	}
	free(shown);
	free(object);
	free(type);
	free(name);
	return error;
}

int kiln_tagsig_verify(char **principal, const char *tag_object, size_t len, const char *tag_name,
                       const char *commit, const char *allowed_signers)
{
	struct kiln_buf out = KILN_BUF_INIT, err = KILN_BUF_INIT;
	char dir[] = "/tmp/kiln-tagsig-XXXXXX";
	char *sig = NULL, *payload = NULL, *vt = NULL;
	const char *kind = NULL;
	size_t start;
	int status = 1, error;

	KILN_ASSERT_ARG(principal != NULL && tag_object != NULL && tag_name != NULL &&
	                allowed_signers != NULL);
	*principal = NULL;
	error = check_headers(tag_object, len, tag_name, commit);
	if (error < 0)
		return error;
	start = signature_start(tag_object, len, &kind);
	if (kind == NULL)
		return kiln_error_set(KILN_EINVAL, "tag '%s' is not signed", tag_name);
	if (strcmp(kind, SSH_BEGIN) != 0)
		return kiln_error_set(KILN_EINVAL,
		                      "tag '%s' is signed with %s, not with an SSH key", tag_name,
		                      strstr(kind, "PGP") != NULL ? "OpenPGP" : "X.509");
	if (access(allowed_signers, R_OK) < 0)
		return kiln_error_set(KILN_ERROR, "cannot read allowed signers '%s': %s",
		                      allowed_signers, strerror(errno));
	if (mkdtemp(dir) == NULL)
		return kiln_error_set(KILN_ERROR, "cannot make a temporary directory: %s",
		                      strerror(errno));
	sig = kiln_xasprintf("%s/tag.sig", dir);
	payload = kiln_xasprintf("%s/tag.payload", dir);
	vt = verify_time(tag_object, start);
	error = write_file(sig, tag_object + start, len - start);
	if (error >= 0)
		error = write_file(payload, tag_object, start);
	if (error < 0)
		goto done;
	{
		char *argv[] = {
		    "ssh-keygen", "-Y", "find-principals", "-f", (char *)allowed_signers, "-s", sig,
		    vt,           NULL};
		error = keygen(&status, &out, &err, argv, NULL);
	}
	if (error < 0)
		goto done;
	kiln_buf_rtrim(&out);
	if (status != 0 || out.size == 0)
		error = unknown_signer(tag_name, sig, payload, vt);
	else
		error = verify_principals(principal, out.ptr, tag_name, allowed_signers, sig,
		                          payload, vt);
done:
	kiln_rm_rf(dir);
	free(sig);
	free(payload);
	free(vt);
	kiln_buf_release(&out);
	kiln_buf_release(&err);
	return error;
}
