/*
 * zstd output in fixed frames, compressed on threads, written in order.
 *
 * Compressing is the slowest step, so the tar stream is cut into frames of
 * 2 MiB, each compressed on its own as one zstd frame (a .zst file may
 * hold any number of them). The cut points and the level are fixed, so the
 * output depends only on the input, never on the number of threads or their
 * timing. Two compressor threads take frames in turn while the caller's
 * thread inflates blobs and formats the tar, and a writer thread writes the
 * frames in order and hashes them. Frames cost little in ratio at this size
 * (level 3 looks back 2 MiB at most); memory stays bounded by four
 * frames in flight (16 MiB).
 *
 * The caller owns the file descriptor; kiln_zframes_finish() flushes the
 * last frame, waits for the threads and gives the size and sha256 of what
 * was written. kiln_zframes_free() without a finish stops the threads.
 */
#ifndef KILN_BAKE_ZFRAMES_H
#define KILN_BAKE_ZFRAMES_H

#include <stddef.h>
#include <stdint.h>

struct kiln_zframes;

/* Start compressing into `fd`. */
int kiln_zframes_new(struct kiln_zframes **out, int fd);
/* Append uncompressed bytes; KILN_ERROR once writing has failed. */
int kiln_zframes_write(struct kiln_zframes *z, const void *buf, size_t len);
/* Flush and wait; the compressed size and its sha256 (lowercase hex). */
int kiln_zframes_finish(struct kiln_zframes *z, uint64_t *size, char sha256[65]);
void kiln_zframes_free(struct kiln_zframes *z);

#endif
