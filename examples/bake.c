/*
 * Bake a profile from a program of your own, through kiln.h alone.
 *
 *   cc -o bake bake.c $(pkg-config --cflags --libs kiln)
 *   ./bake PROFILE [APP_REF]
 *
 * The library prints nothing: this program shows the bake's events on
 * stderr as "bake: ..." lines and prints the image id on stdout. A profile
 * with "target": "local" bakes in kiln's local cloud at $KILN_LOCAL_ENDPOINT
 * (start it with `kiln cloud up`). Ctrl-C stops the bake; its temporaries
 * are removed. Exit status: 0 baked, 1 failed, 2 bad input.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction */

#include <kiln.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile int stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_event(const struct kiln_event *ev, void *payload)
{
	FILE *out = payload;

	switch (ev->kind) {
	case KILN_EVENT_PROGRESS:
		fprintf(out, "bake: %s\n", ev->message);
		break;
	case KILN_EVENT_WARNING:
		fprintf(out, "bake: warning: %s\n", ev->message);
		break;
	case KILN_EVENT_ERROR:
		fprintf(out, "bake: error: %s\n", ev->message);
		break;
	case KILN_EVENT_STEP_DONE:
		fprintf(out, "bake: step %s done in %.2f s\n", ev->step, ev->seconds);
		break;
	case KILN_EVENT_STAGE_END:
		if (ev->result == 0)
			fprintf(out, "bake: profile %s is image %s (run %s, %.2f s)\n", ev->profile,
			        ev->image_id, ev->run_id, ev->seconds);
		break;
	default:
		/* Output lines of the provisioners, upload progress, kinds added later. */
		break;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct kiln_bake_options opts = KILN_BAKE_OPTIONS_INIT;
	struct kiln_profile *profile = NULL;
	struct kiln_manifest *manifest = NULL;
	struct sigaction sa;
	int error;

	if (argc < 2 || argc > 3 || argv[1][0] == '-') {
		fprintf(stderr, "usage: %s PROFILE [APP_REF]\n", argv[0]);
		return 2;
	}
	/* No SA_RESTART: a blocking call returns early and the bake sees `stop`. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	opts.app_ref = argc > 2 ? argv[2] : NULL;
	opts.stop = &stop;
	opts.on_event = on_event;
	opts.payload = stderr;
	error = kiln_profile_load(&profile, argv[1], NULL);
	if (error == 0)
		error = kiln_bake(&manifest, profile, &opts);
	if (error == 0) {
		printf("%s\n", kiln_manifest_image_id(manifest));
		if (kiln_manifest_cache_hit(manifest))
			fprintf(stderr, "bake: (an existing image, bake key %.12s)\n",
			        kiln_manifest_bake_key(manifest));
	} else {
		fprintf(stderr, "bake: %s\n", kiln_error_last());
	}
	kiln_manifest_free(manifest);
	kiln_profile_free(profile);
	if (fflush(stdout) != 0)
		return 1;
	return error == 0 ? 0 : error == KILN_EINVAL ? 2 : 1;
}
