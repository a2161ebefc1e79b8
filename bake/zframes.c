#include "bake/zframes.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"

/* Part of the archive format: changing any of these changes every digest. */
#define ZSTD_LEVEL 3
#define FRAME      (2 * 1024 * 1024)
#define NSLOT      4
#define NCOMP      2

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_BUSY, SLOT_DONE };

struct slot {
	unsigned char *in, *out;
	size_t in_len, out_len;
	uint64_t frame;
	enum slot_state state;
};

struct kiln_zframes {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t comp[NCOMP], writer;
	struct slot slot[NSLOT];
	size_t out_cap;
	struct slot *cur;    /* the producer's */
	uint64_t next_fill;  /* the frame being filled */
	uint64_t next_comp;  /* the next frame for a compressor */
	uint64_t next_write; /* the next frame to write */
	uint64_t nframes;    /* known at the end; UINT64_MAX until then */
	int abort, failed, joined;
	char *errmsg; /* the first failure */
	int fd;
	uint64_t size;
	EVP_MD_CTX *sha;
};

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int stopping(const struct kiln_zframes *p)
{
	return p->abort || p->failed;
}

static void fail_with(struct kiln_zframes *p, const char *msg)
{
	pthread_mutex_lock(&p->mu);
	if (!p->failed)
		p->errmsg = kiln_xstrdup(msg);
	p->failed = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Hand the producer's frame over; take the next slot unless at the end. */
static int submit(struct kiln_zframes *p, int eof)
{
	struct slot *s;
	int stop;

	pthread_mutex_lock(&p->mu);
	if (p->cur->in_len > 0) {
		p->cur->state = SLOT_READY;
		p->next_fill++;
	} else {
		p->cur->state = SLOT_FREE;
	}
	if (eof)
		p->nframes = p->next_fill;
	pthread_cond_broadcast(&p->cv);
	s = &p->slot[p->next_fill % NSLOT];
	while (!eof && s->state != SLOT_FREE && !stopping(p))
		pthread_cond_wait(&p->cv, &p->mu);
	stop = stopping(p);
	if (!eof && !stop) {
		s->state = SLOT_FILLING;
		s->frame = p->next_fill;
		s->in_len = 0;
		p->cur = s;
	}
	pthread_mutex_unlock(&p->mu);
	return stop ? -1 : 0;
}

static void *compressor_main(void *arg)
{
	struct kiln_zframes *p = arg;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();

	if (cctx == NULL)
		kiln_die("out of memory");
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	for (;;) {
		struct slot *s;
		size_t r;

		pthread_mutex_lock(&p->mu);
		while (!stopping(p) && p->next_comp >= p->next_fill && p->next_comp < p->nframes)
			pthread_cond_wait(&p->cv, &p->mu);
		if (stopping(p) || p->next_comp >= p->nframes) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		s = &p->slot[p->next_comp % NSLOT];
		p->next_comp++;
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&p->mu);

		r = ZSTD_compress2(cctx, s->out, p->out_cap, s->in, s->in_len);
		if (ZSTD_isError(r)) {
			fail_with(p, ZSTD_getErrorName(r));
			break;
		}
		pthread_mutex_lock(&p->mu);
		s->out_len = r;
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	ZSTD_freeCCtx(cctx);
	return NULL;
}

static void *writer_main(void *arg)
{
	struct kiln_zframes *p = arg;

	for (;;) {
		struct slot *s;

		pthread_mutex_lock(&p->mu);
		s = &p->slot[p->next_write % NSLOT];
		while (!stopping(p) && p->next_write < p->nframes &&
		       !(s->state == SLOT_DONE && s->frame == p->next_write))
			pthread_cond_wait(&p->cv, &p->mu);
		if (stopping(p) || p->next_write >= p->nframes) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		pthread_mutex_unlock(&p->mu);

		if (write_all(p->fd, s->out, s->out_len) < 0) {
			fail_with(p, strerror(errno));
			break;
		}
		EVP_DigestUpdate(p->sha, s->out, s->out_len);
		p->size += s->out_len;

		pthread_mutex_lock(&p->mu);
		s->state = SLOT_FREE;
		p->next_write++;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

static void join(struct kiln_zframes *p, int abort)
{
	int i;

	if (abort) {
		pthread_mutex_lock(&p->mu);
		p->abort = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	for (i = 0; i < NCOMP; i++)
		pthread_join(p->comp[i], NULL);
	pthread_join(p->writer, NULL);
	p->joined = 1;
}

int kiln_zframes_new(struct kiln_zframes **out, int fd)
{
	struct kiln_zframes *p = kiln_xcalloc(1, sizeof(*p));
	int i;

	KILN_ASSERT_ARG(out != NULL && fd >= 0);
	p->fd = fd;
	p->nframes = UINT64_MAX;
	p->out_cap = ZSTD_compressBound(FRAME);
	for (i = 0; i < NSLOT; i++) {
		p->slot[i].in = kiln_xmalloc(FRAME);
		p->slot[i].out = kiln_xmalloc(p->out_cap);
	}
	p->cur = &p->slot[0];
	p->cur->state = SLOT_FILLING;
	p->sha = EVP_MD_CTX_new();
	if (p->sha == NULL || EVP_DigestInit_ex(p->sha, EVP_sha256(), NULL) != 1)
		kiln_die("out of memory");
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	for (i = 0; i < NCOMP; i++)
		if (pthread_create(&p->comp[i], NULL, compressor_main, p) != 0)
			kiln_die("cannot start a thread");
	if (pthread_create(&p->writer, NULL, writer_main, p) != 0)
		kiln_die("cannot start a thread");
	*out = p;
	return 0;
}

int kiln_zframes_write(struct kiln_zframes *p, const void *buf, size_t len)
{
	const unsigned char *c = buf;

	while (len > 0) {
		struct slot *s = p->cur;
		size_t n = FRAME - s->in_len < len ? FRAME - s->in_len : len;

		memcpy(s->in + s->in_len, c, n);
		s->in_len += n;
		c += n;
		len -= n;
		if (s->in_len == FRAME && submit(p, 0) < 0)
			return kiln_error_set(KILN_ERROR, "%s", p->errmsg ? p->errmsg : "stopped");
	}
	return 0;
}

int kiln_zframes_finish(struct kiln_zframes *p, uint64_t *size, char sha256[65])
{
	unsigned char md[32];

	submit(p, 1);
	join(p, 0);
	if (p->failed)
		return kiln_error_set(KILN_ERROR, "%s", p->errmsg ? p->errmsg : "stopped");
	EVP_DigestFinal_ex(p->sha, md, NULL);
	kiln_hex(sha256, md, sizeof(md));
	*size = p->size;
	return 0;
}

void kiln_zframes_free(struct kiln_zframes *p)
{
	int i;

	if (p == NULL)
		return;
	if (!p->joined)
		join(p, 1);
	for (i = 0; i < NSLOT; i++) {
		free(p->slot[i].in);
		free(p->slot[i].out);
	}
	EVP_MD_CTX_free(p->sha);
	free(p->errmsg);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
