/*
 * Images: stacks of layers under STATE/layers. CreateImage captures a
 * stopped instance's upper directory as a new layer in a worker thread
 * (stopping and restarting a running one unless NoReboot); base images are
 * registered from layers that `kiln cloud image` built. Layers nothing uses
 * any more are collected.
 */
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "localcloud/describe-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/xml-int.h"

/* Removed layers wait under this name until lc_layers_sweep() deletes them. */
#define TRASH_PREFIX ".trash-"

static json_t *images(struct lc_cloud *c)
{
	return lc_table(c, "images");
}

static int valid_image_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 128)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789()[] "
	                 "./-'@_") == n;
}

/* "layer-" and 17 lowercase hex digits: the only names a layer directory has. */
static int valid_layer_id(const char *s)
{
	return strncmp(s, "layer-", 6) == 0 && strlen(s) == 23 &&
	       strspn(s + 6, "0123456789abcdef") == 17;
}

static int image_name_taken(struct lc_cloud *c, const char *name)
{
	const char *k;
	json_t *v;

	json_object_foreach(images(c), k, v)
	{
		if (strcmp(lc_str(v, "name"), name) == 0)
			return 1;
	}
	return 0;
}

static int check_new_image(struct lc_req *r, const char *name)
{
	const char *desc = lc_q(r, "Description");

	if (!valid_image_name(name))
		return lc_err(r, 400, "InvalidAMIName.Malformed",
		              "AMI names must be between 3 and 128 characters long, and may "
		              "contain letters, numbers, '(', ')', '.', '-', '/', '_', '[', ']', "
		              "' ', '@' and \"'\"");
	if (desc != NULL && strlen(desc) > 255)
		return lc_err(r, 400, "InvalidParameterValue",
		              "AMI descriptions are limited to 255 characters");
	if (image_name_taken(r->c, name))
		return lc_err(r, 400, "InvalidAMIName.Duplicate",
		              "AMI name %s is already in use by another AMI", name);
	return 0;
}

static _Thread_local long long du_bytes;

static int du_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)flag;
	(void)ftw;
	du_bytes += (long long)st->st_blocks * 512;
	return 0;
}

long long lc_dir_size_gib(const char *dir)
{
	du_bytes = 0;
	nftw(dir, du_add, 32, FTW_PHYS);
	return du_bytes / (1024LL * 1024 * 1024) + 1;
}

/* ---- layers no one uses ------------------------------------------------- */

static void mark_layers(json_t *used, json_t *layers)
{
	size_t i;
	json_t *l;

	json_array_foreach(layers, i, l)
	    json_object_set_new(used, json_string_value(l), json_true());
}

static json_t *layers_in_use(struct lc_cloud *c)
{
	json_t *used = json_object(), *v;
	const char *k;

	json_object_foreach(images(c), k, v) mark_layers(used, json_object_get(v, "layers"));
	json_object_foreach(lc_instances(c), k, v)
	{
		if (strcmp(lc_str(v, "state"), "terminated") != 0)
			mark_layers(used, json_object_get(v, "layers"));
	}
	json_object_foreach(lc_table(c, "snapshots"), k, v)
	{
		if (lc_str(v, "layer"))
			json_object_set_new(used, lc_str(v, "layer"), json_true());
	}
	return used;
}

void lc_layers_collect(struct lc_cloud *c)
{
	json_t *used = layers_in_use(c);
	struct dirent *e;
	DIR *d = opendir(c->layers_dir);

	while (d && (e = readdir(d)) != NULL) {
		struct stat st;
		char *p, *trash;
		if (!valid_layer_id(e->d_name) || json_object_get(used, e->d_name))
			continue;
		p = kiln_path_join(c->layers_dir, e->d_name);
		trash = kiln_xasprintf("%s/" TRASH_PREFIX "%s", c->layers_dir, e->d_name);
		/* a layer being registered right now is young: leave it */
		if (stat(p, &st) == 0 && time(NULL) - st.st_mtime > 60) {
			kiln_log_info("removing unused layer %s", e->d_name);
			if (rename(p, trash) < 0)
				kiln_log_warn("%s: cannot move aside: %m", p);
		}
		free(trash);
		free(p);
	}
	if (d)
		closedir(d);
	json_decref(used);
}

void lc_layers_sweep(struct lc_cloud *c)
{
	struct dirent *e;
	DIR *d = opendir(c->layers_dir);

	while (d && (e = readdir(d)) != NULL) {
		char *p;
		if (strncmp(e->d_name, TRASH_PREFIX, strlen(TRASH_PREFIX)) != 0)
			continue;
		p = kiln_path_join(c->layers_dir, e->d_name);
		if (kiln_rm_rf(p) < 0)
			kiln_log_warn("%s", kiln_error_last());
		free(p);
	}
	if (d)
		closedir(d);
}

/* ---- CreateImage -------------------------------------------------------- */

struct capture_job {
	struct lc_cloud *c;
	char *image_id, *instance_id, *layer_id, *snapshot_id;
	int reboot; /* a running instance imaged without NoReboot: stop, capture, start */
};

static void capture_job_free(struct capture_job *job)
{
	free(job->image_id);
	free(job->instance_id);
	free(job->layer_id);
	free(job->snapshot_id);
	free(job);
}

/* Stop the instance and wait until its runner has (cloud->mu held). */
static void capture_stop(struct capture_job *job)
{
	struct lc_cloud *c = job->c;
	json_t *inst = json_object_get(lc_instances(c), job->instance_id);

	if (inst && strcmp(lc_str(inst, "state"), "running") == 0) {
		lc_instance_set_state(inst, "stopping", "");
		pthread_cond_broadcast(&c->cond);
	}
	while (!c->stopping && (inst = json_object_get(lc_instances(c), job->instance_id)) &&
	       strcmp(lc_str(inst, "state"), "stopping") == 0)
		pthread_cond_wait(&c->cond, &c->mu);
}

/* Record how the capture ended (cloud->mu held). */
static void capture_done(struct capture_job *job, int rc, long long gib)
{
	struct lc_cloud *c = job->c;
	json_t *img = json_object_get(images(c), job->image_id);
	json_t *snap = json_object_get(lc_table(c, "snapshots"), job->snapshot_id), *inst;

	if (rc < 0) {
		kiln_log_error("CreateImage %s: %s", job->image_id, kiln_error_last());
		if (img) {
			json_object_set_new(img, "state", json_string("failed"));
			json_object_set_new(img, "state_reason",
			                    json_pack("{s:s, s:s}", "code", "Server.InternalError",
			                              "message", kiln_error_last()));
		}
		if (snap)
			json_object_set_new(snap, "state", json_string("error"));
	} else {
		if (img)
			json_object_set_new(img, "state", json_string("available"));
		if (snap) {
			json_object_set_new(snap, "state", json_string("completed"));
			json_object_set_new(snap, "size", json_integer(gib));
		}
		kiln_log_info("CreateImage %s: available (layer %s)", job->image_id, job->layer_id);
	}
	inst = json_object_get(lc_instances(c), job->instance_id);
	if (job->reboot && inst && strcmp(lc_str(inst, "state"), "stopped") == 0)
		lc_instance_set_state(inst, "pending", "");
}

static void *capture_main(void *arg)
{
	struct capture_job *job = arg;
	struct lc_cloud *c = job->c;
	char *layer = kiln_path_join(c->layers_dir, job->layer_id);
	char *dir = lc_instance_dir(c, job->instance_id), *upper = kiln_path_join(dir, "upper");
	long long gib = 0;
	int rc;

	pthread_mutex_lock(&c->mu);
	if (job->reboot)
		capture_stop(job);
	pthread_mutex_unlock(&c->mu);
	if (c->stopping)
		rc = kiln_error_set(KILN_EINTR,
		                    "the local cloud stopped while the image was created");
	else
		rc = lc_layer_capture(layer, upper);
	if (rc == 0)
		gib = lc_dir_size_gib(layer);
	pthread_mutex_lock(&c->mu);
	capture_done(job, rc, gib);
	c->workers--;
	lc_state_save(c);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	free(layer);
	free(dir);
	free(upper);
	capture_job_free(job);
	return NULL;
}

json_t *lc_snapshot_new(struct lc_cloud *c, const char *layer, const char *image_id,
                        const char *description, json_t *tags, int encrypted, const char *kms)
{
	char *id = lc_new_id("snap-"), now[32];
	json_t *s;

	lc_now_iso(now);
	s = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:s?, s:O}", "id", id, "volume",
	              "vol-ffffffff", "state", "pending", "layer", layer, "created", now,
	              "description", description, "size", (json_int_t)1, "encrypted", encrypted,
	              "kms", kms, "tags", tags);
	json_object_set_new(s, "image", json_string(image_id));
	json_object_set_new(lc_table(c, "snapshots"), id, s);
	free(id);
	return s;
}

/* The instance to image and whether it must be stopped first; NULL with the error. */
static json_t *image_source(struct lc_req *r, int *reboot)
{
	const char *id = lc_q(r, "InstanceId"), *state;
	json_t *inst;
	int no_reboot;

	if (lc_q_bool(r, "NoReboot", 0, &no_reboot) < 0)
		return NULL;
	inst = json_object_get(lc_instances(r->c), id);
	if (inst == NULL) {
		lc_err(r, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist",
		       id);
		return NULL;
	}
	state = lc_str(inst, "state");
	*reboot = strcmp(state, "running") == 0 && !no_reboot;
	if (strcmp(state, "stopped") != 0 && strcmp(state, "running") != 0) {
		lc_err(r, 400, "IncorrectInstanceState",
		       "The instance '%s' is not in a state from which it can be imaged (%s).", id,
		       state);
		return NULL;
	}
	return inst;
}

/* BlockDeviceMapping.N.Ebs.Encrypted and KmsKeyId. */
static int image_encryption(struct lc_req *r, int *encrypted, const char **kms)
{
	int *idx, rc = 0;
	size_t n = lc_q_indexes(r, "BlockDeviceMapping", &idx);

	*encrypted = 0;
	*kms = NULL;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char key[96];
		int e = 0;
		snprintf(key, sizeof(key), "BlockDeviceMapping.%d.Ebs.Encrypted", idx[i]);
		rc = lc_q_bool(r, key, 0, &e);
		*encrypted |= e;
		if (lc_qf(r, "BlockDeviceMapping.%d.Ebs.KmsKeyId", idx[i]))
			*kms = lc_qf(r, "BlockDeviceMapping.%d.Ebs.KmsKeyId", idx[i]);
	}
	free(idx);
	return rc;
}

static int capture_start(struct lc_req *r, struct capture_job *job)
{
	pthread_t th;

	r->c->workers++;
	if (pthread_create(&th, NULL, capture_main, job) != 0) {
		r->c->workers--;
		return lc_err(r, 500, "InternalError", "cannot start the image worker");
	}
	pthread_detach(th);
	return 0;
}

int lc_ec2_create_image(struct lc_req *r)
{
	const char *id = lc_q(r, "InstanceId"), *name = lc_q(r, "Name"), *kms;
	json_t *inst, *img, *tags = json_object(), *snap_tags = json_object(), *layers, *snap;
	struct capture_job *job = NULL;
	char *image_id, *layer_id, *desc, now[32];
	int encrypted, reboot = 0, rc = -1;

	if (id == NULL || name == NULL) {
		lc_missing(r, id == NULL ? "InstanceId" : "Name");
		goto done;
	}
	if ((inst = image_source(r, &reboot)) == NULL || check_new_image(r, name) < 0 ||
	    lc_q_tag_specs(r, "TagSpecification", "image", tags) < 0 ||
	    lc_q_tag_specs(r, "TagSpecification", "snapshot", snap_tags) < 0 ||
	    image_encryption(r, &encrypted, &kms) < 0)
		goto done;
	image_id = lc_new_id("ami-");
	layer_id = lc_new_id("layer-");
	lc_now_iso(now);
	layers = json_deep_copy(json_object_get(inst, "layers"));
	json_array_append_new(layers, json_string(layer_id));
	desc = kiln_xasprintf("Created by CreateImage(%s) for %s", id, image_id);
	snap = lc_snapshot_new(r->c, layer_id, image_id, desc, snap_tags, encrypted, kms);
	free(desc);
	img = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:o, s:s, s:s, s:s, s:O, s:b, s:s?}", "id",
	                image_id, "name", name, "description", lc_q(r, "Description"), "state",
	                "pending", "created", now, "layers", layers, "snapshot", lc_str(snap, "id"),
	                "source_instance", id, "login_user",
	                lc_str(inst, "login_user") ? lc_str(inst, "login_user") : "root", "tags",
	                tags, "encrypted", encrypted, "kms", kms);
	json_object_set_new(images(r->c), image_id, img);
	job = kiln_xcalloc(1, sizeof(*job));
	*job = (struct capture_job){r->c,     kiln_xstrdup(image_id),           kiln_xstrdup(id),
	                            layer_id, kiln_xstrdup(lc_str(snap, "id")), reboot};
	if (capture_start(r, job) < 0) {
		json_object_del(lc_table(r->c, "snapshots"), job->snapshot_id);
		json_object_del(images(r->c), image_id);
		capture_job_free(job);
	} else {
		r->dirty = 1;
		lc_xt(r->out, "imageId", image_id);
		rc = 0;
	}
	free(image_id);
done:
	json_decref(tags);
	json_decref(snap_tags);
	return rc;
}

/* ---- describe and deregister -------------------------------------------- */

static const struct lc_field image_fields[] = {
    {"name", .key = "name"},
    {"state", .key = "state"},
    {"image-id", .key = "id"},
    {"owner-id", .fn = lc_field_account},
    {"owner-alias", .constant = "self"},
    {"description", .key = "description"},
    {"is-public", .constant = "false"},
    {"architecture", .fn = lc_field_arch},
    {"image-type", .constant = "machine"},
    {"root-device-type", .constant = "ebs"},
    {"root-device-name", .constant = "/dev/xvda"},
    {"virtualization-type", .constant = "hvm"},
    {"block-device-mapping.snapshot-id", .key = "snapshot"},
    {NULL}};

static void image_devices_xml(struct lc_req *r, json_t *img)
{
	json_t *snap = json_object_get(lc_table(r->c, "snapshots"),
	                               lc_str(img, "snapshot") ? lc_str(img, "snapshot") : "");

	lc_xt(r->out, "rootDeviceType", "ebs");
	lc_xt(r->out, "rootDeviceName", "/dev/xvda");
	lc_xo(r->out, "blockDeviceMapping");
	lc_xo(r->out, "item");
	lc_xt(r->out, "deviceName", "/dev/xvda");
	lc_xo(r->out, "ebs");
	lc_xt(r->out, "snapshotId", lc_str(img, "snapshot"));
	lc_xtf(r->out, "volumeSize", "%lld",
	       snap ? (long long)json_integer_value(json_object_get(snap, "size")) : 1LL);
	lc_xbool(r->out, "deleteOnTermination", 1);
	lc_xt(r->out, "volumeType", "gp3");
	lc_xbool(r->out, "encrypted", json_is_true(json_object_get(img, "encrypted")));
	lc_xt(r->out, "kmsKeyId", lc_str(img, "kms"));
	lc_xc(r->out, "ebs");
	lc_xc(r->out, "item");
	lc_xc(r->out, "blockDeviceMapping");
}

static void image_xml(struct lc_req *r, json_t *img)
{
	json_t *reason = json_object_get(img, "state_reason");

	lc_xo(r->out, "item");
	lc_xt(r->out, "imageId", lc_str(img, "id"));
	lc_xtf(r->out, "imageLocation", "%s/%s", r->c->account, lc_str(img, "name"));
	lc_xt(r->out, "imageState", lc_str(img, "state"));
	lc_xt(r->out, "imageOwnerId", r->c->account);
	lc_xt(r->out, "creationDate", lc_str(img, "created"));
	lc_xbool(r->out, "isPublic", 0);
	lc_xt(r->out, "architecture", lc_arch());
	lc_xt(r->out, "imageType", "machine");
	lc_xt(r->out, "name", lc_str(img, "name"));
	lc_xt(r->out, "description", lc_str(img, "description"));
	image_devices_xml(r, img);
	lc_xt(r->out, "virtualizationType", "hvm");
	lc_xtags(r->out, "tagSet", json_object_get(img, "tags"));
	lc_xt(r->out, "hypervisor", "xen");
	lc_xbool(r->out, "enaSupport", 1);
	lc_xt(r->out, "sriovNetSupport", "simple");
	lc_xt(r->out, "bootMode", "uefi-preferred");
	lc_xt(r->out, "sourceInstanceId", lc_str(img, "source_instance"));
	if (reason) {
		lc_xo(r->out, "stateReason");
		lc_xt(r->out, "code", lc_str(reason, "code"));
		lc_xt(r->out, "message", lc_str(reason, "message"));
		lc_xc(r->out, "stateReason");
	}
	lc_xc(r->out, "item");
}

static int image_check(struct lc_req *r, const char *id)
{
	if (strncmp(id, "ami-", 4) != 0)
		return lc_err(r, 400, "InvalidAMIID.Malformed",
		              "Invalid id: \"%s\" (expecting \"ami-...\")", id);
	if (json_object_get(images(r->c), id) == NULL)
		return lc_err(r, 400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist",
		              id);
	return 0;
}

/* Every image is the account's own: other owners have none. */
static int image_owned(struct lc_req *r, json_t *img)
{
	const char **owners;
	size_t n = lc_q_list(r, "Owner", &owners);
	int mine = n == 0;

	(void)img;
	for (size_t i = 0; i < n; i++)
		mine |= strcmp(owners[i], "self") == 0 || strcmp(owners[i], r->c->account) == 0;
	free(owners);
	return mine;
}

int lc_ec2_describe_images(struct lc_req *r)
{
	static const struct lc_describe d = {.table = "images",
	                                     .by = {{"ImageId", NULL, image_check}},
	                                     .fields = image_fields,
	                                     .keep = image_owned,
	                                     .paged = 1,
	                                     .page_min = 5,
	                                     .page_max = 1000,
	                                     .set = "imagesSet",
	                                     .item = image_xml};

	return lc_describe(r, &d);
}

int lc_ec2_deregister_image(struct lc_req *r)
{
	const char *id = lc_q(r, "ImageId");
	json_t *img;
	char *snap = NULL;
	int del;

	if (id == NULL)
		return lc_missing(r, "ImageId");
	if (image_check(r, id) < 0 || lc_q_bool(r, "DeleteAssociatedSnapshots", 0, &del) < 0)
		return -1;
	img = json_object_get(images(r->c), id);
	if (strcmp(lc_str(img, "state"), "pending") == 0)
		return lc_err(r, 400, "InvalidAMIID.Unavailable",
		              "The image %s is still being created", id);
	if (lc_str(img, "snapshot"))
		snap = kiln_xstrdup(lc_str(img, "snapshot"));
	json_object_del(images(r->c), id);
	lc_xt(r->out, "return", "true");
	if (snap && del) {
		json_object_del(lc_table(r->c, "snapshots"), snap);
		lc_xo(r->out, "deleteSnapshotResultSet");
		lc_xo(r->out, "item");
		lc_xt(r->out, "snapshotId", snap);
		lc_xc(r->out, "item");
		lc_xc(r->out, "deleteSnapshotResultSet");
	}
	free(snap);
	lc_layers_collect(r->c);
	r->dirty = 1;
	return 0;
}

/* The layer a base image is registered from: exactly a layer's name, a directory. */
static int check_layer(struct lc_req *r, const char *layer, char **path)
{
	struct stat st;

	*path = NULL;
	if (layer == NULL)
		return lc_missing(r, "LayerId");
	if (!valid_layer_id(layer))
		return lc_invalid(r, "LayerId", layer, "Expected layer- and 17 hex digits.");
	*path = kiln_path_join(r->c->layers_dir, layer);
	if (lstat(*path, &st) < 0 || !S_ISDIR(st.st_mode))
		return lc_err(r, 400, "InvalidParameterValue",
		              "No layer '%s' in the state directory", layer);
	return 0;
}

static void size_free(void *p)
{
	free(p);
}

/* Measure the layer (a walk over thousands of files) before taking the lock. */
int lc_ec2_register_layer_image_prepare(struct lc_req *r)
{
	long long *gib;
	char *path;
	int rc = check_layer(r, lc_q(r, "LayerId"), &path);

	if (rc == 0) {
		gib = kiln_xmalloc(sizeof(*gib));
		*gib = lc_dir_size_gib(path);
		r->prep = gib;
		r->prep_free = size_free;
	}
	free(path);
	return rc;
}

/*
 * kiln's own: register a layer that `kiln cloud image` built under
 * STATE/layers as a new base image (no source instance). The layer id must
 * be exactly a layer's name: it becomes a path.
 */
int lc_ec2_register_layer_image(struct lc_req *r)
{
	const char *name = lc_q(r, "Name"), *layer = lc_q(r, "LayerId");
	const char *user = lc_q(r, "LoginUser");
	char *id, *path, now[32];
	json_t *snap, *tags;
	int rc;

	if (name == NULL)
		return lc_missing(r, "Name");
	if (check_new_image(r, name) < 0)
		return -1;
	if (user != NULL &&
	    (strlen(user) > 32 ||
	     strspn(user, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(user)))
		return lc_invalid(r, "LoginUser", user, "Expected a user name.");
	/* checked again: the layer may have gone since the prepare step */
	rc = check_layer(r, layer, &path);
	free(path);
	if (rc < 0)
		return -1;
	id = lc_new_id("ami-");
	lc_now_iso(now);
	tags = json_object();
	snap = lc_snapshot_new(r->c, layer, id, "base image layer", tags, 0, NULL);
	json_object_set_new(snap, "state", json_string("completed"));
	json_object_set_new(snap, "size", json_integer(*(long long *)r->prep));
	json_object_set_new(images(r->c), id,
	                    json_pack("{s:s, s:s, s:s?, s:s, s:s, s:[s], s:s, s:s, s:o}", "id", id,
	                              "name", name, "description", lc_q(r, "Description"), "state",
	                              "available", "created", now, "layers", layer, "snapshot",
	                              lc_str(snap, "id"), "login_user", user ? user : "root",
	                              "tags", tags));
	r->dirty = 1;
	lc_xt(r->out, "imageId", id);
	free(id);
	return 0;
}
