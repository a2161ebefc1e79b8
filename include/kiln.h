/*
 * libkiln: bake immutable machine images from tagged git layers and roll
 * them out blue-green. The kiln command line is a thin layer over this API.
 *
 * Conventions (after libgit2): functions return 0 or a negative KILN_E* code
 * with a message in a per-thread slot (kiln_error_last()); out-parameters
 * come first and are named `out`; what is returned through `**out` belongs to
 * the caller and has a matching _free(), which accepts NULL.
 */
#ifndef KILN_H
#define KILN_H

#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"

/* "X.Y.Z" */
const char *kiln_version(void);

#endif
