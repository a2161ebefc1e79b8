/*
 * The fuzz targets without libFuzzer: every file of the directories (or
 * the files) given runs through LLVMFuzzerTestOneInput() once, so that the
 * corpus in the tree (crashing inputs among it) is a regression test in
 * every build, with any compiler.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	struct kiln_buf b;

	kiln_buf_init(&b, 16u << 20);
	if (kiln_file_read(&b, path) < 0) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)b.ptr, b.size);
	kiln_buf_release(&b);
	return 0;
}

int main(int argc, char **argv)
{
	int failed = 0, count = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *e;
		if (stat(argv[i], &st) == 0 && !S_ISDIR(st.st_mode)) {
			failed |= run_file(argv[i]);
			count++;
			continue;
		}
		d = opendir(argv[i]);
		if (d == NULL) {
			fprintf(stderr, "replay: cannot open '%s'\n", argv[i]);
			return 1;
		}
		while ((e = readdir(d)) != NULL) {
			char *path;
			if (e->d_name[0] == '.')
				continue;
			path = kiln_path_join(argv[i], e->d_name);
			failed |= run_file(path);
			count++;
			free(path);
		}
		closedir(d);
	}
	printf("replay: %d inputs\n", count);
	return failed || count == 0;
}
