/*
 * Fuzz target (libFuzzer) for what the local cloud reads from a client:
 * the HTTP request parser, SigV4 verification, the Query parameters
 * (kiln_query_parse and the sorted lc_params), the API from a request to
 * its reply, and the XML writer every reply goes through.
 *
 * The first byte of an input picks what the rest is:
 *   0  bytes off a socket: parsed whole and in pieces of a size the second
 *      byte gives (the two must agree), then answered by lc_api_handle();
 *   1  "SERVICE\nBODY": the body signed with the cloud's key, so that it
 *      gets past the signature into the handlers ("ami-@", "sg-@",
 *      "i-@", "vpc-@", "tg-@" and "lt-@" in it become the ids of an
 *      image, a group, an instance, the VPC, a target group and a launch
 *      template that exist);
 *   2  header lines, an empty line, a body: verified as SigV4 with the
 *      clock check off (so the signature is computed), and answered;
 *   3  text for the XML writer: the element it writes must parse and give
 *      the text back (with U+FFFD where XML cannot carry a character);
 *   4  a query string: parsed, sorted, and every lookup must agree with a
 *      plain scan of the parameters.
 * Every reply must be well-formed XML and every request log line JSON; an
 * input that breaks either, or crashes, is a finding (abort()).
 *
 * The cloud is in process with stand-in machines (tests/fixtures), on
 * /dev/shm when there is one, and starts afresh every 200 inputs so that
 * its state stays small. Actions that run ssh-keygen are left out: a
 * process per input would be most of the time spent.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "aws/query.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "core/log.h"
#include "core/utf8.h"
#include "core/util.h"
#include "localcloud/api-int.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/httpreq-int.h"
#include "localcloud/request-int.h"
#include "tests/fixtures/lc_cloud_fixture.h"

#define RESET_EVERY 200

static struct lc_cloud cloud;
static char state_dir[128];
static int opened;
static unsigned long inputs;
static char image_id[32], group_id[32], instance_id[32], vpc_id[32], tg_arn[256], lt_id[32];

#define FINDING(...)                                                                               \
	do {                                                                                       \
		fprintf(stderr, "fuzz_request: " __VA_ARGS__);                                     \
		fputc('\n', stderr);                                                               \
		abort();                                                                           \
	} while (0)

/* data[0..len) as a C string (strndup would read on past `len` under strict string checks). */
static char *text_of(const uint8_t *data, size_t len)
{
	char *s = kiln_xmalloc(len + 1);

	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

/* ---- the cloud ----------------------------------------------------------- */

static struct lc_http_reply handle(const char *method, const char *path, const char *query,
                                   const char *const *headers, const char *body, size_t len)
{
	struct lc_http_request in = {method, path, query, headers, body, len, kiln_time_mono()};
	struct lc_http_reply out;
	struct kiln_xml *x;

	lc_api_handle(&cloud, &in, &out);
	if (out.content_type != NULL) {
		/* SSM speaks JSON 1.1: every reply, error or not, one JSON object. */
		json_error_t err;
		json_t *j = json_loadb(out.body.ptr, out.body.size, 0, &err);
		if (!json_is_object(j))
			FINDING("a %s reply is not a JSON object: %s", out.content_type,
			        out.body.ptr);
		json_decref(j);
		return out;
	}
	if (kiln_xml_parse(&x, out.body.ptr, out.body.size) < 0)
		FINDING("a reply is not XML: %s", out.body.ptr);
	kiln_xml_free(x);
	return out;
}

/* Every line the request log got since the last call is one JSON object. */
static void check_request_log(void)
{
	struct kiln_buf log = KILN_BUF_INIT;
	char buf[4096];
	ssize_t n;
	size_t start = 0;

	lseek(cloud.reqlog_fd, 0, SEEK_SET);
	while ((n = read(cloud.reqlog_fd, buf, sizeof(buf))) > 0)
		kiln_buf_put(&log, buf, (size_t)n);
	for (size_t i = 0; i < log.size; i++) {
		json_error_t err;
		json_t *j;
		if (log.ptr[i] != '\n')
			continue;
		j = json_loadb(log.ptr + start, i - start, 0, &err);
		if (!json_is_object(j))
			FINDING("a request log line is not JSON: %.*s", (int)(i - start),
			        log.ptr + start);
		json_decref(j);
		start = i + 1;
	}
	if (start != log.size)
		FINDING("the request log ends in half a line");
	if (ftruncate(cloud.reqlog_fd, 0) < 0)
		FINDING("ftruncate: %s", strerror(errno));
	lseek(cloud.reqlog_fd, 0, SEEK_SET);
	kiln_buf_release(&log);
}

/* One signed request, answered; the text of `path` in its reply copied to out (or ""). */
static void signed_call(const char *service, const char *body, const char *path, char *out,
                        size_t outlen)
{
	const char *sign_headers[] = {LC_FIXTURE_HOST, LC_FIXTURE_CTYPE, NULL};
	struct kiln_sigv4_signed s;
	struct lc_http_reply reply;

	if (lc_fixture_sign(&s, service, sign_headers, body) < 0)
		FINDING("signing failed: %s", kiln_error_last());
	{
		const char *headers[] = {sign_headers[0], sign_headers[1], s.amz_date,
		                         s.authorization, NULL};
		reply = handle("POST", "/", NULL, headers, body, strlen(body));
	}
	if (out) {
		struct kiln_xml *x;
		const char *t = NULL;
		if (kiln_xml_parse(&x, reply.body.ptr, reply.body.size) == 0) {
			t = kiln_xml_text(x, kiln_xml_root(x), path);
			snprintf(out, outlen, "%s", t ? t : "");
			kiln_xml_free(x);
		}
	}
	kiln_buf_release(&reply.body);
	kiln_sigv4_signed_release(&s);
}

/* Is any instance on its way from one state to another? (cloud.mu held) */
static int in_transition(void)
{
	const char *k;
	json_t *v;

	json_object_foreach(lc_instances(&cloud), k, v)
	{
		const char *state = lc_str(v, "state");
		if (strcmp(state, "pending") == 0 || strcmp(state, "stopping") == 0 ||
		    strcmp(state, "shutting-down") == 0)
			return 1;
	}
	return 0;
}

/*
 * Wait (a few seconds at most) until the threads an input set going are at
 * rest: image captures done, every instance's runner past its transition.
 * Work of theirs still in flight when the input ends would be seen by the
 * leak check that follows it as memory that nothing points to.
 */
static void settle(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&cloud.mu);
	while ((cloud.workers > 0 || in_transition()) &&
	       pthread_cond_timedwait(&cloud.cond, &cloud.mu, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&cloud.mu);
}

/* A fresh cloud with an image, a group and an instance for inputs to name. */
static void cloud_open(void)
{
	const char *parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	char *layer, *dir, *body;

	if (lc_fixture_open_in(&cloud, parent, state_dir, sizeof(state_dir)) < 0)
		FINDING("cannot open the cloud: %s", kiln_error_last());
	cloud.reqlog_fd = memfd_create("requests", MFD_CLOEXEC);
	layer = lc_new_id("layer-");
	dir = kiln_path_join(cloud.layers_dir, layer);
	kiln_mkdir_p(dir, 0755);
	body = kiln_xasprintf(
	    "Action=KilnRegisterLayerImage&Version=2016-11-15&Name=base&LayerId=%s", layer);
	signed_call("ec2", body, "imageId", image_id, sizeof(image_id));
	free(body);
	signed_call("ec2",
	            "Action=CreateSecurityGroup&Version=2016-11-15&GroupName=g&GroupDescription=d",
	            "groupId", group_id, sizeof(group_id));
	body = kiln_xasprintf("Action=RunInstances&Version=2016-11-15&ImageId=%s&MinCount=1&"
	                      "MaxCount=1",
	                      image_id);
	signed_call("ec2", body, "instancesSet/item/instanceId", instance_id, sizeof(instance_id));
	free(body);
	signed_call("ec2", "Action=DescribeVpcs&Version=2016-11-15", "vpcSet/item/vpcId", vpc_id,
	            sizeof(vpc_id));
	body = kiln_xasprintf("Action=CreateTargetGroup&Version=2015-12-01&Name=tg&Protocol=HTTP&"
	                      "Port=80&VpcId=%s",
	                      vpc_id);
	signed_call("elasticloadbalancing", body,
	            "CreateTargetGroupResult/TargetGroups/member/TargetGroupArn", tg_arn,
	            sizeof(tg_arn));
	free(body);
	body = kiln_xasprintf(
	    "Action=CreateLaunchTemplate&Version=2016-11-15&LaunchTemplateName=fixture&"
	    "LaunchTemplateData.ImageId=%s",
	    image_id);
	signed_call("ec2", body, "launchTemplate/launchTemplateId", lt_id, sizeof(lt_id));
	free(body);
	free(dir);
	free(layer);
	if (!image_id[0] || !group_id[0] || !instance_id[0] || !vpc_id[0] || !tg_arn[0] ||
	    !lt_id[0])
		FINDING("the fixture's resources were not made");
	settle();
	check_request_log();
	opened = 1;
}

static void cloud_close(void)
{
	close(cloud.reqlog_fd);
	cloud.reqlog_fd = -1;
	lc_fixture_close(&cloud, state_dir);
	opened = 0;
}

static void at_exit(void)
{
	if (opened)
		cloud_close();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kiln_log_setup(0, 1, KILN_COLOR_NEVER);
	cloud_open();
	atexit(at_exit);
	return 0;
}

/* ---- 0: bytes off a socket ----------------------------------------------- */

static enum lc_httpreq_result parse_in_pieces(struct lc_httpreq *r, const uint8_t *data, size_t len,
                                              size_t step)
{
	enum lc_httpreq_result res = LC_HTTPREQ_MORE;
	size_t off = 0, used;

	lc_httpreq_init(r);
	while (off < len && (res == LC_HTTPREQ_MORE || res == LC_HTTPREQ_HEAD)) {
		size_t n = len - off < step ? len - off : step;
		res = lc_httpreq_feed(r, (const char *)data + off, n, &used);
		if (used > n || (res == LC_HTTPREQ_MORE && used != n))
			FINDING("the parser took %zu of %zu bytes", used, n);
		off += used;
	}
	if (res == LC_HTTPREQ_MORE || res == LC_HTTPREQ_HEAD)
		res = lc_httpreq_feed(r, (const char *)data + off, 0, &used);
	if (res == LC_HTTPREQ_HEAD)
		res = lc_httpreq_feed(r, (const char *)data + off, 0, &used);
	return res;
}

static void fuzz_http(const uint8_t *data, size_t len, size_t step)
{
	struct lc_httpreq whole, pieces;
	enum lc_httpreq_result a = parse_in_pieces(&whole, data, len, len ? len : 1);
	enum lc_httpreq_result b = parse_in_pieces(&pieces, data, len, step);

	if (a != b || (a == LC_HTTPREQ_ERROR && whole.status != pieces.status) ||
	    (a == LC_HTTPREQ_DONE &&
	     (whole.body.size != pieces.body.size ||
	      memcmp(whole.body.ptr, pieces.body.ptr, whole.body.size) != 0)))
		FINDING("whole and in pieces of %zu the request parses differently (%d/%d, %d/%d)",
		        step, a, b, whole.status, pieces.status);
	if (a == LC_HTTPREQ_DONE) {
		static const char *const none[] = {NULL};
		char *path = kiln_xstrdup(whole.target), *qm = strchr(path, '?');
		struct lc_http_reply reply;
		if (whole.body.size > LC_BODY_MAX)
			FINDING("a body past the cap");
		if (qm)
			*qm++ = '\0';
		reply = handle(whole.method, path, qm,
		               whole.headers ? (const char *const *)whole.headers : none,
		               whole.body.ptr, whole.body.size);
		kiln_buf_release(&reply.body);
		free(path);
	}
	if (a == LC_HTTPREQ_ERROR && (!whole.code || !whole.message || whole.status < 400))
		FINDING("a refusal without its status, code or message");
	lc_httpreq_release(&whole);
	lc_httpreq_release(&pieces);
}

/* ---- 1: signed requests into the handlers --------------------------------- */

/* `s` with every "ami-@", "sg-@", "i-@", "vpc-@", "tg-@" and "lt-@" replaced by the fixture's ids.
 */
static char *with_ids(const char *s, size_t len)
{
	static const struct {
		const char *mark;
		const char *id;
	} marks[] = {{"ami-@", image_id}, {"sg-@", group_id}, {"i-@", instance_id},
	             {"vpc-@", vpc_id},   {"tg-@", tg_arn},   {"lt-@", lt_id}};
	struct kiln_buf out;

	kiln_buf_init(&out, LC_BODY_MAX * 2);
	for (size_t i = 0; i < len;) {
		size_t k;
		for (k = 0; k < KILN_ARRAY_SIZE(marks); k++) {
			size_t ml = strlen(marks[k].mark);
			if (len - i >= ml && memcmp(s + i, marks[k].mark, ml) == 0) {
				kiln_buf_puts(&out, marks[k].id);
				i += ml;
				break;
			}
		}
		if (k == KILN_ARRAY_SIZE(marks))
			kiln_buf_putc(&out, s[i++]);
	}
	return kiln_buf_detach(&out);
}

/*
 * Actions that start processes: ssh-keygen in a prepare step, HAProxy in a
 * load balancer's sync after the reply. A process per input would be most of
 * the time spent (and HAProxy wants the daemon's network).
 */
static int spawns(const char *service, const char *body)
{
	struct kiln_query q = KILN_QUERY_INIT;
	const char *action;
	int yes = 0;

	if (kiln_query_parse(&q, body, strlen(body)) == 0 &&
	    (action = kiln_query_get(&q, "Action")) != NULL) {
		const struct lc_action *a =
		    strcmp(service, "elasticloadbalancing") == 0 ? lc_elbv2_action(action) : NULL;
		yes = strcmp(action, "CreateKeyPair") == 0 ||
		      strcmp(action, "ImportKeyPair") == 0 || (a != NULL && a->after != NULL);
	}
	kiln_query_release(&q);
	return yes;
}

static void fuzz_signed(const uint8_t *data, size_t len)
{
	const char *nl = memchr(data, '\n', len);
	char *service, *body;

	if (nl == NULL || memchr(data, '\0', len))
		return;
	service = text_of(data, (size_t)((const uint8_t *)nl - data));
	body = with_ids(nl + 1, len - (size_t)(nl + 1 - (const char *)data));
	if (strlen(service) < 64 && !spawns(service, body))
		signed_call(service, body, NULL, NULL, 0);
	free(service);
	free(body);
}

/* ---- 2: SigV4 over any headers ------------------------------------------- */

static const char *lookup_secret(void *arg, const char *akid)
{
	(void)arg;
	return strcmp(akid, "test") == 0 ? "test" : NULL;
}

static void fuzz_sigv4(const uint8_t *data, size_t len)
{
	char *text = text_of(data, len), *p = text, *body = "";
	const char *headers[65];
	size_t n = 0;
	struct kiln_sigv4_identity id;
	struct lc_http_reply reply;

	while (*p && n < 64) {
		char *end = strchr(p, '\n');
		if (end == NULL)
			end = p + strlen(p);
		if (end == p) {
			body = *end ? end + 1 : end;
			break;
		}
		headers[n++] = p;
		p = *end ? end + 1 : end;
		*end = '\0';
	}
	headers[n] = NULL;
	{
		struct kiln_sigv4_request sreq = {.method = "POST",
		                                  .path = "/",
		                                  .headers = headers,
		                                  .body = body,
		                                  .body_len = strlen(body)};
		/* any date passes: the signature itself is computed and compared */
		if (kiln_sigv4_verify(&id, &sreq, lookup_secret, NULL, time(NULL), 2000000000) ==
		        0 &&
		    id.service[0] == '\0')
			FINDING("verified without a service");
	}
	reply = handle("POST", "/", NULL, headers, body, strlen(body));
	kiln_buf_release(&reply.body);
	free(text);
}

/* ---- 3: the XML writer --------------------------------------------------- */

static void fuzz_xml(const uint8_t *data, size_t len)
{
	char *text = text_of(data, len);
	struct kiln_buf doc = KILN_BUF_INIT, want = KILN_BUF_INIT;
	struct kiln_xml *x;
	const char *got;

	kiln_buf_puts(&doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a><b>");
	kiln_xml_escape(&doc, text);
	kiln_buf_puts(&doc, "</b></a>");
	if (kiln_xml_parse(&x, doc.ptr, doc.size) < 0)
		FINDING("the writer's XML does not parse: %s", doc.ptr);
	/* what a reader gets back: the text, with U+FFFD for what XML cannot carry */
	for (size_t i = 0; text[i];) {
		uint32_t cp;
		int k = kiln_utf8_decode(&cp, text + i, strlen(text + i));
		if (k < 0 || cp == 0xFFFE || cp == 0xFFFF ||
		    (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r')) {
			kiln_buf_puts(&want, "\xef\xbf\xbd");
			i += k < 0 ? 1 : (size_t)k;
		} else {
			kiln_buf_put(&want, text + i, (size_t)k);
			i += (size_t)k;
		}
	}
	got = kiln_xml_text(x, kiln_xml_root(x), "b");
	if (got == NULL || strcmp(got, want.ptr) != 0)
		FINDING("the writer's XML reads back differently");
	kiln_xml_free(x);
	kiln_buf_release(&doc);
	kiln_buf_release(&want);
	free(text);
}

/* ---- 4: parameters ------------------------------------------------------- */

static void fuzz_params(const uint8_t *data, size_t len)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct lc_params p;
	struct lc_req r;

	if (kiln_query_parse(&q, (const char *)data, len) < 0) {
		kiln_query_release(&q);
		return;
	}
	lc_params_init(&p, &q);
	memset(&r, 0, sizeof(r));
	r.p = &p;
	for (size_t i = 0; i < q.count; i++) {
		const char *key = q.params[i].key, *first = kiln_query_get(&q, key);
		const char *got = lc_q_raw(&r, key), *dot = strrchr(key, '.');
		if (got == NULL || strcmp(got, first) != 0)
			FINDING("lc_q_raw(%s) is not the first value", key);
		if (dot) {
			char *prefix = kiln_xstrndup(key, (size_t)(dot - key));
			const char **vals;
			int *idx;
			size_t n = lc_q_indexes(&r, prefix, &idx);
			for (size_t k = 1; k < n; k++)
				if (idx[k - 1] >= idx[k])
					FINDING("indexes of %s are not sorted and distinct",
					        prefix);
			if (!lc_q_has_prefix(&r, prefix))
				FINDING("%s has a key under it but no prefix", prefix);
			free(idx);
			lc_q_list(&r, prefix, &vals);
			free(vals);
			free(prefix);
		}
	}
	{
		long long v;
		int b;
		lc_q_int(&r, "MaxResults", 5, 5, 1000, &v);
		lc_q_bool(&r, "DryRun", 0, &b);
	}
	lc_params_release(&p);
	kiln_query_release(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > (1u << 20))
		return 0;
	if (++inputs % RESET_EVERY == 0) {
		cloud_close();
		cloud_open();
	}
	switch (data[0] % 5) {
	case 0:
		fuzz_http(data + 2, size - 2, (size_t)data[1] % 64 + 1);
		break;
	case 1:
		fuzz_signed(data + 1, size - 1);
		break;
	case 2:
		fuzz_sigv4(data + 1, size - 1);
		break;
	case 3:
		fuzz_xml(data + 1, size - 1);
		break;
	default:
		fuzz_params(data + 1, size - 1);
		break;
	}
	settle();
	check_request_log();
	kiln_error_clear();
	return 0;
}
