/*
 * Advisory file locks (flock) between kiln processes: one deploy per profile
 * and environment, one bake per bake key. The kernel drops a lock when its
 * holder dies, so a crash never leaves a stale lock behind.
 */
#ifndef KILN_CORE_LOCK_H
#define KILN_CORE_LOCK_H

struct kiln_lock {
	int fd;
	char *path;
};

#define KILN_LOCK_INIT                                                                             \
	{                                                                                          \
		-1, NULL                                                                           \
	}

/*
 * Take the lock at `path` (created 0600, parent directories too), waiting up
 * to `timeout` seconds (0: try once). KILN_ETIMEOUT when another process
 * holds it; KILN_EINTR when *stop becomes set while waiting.
 */
int kiln_lock_acquire(struct kiln_lock *lock, const char *path, double timeout, volatile int *stop);
void kiln_lock_release(struct kiln_lock *lock);

#endif
