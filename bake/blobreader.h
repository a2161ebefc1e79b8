/*
 * Reading git blobs in chunks, in bounded memory.
 *
 * libgit2 reads a packed object whole into memory, and its loose-object
 * stream maps the whole file; for a 200 MiB blob either would be 200 MiB of
 * resident memory. So blobs are read here, straight from the loose file or
 * from the pack at the offset its .idx gives, inflated CHUNK by CHUNK with
 * pread. Only deltified packed blobs (and objects in alternates) go through
 * libgit2; git does not deltify blobs over core.bigFileThreshold anyway.
 * zlib checks each object's adler32 at the end of its stream.
 *
 * One blob is open at a time; kiln_blobreader_read() hands out its bytes in
 * order and, at the end, checks that the object ends where its header said.
 */
#ifndef KILN_BAKE_BLOBREADER_H
#define KILN_BAKE_BLOBREADER_H

#include <git2.h>
#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

struct kiln_blobreader_pack {
	int fd;
	const unsigned char *idx; /* the .idx, mapped */
	size_t idx_len;
	uint32_t n;
};

struct kiln_blobreader {
	char *objdir;
	git_odb *odb;
	struct kiln_blobreader_pack *packs;
	size_t npacks;
	unsigned char *in;
	/* The open object. */
	int fd, own_fd;
	off_t pos;
	size_t want;
	z_stream z;
	int zinit, zend;
	uint64_t left;
	git_odb_object *whole; /* fallback: libgit2 read it */
	const unsigned char *data;
	const char *path; /* for messages */
};

/* Prepare to read blobs of `repo` (which must outlive the reader). */
int kiln_blobreader_init(struct kiln_blobreader *r, git_repository *repo);
void kiln_blobreader_release(struct kiln_blobreader *r);
/* Open blob `oid` (named `path` in messages); *size is its length. */
int kiln_blobreader_open(struct kiln_blobreader *r, const git_oid *oid, const char *path,
                         uint64_t *size);
/* Up to `len` bytes of the open blob; with len 0, check that it ends here. */
int kiln_blobreader_read(struct kiln_blobreader *r, unsigned char *out, size_t len, size_t *got);
void kiln_blobreader_close(struct kiln_blobreader *r);

#endif
