/*
 * Small shared nouns: random ids, clocks and timestamps, sha256, and files
 * (directories, atomic writes). Atomic writes go to a temporary file in the
 * same directory, are fsynced, renamed into place, and the directory fsynced:
 * a crash leaves the old file or the new one, never a torn one.
 */
#ifndef KILN_CORE_UTIL_H
#define KILN_CORE_UTIL_H

#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

/* `nhex` random lowercase hex digits after `prefix` ("i-", "ami-", ""). */
char *kiln_id_random(const char *prefix, size_t nhex);
/* Fill `out` with cryptographically random bytes. */
int kiln_random_bytes(void *out, size_t n);

/* Monotonic seconds, for timeouts and durations. */
double kiln_time_mono(void);
/* Wall-clock seconds since the epoch. */
double kiln_time_now(void);
/* "2026-11-23T05:21:50Z" (or with milliseconds) for `t` seconds since the epoch. */
void kiln_time_iso8601(char out[32], double t, int millis);
/* Parse "YYYY-MM-DDTHH:MM:SS[.fff]Z"; KILN_EINVAL when malformed. */
int kiln_time_parse_iso8601(double *out, const char *s);
/* Sleep, waking early with KILN_EINTR when a signal handler set *stop. */
int kiln_sleep(double seconds, volatile int *stop);

/* Lowercase hex sha256 of `data` into out[65]. */
void kiln_sha256_hex(char out[65], const void *data, size_t len);
void kiln_hex(char *out, const unsigned char *in, size_t len);

/* mkdir -p with `mode` for created directories. */
int kiln_mkdir_p(const char *path, mode_t mode);
/* rm -rf that never crosses into another filesystem (mounts are skipped). */
int kiln_rm_rf(const char *path);
/* Read a whole file into `buf` (bounded by the buffer's cap). */
int kiln_file_read(struct kiln_buf *buf, const char *path);
/* Atomically replace `path` with `data` (mode as given). */
int kiln_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* The directory part of `path` (".", when none); free() the result. */
char *kiln_path_dirname(const char *path);
/* `rel` resolved against directory `base` unless absolute; free() it. */
char *kiln_path_join(const char *base, const char *rel);

#endif
