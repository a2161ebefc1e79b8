#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int kiln_random_bytes(void *out, size_t n)
{
	if (RAND_bytes(out, (int)n) != 1)
		return kiln_error_set(KILN_ERROR, "cannot get random bytes");
	return 0;
}

char *kiln_id_random(const char *prefix, size_t nhex)
{
	unsigned char raw[64];
	char hex[129];
	size_t nbytes = (nhex + 1) / 2;

	KILN_ASSERT_ARG(nhex <= 128);
	if (kiln_random_bytes(raw, nbytes) < 0)
		kiln_die("no randomness available");
	kiln_hex(hex, raw, nbytes);
	hex[nhex] = '\0';
	return kiln_xasprintf("%s%s", prefix ? prefix : "", hex);
}

double kiln_time_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double kiln_time_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void kiln_time_iso8601(char out[32], double t, int millis)
{
	time_t secs = (time_t)t;
	struct tm tm;
	char base[24];

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	if (millis)
		snprintf(out, 32, "%s.%03dZ", base, (int)((t - (double)secs) * 1000.0));
	else
		snprintf(out, 32, "%sZ", base);
}

int kiln_time_parse_iso8601(double *out, const char *s)
{
	struct tm tm;
	const char *end;
	double frac = 0;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL)
		return kiln_error_set(KILN_EINVAL, "malformed timestamp '%s'", s);
	if (*end == '.') {
		char *stop;
		frac = strtod(end, &stop);
		end = stop;
	}
	if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0 && *end != '\0')
		return kiln_error_set(KILN_EINVAL, "malformed timestamp '%s'", s);
	*out = (double)timegm(&tm) + frac;
	return 0;
}

int kiln_sleep(double seconds, volatile int *stop)
{
	double end = kiln_time_mono() + seconds;

	for (;;) {
		double left = end - kiln_time_mono();
		struct timespec ts;
		if (stop != NULL && *stop)
			return kiln_error_set(KILN_EINTR, "interrupted");
		if (left <= 0)
			return 0;
		if (left > 0.1)
			left = 0.1;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

void kiln_hex(char *out, const unsigned char *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void kiln_sha256_hex(char out[65], const void *data, size_t len)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	kiln_hex(out, md, 32);
}

int kiln_mkdir_p(const char *path, mode_t mode)
{
	char *tmp = kiln_xstrdup(path), *p;
	int error = 0;

	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST) {
			error = kiln_error_set(KILN_ERROR, "cannot create directory '%s': %s", tmp,
			                       strerror(errno));
			goto done;
		}
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		error = kiln_error_set(KILN_ERROR, "cannot create directory '%s': %s", tmp,
		                       strerror(errno));
done:
	free(tmp);
	return error;
}

static int rm_rf_at(int dirfd, const char *name, dev_t dev)
{
	struct stat st;
	int fd, error = 0;
	DIR *d;
	struct dirent *de;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
	if (st.st_dev != dev)
		return -1; /* a mount point: never delete through it */
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (rm_rf_at(fd, de->d_name, dev) < 0)
			error = -1;
	}
	closedir(d);
	if (error == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		error = -1;
	return error;
}

int kiln_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0
		                       : kiln_error_set(KILN_ERROR, "cannot remove '%s': %s", path,
		                                        strerror(errno));
	if (rm_rf_at(AT_FDCWD, path, st.st_dev) < 0)
		return kiln_error_set(KILN_ERROR, "cannot remove '%s' completely", path);
	return 0;
}

int kiln_file_read(struct kiln_buf *buf, const char *path)
{
	char chunk[65536];
	ssize_t n;
	int fd, error = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kiln_error_set(errno == ENOENT ? KILN_ENOTFOUND : KILN_ERROR,
		                      "cannot open '%s': %s", path, strerror(errno));
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error = kiln_error_set(KILN_ERROR, "cannot read '%s': %s", path,
			                       strerror(errno));
			break;
		}
		error = kiln_buf_put(buf, chunk, (size_t)n);
		if (error < 0) {
			kiln_error_prefix(error, "cannot read '%s'", path);
			break;
		}
	}
	close(fd);
	return error;
}

int kiln_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	/* The thread too: threads of one process may write the same file at once. */
	char *tmp = kiln_xasprintf("%s.tmp.%d.%ld", path, (int)getpid(), (long)syscall(SYS_gettid));
	char *dir = kiln_path_dirname(path);
	const char *p = data;
	int fd = -1, dfd = -1, error = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		error = kiln_error_set(KILN_ERROR, "cannot create '%s': %s", tmp, strerror(errno));
		goto done;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error = kiln_error_set(KILN_ERROR, "cannot write '%s': %s", tmp,
			                       strerror(errno));
			goto done;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		error = kiln_error_set(KILN_ERROR, "cannot sync '%s': %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		error = kiln_error_set(KILN_ERROR, "cannot rename '%s' to '%s': %s", tmp, path,
		                       strerror(errno));
		goto done;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
done:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (error < 0)
		unlink(tmp);
	free(tmp);
	free(dir);
	return error;
}

char *kiln_path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return kiln_xstrdup(".");
	if (slash == path)
		return kiln_xstrdup("/");
	return kiln_xstrndup(path, (size_t)(slash - path));
}

char *kiln_path_join(const char *base, const char *rel)
{
	if (rel[0] == '/' || base == NULL || base[0] == '\0')
		return kiln_xstrdup(rel);
	return kiln_xasprintf("%s/%s", base, rel);
}
