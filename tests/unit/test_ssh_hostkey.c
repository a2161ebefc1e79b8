#include <check.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln.h"
#include "ssh/hostkey.h"

static const char console[] =
    "[    0.000000] booting\n"
    "-----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
    "256 SHA256:OLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDO root@ip-172-31-0-5 (ED25519)\n"
    "-----END SSH HOST KEY FINGERPRINTS-----\n"
    "rebooting\n"
    "-----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
    "256 SHA256:u9V0ykCu0p8KXg3mVv0ZbA9dZ5p0mN3sW0J8VbL3c0Q root@ip-172-31-0-5 (ED25519)\n"
    "ec2: 3072 SHA256:Zq1xX0oAqV2f7n5y8P0c3bW9yq7r2m1KcLz8n0T5sYk root@ip-172-31-0-5 (RSA)\n"
    "some noise without a fingerprint\n"
    "-----END SSH HOST KEY FINGERPRINTS-----\n"
    "login:\n";

START_TEST(parse_takes_the_newest_block)
{
	struct kiln_fingerprints fps;

	ck_assert_int_eq(kiln_fingerprints_parse(&fps, console), 0);
	ck_assert_uint_eq(fps.count, 2);
	ck_assert_str_eq(fps.items[0], "SHA256:u9V0ykCu0p8KXg3mVv0ZbA9dZ5p0mN3sW0J8VbL3c0Q");
	ck_assert_str_eq(fps.items[1], "SHA256:Zq1xX0oAqV2f7n5y8P0c3bW9yq7r2m1KcLz8n0T5sYk");
	ck_assert(
	    kiln_fingerprints_match(&fps, "SHA256:Zq1xX0oAqV2f7n5y8P0c3bW9yq7r2m1KcLz8n0T5sYk"));
	ck_assert(
	    !kiln_fingerprints_match(&fps, "SHA256:OLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDO"));
	kiln_fingerprints_release(&fps);
}
END_TEST

START_TEST(parse_refuses_missing_or_incomplete_blocks)
{
	struct kiln_fingerprints fps;

	ck_assert_int_eq(kiln_fingerprints_parse(&fps, "booting\nlogin:\n"), KILN_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "no host key fingerprints"));
	ck_assert_int_eq(kiln_fingerprints_parse(&fps, "-----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
	                                               "256 SHA256:abc root@h (ED25519)\n"),
	                 KILN_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "incomplete"));
	ck_assert_int_eq(kiln_fingerprints_parse(&fps, "-----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
	                                               "nothing here\n"
	                                               "-----END SSH HOST KEY FINGERPRINTS-----\n"),
	                 KILN_ENOTFOUND);
	ck_assert_uint_eq(fps.count, 0);
	kiln_fingerprints_release(&fps);
}
END_TEST

/* The blob of an OpenSSH public key line: the base64 second word. */
static unsigned char *pub_blob(const char *line, size_t *len)
{
	const char *b = strchr(line, ' ') + 1;
	size_t n = strcspn(b, " \n");
	unsigned char *out = kiln_xmalloc(n);
	int got = EVP_DecodeBlock(out, (const unsigned char *)b, (int)n);

	ck_assert_int_gt(got, 0);
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	*len = (size_t)got - (b[n - 1] == '=') - (b[n - 2] == '=');
	return out;
}

START_TEST(fingerprints_equal_ssh_keygen)
{
	static const char *const types[] = {"ed25519", "rsa", "ecdsa"};
	char dir[] = "/tmp/kiln-ssh-XXXXXX";
	size_t i;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (i = 0; i < KILN_ARRAY_SIZE(types); i++) {
		struct kiln_buf pub = KILN_BUF_INIT, out = KILN_BUF_INIT;
		char *key = kiln_xasprintf("%s/%s", dir, types[i]);
		char *pubpath = kiln_xasprintf("%s.pub", key);
		char *gen[] = {"ssh-keygen", "-q", "-t", (char *)types[i], "-N", "",
		               "-f",         key,  NULL};
		char *show[] = {"ssh-keygen", "-l", "-E", "sha256", "-f", pubpath, NULL};
		char fp[52], *want;
		unsigned char *blob;
		size_t len;
		int status = -1;

		ck_assert_int_eq(kiln_proc_run(&status, NULL, NULL, gen), 0);
		ck_assert_int_eq(status, 0);
		ck_assert_int_eq(kiln_file_read(&pub, pubpath), 0);
		blob = pub_blob(pub.ptr, &len);
		kiln_fingerprint_of_blob(fp, blob, len);
		ck_assert_int_eq(kiln_proc_run(&status, &out, NULL, show), 0);
		ck_assert_int_eq(status, 0);
		/* "256 SHA256:... comment (ED25519)" */
		want = strchr(out.ptr, ' ') + 1;
		*strchr(want, ' ') = '\0';
		ck_assert_str_eq(fp, want);
		free(blob);
		free(key);
		free(pubpath);
		kiln_buf_release(&pub);
		kiln_buf_release(&out);
	}
	kiln_rm_rf(dir);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("ssh");
	TCase *tc = tcase_create("hostkey");

	tcase_add_test(tc, parse_takes_the_newest_block);
	tcase_add_test(tc, parse_refuses_missing_or_incomplete_blocks);
	tcase_add_test(tc, fingerprints_equal_ssh_keygen);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
