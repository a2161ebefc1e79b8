#include "core/lock.h"
#include "core/common.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int kiln_lock_acquire(struct kiln_lock *lock, const char *path, double timeout, volatile int *stop)
{
	char *dir = kiln_path_dirname(path);
	double deadline = kiln_time_mono() + timeout, pause = 0.05;
	int fd = -1, error;

	KILN_ASSERT_ARG(lock != NULL && path != NULL);
	error = kiln_mkdir_p(dir, 0700);
	free(dir);
	if (error < 0)
		return error;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return kiln_error_set(KILN_ERROR, "cannot open lock '%s': %s", path,
		                      strerror(errno));
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			error = kiln_error_set(KILN_ERROR, "cannot lock '%s': %s", path,
			                       strerror(errno));
			goto fail;
		}
		if (kiln_time_mono() >= deadline) {
			error = kiln_error_set(KILN_ETIMEOUT,
			                       "'%s' is locked by another kiln process", path);
			goto fail;
		}
		error = kiln_sleep(pause, stop);
		if (error < 0)
			goto fail;
		if (pause < 1.0)
			pause *= 2;
	}
	lock->fd = fd;
	lock->path = kiln_xstrdup(path);
	return 0;
fail:
	close(fd);
	return error;
}

void kiln_lock_release(struct kiln_lock *lock)
{
	if (lock == NULL || lock->fd < 0)
		return;
	flock(lock->fd, LOCK_UN);
	close(lock->fd);
	lock->fd = -1;
	free(lock->path);
	lock->path = NULL;
}
