/*
 * Key pairs: created (rsa in PEM, ed25519 in OpenSSH format, as EC2 hands
 * them out) or imported, with EC2's own fingerprints. Making a key and
 * fingerprinting one run ssh-keygen: that happens in the actions' prepare
 * step, without the cloud's lock; the handlers only record the result.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/shapes.h"
#include "core/proc.h"
#include "core/util.h"
#include "localcloud/describe-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/xml-int.h"

json_t *lc_key_pair(struct lc_cloud *c, const char *name)
{
	return json_object_get(lc_table(c, "key_pairs"), name);
}

/* ---- keys and fingerprints (no lock) ------------------------------------ */

/* A key made or read by the prepare step. */
struct new_key {
	const char *name, *type; /* borrowed from the request */
	char *fingerprint;
	char *public_key;
	struct kiln_buf private_key; /* wiped when freed; empty for an import */
};

static void new_key_free(void *p)
{
	struct new_key *k = p;

	if (k == NULL)
		return;
	free(k->fingerprint);
	free(k->public_key);
	kiln_buf_wipe(&k->private_key);
	kiln_buf_release(&k->private_key);
	free(k);
}

static int run_quiet(char *const argv[], struct kiln_buf *out)
{
	struct kiln_buf err = KILN_BUF_INIT;
	int status = 0, rc = kiln_proc_run(&status, out, &err, argv);

	if (rc == 0 && status != 0) {
		kiln_buf_rtrim(&err);
		rc = kiln_error_set(KILN_ERROR, "%s: %s", argv[0], err.ptr[0] ? err.ptr : "failed");
	}
	kiln_buf_release(&err);
	return rc;
}

/* "SHA256:abc..=" from ssh-keygen -l, as EC2 prints ed25519 fingerprints. */
static int sha256_fingerprint(char **out, const char *pub_path)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char *argv[] = {"ssh-keygen", "-l", "-E", "sha256", "-f", (char *)pub_path, NULL};
	char *sp, *colon;

	if (run_quiet(argv, &b) < 0) {
		kiln_buf_release(&b);
		return -1;
	}
	/* "256 SHA256:xxxx comment (ED25519)" */
	sp = strchr(b.ptr, ' ');
	colon = sp ? strchr(sp + 1, ':') : NULL;
	if (colon == NULL) {
		kiln_buf_release(&b);
		return kiln_error_set(KILN_EINVAL, "not a public key");
	}
	sp = strchr(colon + 1, ' ');
	if (sp)
		*sp = '\0';
	*out = kiln_xasprintf("%s=", colon + 1);
	kiln_buf_release(&b);
	return 0;
}

static char *colon_hex(const unsigned char *d, unsigned n)
{
	char *out = kiln_xmalloc(n * 3 + 1);

	out[0] = '\0';
	for (unsigned i = 0; i < n; i++)
		snprintf(out + i * 3, 4, "%02x%s", d[i], i + 1 < n ? ":" : "");
	return out;
}

/* EC2's fingerprint of an RSA key pair it created: SHA-1 of the PKCS#8 DER private key. */
static int rsa_created_fingerprint(char **out, const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	PKCS8_PRIV_KEY_INFO *p8 = pkey ? EVP_PKEY2PKCS8(pkey) : NULL;
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
	int rc = -1;

	if (len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha1(), NULL) == 1) {
		*out = colon_hex(md, mdlen);
		rc = 0;
	}
	if (der)
		OPENSSL_clear_free(der, (size_t)len);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return rc < 0 ? kiln_error_set(KILN_ERROR, "cannot fingerprint the RSA key") : 0;
}

/* EC2's fingerprint of an imported RSA key: MD5 of the DER public key (SubjectPublicKeyInfo). */
static int rsa_imported_fingerprint(char **out, const char *pub_path)
{
	struct kiln_buf pem = KILN_BUF_INIT;
	char *argv[] = {"ssh-keygen", "-e", "-m", "PKCS8", "-f", (char *)pub_path, NULL};
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int len = -1, rc = -1;

	if (run_quiet(argv, &pem) == 0 && (bio = BIO_new_mem_buf(pem.ptr, -1)) != NULL &&
	    (pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) != NULL &&
	    (len = i2d_PUBKEY(pkey, &der)) > 0 &&
	    EVP_Digest(der, (size_t)len, md, &mdlen, EVP_md5(), NULL) == 1) {
		*out = colon_hex(md, mdlen);
		rc = 0;
	}
	OPENSSL_free(der);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	kiln_buf_release(&pem);
	return rc < 0 ? kiln_error_set(KILN_EINVAL, "not an RSA public key") : 0;
}

/* A private directory for ssh-keygen's files under STATE/tmp. */
static char *scratch_dir(struct lc_cloud *c, const char *tag)
{
	char *tmp = kiln_path_join(c->state_dir, "tmp");
	char *rnd = kiln_id_random(tag, 12);
	char *dir = kiln_path_join(tmp, rnd);

	free(tmp);
	free(rnd);
	if (kiln_mkdir_p(dir, 0700) < 0) {
		free(dir);
		return NULL;
	}
	return dir;
}

static int make_key(struct new_key *k, const char *dir)
{
	char *priv = kiln_path_join(dir, "key"), *pub = kiln_xasprintf("%s/key.pub", dir);
	/* rsa in PEM (PKCS#1) and ed25519 in OpenSSH format, as EC2 hands them out */
	char *argv_rsa[] = {"ssh-keygen", "-q", "-t", "rsa",           "-b", "2048", "-m", "PEM",
	                    "-N",         "",   "-C", (char *)k->name, "-f", priv,   NULL};
	char *argv_ed[] = {"ssh-keygen",    "-q", "-t", "ed25519", "-N", "", "-C",
	                   (char *)k->name, "-f", priv, NULL};
	struct kiln_buf pubtext = KILN_BUF_INIT;
	int rc;

	rc = run_quiet(strcmp(k->type, "rsa") == 0 ? argv_rsa : argv_ed, NULL);
	if (rc == 0)
		rc = kiln_file_read(&k->private_key, priv);
	if (rc == 0)
		rc = kiln_file_read(&pubtext, pub);
	if (rc == 0)
		rc = strcmp(k->type, "rsa") == 0
		         ? rsa_created_fingerprint(&k->fingerprint, k->private_key.ptr)
		         : sha256_fingerprint(&k->fingerprint, pub);
	if (rc == 0) {
		kiln_buf_rtrim(&pubtext);
		kiln_buf_rtrim(&k->private_key);
		k->public_key = kiln_buf_detach(&pubtext);
	}
	kiln_buf_release(&pubtext);
	free(priv);
	free(pub);
	return rc;
}

/* EC2 key names: 1 to 255 ASCII characters. */
static int valid_key_name(const char *s)
{
	if (strlen(s) > 255)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static int check_name(struct lc_req *r, const char *name)
{
	if (name == NULL)
		return lc_missing(r, "KeyName");
	if (!valid_key_name(name))
		return lc_invalid(r, "KeyName", name, "Key names are 1 to 255 ASCII characters.");
	return 0;
}

int lc_ec2_create_key_pair_prepare(struct lc_req *r)
{
	const char *name = lc_q(r, "KeyName"), *type = lc_q(r, "KeyType");
	const char *format = lc_q(r, "KeyFormat");
	struct new_key *k;
	char *dir;
	int rc;

	if (check_name(r, name) < 0)
		return -1;
	if (type == NULL)
		type = "rsa";
	if (strcmp(type, "rsa") != 0 && strcmp(type, "ed25519") != 0)
		return lc_invalid(r, "KeyType", type, "Expected rsa or ed25519.");
	if (format && strcmp(format, "pem") != 0)
		return lc_invalid(r, "KeyFormat", format, "The local cloud returns pem keys only.");
	k = kiln_xcalloc(1, sizeof(*k));
	kiln_buf_init(&k->private_key, 1 << 20);
	k->name = name;
	k->type = type;
	r->prep = k;
	r->prep_free = new_key_free;
	dir = scratch_dir(r->c, "key-");
	rc = dir ? make_key(k, dir) : -1;
	if (dir)
		kiln_rm_rf(dir);
	free(dir);
	if (rc < 0)
		return lc_err(r, 500, "InternalError", "creating the key pair failed: %s",
		              kiln_error_last());
	return 0;
}

/* Record a key made or read by the prepare step (under the lock). */
static int store_key(struct lc_req *r, struct new_key *k, json_t **out)
{
	json_t *tags, *kp;
	char created[32], *id;

	if (lc_key_pair(r->c, k->name))
		return lc_err(r, 400, "InvalidKeyPair.Duplicate",
		              "The keypair '%s' already exists.", k->name);
	tags = json_object();
	if (lc_q_tag_specs(r, "TagSpecification", "key-pair", tags) < 0) {
		json_decref(tags);
		return -1;
	}
	id = lc_new_id("key-");
	lc_now_iso(created);
	kp = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id", id, "name", k->name, "type",
	               k->type, "fingerprint", k->fingerprint, "public_key", k->public_key,
	               "created", created, "tags", tags);
	json_object_set_new(lc_table(r->c, "key_pairs"), k->name, kp);
	free(id);
	r->dirty = 1;
	*out = kp;
	return 0;
}

int lc_ec2_create_key_pair(struct lc_req *r)
{
	struct new_key *k = r->prep;
	json_t *kp;

	if (store_key(r, k, &kp) < 0)
		return -1;
	lc_xt(r->out, "keyName", k->name);
	lc_xt(r->out, "keyFingerprint", k->fingerprint);
	lc_xt(r->out, "keyMaterial", k->private_key.ptr);
	lc_xt(r->out, "keyPairId", lc_str(kp, "id"));
	lc_xtags(r->out, "tagSet", json_object_get(kp, "tags"));
	return 0;
}

static int read_public_key(struct lc_req *r, struct new_key *k, const char *material)
{
	struct kiln_buf decoded = KILN_BUF_INIT;
	char *line;

	if (kiln_aws_base64_decode(&decoded, material) < 0 || decoded.size == 0) {
		kiln_error_clear();
		kiln_buf_release(&decoded);
		return lc_err(r, 400, "InvalidKey.Format",
		              "Key is not in valid OpenSSH public key format");
	}
	line = kiln_xstrndup(decoded.ptr, decoded.size);
	kiln_buf_release(&decoded);
	line[strcspn(line, "\r\n")] = '\0';
	k->public_key = line;
	if (strncmp(line, "ssh-rsa ", 8) == 0)
		k->type = "rsa";
	else if (strncmp(line, "ssh-ed25519 ", 12) == 0)
		k->type = "ed25519";
	else
		return lc_err(r, 400, "InvalidKey.Format",
		              "Key is not in valid OpenSSH public key format (ssh-rsa or "
		              "ssh-ed25519)");
	return 0;
}

int lc_ec2_import_key_pair_prepare(struct lc_req *r)
{
	const char *name = lc_q(r, "KeyName"), *material = lc_q(r, "PublicKeyMaterial");
	struct new_key *k;
	char *dir, *pub = NULL;
	int rc = -1;

	if (check_name(r, name) < 0)
		return -1;
	if (material == NULL)
		return lc_missing(r, "PublicKeyMaterial");
	k = kiln_xcalloc(1, sizeof(*k));
	k->name = name;
	r->prep = k;
	r->prep_free = new_key_free;
	if (read_public_key(r, k, material) < 0)
		return -1;
	dir = scratch_dir(r->c, "imp-");
	if (dir != NULL) {
		pub = kiln_path_join(dir, "key.pub");
		if (kiln_file_write_atomic(pub, k->public_key, strlen(k->public_key), 0600) == 0)
			rc = strcmp(k->type, "rsa") == 0
			         ? rsa_imported_fingerprint(&k->fingerprint, pub)
			         : sha256_fingerprint(&k->fingerprint, pub);
		kiln_rm_rf(dir);
	}
	free(pub);
	free(dir);
	if (rc < 0)
		return lc_err(r, 400, "InvalidKey.Format",
		              "Key is not in valid OpenSSH public key format");
	return 0;
}

int lc_ec2_import_key_pair(struct lc_req *r)
{
	struct new_key *k = r->prep;
	json_t *kp;

	if (store_key(r, k, &kp) < 0)
		return -1;
	lc_xt(r->out, "keyFingerprint", k->fingerprint);
	lc_xt(r->out, "keyName", k->name);
	lc_xt(r->out, "keyPairId", lc_str(kp, "id"));
	lc_xtags(r->out, "tagSet", json_object_get(kp, "tags"));
	return 0;
}

/* ---- describe and delete ------------------------------------------------ */

static const struct lc_field key_fields[] = {{"key-name", .key = "name"},
                                             {"key-pair-id", .key = "id"},
                                             {"fingerprint", .key = "fingerprint"},
                                             {"key-type", .key = "type"},
                                             {NULL}};

static void key_pair_xml(struct lc_req *r, json_t *k)
{
	int with_public = 0;

	/* checked by lc_ec2_describe_key_pairs before the listing */
	lc_q_bool(r, "IncludePublicKey", 0, &with_public);
	lc_xo(r->out, "item");
	lc_xt(r->out, "keyPairId", lc_str(k, "id"));
	lc_xt(r->out, "keyName", lc_str(k, "name"));
	lc_xt(r->out, "keyFingerprint", lc_str(k, "fingerprint"));
	lc_xt(r->out, "keyType", lc_str(k, "type"));
	if (with_public)
		lc_xt(r->out, "publicKey", lc_str(k, "public_key"));
	lc_xt(r->out, "createTime", lc_str(k, "created"));
	lc_xtags(r->out, "tagSet", json_object_get(k, "tags"));
	lc_xc(r->out, "item");
}

int lc_ec2_describe_key_pairs(struct lc_req *r)
{
	static const struct lc_describe d = {
	    .table = "key_pairs",
	    .by = {{"KeyName", NULL, NULL, "InvalidKeyPair.NotFound", "key pair"},
	           {"KeyPairId", "id", NULL, "InvalidKeyPair.NotFound", "key pair"}},
	    .fields = key_fields,
	    .set = "keySet",
	    .item = key_pair_xml};
	int with_public;

	if (lc_q_bool(r, "IncludePublicKey", 0, &with_public) < 0)
		return -1;
	return lc_describe(r, &d);
}

int lc_ec2_delete_key_pair(struct lc_req *r)
{
	const char *name = lc_q(r, "KeyName"), *id = lc_q(r, "KeyPairId"), *k;
	json_t *keys = lc_table(r->c, "key_pairs"), *v, *found = NULL;
	char *found_id;

	if (name == NULL && id == NULL)
		return lc_missing(r, "KeyName");
	json_object_foreach(keys, k, v)
	{
		if ((name && strcmp(k, name) == 0) || (id && strcmp(lc_str(v, "id"), id) == 0))
			found = v;
	}
	if (found == NULL && id != NULL)
		return lc_err(r, 400, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist",
		              id);
	/* deleting a key pair that does not exist by name succeeds, as on EC2 */
	lc_xt(r->out, "return", "true");
	if (found) {
		found_id = kiln_xstrdup(lc_str(found, "id"));
		json_object_del(keys, lc_str(found, "name"));
		lc_xt(r->out, "keyPairId", found_id);
		free(found_id);
		r->dirty = 1;
	}
	return 0;
}
