// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Direct PutTraceSegments export; see xray_api.h.
 *
 * Queue: submit copies the document into a FIFO bounded by XRAY_QUEUE_DOCS
 * and XRAY_QUEUE_BYTES (a document counts until its batch is finished), and
 * refuses the newest when full. The thread takes up to XRAY_BATCH_MAX
 * documents when that many are queued, or when the oldest has waited
 * XRAY_IDLE_MS, so a trickle of documents is delayed at most ~1 s.
 *
 * Sizes: X-Ray refuses documents over 64 KB. The segment writer caps its
 * documents at SEGMENT_DOC_MAX (65,000 bytes), so none reach that limit
 * today; a larger one is refused here and counted in too_large. Splitting
 * one is the writer's job, not ours: X-Ray's way is to send the segment
 * without its subsegments and each subsegment as its own document
 * ("type":"subsegment" with trace_id and parent_id), which needs the tree.
 *
 * Accounting: every submit is counted in exactly one of dropped_full,
 * too_large, sent, failed or rejected (an unprocessed entry is also in
 * sent: the call succeeded and X-Ray said which it refused). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>

#include "aws_creds.h"
#include "http_client.h"
#include "log.h"
#include "xray_api.h"

/* UnprocessedTraceSegments entries named in the one log line per batch. */
#define UNPROCESSED_LOG_MAX 5

static struct {
	pthread_mutex_t lock;
	char endpoint[XRAY_ENDPOINT_MAX];
	char region[AWS_REGION_MAX];
	bool overridden;
	bool configured;
} cfg = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct qdoc {
	struct qdoc *next;
	int64_t t_ns; /* monotonic, at submit */
	size_t len;
	char data[];
};

struct xray_api {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	struct qdoc *head, *tail;
	size_t count, bytes; /* including the batch in flight */
	bool stopping; /* under lock, and read with atomics by cancel() */
	int64_t deadline_ns;

	uint64_t submitted, dropped_full, too_large, sent, batches, retries, failed, rejected,
		unprocessed;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void stat_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static uint64_t stat_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* ---- endpoint and the one-call helper ---- */

int xray_endpoint_select(const char *endpoint_flag, const char *region, char *out, size_t n,
			 bool *overridden)
{
	const char *o = endpoint_flag && *endpoint_flag ? endpoint_flag : NULL;
	size_t l;
	int w;

	if (!o)
		o = getenv("AWS_ENDPOINT_URL_XRAY");
	if (o && !*o)
		o = NULL;
	if (!o)
		o = getenv("AWS_ENDPOINT_URL");
	if (o && !*o)
		o = NULL;
	*overridden = o != NULL;
	if (o) {
		if (strncasecmp(o, "http://", 7) && strncasecmp(o, "https://", 8))
			return -EINVAL;
		l = strlen(o);
		while (l > 8 && o[l - 1] == '/')
			l--;
		if (l >= n)
			return -ENOSPC;
		memcpy(out, o, l);
		out[l] = '\0';
		return 0;
	}
	if (!region || !*region)
		return -EINVAL;
	w = snprintf(out, n, "https://xray.%s.amazonaws.com%s", region,
		     strncmp(region, "cn-", 3) ? "" : ".cn");
	return w < 0 || (size_t)w >= n ? -ENOSPC : 0;
}

int xray_api_configure(const char *endpoint_flag, const char *region)
{
	char ep[XRAY_ENDPOINT_MAX];
	bool ov;
	int rc = xray_endpoint_select(endpoint_flag, region, ep, sizeof(ep), &ov);

	if (rc)
		return rc;
	if (region && strlen(region) >= sizeof(cfg.region))
		return -ENOSPC;
	pthread_mutex_lock(&cfg.lock);
	strcpy(cfg.endpoint, ep);
	/* signing needs a region even through an override; us-east-1 is what
	 * the SDKs assume when none is set */
	snprintf(cfg.region, sizeof(cfg.region), "%s", region && *region ? region : "us-east-1");
	cfg.overridden = ov;
	cfg.configured = true;
	pthread_mutex_unlock(&cfg.lock);
	rc = http_client_global_init();
	if (!rc) {
		const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

		/* SigV4 arrived in 7.75; caller headers (the session token,
		 * Content-Type) are signed from 7.86 on (libcurl's CURLOPT_AWS_SIGV4) */
		if (v->version_num < 0x074b00) {
			p_err("libcurl %s has no SigV4 (needs 7.75 or later)", v->version);
			return -ENOTSUP;
		}
		if (v->version_num < 0x075600)
			p_warn("libcurl %s does not sign X-Amz-Security-Token (7.86 does): "
			       "temporary credentials may be refused",
			       v->version);
	}
	return rc;
}

const char *xray_api_endpoint(void)
{
	return cfg.endpoint;
}

static bool creds_rejected(long status, const char *body)
{
	return status == 403 && body &&
	       (strstr(body, "ExpiredToken") || strstr(body, "InvalidClientTokenId"));
}

static int call(const char *path, const char *json, size_t len, long *status, char **body,
		size_t *body_len, bool (*cancel)(void *), void *cancel_arg, char *err,
		size_t errlen)
{
	struct aws_creds *c = malloc(sizeof(*c));
	char url[XRAY_ENDPOINT_MAX + 128], region[AWS_REGION_MAX];
	struct http_resp r;
	bool ov, conf;
	int rc;

	*status = 0;
	*body = NULL;
	if (body_len)
		*body_len = 0;
	if (!c)
		return -ENOMEM;
	pthread_mutex_lock(&cfg.lock);
	conf = cfg.configured;
	ov = cfg.overridden;
	snprintf(url, sizeof(url), "%s%s", cfg.endpoint, path);
	strcpy(region, cfg.region);
	pthread_mutex_unlock(&cfg.lock);
	if (!conf) {
		free(c);
		return -ENOTCONN;
	}
	rc = aws_creds_get(c);
	/* no credentials but an override: the daemon's TCP proxy (or another
	 * signing proxy) is the endpoint, and it signs; send unsigned */
	if (rc && !ov) {
		free(c);
		snprintf(err, errlen, "no AWS credentials");
		return -ENOENT;
	}
	{
		struct http_req req = {
			.method = "POST",
			.url = url,
			/* no "Expect:" to suppress 100-continue: libcurl
			 * 7.88 would sign that empty header yet not send it
			 * (the mock's verifier caught this) */
			.headers = { "Content-Type: application/json" },
			.body = json,
			.body_len = len,
			.connect_timeout_ms = XRAY_CONNECT_TIMEOUT_MS,
			.timeout_ms = XRAY_TIMEOUT_MS,
			.creds = rc ? NULL : c,
			.sigv4_region = region,
			.sigv4_service = "xray",
			.cancel = cancel,
			.cancel_arg = cancel_arg,
		};

		rc = http_request(&req, &r, err, errlen);
	}
	explicit_bzero(c, sizeof(*c));
	free(c);
	if (rc)
		return rc;
	if (creds_rejected(r.status, r.body))
		aws_creds_invalidate();
	*status = r.status;
	*body = r.body;
	if (body_len)
		*body_len = r.len;
	return 0;
}

int xray_api_call(const char *path, const char *json, size_t len, long *status, char **body,
		  size_t *body_len)
{
	char err[256];

	return call(path, json, len, status, body, body_len, NULL, NULL, err, sizeof(err));
}

/* ---- selection ---- */

int xray_export_mode_parse(const char *s, enum xray_export_mode *m)
{
	static const char *const names[] = { "auto", "daemon", "api", "both", "none" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*m = (enum xray_export_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

int xray_export_setup(enum xray_export_mode m, const char *region_flag, const char *endpoint_flag,
		      bool daemon_explicit, bool *udp, bool *api)
{
	char region[AWS_REGION_MAX] = "", ep[XRAY_ENDPOINT_MAX];
	struct aws_creds *c;
	bool have, ov = false;
	int rc;

	*udp = *api = false;
	switch (m) {
	case XRAY_EXPORT_NONE:
		p_info("export: none (--export none): stdout and -o files only");
		return 0;
	case XRAY_EXPORT_DAEMON:
		*udp = true;
		p_info("export: daemon (--export daemon)");
		return 0;
	case XRAY_EXPORT_AUTO:
		if (daemon_explicit) {
			*udp = true;
			p_info("export: daemon (auto: a daemon address is configured)");
			return 0;
		}
		break;
	default:
		break;
	}
	/* the region and the endpoint override first: without either the
	 * API cannot be reached whatever the credentials */
	rc = aws_creds_start(region_flag, m != XRAY_EXPORT_AUTO || aws_on_ec2());
	if (rc == -EINVAL)
		return rc; /* a bad region name, reported */
	aws_region(region, sizeof(region));
	c = malloc(sizeof(*c));
	have = c && !aws_creds_get(c);
	if (c) {
		explicit_bzero(c, sizeof(*c));
		free(c);
	}
	if (xray_endpoint_select(endpoint_flag, region, ep, sizeof(ep), &ov))
		ep[0] = '\0';
	if (m == XRAY_EXPORT_AUTO) {
		if (rc || !ep[0]) {
			/* nothing will use the credentials: no refresher */
			aws_creds_stop();
			*udp = true;
			p_info("export: daemon (auto: %s)",
			       !region[0] && !have ? "no AWS region and no credentials"
			       : !region[0]	   ? "no AWS region"
						   : "no AWS credentials");
			return 0;
		}
	} else {
		if (!ep[0]) {
			p_err("--export %s: no AWS region (--region, AWS_REGION, AWS_DEFAULT_REGION or "
			      "IMDS) and no endpoint (--xray-endpoint, AWS_ENDPOINT_URL_XRAY)",
			      m == XRAY_EXPORT_API ? "api" : "both");
			return -EINVAL;
		}
		if (!have && aws_creds_pick_source() == AWS_CREDS_NONE && !ov) {
			p_err("--export %s: no AWS credential provider is configured",
			      m == XRAY_EXPORT_API ? "api" : "both");
			return -EINVAL;
		}
	}
	rc = xray_api_configure(endpoint_flag, region[0] ? region : NULL);
	if (rc) {
		if (rc != -ENOTSUP) /* that one was reported */
			p_err("X-Ray endpoint: %s", strerror(-rc));
		return -EINVAL;
	}
	*api = true;
	*udp = m == XRAY_EXPORT_BOTH;
	{
		struct aws_creds *k = malloc(sizeof(*k));
		enum aws_creds_source src = AWS_CREDS_NONE;

		if (k && !aws_creds_get(k))
			src = k->source;
		if (k) {
			explicit_bzero(k, sizeof(*k));
			free(k);
		}
		p_info("export: api%s %s, region %s, credentials %s%s (%s)", *udp ? " and daemon" : "",
		       cfg.endpoint, region[0] ? region : "(none)",
		       src != AWS_CREDS_NONE ? aws_creds_source_name(src)
		       : ov		     ? "none: unsigned, the endpoint signs"
					     : "pending (retrying)",
		       "", m == XRAY_EXPORT_AUTO ? "auto: region and credentials found" : "--export");
	}
	return 0;
}

/* ---- pure parts ---- */

/* Append docs[i] as a JSON string to arr; false when it is not valid
 * UTF-8 (jansson checks) or memory ran out. */
static bool add_doc(json_t *arr, const char *doc, size_t len)
{
	json_t *s = json_stringn(doc, len);

	return s && !json_array_append_new(arr, s);
}

char *xray_batch_build(const char *const *docs, const size_t *lens, size_t n, size_t *out_len)
{
	json_t *root, *arr;
	char *out;

	if (!n || n > XRAY_BATCH_MAX) {
		errno = EINVAL;
		return NULL;
	}
	root = json_object();
	arr = json_array();
	if (!root || !arr || json_object_set_new(root, "TraceSegmentDocuments", arr)) {
		json_decref(root);
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!add_doc(arr, docs[i], lens[i])) {
			json_decref(root);
			errno = EINVAL;
			return NULL;
		}
	}
	out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!out) {
		errno = ENOMEM;
		return NULL;
	}
	*out_len = strlen(out);
	return out;
}

uint32_t xray_backoff_ms(unsigned attempt, uint32_t r)
{
	uint64_t cap = XRAY_BACKOFF_CAP_MS;

	if (attempt < 16 && ((uint64_t)XRAY_BACKOFF_BASE_MS << attempt) < cap)
		cap = (uint64_t)XRAY_BACKOFF_BASE_MS << attempt;
	/* r / 2^32 in [0, 1) times (cap + 1): uniform over [0, cap] */
	return (uint32_t)(((uint64_t)r * (cap + 1)) >> 32);
}

enum xray_verdict xray_classify(int rc, long status)
{
	if (rc == -ENOMEM || rc == -EINVAL || rc == -ENOENT || rc == -ENOTCONN || rc == -ECANCELED)
		return XRAY_DROP;
	if (rc)
		return XRAY_RETRY; /* network error, timeout */
	if (status >= 200 && status < 300)
		return XRAY_OK;
	if (status == 429 || status >= 500)
		return XRAY_RETRY;
	/* other 4xx: retrying cannot help (a 403 for expired credentials
	 * is retried by send_batch, which sees the body) */
	return XRAY_DROP;
}

/* ---- the export thread ---- */

static bool past_deadline(struct xray_api *xa)
{
	return __atomic_load_n(&xa->stopping, __ATOMIC_ACQUIRE) &&
	       mono_ns() >= __atomic_load_n(&xa->deadline_ns, __ATOMIC_RELAXED);
}

static bool cancel_cb(void *arg)
{
	return past_deadline(arg);
}

static uint32_t rnd32(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)mono_ns() * 2654435761u;
	return r;
}

/* Sleep ms unless the stop deadline passes first; false if it did. */
static bool backoff_sleep(struct xray_api *xa, uint32_t ms)
{
	int64_t until = mono_ns() + (int64_t)ms * 1000000;

	while (mono_ns() < until) {
		struct timespec ts = { 0, 20 * 1000000 }; /* check the deadline every 20 ms */

		if (past_deadline(xa))
			return false;
		nanosleep(&ts, NULL);
	}
	return !past_deadline(xa);
}

/* Log and count the UnprocessedTraceSegments of a 2xx answer. */
static void handle_unprocessed(struct xray_api *xa, const char *body, size_t len)
{
	json_t *root, *arr, *e;
	char line[512];
	size_t i, n, o = 0;

	if (!body || !len)
		return;
	root = json_loadb(body, len, 0, NULL);
	arr = json_object_get(root, "UnprocessedTraceSegments");
	n = json_is_array(arr) ? json_array_size(arr) : 0;
	if (n) {
		stat_add(&xa->unprocessed, n);
		line[0] = '\0';
		json_array_foreach(arr, i, e) {
			const char *id = json_string_value(json_object_get(e, "Id"));
			const char *code = json_string_value(json_object_get(e, "ErrorCode"));
			int w;

			if (i >= UNPROCESSED_LOG_MAX)
				break;
			w = snprintf(line + o, sizeof(line) - o, " %.32s:%.48s", id ? id : "?",
				     code ? code : "?");
			if (w < 0 || (size_t)w >= sizeof(line) - o)
				break;
			o += w;
		}
		p_warn("X-Ray: %zu document(s) unprocessed:%s%s", n, line,
		       n > UNPROCESSED_LOG_MAX ? " ..." : "");
	}
	json_decref(root);
}

/* Send one batch with retries; every document ends counted. */
static void send_batch(struct xray_api *xa, struct qdoc **docs, size_t n)
{
	const char *ptrs[XRAY_BATCH_MAX];
	size_t lens[XRAY_BATCH_MAX], blen = 0, ok = 0;
	int64_t t0 = mono_ns();
	char *body;
	char err[256] = "";
	long status = 0;
	int rc = 0;
	enum xray_verdict v = XRAY_DROP;

	/* a document that is not valid UTF-8 would fail the whole batch:
	 * refuse it alone */
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_stringn(docs[i]->data, docs[i]->len);

		if (!s) {
			stat_add(&xa->rejected, 1);
			continue;
		}
		json_decref(s);
		ptrs[ok] = docs[i]->data;
		lens[ok++] = docs[i]->len;
	}
	if (!ok)
		return;
	body = xray_batch_build(ptrs, lens, ok, &blen);
	if (!body) {
		stat_add(&xa->failed, ok);
		p_warn("X-Ray: batch of %zu: %s", ok, strerror(errno));
		return;
	}
	for (unsigned attempt = 0; attempt < XRAY_ATTEMPTS_MAX; attempt++) {
		char *rbody = NULL;
		size_t rlen = 0;

		if (attempt) {
			uint32_t ms = xray_backoff_ms(attempt - 1, rnd32());

			if ((mono_ns() - t0) / 1000000 + ms > XRAY_RETRY_BUDGET_MS ||
			    !backoff_sleep(xa, ms))
				break;
			stat_add(&xa->retries, 1);
		}
		rc = call("/TraceSegments", body, blen, &status, &rbody, &rlen, cancel_cb, xa, err,
			  sizeof(err));
		v = xray_classify(rc, status);
		/* expired or revoked credentials: call() asked the refresher
		 * for new ones; the backoff gives it time */
		if (v == XRAY_DROP && !rc && creds_rejected(status, rbody))
			v = XRAY_RETRY;
		if (v == XRAY_OK) {
			stat_add(&xa->sent, ok);
			stat_add(&xa->batches, 1);
			handle_unprocessed(xa, rbody, rlen);
		} else if (rc) {
			p_dbg("X-Ray: attempt %u: %s", attempt + 1, err);
		} else {
			p_dbg("X-Ray: attempt %u: HTTP %ld %.200s", attempt + 1, status,
			      rbody ? rbody : "");
		}
		free(rbody);
		if (v != XRAY_RETRY)
			break;
	}
	free(body);
	if (v == XRAY_OK)
		return;
	if (v == XRAY_DROP && !rc) {
		stat_add(&xa->rejected, ok);
		p_warn("X-Ray: batch of %zu refused: HTTP %ld (not retried)", ok, status);
	} else {
		stat_add(&xa->failed, ok);
		if (rc)
			p_warn("X-Ray: batch of %zu dropped: %s", ok, err);
		else
			p_warn("X-Ray: batch of %zu dropped after retries: HTTP %ld", ok, status);
	}
}

static void *export_thread(void *arg)
{
	struct xray_api *xa = arg;
	struct qdoc *batch[XRAY_BATCH_MAX];

	pthread_mutex_lock(&xa->lock);
	for (;;) {
		size_t n = 0, bytes = 0;
		int64_t now = mono_ns();

		if (!xa->head) {
			if (xa->stopping)
				break;
			pthread_cond_wait(&xa->wake, &xa->lock);
			continue;
		}
		if (xa->stopping && now >= xa->deadline_ns)
			break;
		if (xa->count < XRAY_BATCH_MAX && !xa->stopping &&
		    now - xa->head->t_ns < (int64_t)XRAY_IDLE_MS * 1000000) {
			int64_t due = xa->head->t_ns + (int64_t)XRAY_IDLE_MS * 1000000;
			struct timespec ts = { due / 1000000000, due % 1000000000 };

			pthread_cond_timedwait(&xa->wake, &xa->lock, &ts);
			continue;
		}
		while (xa->head && n < XRAY_BATCH_MAX) {
			batch[n] = xa->head;
			xa->head = xa->head->next;
			bytes += batch[n]->len;
			n++;
		}
		if (!xa->head)
			xa->tail = NULL;
		pthread_mutex_unlock(&xa->lock);
		send_batch(xa, batch, n);
		for (size_t i = 0; i < n; i++)
			free(batch[i]);
		pthread_mutex_lock(&xa->lock);
		xa->count -= n;
		xa->bytes -= bytes;
	}
	/* past the deadline: what is left is dropped, and counted */
	while (xa->head) {
		struct qdoc *d = xa->head;

		xa->head = d->next;
		xa->count--;
		xa->bytes -= d->len;
		stat_add(&xa->dropped_full, 1);
		free(d);
	}
	xa->tail = NULL;
	pthread_mutex_unlock(&xa->lock);
	return NULL;
}

struct xray_api *xray_api_start(void)
{
	struct xray_api *xa;
	pthread_condattr_t ca;
	int rc;

	if (!cfg.configured) {
		errno = ENOTCONN;
		return NULL;
	}
	xa = calloc(1, sizeof(*xa));
	if (!xa)
		return NULL;
	pthread_mutex_init(&xa->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&xa->wake, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&xa->thread, NULL, export_thread, xa);
	if (rc) {
		pthread_cond_destroy(&xa->wake);
		pthread_mutex_destroy(&xa->lock);
		free(xa);
		errno = rc;
		return NULL;
	}
	return xa;
}

int xray_api_submit(struct xray_api *xa, const char *doc, size_t len)
{
	struct qdoc *d;

	if (!len)
		return 0;
	stat_add(&xa->submitted, 1);
	if (len > XRAY_DOC_MAX) {
		stat_add(&xa->too_large, 1);
		return -EMSGSIZE;
	}
	pthread_mutex_lock(&xa->lock);
	if (xa->stopping || xa->count >= XRAY_QUEUE_DOCS || xa->bytes + len > XRAY_QUEUE_BYTES) {
		pthread_mutex_unlock(&xa->lock);
		stat_add(&xa->dropped_full, 1);
		return -ENOBUFS;
	}
	xa->count++;
	xa->bytes += len;
	pthread_mutex_unlock(&xa->lock);
	/* allocate outside the lock; the slot is already reserved */
	d = malloc(sizeof(*d) + len);
	pthread_mutex_lock(&xa->lock);
	if (!d) {
		xa->count--;
		xa->bytes -= len;
		pthread_mutex_unlock(&xa->lock);
		stat_add(&xa->dropped_full, 1);
		return -ENOBUFS;
	}
	d->next = NULL;
	d->len = len;
	d->t_ns = mono_ns();
	memcpy(d->data, doc, len);
	if (xa->tail)
		xa->tail->next = d;
	else
		xa->head = d;
	xa->tail = d;
	if (xa->count >= XRAY_BATCH_MAX || d == xa->head)
		pthread_cond_signal(&xa->wake);
	pthread_mutex_unlock(&xa->lock);
	return 0;
}

void xray_api_get_stats(struct xray_api *xa, struct xray_api_stats *st)
{
	st->submitted = stat_get(&xa->submitted);
	st->dropped_full = stat_get(&xa->dropped_full);
	st->too_large = stat_get(&xa->too_large);
	st->sent = stat_get(&xa->sent);
	st->batches = stat_get(&xa->batches);
	st->retries = stat_get(&xa->retries);
	st->failed = stat_get(&xa->failed);
	st->rejected = stat_get(&xa->rejected);
	st->unprocessed = stat_get(&xa->unprocessed);
	pthread_mutex_lock(&xa->lock);
	st->queue_depth = xa->count;
	pthread_mutex_unlock(&xa->lock);
}

void xray_api_stop(struct xray_api *xa, int deadline_ms, struct xray_api_stats *final)
{
	uint64_t lost;

	if (!xa)
		return;
	/* what the drain loses: the batch in flight at the deadline, and
	 * what is still queued */
	lost = stat_get(&xa->failed) + stat_get(&xa->dropped_full);
	pthread_mutex_lock(&xa->lock);
	__atomic_store_n(&xa->deadline_ns, mono_ns() + (int64_t)deadline_ms * 1000000,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&xa->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&xa->wake);
	pthread_mutex_unlock(&xa->lock);
	/* a request in flight is aborted at the deadline by cancel_cb, so
	 * this join waits at most deadline_ms plus about a second */
	pthread_join(xa->thread, NULL);
	lost = stat_get(&xa->failed) + stat_get(&xa->dropped_full) - lost;
	if (lost)
		p_warn("X-Ray: %" PRIu64 " document(s) not delivered by the %d ms drain deadline",
		       lost, deadline_ms);
	if (final)
		xray_api_get_stats(xa, final);
	pthread_cond_destroy(&xa->wake);
	pthread_mutex_destroy(&xa->lock);
	free(xa);
}
