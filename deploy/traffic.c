/*
 * The traffic side of a deploy: two target groups (blue, green), one
 * application load balancer, a production and a test listener. Each is
 * found by its name, made when missing and corrected when it drifted (the
 * health check, the deregistration delay, the load balancer's security
 * group, the listeners' protocol). Production forwards to the live colour,
 * the test listener to the other one.
 */
#include "aws/elbv2.h"
#include "core/util.h"
#include "deploy/deploy-int.h"

#include <string.h>

static char *tg_name(const struct deploy *d, int color)
{
	return kiln_deploy_name(d->profile->name, d->env, kiln_color_name(color), 32);
}

static void health_of(struct kiln_elbv2_health_check *h, const struct kiln_deploy_spec *s)
{
	memset(h, 0, sizeof(*h));
	h->protocol = "HTTP";
	h->port = "traffic-port";
	h->path = s->health.path;
	h->enabled = 1;
	h->interval_s = s->health.interval_s;
	h->timeout_s = s->health.timeout_s;
	h->healthy_threshold = s->health.healthy_threshold;
	h->unhealthy_threshold = s->health.unhealthy_threshold;
	h->matcher_http_code = s->health.matcher;
}

static int health_drifted(const struct kiln_elbv2_target_group *tg,
                          const struct kiln_elbv2_health_check *h)
{
	return tg->health_check_path == NULL || strcmp(tg->health_check_path, h->path) != 0 ||
	       tg->interval_s != h->interval_s || tg->timeout_s != h->timeout_s ||
	       tg->healthy_threshold != h->healthy_threshold ||
	       tg->unhealthy_threshold != h->unhealthy_threshold || tg->matcher_http_code == NULL ||
	       strcmp(tg->matcher_http_code, h->matcher_http_code) != 0;
}

static int set_drain(struct deploy *d, const char *arn)
{
	const char *keys[] = {"deregistration_delay.timeout_seconds"};
	char value[16];
	const char *values[] = {value};

	snprintf(value, sizeof(value), "%d", d->spec->deregistration_delay_s);
	return kiln_elbv2_modify_target_group_attributes(d->aws, arn, keys, values, 1);
}

static int ensure_target_group(struct deploy *d, int color, int create)
{
	struct kiln_elbv2_target_group_list *l = NULL;
	struct kiln_elbv2_target_group *tg = NULL;
	struct kiln_elbv2_create_target_group c = {0};
	char *name = tg_name(d, color);
	const char *names[] = {name};
	struct kiln_elbv2_describe q = {.names = names, .n_names = 1};
	int error;

	error = kiln_elbv2_describe_target_groups(&l, d->aws, &q);
	if (error >= 0 && l->n > 0) {
		d->tg[color] = kiln_xstrdup(l->v[0].arn);
		health_of(&c.health, d->spec);
		if (create && l->v[0].port != d->spec->instance_port)
			kiln_deploy__warn(d,
			                  "target group %s serves port %d, the profile says %d: "
			                  "`kiln destroy` and deploy again to change it",
			                  name, l->v[0].port, d->spec->instance_port);
		if (create && health_drifted(&l->v[0], &c.health)) {
			kiln_deploy__say(d, "target group %s: health check corrected", name);
			error =
			    kiln_elbv2_modify_target_group(NULL, d->aws, d->tg[color], &c.health);
		}
		if (create && error >= 0)
			error = set_drain(d, d->tg[color]);
		goto done;
	}
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		error = create ? 0 : KILN_ENOTFOUND;
	}
	if (error < 0)
		goto done;
	c.name = name;
	c.protocol = "HTTP";
	c.port = d->spec->instance_port;
	c.vpc_id = d->vpc_id;
	c.target_type = "instance";
	health_of(&c.health, d->spec);
	c.tags = &d->tags;
	error = kiln_elbv2_create_target_group(&tg, d->aws, &c);
	if (error < 0)
		goto done;
	d->tg[color] = kiln_xstrdup(tg->arn);
	kiln_deploy__say(d, "target group %s created", name);
	error = set_drain(d, d->tg[color]);
done:
	kiln_elbv2_target_group_list_free(l);
	kiln_elbv2_target_group_free(tg);
	if (error < 0 && error != KILN_ENOTFOUND)
		kiln_error_prefix(error, "target group '%s'", name);
	free(name);
	return error;
}

static int ensure_load_balancer(struct deploy *d, int create)
{
	struct kiln_elbv2_load_balancer_list *l = NULL;
	struct kiln_elbv2_load_balancer *lb = NULL;
	struct kiln_elbv2_create_load_balancer c = {0};
	struct kiln_aws_tags tags = KILN_AWS_LIST_INIT;
	char *name = kiln_deploy_name(d->profile->name, d->env, NULL, 32), port[16];
	size_t i;
	const char *names[] = {name}, *sgs[] = {d->lb_sg};
	struct kiln_elbv2_describe q = {.names = names, .n_names = 1};
	const char *scheme = d->spec->internet_facing ? "internet-facing" : "internal";
	int error;

	error = kiln_elbv2_describe_load_balancers(&l, d->aws, &q);
	if (error >= 0 && l->n > 0) {
		d->lb_arn = kiln_xstrdup(l->v[0].arn);
		d->lb_dns = kiln_xstrdup(l->v[0].dns_name ? l->v[0].dns_name : "");
		if (create && d->lb_sg != NULL &&
		    (l->v[0].security_groups.n != 1 ||
		     strcmp(l->v[0].security_groups.v[0], d->lb_sg) != 0)) {
			kiln_deploy__say(d, "load balancer %s: security groups corrected", name);
			error = kiln_elbv2_set_security_groups(d->aws, d->lb_arn, sgs, 1);
		}
		if (create && l->v[0].scheme != NULL && strcmp(l->v[0].scheme, scheme) != 0)
			kiln_deploy__warn(
			    d,
			    "load balancer %s is %s, the profile says %s: `kiln destroy` "
			    "and deploy again to change it",
			    name, l->v[0].scheme, scheme);
		goto done;
	}
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		error = create ? 0 : KILN_ENOTFOUND;
	}
	if (error < 0)
		goto done;
	c.name = name;
	c.subnets = (const char *const *)d->subnets.v;
	c.n_subnets = d->subnets.n;
	c.security_groups = sgs;
	c.n_security_groups = 1;
	c.scheme = scheme;
	c.type = "application";
	for (i = 0; i < d->tags.n; i++)
		kiln_aws_tags_add(&tags, d->tags.v[i].key, d->tags.v[i].value);
	/* `kiln gc` tells the production listener by it. */
	snprintf(port, sizeof(port), "%d", d->spec->port);
	kiln_aws_tags_add(&tags, TAG_PROD_PORT, port);
	c.tags = &tags;
	error = kiln_elbv2_create_load_balancer(&lb, d->aws, &c);
	if (error < 0)
		goto done;
	d->lb_arn = kiln_xstrdup(lb->arn);
	d->lb_dns = kiln_xstrdup(lb->dns_name ? lb->dns_name : "");
	kiln_deploy__say(d, "load balancer %s created (%s)", name, d->lb_dns);
done:
	kiln_aws_tags_release(&tags);
	kiln_elbv2_load_balancer_list_free(l);
	kiln_elbv2_load_balancer_free(lb);
	if (error < 0 && error != KILN_ENOTFOUND)
		kiln_error_prefix(error, "load balancer '%s'", name);
	free(name);
	return error;
}

/* The colour a listener forwards to, -1 when it forwards to neither. */
static int color_of(const struct deploy *d, const struct kiln_elbv2_listener *li)
{
	int c;

	if (li->target_group_arns.n != 1)
		return -1;
	for (c = 0; c < 2; c++)
		if (d->tg[c] != NULL && strcmp(li->target_group_arns.v[0], d->tg[c]) == 0)
			return c;
	return -1;
}

static void listener_spec(const struct deploy *d, struct kiln_elbv2_listener_spec *s,
                          struct kiln_elbv2_action *a, int test, int color)
{
	memset(s, 0, sizeof(*s));
	a->type = "forward";
	a->target_group_arn = d->tg[color];
	a->order = 0;
	s->port = test ? d->spec->test_port : d->spec->port;
	s->protocol = !test && d->spec->certificate_arn ? "HTTPS" : "HTTP";
	s->certificate_arn = !test ? d->spec->certificate_arn : NULL;
	s->actions = a;
	s->n_actions = 1;
}

static int create_listener(char **arn, struct deploy *d, int test, int color)
{
	struct kiln_elbv2_listener_spec s;
	struct kiln_elbv2_action a;
	struct kiln_elbv2_listener *li = NULL;
	int error;

	listener_spec(d, &s, &a, test, color);
	error = kiln_elbv2_create_listener(&li, d->aws, d->lb_arn, &s, &d->tags);
	if (error >= 0) {
		*arn = kiln_xstrdup(li->arn);
		kiln_deploy__say(d, "%s listener on port %d created, forwarding to %s",
		                 test ? "test" : "production", s.port, kiln_color_name(color));
	}
	kiln_elbv2_listener_free(li);
	return error;
}

/* Listeners on ports the profile no longer names are removed; a wrong protocol put right. */
static int listener_drift(struct deploy *d, const struct kiln_elbv2_listener *li, int *keep)
{
	int prod = li->port == d->spec->port, test = li->port == d->spec->test_port;
	const char *want = prod && d->spec->certificate_arn ? "HTTPS" : "HTTP";
	struct kiln_elbv2_listener_spec s;
	struct kiln_elbv2_action a;
	int color = color_of(d, li);

	*keep = prod || test;
	if (!*keep) {
		kiln_deploy__say(d, "listener on port %d removed (the profile does not name it)",
		                 li->port);
		return kiln_elbv2_delete_listener(d->aws, li->arn);
	}
	if (li->protocol != NULL && strcmp(li->protocol, want) == 0 && color >= 0)
		return 0;
	listener_spec(d, &s, &a, test, color >= 0 ? color : (prod ? KILN_BLUE : KILN_GREEN));
	kiln_deploy__say(d, "listener on port %d corrected", li->port);
	return kiln_elbv2_modify_listener(NULL, d->aws, li->arn, &s);
}

static int ensure_listeners(struct deploy *d, int create)
{
	struct kiln_elbv2_listener_list *l = NULL;
	struct kiln_elbv2_describe q = {.load_balancer_arn = d->lb_arn};
	size_t i;
	int error, keep;

	error = kiln_elbv2_describe_listeners(&l, d->aws, &q);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		error = 0;
	}
	for (i = 0; error >= 0 && l != NULL && i < l->n; i++) {
		const struct kiln_elbv2_listener *li = &l->v[i];

		if (create) {
			error = listener_drift(d, li, &keep);
			if (error < 0 || !keep)
				continue;
		}
		if (li->port == d->spec->port) {
			d->prod = kiln_xstrdup(li->arn);
			d->live = color_of(d, li);
		} else if (li->port == d->spec->test_port) {
			d->test = kiln_xstrdup(li->arn);
			d->test_color = color_of(d, li);
		}
	}
	if (error >= 0 && create && d->prod == NULL) {
		d->live = d->test_color >= 0 ? !d->test_color : KILN_BLUE;
		error = create_listener(&d->prod, d, 0, d->live);
	}
	if (error >= 0 && create && d->test == NULL) {
		d->test_color = d->live >= 0 ? !d->live : KILN_GREEN;
		error = create_listener(&d->test, d, 1, d->test_color);
	}
	/* Both on one colour (a crash between the two ModifyListener of a swap). */
	if (error >= 0 && create && d->live >= 0 && d->test_color == d->live) {
		error = kiln_deploy__forward(d, d->test, !d->live);
		d->test_color = !d->live;
	}
	kiln_elbv2_listener_list_free(l);
	return error < 0 ? kiln_error_prefix(error, "listeners") : 0;
}

/* What an earlier look found is looked up again. */
static void forget(struct deploy *d)
{
	char **found[] = {&d->vpc_id, &d->lb_sg, &d->fleet_sg, &d->lb_arn, &d->lb_dns,
	                  &d->tg[0],  &d->tg[1], &d->prod,     &d->test};
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(found); i++) {
		free(*found[i]);
		*found[i] = NULL;
	}
	kiln_aws_strings_release(&d->subnets);
}

int kiln_deploy__traffic(struct deploy *d, int create)
{
	int error, c;

	forget(d);
	/* Without `create`, what is missing stays NULL: status, rollback and destroy look. */
	d->live = d->test_color = -1;
	error = kiln_deploy__network(d, create);
	for (c = 0; error >= 0 && c < 2; c++) {
		error = ensure_target_group(d, c, create);
		if (error == KILN_ENOTFOUND && !create)
			error = 0;
	}
	if (error >= 0)
		error = ensure_load_balancer(d, create);
	if (error == KILN_ENOTFOUND && !create)
		error = 0;
	if (error >= 0 && d->lb_arn != NULL)
		error = ensure_listeners(d, create);
	return error;
}

int kiln_deploy__forward(struct deploy *d, const char *arn, int color)
{
	struct kiln_elbv2_listener_spec s;
	struct kiln_elbv2_action a;
	int error;

	KILN_ASSERT_ARG(arn != NULL && (color == KILN_BLUE || color == KILN_GREEN));
	listener_spec(d, &s, &a, strcmp(arn, d->prod ? d->prod : "") != 0, color);
	/* Only the action changes: ModifyListener keeps what it is not given. */
	s.protocol = NULL;
	s.port = 0;
	s.certificate_arn = NULL;
	error = kiln_elbv2_modify_listener(NULL, d->aws, arn, &s);
	return error < 0 ? kiln_error_prefix(error, "ModifyListener") : 0;
}

int kiln_deploy__swap(struct deploy *d, int color)
{
	int error;

	error = kiln_deploy__forward(d, d->prod, color);
	if (error < 0)
		return error;
	d->live = color;
	error = kiln_deploy__forward(d, d->test, !color);
	if (error >= 0)
		d->test_color = !color;
	return error;
}

char *kiln_deploy__url(const struct deploy *d, int test)
{
	int https = !test && d->spec->certificate_arn != NULL;
	int port = test ? d->spec->test_port : d->spec->port;

	if (d->lb_dns == NULL)
		return NULL;
	if ((https && port == 443) || (!https && port == 80))
		return kiln_xasprintf("%s://%s/", https ? "https" : "http", d->lb_dns);
	return kiln_xasprintf("%s://%s:%d/", https ? "https" : "http", d->lb_dns, port);
}

int kiln_deploy__health(struct kiln_elbv2_target_health_list **out, struct deploy *d, int color,
                        const char *const *ids, size_t n)
{
	struct kiln_elbv2_target *t = kiln_xcalloc(n + 1, sizeof(*t));
	size_t i;
	int error;

	for (i = 0; i < n; i++)
		t[i].id = ids[i];
	error = kiln_elbv2_describe_target_health(out, d->aws, d->tg[color], n ? t : NULL, n);
	free(t);
	return error;
}

static int ignore_missing(int error)
{
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		return 0;
	}
	return error;
}

int kiln_deploy__traffic_remove(struct deploy *d)
{
	int error = 0, e, c;

	/* Deleting the load balancer deletes its listeners. */
	if (d->lb_arn != NULL) {
		e = ignore_missing(kiln_elbv2_delete_load_balancer(d->aws, d->lb_arn));
		if (e < 0)
			error = e;
		else
			kiln_deploy__say(d, "load balancer %s deleted", d->lb_dns ? d->lb_dns : "");
	}
	for (c = 0; c < 2; c++) {
		if (d->tg[c] == NULL)
			continue;
		e = ignore_missing(kiln_elbv2_delete_target_group(d->aws, d->tg[c]));
		if (e < 0)
			error = e;
		else
			kiln_deploy__say(d, "target group %s deleted", kiln_color_name(c));
	}
	e = kiln_deploy__network_remove(d);
	return error < 0 ? error : e;
}
