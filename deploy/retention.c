/*
 * Retention: the previous group stays for deploy.termination_wait_s
 * (kiln:retire-at), then the next deploy or `kiln gc` removes it; deployed
 * images beyond deploy.keep_previous that no group of the profile (in any
 * environment) runs and no load balancer remembers for a rollback are
 * deregistered with their snapshots. `kiln gc` also removes deploy leases
 * that expired. A group is never retired while production forwards to its
 * colour, whatever its tags say.
 */
#include "aws/ec2.h"
#include "aws/ssm.h"
#include "core/json.h"
#include "core/util.h"
#include "deploy/deploy-int.h"
#include "deploy/retention.h"

#include <string.h>

int kiln_deploy__remember_previous(struct deploy *d, const struct kiln_asg_group *prev)
{
	struct kiln_aws_tags tags = KILN_AWS_LIST_INIT;
	const char *arns[] = {d->lb_arn}, *image = kiln_deploy__gtag(prev, TAG_IMAGE);
	const char *release = kiln_deploy__gtag(prev, TAG_RELEASE);
	const char *commit = kiln_deploy__gtag(prev, TAG_APP_COMMIT);
	char port[16];
	int error;

	snprintf(port, sizeof(port), "%d", d->spec->port);
	kiln_aws_tags_add(&tags, TAG_PROD_PORT, port);
	if (image != NULL && release != NULL) {
		kiln_aws_tags_add(&tags, TAG_PREV_IMAGE, image);
		kiln_aws_tags_add(&tags, TAG_PREV_REL, release);
		kiln_aws_tags_add(&tags, TAG_PREV_COMMIT, commit != NULL ? commit : "");
	}
	error = kiln_elbv2_add_tags(d->aws, arns, 1, &tags);
	kiln_aws_tags_release(&tags);
	return error < 0 ? kiln_error_prefix(error, "tagging the load balancer") : 0;
}

static double retire_at(const struct kiln_asg_group *g)
{
	const char *s = kiln_deploy__gtag(g, TAG_RETIRE_AT);
	double t = 0;

	if (s == NULL || kiln_time_parse_iso8601(&t, s) < 0)
		return 0;
	return t;
}

static int retire_groups(struct deploy *d)
{
	double now = kiln_time_now();
	size_t i;
	int error;

	error = kiln_deploy__groups(d);
	for (i = 0; error >= 0 && i < d->groups->n; i++) {
		const struct kiln_asg_group *g = &d->groups->v[i];
		double t = retire_at(g);

		if (t <= 0 || t > now || kiln_deploy__gcolor(g) == d->live ||
		    kiln_deploy__gdeleting(g))
			continue;
		error = kiln_deploy__group_remove(d, g->name, "retired: its rollback window ended");
	}
	return error;
}

/* Every image a group of the profile runs, in any environment. */
static int images_in_use(struct kiln_aws_strings *out, struct kiln_aws *aws, const char *profile)
{
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	struct kiln_asg_group_list *l = NULL;
	size_t i;
	int error;

	kiln_aws_filters_add(&f, "tag:" TAG_PROFILE, profile);
	error = kiln_asg_describe_groups(&l, aws, NULL, 0, &f, 0);
	for (i = 0; error >= 0 && i < l->n; i++) {
		const char *p = kiln_deploy__gtag(&l->v[i], TAG_PROFILE);
		const char *im = kiln_deploy__gtag(&l->v[i], TAG_IMAGE);
		if (p != NULL && strcmp(p, profile) == 0 && im != NULL)
			kiln_aws_strings_add(out, im);
	}
	kiln_asg_group_list_free(l);
	kiln_aws_filters_release(&f);
	return error;
}

/* Every image a load balancer of the profile remembers for a rollback. */
static int images_remembered(struct kiln_aws_strings *out, struct kiln_aws *aws,
                             const char *profile)
{
	struct kiln_elbv2_load_balancer_list *l = NULL;
	struct kiln_elbv2_tag_description_list *tl = NULL;
	const char **arns = NULL;
	size_t i;
	int error;

	error = kiln_elbv2_describe_load_balancers(&l, aws, NULL);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		return 0;
	}
	if (error < 0 || l->n == 0)
		goto done;
	arns = kiln_xcalloc(l->n, sizeof(*arns));
	for (i = 0; i < l->n; i++)
		arns[i] = l->v[i].arn;
	error = kiln_elbv2_describe_tags(&tl, aws, arns, l->n);
	for (i = 0; error >= 0 && i < tl->n; i++) {
		const char *p = kiln_aws_tags_get(&tl->v[i].tags, TAG_PROFILE);
		const char *im = kiln_aws_tags_get(&tl->v[i].tags, TAG_PREV_IMAGE);
		if (p != NULL && strcmp(p, profile) == 0 && im != NULL)
			kiln_aws_strings_add(out, im);
	}
done:
	free(arns);
	kiln_elbv2_tag_description_list_free(tl);
	kiln_elbv2_load_balancer_list_free(l);
	return error;
}

static int listed(const struct kiln_aws_strings *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static int newer_first(const void *a, const void *b)
{
	const struct kiln_ec2_image *x = *(const struct kiln_ec2_image *const *)a;
	const struct kiln_ec2_image *y = *(const struct kiln_ec2_image *const *)b;

	return strcmp(y->creation_date ? y->creation_date : "",
	              x->creation_date ? x->creation_date : "");
}

static int deregister(struct deploy *d, const struct kiln_ec2_image *im)
{
	size_t i;
	int error;

	kiln_deploy__say(d, "image %s deregistered: beyond keep_previous (%d) and no longer used",
	                 im->image_id, d->spec->keep_previous);
	error = kiln_ec2_deregister_image(d->aws, im->image_id);
	for (i = 0; error >= 0 && i < im->n_devices; i++)
		if (im->devices[i].snapshot_id != NULL && im->devices[i].snapshot_id[0] != '\0')
			if (kiln_ec2_delete_snapshot(d->aws, im->devices[i].snapshot_id) < 0)
				kiln_deploy__warn(d, "%s", kiln_error_last());
	kiln_emit_change(&d->events, "image deregistered", im->image_id, error);
	return error;
}

/* Tag the live image as deployed, then deregister the old deployed ones past keep_previous. */
static int retire_images(struct deploy *d)
{
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	struct kiln_aws_tags mark = KILN_AWS_LIST_INIT;
	const char *owners[] = {"self"};
	struct kiln_ec2_describe q = {.owners = owners, .n_owners = 1, .filters = &f};
	struct kiln_ec2_image_list *l = NULL;
	struct kiln_aws_strings used = KILN_AWS_LIST_INIT;
	const struct kiln_ec2_image **old = NULL;
	const char *live[] = {d->result->image_id};
	size_t i, n = 0;
	int error = 0;

	if (d->result->image_id != NULL) {
		kiln_aws_tags_add(&mark, TAG_DEPLOYED, "true");
		error = kiln_ec2_create_tags(d->aws, live, 1, &mark);
	}
	if (error >= 0)
		error = images_in_use(&used, d->aws, d->profile->name);
	if (error >= 0)
		error = images_remembered(&used, d->aws, d->profile->name);
	kiln_aws_filters_add(&f, "tag:" TAG_PROFILE, d->profile->name);
	kiln_aws_filters_add(&f, "tag:" TAG_DEPLOYED, "true");
	if (error >= 0)
		error = kiln_ec2_describe_images(&l, d->aws, &q);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		error = 0;
	}
	if (error < 0 || l == NULL)
		goto done;
	old = kiln_xcalloc(l->n + 1, sizeof(*old));
	for (i = 0; i < l->n; i++)
		if (!listed(&used, l->v[i].image_id))
			old[n++] = &l->v[i];
	qsort(old, n, sizeof(*old), newer_first);
	for (i = (size_t)d->spec->keep_previous; error >= 0 && i < n; i++)
		error = deregister(d, old[i]);
done:
	free(old);
	kiln_ec2_image_list_free(l);
	kiln_aws_strings_release(&used);
	kiln_aws_tags_release(&mark);
	kiln_aws_filters_release(&f);
	return error;
}

int kiln_deploy__retain(struct deploy *d)
{
	int error = retire_groups(d);

	if (error >= 0)
		error = retire_images(d);
	if (error >= 0)
		kiln_deploy__step_done(d, "retention");
	return error < 0 ? kiln_error_prefix(error, "retention") : 0;
}

/* kiln gc. */

static void add_item(json_t *items, const char *kind, const char *id, const char *run_id,
                     const char *reason, int deleted)
{
	json_t *o = json_pack("{s:s, s:s, s:n, s:s?, s:s, s:b}", "kind", kind, "id", id, "name",
	                      "run_id", run_id, "reason", reason, "deleted", deleted);

	if (o == NULL)
		kiln_die("out of memory");
	json_array_append_new(items, o);
}

/* The colour production forwards to on the group's load balancer, or -1. */
static int live_color(struct kiln_aws *aws, const char *profile, const char *env)
{
	char *name = kiln_deploy_name(profile, env, NULL, 32);
	const char *names[] = {name};
	struct kiln_elbv2_describe q = {.names = names, .n_names = 1};
	struct kiln_elbv2_load_balancer_list *l = NULL;
	struct kiln_elbv2_tag_description_list *tl = NULL;
	struct kiln_elbv2_listener_list *li = NULL;
	struct kiln_elbv2_target_group_list *tgl = NULL;
	const char *arns[1], *port;
	size_t i;
	int color = -1;

	if (kiln_elbv2_describe_load_balancers(&l, aws, &q) < 0 || l->n == 0)
		goto done;
	arns[0] = l->v[0].arn;
	if (kiln_elbv2_describe_tags(&tl, aws, arns, 1) < 0 || tl->n == 0)
		goto done;
	port = kiln_aws_tags_get(&tl->v[0].tags, TAG_PROD_PORT);
	q.names = NULL;
	q.n_names = 0;
	q.load_balancer_arn = l->v[0].arn;
	if (port == NULL || kiln_elbv2_describe_listeners(&li, aws, &q) < 0)
		goto done;
	for (i = 0; i < li->n; i++)
		if (li->v[i].port == atoi(port) && li->v[i].target_group_arns.n == 1)
			break;
	if (i == li->n)
		goto done;
	arns[0] = li->v[i].target_group_arns.v[0];
	q.load_balancer_arn = NULL;
	q.arns = arns;
	q.n_arns = 1;
	if (kiln_elbv2_describe_target_groups(&tgl, aws, &q) < 0 || tgl->n == 0)
		goto done;
	free(name);
	name = kiln_deploy_name(profile, env, "blue", 32);
	color = strcmp(tgl->v[0].name, name) == 0 ? KILN_BLUE : KILN_GREEN;
done:
	/* Unknown means live, for safety: the caller keeps the group. */
	kiln_error_clear();
	kiln_elbv2_load_balancer_list_free(l);
	kiln_elbv2_tag_description_list_free(tl);
	kiln_elbv2_listener_list_free(li);
	kiln_elbv2_target_group_list_free(tgl);
	free(name);
	return color;
}

static int gc_groups(json_t *items, struct kiln_aws *aws, double now, int dry_run)
{
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	struct kiln_asg_group_list *l = NULL;
	size_t i;
	int error, failed = 0;

	kiln_aws_filters_add(&f, "tag:" TAG_MANAGED, "true");
	error = kiln_asg_describe_groups(&l, aws, NULL, 0, &f, 0);
	kiln_aws_filters_release(&f);
	for (i = 0; error >= 0 && i < l->n; i++) {
		const struct kiln_asg_group *g = &l->v[i];
		const char *p = kiln_deploy__gtag(g, TAG_PROFILE),
		           *e = kiln_deploy__gtag(g, TAG_ENV);
		double t = retire_at(g);
		int color = kiln_deploy__gcolor(g), live, deleted = 0;

		if (p == NULL || e == NULL || t <= 0 || t > now || color < 0 ||
		    kiln_deploy__gdeleting(g))
			continue;
		live = live_color(aws, p, e);
		if (live < 0 || live == color)
			continue;
		if (!dry_run) {
			int rc = kiln_asg_delete_group(aws, g->name, 1);
			deleted = rc >= 0;
			if (rc < 0) {
				kiln_error_prefix(rc, "deleting group '%s'", g->name);
				failed = 1;
			}
		}
		add_item(items, "auto-scaling-group", g->name, kiln_deploy__gtag(g, TAG_RUN_ID),
		         "retired", deleted);
	}
	kiln_asg_group_list_free(l);
	return error < 0 ? error : failed ? KILN_ERROR : 0;
}

static int gc_leases(json_t *items, struct kiln_aws *aws, double now, int dry_run)
{
	struct kiln_ssm_parameter_list *l = NULL;
	size_t i;
	int error, failed = 0;

	error = kiln_ssm_get_parameters_by_path(&l, aws, KILN_DEPLOY_LEASE_PATH, 1, 0);
	for (i = 0; error >= 0 && i < l->n; i++) {
		struct kiln_lease_holder h;
		int deleted = 0;

		if (kiln_lease_parse(&h, l->v[i].value) < 0) {
			kiln_error_clear();
			continue;
		}
		if (h.expires < now) {
			if (!dry_run) {
				int rc = kiln_ssm_delete_parameter(aws, l->v[i].name);
				deleted = rc >= 0 || rc == KILN_ENOTFOUND;
				failed |= rc < 0 && rc != KILN_ENOTFOUND;
			}
			add_item(items, "lease", l->v[i].name, h.run_id, "expired", deleted);
		}
		kiln_lease_holder_release(&h);
	}
	kiln_ssm_parameter_list_free(l);
	return error < 0 ? error : failed ? KILN_ERROR : 0;
}

int kiln_deploy_gc_run(json_t *items, struct kiln_aws *aws, double now, int dry_run)
{
	int error = gc_groups(items, aws, now ? now : kiln_time_now(), dry_run);
	int e2 = gc_leases(items, aws, now ? now : kiln_time_now(), dry_run);

	return error < 0 ? error : e2;
}
