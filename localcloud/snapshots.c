/*
 * Snapshots: one per image layer, as EC2 shows an AMI's EBS snapshot.
 */
#include <stdlib.h>
#include <string.h>

#include "localcloud/describe-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/xml-int.h"

static json_t *snapshots(struct lc_cloud *c)
{
	return lc_table(c, "snapshots");
}

static const struct lc_field snapshot_fields[] = {{"snapshot-id", .key = "id"},
                                                  {"status", .key = "state"},
                                                  {"volume-id", .key = "volume"},
                                                  {"description", .key = "description"},
                                                  {"owner-id", .fn = lc_field_account},
                                                  {"encrypted", .key = "encrypted"},
                                                  {NULL}};

static void snapshot_xml(struct lc_req *r, json_t *v)
{
	lc_xo(r->out, "item");
	lc_xt(r->out, "snapshotId", lc_str(v, "id"));
	lc_xt(r->out, "volumeId", lc_str(v, "volume"));
	lc_xt(r->out, "status", lc_str(v, "state"));
	lc_xt(r->out, "startTime", lc_str(v, "created"));
	lc_xt(r->out, "progress", strcmp(lc_str(v, "state"), "completed") == 0 ? "100%" : "0%");
	lc_xt(r->out, "ownerId", r->c->account);
	lc_xtf(r->out, "volumeSize", "%lld",
	       (long long)json_integer_value(json_object_get(v, "size")));
	lc_xt(r->out, "description", lc_str(v, "description"));
	lc_xbool(r->out, "encrypted", json_is_true(json_object_get(v, "encrypted")));
	lc_xt(r->out, "kmsKeyId", lc_str(v, "kms"));
	lc_xt(r->out, "storageTier", "standard");
	lc_xtags(r->out, "tagSet", json_object_get(v, "tags"));
	lc_xc(r->out, "item");
}

int lc_ec2_describe_snapshots(struct lc_req *r)
{
	static const struct lc_describe d = {
	    .table = "snapshots",
	    .by = {{"SnapshotId", NULL, NULL, "InvalidSnapshot.NotFound", "snapshot"}},
	    .fields = snapshot_fields,
	    .paged = 1,
	    .page_min = 5,
	    .page_max = 1000,
	    .set = "snapshotSet",
	    .item = snapshot_xml};

	return lc_describe(r, &d);
}

int lc_ec2_delete_snapshot(struct lc_req *r)
{
	const char *id = lc_q(r, "SnapshotId"), *k;
	json_t *v;

	if (id == NULL)
		return lc_missing(r, "SnapshotId");
	if (json_object_get(snapshots(r->c), id) == NULL)
		return lc_err(r, 400, "InvalidSnapshot.NotFound",
		              "The snapshot '%s' does not exist.", id);
	json_object_foreach(lc_table(r->c, "images"), k, v)
	{
		if (lc_str(v, "snapshot") && strcmp(lc_str(v, "snapshot"), id) == 0)
			return lc_err(r, 400, "InvalidSnapshot.InUse",
			              "The snapshot %s is currently in use by %s", id, k);
	}
	json_object_del(snapshots(r->c), id);
	lc_layers_collect(r->c);
	r->dirty = 1;
	lc_xt(r->out, "return", "true");
	return 0;
}
