/*
 * The local cloud's state (cloud-int.h): tables of resources in one JSON
 * document, saved atomically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "localcloud/cloud-int.h"

static const char *const tables[] = {
    "images",           "snapshots",     "instances", "key_pairs", "security_groups",
    "launch_templates", "client_tokens", "vpcs",      "subnets"};

const char *lc_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* State. */
json_t *lc_table(struct lc_cloud *c, const char *name)
{
	json_t *t = json_object_get(c->st, name);

	if (t == NULL) {
		t = json_object();
		json_object_set_new(c->st, name, t);
	}
	return t;
}

int lc_state_save(struct lc_cloud *c)
{
	char *path = kiln_path_join(c->state_dir, "state.json");
	char *text = json_dumps(c->st, JSON_COMPACT);
	int rc;

	/* whatever changed, the security groups' tables are rendered again (firewall.c) */
	c->gen++;
	if (text == NULL)
		rc = kiln_error_set(KILN_ERROR, "the state cannot be written as JSON");
	else
		rc = kiln_file_write_atomic(path, text, strlen(text), 0600);
	if (rc < 0)
		kiln_log_error("saving state: %s", kiln_error_last());
	free(text);
	free(path);
	return rc;
}

int lc_state_load(struct lc_cloud *c)
{
	char *path = kiln_path_join(c->state_dir, "state.json");
	json_t *st = NULL;
	int rc = 0;

	if (access(path, F_OK) == 0) {
		rc = kiln_json_load_file(&st, path);
		if (rc == 0 && !json_is_object(st)) {
			json_decref(st);
			rc = kiln_error_set(KILN_EINVAL, "%s: not a state file", path);
		}
	} else {
		st = json_pack("{s:i}", "version", 1);
	}
	free(path);
	if (rc < 0)
		return rc;
	/* an older daemon kept its image workers' count here; a count never outlives a daemon */
	json_object_del(st, "workers");
	json_decref(c->st);
	c->st = st;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		lc_table(c, tables[i]);
	return 0;
}

char *lc_new_id(const char *prefix)
{
	return kiln_id_random(prefix, 17);
}

void lc_now_iso(char out[32])
{
	kiln_time_iso8601(out, kiln_time_now(), 1);
}

json_t *lc_find_any(struct lc_cloud *c, const char *id, const char **kind)
{
	static const char *const by_id[] = {"images",          "snapshots",        "instances",
	                                    "security_groups", "launch_templates", "vpcs",
	                                    "subnets"};
	json_t *res;
	const char *name;

	for (size_t i = 0; i < sizeof(by_id) / sizeof(by_id[0]); i++) {
		res = json_object_get(lc_table(c, by_id[i]), id);
		if (res) {
			*kind = by_id[i];
			return res;
		}
	}
	/* key pairs are keyed by name; tags address them by key pair id */
	json_object_foreach(lc_table(c, "key_pairs"), name, res)
	{
		if (strcmp(lc_str(res, "id") ? lc_str(res, "id") : "", id) == 0) {
			*kind = "key_pairs";
			return res;
		}
	}
	return NULL;
}
