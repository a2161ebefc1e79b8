/*
 * bench/layers: kiln's layer packing against
 * `git archive --format=tar TAG | zstd -3 -T1`, on a generated repository of
 * about 20,000 files and 500 MiB, five runs each, interleaved, medians.
 *
 * usage: layers [DIR]   (default $KILN_BENCH_DIR, else <kiln cache>/bench)
 *
 * The repository is generated once into DIR/layers-repo with git
 * fast-import (seconds, not minutes) and reused by later runs.
 */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"
#include "bake/layer.h"
#include "core/paths.h"

#define NFILES 20000
#define RUNS   5
#define TAG    "bench-v1"

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char *const words[] = {
    "the",    "image",   "layer",  "kiln",   "deploy", "static", "config", "server", "return",
    "int",    "struct",  "const",  "char",   "error",  "buffer", "while",  "for",    "if",
    "else",   "include", "define", "module", "value",  "string", "json",   "http",   "tag",
    "commit", "tree",    "blob",   "pack",   "index",  "stream", "zstd",   "tar",    "size",
    "offset", "length",  "health", "check",  "green",  "blue",   "swap",   "target", "group",
};

/* Source-like text (compresses about 4:1) or, one file in 20, random bytes. */
static void gen_content(struct kiln_buf *b, size_t size, int binary)
{
	kiln_buf_clear(b);
	if (kiln_buf_grow(b, size + 64) < 0)
		kiln_die("%s", kiln_error_last());
	if (binary) {
		while (b->size + 8 <= size) {
			uint64_t x = next();
			memcpy(b->ptr + b->size, &x, 8);
			b->size += 8;
		}
		b->size = size;
		b->ptr[b->size] = '\0';
		return;
	}
	while (b->size < size) {
		uint64_t x = next();
		const char *w = words[x % KILN_ARRAY_SIZE(words)];
		kiln_buf_puts(b, w);
		kiln_buf_putc(b, (x >> 8) % 9 == 0 ? '\n' : ((x >> 16) % 7 == 0 ? '\t' : ' '));
		if ((x >> 24) % 5 == 0)
			kiln_buf_printf(b, "%u", (unsigned)(x >> 32) % 100000);
	}
	kiln_buf_truncate(b, size);
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static void generate(const char *repo)
{
	struct kiln_proc proc = KILN_PROC_INIT;
	struct kiln_proc_opts opts = {0};
	struct kiln_buf content = KILN_BUF_INIT, hdr = KILN_BUF_INIT, out = KILN_BUF_INIT;
	char *init[] = {"git", "init", "-q", "--bare", (char *)repo, NULL};
	char *fi[] = {"git", "-C", (char *)repo, "fast-import", "--quiet", NULL};
	uint64_t total = 0;
	double t0 = kiln_time_mono();
	int status, i;

	if (kiln_proc_run(&status, &out, NULL, init) < 0 || status != 0)
		kiln_die("git init failed");
	opts.in = KILN_PROC_PIPE;
	if (kiln_proc_start(&proc, fi, &opts) < 0)
		kiln_die("%s", kiln_error_last());
	kiln_buf_init(&content, (size_t)16 << 20);
	for (i = 1; i <= NFILES; i++) {
		int binary = i % 20 == 0;
		/* 1..49 KiB text, binaries 16..64 KiB: about 500 MiB in all. */
		size_t size = binary ? 16384 + next() % 49152 : 1024 + next() % 50176;
		gen_content(&content, size, binary);
		kiln_buf_clear(&hdr);
		kiln_buf_printf(&hdr, "blob\nmark :%d\ndata %zu\n", i, content.size);
		if (write_all(proc.in_fd, hdr.ptr, hdr.size) < 0 ||
		    write_all(proc.in_fd, content.ptr, content.size) < 0 ||
		    write_all(proc.in_fd, "\n", 1) < 0)
			kiln_die("git fast-import stopped");
		total += content.size;
	}
	kiln_buf_clear(&hdr);
	kiln_buf_printf(&hdr,
	                "commit refs/heads/main\nmark :%d\ncommitter Bench <bench@kiln.invalid> "
	                "1767323045 +0000\ndata 6\nbench\n",
	                NFILES + 1);
	for (i = 1; i <= NFILES; i++)
		kiln_buf_printf(&hdr, "M %s :%d src/d%02d/s%d/file-%05d.%s\n",
		                i % 50 == 0 ? "100755" : "100644", i, (i / 500) % 40, (i / 50) % 10,
		                i, i % 20 == 0 ? "bin" : "c");
	kiln_buf_printf(&hdr,
	                "\ntag %s\nfrom :%d\ntagger Bench <bench@kiln.invalid> 1767323045 "
	                "+0000\ndata 8\nrelease\n",
	                TAG, NFILES + 1);
	if (write_all(proc.in_fd, hdr.ptr, hdr.size) < 0)
		kiln_die("git fast-import stopped");
	if (kiln_proc_finish(&proc, &status) < 0 || status != 0)
		kiln_die("git fast-import failed (%d)", status);
	fprintf(stderr, "generated %d files, %.0f MiB in %.1f s\n", NFILES,
	        (double)total / (1 << 20), kiln_time_mono() - t0);
	kiln_buf_release(&content);
	kiln_buf_release(&hdr);
	kiln_buf_release(&out);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static off_t file_size(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? st.st_size : -1;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("KILN_BENCH_DIR");
	char *cache = NULL, *repo, *ready, *commit, *kout, *gout, *pipeline;
	struct kiln_buf out = KILN_BUF_INIT;
	double tk[RUNS], tg[RUNS];
	char sha[65], first[65] = "";
	uint64_t size = 0;
	int status, i;

	/* libkiln logs nowhere unless told: this program shows it on stderr. */
	kiln_log_set_stream(stderr, -1);
	if (dir == NULL) {
		if (kiln_paths_cache(&cache) < 0)
			kiln_die("%s", kiln_error_last());
		dir = cache = kiln_path_join(cache, "bench");
	}
	if (kiln_mkdir_p(dir, 0755) < 0)
		kiln_die("%s", kiln_error_last());
	repo = kiln_path_join(dir, "layers-repo");
	ready = kiln_path_join(dir, "layers-repo.ready");
	if (access(ready, F_OK) != 0) {
		kiln_rm_rf(repo);
		generate(repo);
		if (kiln_file_write_atomic(ready, "", 0, 0644) < 0)
			kiln_die("%s", kiln_error_last());
	}
	{
		char *rev[] = {"git", "-C", repo, "rev-parse", TAG "^{commit}", NULL};
		if (kiln_proc_run(&status, &out, NULL, rev) < 0 || status != 0)
			kiln_die("cannot resolve %s in '%s'", TAG, repo);
		kiln_buf_rtrim(&out);
		commit = kiln_buf_detach(&out);
	}
	kout = kiln_path_join(dir, "kiln.tar.zst");
	gout = kiln_path_join(dir, "git.tar.zst");
	pipeline = kiln_xasprintf("git -C '%s' archive --format=tar %s | zstd -3 -T1 -q -f -o '%s'",
	                          repo, TAG, gout);
	/* A warm-up of each, so both start with the pack in the page cache. */
	for (i = -1; i < RUNS; i++) {
		char *sh[] = {"sh", "-c", pipeline, NULL};
		double t0 = kiln_time_mono();
		if (kiln_layer_pack_commit(&size, sha, repo, commit, NULL, kout) < 0)
			kiln_die("kiln: %s", kiln_error_last());
		if (i >= 0)
			tk[i] = kiln_time_mono() - t0;
		if (first[0] == '\0')
			memcpy(first, sha, sizeof(first));
		else if (strcmp(first, sha) != 0)
			kiln_die("kiln's archive changed between runs: %s then %s", first, sha);
		t0 = kiln_time_mono();
		if (kiln_proc_run(&status, &out, NULL, sh) < 0 || status != 0)
			kiln_die("git archive | zstd failed");
		if (i >= 0)
			tg[i] = kiln_time_mono() - t0;
		if (i >= 0)
			fprintf(stderr, "run %d: kiln %.3f s, git archive | zstd %.3f s\n", i + 1,
			        tk[i], tg[i]);
	}
	qsort(tk, RUNS, sizeof(double), cmp_double);
	qsort(tg, RUNS, sizeof(double), cmp_double);
	printf("repository: %s (%d files, tag %s)\n", repo, NFILES, TAG);
	printf("kiln layer pack:                 median %.3f s (min %.3f, max %.3f), %llu bytes, "
	       "sha256 %s\n",
	       tk[RUNS / 2], tk[0], tk[RUNS - 1], (unsigned long long)size, sha);
	printf("git archive | zstd -3 -T1:       median %.3f s (min %.3f, max %.3f), %lld bytes\n",
	       tg[RUNS / 2], tg[0], tg[RUNS - 1], (long long)file_size(gout));
	printf("ratio (git pipe / kiln):         %.2f  (> 1 means kiln is faster)\n",
	       tg[RUNS / 2] / tk[RUNS / 2]);
	kiln_buf_release(&out);
	free(repo);
	free(ready);
	free(commit);
	free(kout);
	free(gout);
	free(pipeline);
	free(cache);
	return 0;
}
