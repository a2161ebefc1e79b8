/*
 * The result of a refresh (kiln/refresh.h), shared by pipelines/refresh.c,
 * which fills it, and pipelines/refresh_result.c, which reads it out.
 */
#ifndef KILN_PIPELINES_REFRESH_INT_H
#define KILN_PIPELINES_REFRESH_INT_H

#include <stddef.h>

struct kiln_refresh_result {
	char *profile, *env, *status, *error;
	char **reasons;
	size_t nreasons;
	int live; /* the reference image is live (else the newest baked) */
	char *old_image, *old_key;
	char key[65];
	char *image_id, *url;
	int cache_hit, tested, deployed;
};

#endif
