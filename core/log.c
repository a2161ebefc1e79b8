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
	FILE *stream;   /* the sink, or */
	kiln_log_cb cb; /* this one; neither: lines go nowhere */
	void *cb_payload;
	char *secrets[MAX_SECRETS];
	size_t nsecrets;
	pthread_mutex_t lock;
} L = {.verbose = 0, .timestamps = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local struct kiln_log_hook hook;
static _Thread_local int depth; /* of callbacks running on this thread */

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
	pthread_mutex_lock(&L.lock);
	L.stream = fp;
	L.cb = NULL;
	L.timestamps = timestamps;
	L.color = 0;
	pthread_mutex_unlock(&L.lock);
}

void kiln_log_set_callback(kiln_log_cb cb, void *payload)
{
	pthread_mutex_lock(&L.lock);
	L.stream = NULL;
	L.cb = cb;
	L.cb_payload = payload;
	pthread_mutex_unlock(&L.lock);
}

struct kiln_log_hook kiln_log_hook_swap(struct kiln_log_hook h)
{
	struct kiln_log_hook old = hook;

	hook = h;
	return old;
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

static void write_stream(FILE *fp, enum kiln_log_level level, const char *area, const char *clean)
{
	static const char *names[] = {"error", "warning", "info", "debug"};
	static const char *colors[] = {"\033[31m", "\033[33m", "", "\033[2m"};
	int ts = L.timestamps;

	if (ts < 0)
		ts = !isatty(fileno(fp));
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
		fprintf(fp, "kiln: trace %s: %s\n", area, clean);
	else if (level == KILN_LOG_INFO)
		fprintf(fp, "kiln: %s\n", clean);
	else if (L.color)
		fprintf(fp, "kiln: %s%s:\033[0m %s\n", colors[level], names[level], clean);
	else
		fprintf(fp, "kiln: %s: %s\n", names[level], clean);
	fflush(fp);
}

static void emit(enum kiln_log_level level, const char *area, const char *fmt, va_list ap)
{
	struct kiln_log_hook to = {NULL, NULL};
	struct kiln_buf safe = KILN_BUF_INIT;
	char *msg = NULL, *clean;

	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	pthread_mutex_lock(&L.lock);
	clean = redact_locked(msg);
	/*
	 * Messages carry bytes from outside (remote output, names from
	 * repositories, servers' errors), escaped where they were formatted;
	 * escaping the whole line again is free for those and covers the rest,
	 * for the stream and for every callback.
	 */
	kiln_buf_init(&safe, SIZE_MAX / 8);
	kiln_buf_put_escaped(&safe, clean, strlen(clean), KILN_ESCAPE_LINES);
	/*
	 * A line that a hook logs goes to the sink, and one that a sink callback
	 * logs goes nowhere: no callback ever recurses into itself.
	 */
	if (depth == 0 && hook.fn != NULL && area == NULL && level <= KILN_LOG_WARN)
		to = hook;
	else if (depth < 2 && L.stream != NULL)
		write_stream(L.stream, level, area, safe.ptr);
	else if (depth < 2)
		to = (struct kiln_log_hook){L.cb, L.cb_payload};
	pthread_mutex_unlock(&L.lock);
	/* Callbacks run unlocked: they may log, or take locks of their own. */
	if (to.fn != NULL) {
		depth++;
		to.fn(level, safe.ptr, to.payload);
		depth--;
	}
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
