/*
 * Internal to the local cloud: STS, enough for `kiln whoami` and the AWS
 * CLI's get-caller-identity.
 */
#ifndef KILN_LOCALCLOUD_STS_INT_H
#define KILN_LOCALCLOUD_STS_INT_H

#include "localcloud/request-int.h"

/* An STS action, or NULL. */
const struct lc_action *lc_sts_action(const char *name);

#endif
