#include <string.h>

#include "localcloud/cloud-int.h"
#include "localcloud/sts-int.h"
#include "localcloud/xml-int.h"

static int get_caller_identity(struct lc_req *r)
{
	lc_xtf(r->out, "Arn", "arn:aws:iam::%s:root", r->c->account);
	lc_xt(r->out, "UserId", r->c->account);
	lc_xt(r->out, "Account", r->c->account);
	return 0;
}

static const struct lc_action actions[] = {{"GetCallerIdentity", get_caller_identity, NULL, NULL},
                                           {NULL, NULL, NULL, NULL}};

const struct lc_action *lc_sts_action(const char *name)
{
	for (const struct lc_action *a = actions; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}
