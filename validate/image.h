/*
 * The image test (kiln validate --image): a throwaway instance of the
 * image, launched and reached as a bake's builder is (bake/builder.h: a
 * temporary key pair and security group, everything tagged
 * kiln:role=builder so that `kiln gc` collects what a crash leaves, the
 * host key checked against the console), runs the profile's validate.checks
 * and validate.http, and is removed on every path. Its run journal
 * ($KILN_STATE_DIR/runs/<run-id>.jsonl) names its cloud, as a bake's does,
 * so that `kiln gc --run-id` goes back to the same one.
 *
 * The checks see KILN_PROFILE, and KILN_APP_REF and KILN_OS_REF from the
 * image's kiln:app-ref and kiln:os-ref tags (what it was baked from), unless
 * the caller names a ref.
 */
#ifndef KILN_VALIDATE_IMAGE_H
#define KILN_VALIDATE_IMAGE_H

#include "aws/client.h"
#include "core/event.h"
#include "kiln/validate.h"
#include "profiles/profile.h"

/*
 * Test `opts->image_id` with `profile`'s checks in the cloud of `aws`
 * (`endpoint`: the local cloud's, for the journal; NULL for AWS). 0 when
 * every check held; KILN_ERROR when one failed or the cloud did.
 */
int kiln_image_test(struct kiln_aws *aws, const char *endpoint, const struct kiln_profile *profile,
                    const struct kiln_validate_options *opts, const struct kiln_emitter *events,
                    struct kiln_report *report);

#endif
