#include "tests/unit/public_layout.h"

#include "localcloud/cloud.h"

void cloud_opts_layout(size_t out[CLOUD_OPTS_LAYOUT_N])
{
	size_t k = 0;

	out[k++] = sizeof(struct kiln_cloud_opts);
	out[k++] = offsetof(struct kiln_cloud_opts, state_dir);
	out[k++] = offsetof(struct kiln_cloud_opts, port);
	out[k++] = offsetof(struct kiln_cloud_opts, cidr);
	out[k++] = offsetof(struct kiln_cloud_opts, foreground);
	out[k++] = offsetof(struct kiln_cloud_opts, init_exe);
	out[k++] = offsetof(struct kiln_cloud_opts, terminated_ttl);
}
