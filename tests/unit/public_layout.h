/*
 * struct kiln_cloud_opts as the library sees it (localcloud/cloud.h), for
 * test_public to compare with the public header's: size, then the offset of
 * each field in order.
 */
#ifndef KILN_TEST_PUBLIC_LAYOUT_H
#define KILN_TEST_PUBLIC_LAYOUT_H

#include <stddef.h>

#define CLOUD_OPTS_LAYOUT_N 7

void cloud_opts_layout(size_t out[CLOUD_OPTS_LAYOUT_N]);

#endif
