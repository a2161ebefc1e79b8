#include "bake/blobreader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"
#include "bake/layer-int.h"

#define CHUNK (64 * 1024)

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void pack_add(struct kiln_blobreader *r, const char *dir, const char *name)
{
	char *idx = kiln_xasprintf("%s/%s", dir, name);
	char *pack = kiln_xasprintf("%.*s.pack", (int)(strlen(idx) - 4), idx);
	int ifd = open(idx, O_RDONLY | O_CLOEXEC);
	int pfd = open(pack, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *map = MAP_FAILED;

	/* Anything unexpected (a v1 index, a race with gc) falls back to libgit2. */
	if (ifd < 0 || pfd < 0 || fstat(ifd, &st) != 0 || st.st_size < 8 + 1024 + 40)
		goto skip;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, ifd, 0);
	if (map == MAP_FAILED || memcmp(map, "\377tOc\0\0\0\2", 8) != 0)
		goto skip;
	r->packs = kiln_xrealloc(r->packs, (r->npacks + 1) * sizeof(*r->packs));
	r->packs[r->npacks].fd = pfd;
	r->packs[r->npacks].idx = map;
	r->packs[r->npacks].idx_len = (size_t)st.st_size;
	r->packs[r->npacks].n = be32((const unsigned char *)map + 8 + 255 * 4);
	if ((uint64_t)r->packs[r->npacks].n * 28 + 8 + 1024 > (uint64_t)st.st_size)
		goto skip;
	r->npacks++;
	map = MAP_FAILED;
	pfd = -1;
skip:
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	if (ifd >= 0)
		close(ifd);
	if (pfd >= 0)
		close(pfd);
	free(idx);
	free(pack);
}

int kiln_blobreader_init(struct kiln_blobreader *r, git_repository *repo)
{
	char *packdir;
	DIR *d;
	struct dirent *de;
	int error;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->objdir = kiln_xasprintf("%sobjects", git_repository_path(repo));
	r->in = kiln_xmalloc(CHUNK);
	error = git_repository_odb(&r->odb, repo);
	if (error < 0)
		return kiln_layer__git_fail(error, "cannot open the object database");
	packdir = kiln_xasprintf("%s/pack", r->objdir);
	d = opendir(packdir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len > 4 && strcmp(de->d_name + len - 4, ".idx") == 0)
			pack_add(r, packdir, de->d_name);
	}
	if (d != NULL)
		closedir(d);
	free(packdir);
	return 0;
}

void kiln_blobreader_close(struct kiln_blobreader *r)
{
	if (r->own_fd && r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->own_fd = 0;
	git_odb_object_free(r->whole);
	r->whole = NULL;
	r->data = NULL;
}

void kiln_blobreader_release(struct kiln_blobreader *r)
{
	size_t i;

	kiln_blobreader_close(r);
	if (r->zinit)
		inflateEnd(&r->z);
	r->zinit = 0;
	for (i = 0; i < r->npacks; i++) {
		munmap((void *)r->packs[i].idx, r->packs[i].idx_len);
		close(r->packs[i].fd);
	}
	free(r->packs);
	free(r->in);
	free(r->objdir);
	git_odb_free(r->odb);
}

/* The offset of `oid` in a pack, or -1. */
static int pack_find(struct kiln_blobreader *r, const git_oid *oid,
                     struct kiln_blobreader_pack **pack, off_t *off)
{
	size_t i;

	for (i = 0; i < r->npacks; i++) {
		struct kiln_blobreader_pack *p = &r->packs[i];
		const unsigned char *fan = p->idx + 8, *names = fan + 1024;
		uint32_t lo = oid->id[0] ? be32(fan + 4 * (oid->id[0] - 1)) : 0;
		uint32_t hi = be32(fan + 4 * oid->id[0]);

		if (hi > p->n || lo > hi)
			continue; /* a damaged index: let libgit2 judge */
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			int c = memcmp(names + (size_t)mid * 20, oid->id, 20);
			if (c == 0) {
				const unsigned char *offs = names + (size_t)p->n * 24;
				uint32_t o = be32(offs + (size_t)mid * 4);
				if (o & 0x80000000u) {
					const unsigned char *big =
					    offs + (size_t)p->n * 4 + (size_t)(o & 0x7fffffffu) * 8;
					if (big + 8 > p->idx + p->idx_len)
						return -1;
					*off = (off_t)((uint64_t)be32(big) << 32 | be32(big + 4));
				} else {
					*off = (off_t)o;
				}
				*pack = p;
				return 0;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return -1;
}

static int inflate_some(struct kiln_blobreader *r, unsigned char *out, size_t len, size_t *got)
{
	r->z.next_out = out;
	r->z.avail_out = (uInt)len;
	while (r->z.avail_out > 0 && !r->zend) {
		int zr;
		if (r->z.avail_in == 0) {
			ssize_t n = pread(r->fd, r->in, r->want, r->pos);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return kiln_error_set(KILN_ERROR, "cannot read object '%s': %s",
				                      r->path,
				                      n < 0 ? strerror(errno) : "truncated");
			r->pos += n;
			r->z.next_in = r->in;
			r->z.avail_in = (uInt)n;
			r->want = CHUNK;
		}
		zr = inflate(&r->z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			r->zend = 1;
		else if (zr != Z_OK)
			return kiln_error_set(KILN_ERROR, "object '%s' is corrupt: %s", r->path,
			                      r->z.msg != NULL ? r->z.msg : "inflate failed");
	}
	*got = len - r->z.avail_out;
	return 0;
}

static int loose_open(struct kiln_blobreader *r, const char *hex, uint64_t *size)
{
	char *file = kiln_xasprintf("%s/%.2s/%s", r->objdir, hex, hex + 2);
	char hdr[64];
	size_t n = 0, got;
	int error = 0;

	r->fd = open(file, O_RDONLY | O_CLOEXEC);
	free(file);
	if (r->fd < 0)
		return KILN_ENOTFOUND;
	r->own_fd = 1;
	/* "blob <size>\0", inflated a byte at a time so no content is consumed. */
	while (n < sizeof(hdr)) {
		error = inflate_some(r, (unsigned char *)hdr + n, 1, &got);
		if (error < 0)
			return error;
		if (got == 0)
			break;
		if (hdr[n++] == '\0')
			break;
	}
	if (n == 0 || hdr[n - 1] != '\0' || strncmp(hdr, "blob ", 5) != 0)
		return kiln_error_set(KILN_ERROR, "object '%s' is not a blob", r->path);
	*size = strtoull(hdr + 5, NULL, 10);
	return 0;
}

/* Open blob `oid` for reading; *size is its length. */
int kiln_blobreader_open(struct kiln_blobreader *r, const git_oid *oid, const char *path,
                         uint64_t *size)
{
	char hex[GIT_OID_HEXSZ + 1];
	struct kiln_blobreader_pack *pack;
	off_t off;
	unsigned char hdr[32];
	ssize_t n;
	int error, i, type;
	unsigned shift;

	r->path = path;
	r->zend = 0;
	r->left = 0;
	/* One inflate state for all blobs: reset, not reallocated, per blob. */
	if (!r->zinit) {
		memset(&r->z, 0, sizeof(r->z));
		if (inflateInit(&r->z) != Z_OK)
			kiln_die("out of memory");
		r->zinit = 1;
	} else if (inflateReset(&r->z) != Z_OK) {
		kiln_die("inflateReset failed");
	}
	r->z.avail_in = 0;
	r->want = CHUNK;
	r->pos = 0;
	git_oid_tostr(hex, sizeof(hex), oid);
	if (pack_find(r, oid, &pack, &off) == 0) {
		n = pread(pack->fd, hdr, sizeof(hdr), off);
		if (n <= 0)
			goto whole;
		type = (hdr[0] >> 4) & 7;
		*size = hdr[0] & 15;
		for (i = 1, shift = 4; hdr[i - 1] & 0x80; i++, shift += 7) {
			if (i >= n || shift > 57)
				goto whole;
			*size |= (uint64_t)(hdr[i] & 0x7f) << shift;
		}
		if (type != GIT_OBJECT_BLOB)
			goto whole; /* a delta: libgit2 resolves it */
		r->fd = pack->fd;
		r->pos = off + i;
		/* Small objects: read about their size, not a whole CHUNK. */
		r->want = *size + (*size >> 8) + 64 < CHUNK ? *size + (*size >> 8) + 64 : CHUNK;
		r->left = *size;
		return 0;
	}
	error = loose_open(r, hex, size);
	if (error == 0)
		r->left = *size;
	if (error != KILN_ENOTFOUND)
		return error;
whole:
	kiln_blobreader_close(r);
	error = git_odb_read(&r->whole, r->odb, oid);
	if (error < 0)
		return kiln_layer__git_fail(error, "cannot read '%s'", path);
	if (git_odb_object_type(r->whole) != GIT_OBJECT_BLOB)
		return kiln_error_set(KILN_ERROR, "object '%s' is not a blob", path);
	r->data = git_odb_object_data(r->whole);
	*size = r->left = git_odb_object_size(r->whole);
	return 0;
}

/* Up to `len` bytes of the open blob; 0 at its end, after checking it ends there. */
int kiln_blobreader_read(struct kiln_blobreader *r, unsigned char *out, size_t len, size_t *got)
{
	unsigned char extra;
	size_t n;
	int error;

	*got = 0;
	if (len > r->left)
		len = (size_t)r->left;
	if (r->whole != NULL) {
		memcpy(out, r->data, len);
		r->data += len;
		r->left -= len;
		*got = len;
		return 0;
	}
	if (len > 0) {
		error = inflate_some(r, out, len, got);
		if (error < 0)
			return error;
		if (*got == 0)
			return kiln_error_set(KILN_ERROR, "object '%s' is shorter than its header",
			                      r->path);
		r->left -= *got;
		return 0;
	}
	/* Drive zlib to the end of the stream, which verifies its checksum. */
	while (!r->zend) {
		error = inflate_some(r, &extra, 1, &n);
		if (error < 0)
			return error;
		if (n != 0)
			return kiln_error_set(KILN_ERROR, "object '%s' is longer than its header",
			                      r->path);
	}
	return 0;
}
