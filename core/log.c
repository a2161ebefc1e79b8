#include "core/log.h"
#include "core/buf.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SECRETS 64

static struct {
	int verbose;
	int quiet;
	int color;
	int timestamps;
	FILE *stream;
	char *secrets[MAX_SECRETS];
	size_t nsecrets;
	pthread_mutex_t lock;
} L = {.verbose = 0, .timestamps = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

void kiln_log_setup(int verbose, int quiet, enum kiln_color color)
{
	L.verbose = verbose;
	L.quiet = quiet;
	if (color == KILN_COLOR_AUTO)
		L.color = isatty(STDERR_FILENO) && getenv("NO_COLOR") == NULL;
	else
		L.color = color == KILN_COLOR_ALWAYS;
}

void kiln_log_set_stream(FILE *fp, int timestamps)
{
	L.stream = fp;
	L.timestamps = timestamps;
	L.color = 0;
}

int kiln_log_enabled(enum kiln_log_level level)
{
	if (level == KILN_LOG_ERROR)
		return 1;
	if (level == KILN_LOG_WARN)
		return !L.quiet;
	return !L.quiet && L.verbose >= (int)level - 1;
}

int kiln_log_trace_enabled(const char *area)
{
	const char *t = getenv("KILN_TRACE"), *p;
	size_t n = strlen(area);

	if (t == NULL || *t == '\0')
		return 0;
	for (p = t; *p != '\0';) {
		size_t len = strcspn(p, ",");
		if ((len == n && strncmp(p, area, n) == 0) ||
		    (len == 3 && strncmp(p, "all", 3) == 0))
			return 1;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

void kiln_log_add_secret(const char *value)
{
	size_t i;

	if (value == NULL || strlen(value) < 4)
		return;
	pthread_mutex_lock(&L.lock);
	for (i = 0; i < L.nsecrets; i++)
		if (strcmp(L.secrets[i], value) == 0)
			goto done;
	if (L.nsecrets == MAX_SECRETS) {
		/* Forget the oldest: refreshed credentials replace old ones. */
		kiln_free_secret(L.secrets[0]);
		memmove(L.secrets, L.secrets + 1, (MAX_SECRETS - 1) * sizeof(char *));
		L.nsecrets--;
	}
	L.secrets[L.nsecrets++] = kiln_xstrdup(value);
done:
	pthread_mutex_unlock(&L.lock);
}

void kiln_log_clear_secrets(void)
{
	size_t i;

	pthread_mutex_lock(&L.lock);
	for (i = 0; i < L.nsecrets; i++)
		kiln_free_secret(L.secrets[i]);
	L.nsecrets = 0;
	pthread_mutex_unlock(&L.lock);
}

static char *redact_locked(const char *s)
{
	struct kiln_buf out = KILN_BUF_INIT;
	const char *p = s;

	kiln_buf_init(&out, SIZE_MAX / 2);
	while (*p != '\0') {
		size_t i, hit = 0;
		for (i = 0; i < L.nsecrets; i++) {
			size_t n = strlen(L.secrets[i]);
			if (strncmp(p, L.secrets[i], n) == 0) {
				hit = n;
				break;
			}
		}
		if (hit > 0) {
			kiln_buf_puts(&out, "***");
			p += hit;
		} else {
			kiln_buf_putc(&out, *p++);
		}
	}
	return kiln_buf_detach(&out);
}

char *kiln_log_redact(const char *s)
{
	char *out;

	pthread_mutex_lock(&L.lock);
	out = redact_locked(s);
	pthread_mutex_unlock(&L.lock);
	return out;
}

static void emit(enum kiln_log_level level, const char *area, const char *fmt, va_list ap)
{
	static const char *names[] = {"error", "warning", "info", "debug"};
	static const char *colors[] = {"\033[31m", "\033[33m", "", "\033[2m"};
	FILE *fp = L.stream ? L.stream : stderr;
	struct kiln_buf safe = KILN_BUF_INIT;
	char *msg = NULL, *clean;
	int ts = L.timestamps;

	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	if (ts < 0)
		ts = !isatty(fileno(fp));
	pthread_mutex_lock(&L.lock);
	clean = redact_locked(msg);
	/*
	 * Messages carry bytes from outside (remote output, names from
	 * repositories, servers' errors), escaped where they were formatted;
	 * escaping the whole line again is free for those and covers the rest.
	 */
	kiln_buf_init(&safe, SIZE_MAX / 8);
	kiln_buf_put_escaped(&safe, clean, strlen(clean), KILN_ESCAPE_LINES);
	if (ts) {
		char stamp[32];
		struct timespec now;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(fp, "%s.%03ldZ ", stamp, now.tv_nsec / 1000000);
	}
	if (area != NULL)
		fprintf(fp, "kiln: trace %s: %s\n", area, safe.ptr);
	else if (level == KILN_LOG_INFO)
		fprintf(fp, "kiln: %s\n", safe.ptr);
	else if (L.color)
		fprintf(fp, "kiln: %s%s:\033[0m %s\n", colors[level], names[level], safe.ptr);
	else
		fprintf(fp, "kiln: %s: %s\n", names[level], safe.ptr);
	fflush(fp);
	pthread_mutex_unlock(&L.lock);
	explicit_bzero(msg, strlen(msg));
	free(msg);
	free(clean);
	kiln_buf_release(&safe);
}

void kiln_log(enum kiln_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!kiln_log_enabled(level))
		return;
	va_start(ap, fmt);
	emit(level, NULL, fmt, ap);
	va_end(ap);
}

#define DEFINE_LEVEL(fn, lvl)                                                                      \
	void fn(const char *fmt, ...)                                                              \
	{                                                                                          \
		va_list ap;                                                                        \
		if (!kiln_log_enabled(lvl))                                                        \
			return;                                                                    \
		va_start(ap, fmt);                                                                 \
		emit(lvl, NULL, fmt, ap);                                                          \
		va_end(ap);                                                                        \
	}

DEFINE_LEVEL(kiln_log_error, KILN_LOG_ERROR)
DEFINE_LEVEL(kiln_log_warn, KILN_LOG_WARN)
DEFINE_LEVEL(kiln_log_info, KILN_LOG_INFO)
DEFINE_LEVEL(kiln_log_debug, KILN_LOG_DEBUG)

void kiln_log_trace(const char *area, const char *fmt, ...)
{
	va_list ap;

	if (!kiln_log_trace_enabled(area))
		return;
	va_start(ap, fmt);
	emit(KILN_LOG_DEBUG, area, fmt, ap);
	va_end(ap);
}
