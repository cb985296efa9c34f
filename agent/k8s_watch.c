// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* See k8s_watch.h. The API's shapes (PodList, watch events, Status, 410
 * Gone, bookmarks) are those of the Kubernetes API concepts documentation,
 * "Efficient detection of changes". */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "cmd.h"
#include "http_client.h"
#include "k8s_meta.h"
#include "k8s_watch.h"
#include "log.h"

#define URL_MAX 2048
#define PATH_MAX_K8S 1024
#define TOKEN_MAX 16384 /* a projected service-account token: a JWT of ~1 KiB */
#define CONNECT_TIMEOUT_MS 5000
#define LIST_TIMEOUT_MS 60000
#define LIST_PAGE "500"
/* A watch ends on the server's timeoutSeconds: 5 to 10 minutes, random,
 * as client-go's reflector picks it; a little longer on our side. */
#define WATCH_MIN_S 300
#define WATCH_SPREAD_S 300
#define WATCH_SLACK_S 30
/* A watch that ends "normally" sooner than this counts as a failure, so a
 * server that closes at once is not hammered. */
#define WATCH_SHORT_S 1.0
#define RESYNC_JITTER 0.1

/* ------------------------------------------------------------------------ */
/* The protocol                                                             */
/* ------------------------------------------------------------------------ */

static void ctr_inc(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static uint64_t ctr_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void set_rv(struct k8s_sync *s, json_t *meta)
{
	json_t *rv = json_object_get(meta, "resourceVersion");

	if (json_is_string(rv) && json_string_length(rv) && json_string_length(rv) < sizeof(s->rv))
		memcpy(s->rv, json_string_value(rv), json_string_length(rv) + 1);
}

/* A Status object (an error answer, or an ERROR event's object). */
static enum k8s_result status_result(struct k8s_sync *s, json_t *st)
{
	json_t *msg = json_object_get(st, "message");

	snprintf(s->why, sizeof(s->why), "%s (code %lld)",
		 json_is_string(msg) ? json_string_value(msg) : "no message",
		 (long long)json_integer_value(json_object_get(st, "code")));
	return json_integer_value(json_object_get(st, "code")) == 410 ? K8S_GONE : K8S_FAILED;
}

static void apply_pod(struct k8s_sync *s, json_t *obj)
{
	struct k8s_pod p;
	unsigned int cut;

	if (k8s_pod_parse(obj, &p, &cut)) {
		ctr_inc(&s->bad);
		return;
	}
	/* a full store is counted there, and warned about once below */
	k8s_meta_upsert(&p, cut);
}

enum k8s_result k8s_sync_list_page(struct k8s_sync *s, const char *body, size_t n, char *cont,
				   size_t cont_cap)
{
	json_t *root = json_loadb(body, n, 0, NULL), *items, *meta, *c, *pod;
	enum k8s_result r = K8S_OK;
	size_t i;

	cont[0] = '\0';
	if (!json_is_object(root)) {
		snprintf(s->why, sizeof(s->why), "the pod list is not a JSON object");
		r = K8S_FAILED;
		goto out;
	}
	if (json_is_string(json_object_get(root, "kind")) &&
	    !strcmp(json_string_value(json_object_get(root, "kind")), "Status")) {
		r = status_result(s, root);
		goto out;
	}
	items = json_object_get(root, "items");
	meta = json_object_get(root, "metadata");
	/* "items": null is how the API spells an empty list */
	if ((!json_is_array(items) && !json_is_null(items)) || !json_is_object(meta)) {
		snprintf(s->why, sizeof(s->why), "the answer is not a PodList");
		r = K8S_FAILED;
		goto out;
	}
	json_array_foreach(items, i, pod)
		apply_pod(s, pod);
	set_rv(s, meta);
	c = json_object_get(meta, "continue");
	if (json_is_string(c) && json_string_length(c) < cont_cap)
		memcpy(cont, json_string_value(c), json_string_length(c) + 1);
	else if (json_is_string(c) && json_string_length(c)) {
		snprintf(s->why, sizeof(s->why), "continue token too long");
		r = K8S_FAILED;
	}
out:
	json_decref(root);
	return r;
}

enum k8s_result k8s_sync_event(struct k8s_sync *s, const char *line, size_t n)
{
	json_t *ev = json_loadb(line, n, 0, NULL), *obj, *type;
	enum k8s_result r = K8S_OK;
	const char *t;

	if (!json_is_object(ev)) {
		ctr_inc(&s->bad);
		goto out;
	}
	type = json_object_get(ev, "type");
	obj = json_object_get(ev, "object");
	if (!json_is_string(type)) {
		/* an error answer streams one Status object and no events */
		if (json_is_string(json_object_get(ev, "kind")) &&
		    !strcmp(json_string_value(json_object_get(ev, "kind")), "Status"))
			r = status_result(s, ev);
		else
			ctr_inc(&s->bad);
		goto out;
	}
	t = json_string_value(type);
	if (!strcmp(t, "ERROR")) {
		r = status_result(s, obj);
		goto out;
	}
	if (!json_is_object(obj)) {
		ctr_inc(&s->bad);
		goto out;
	}
	if (!strcmp(t, "BOOKMARK")) {
		ctr_inc(&s->bookmarks);
	} else if (!strcmp(t, "ADDED") || !strcmp(t, "MODIFIED")) {
		ctr_inc(&s->events);
		apply_pod(s, obj);
	} else if (!strcmp(t, "DELETED")) {
		json_t *uid = json_object_get(json_object_get(obj, "metadata"), "uid");

		ctr_inc(&s->events);
		if (json_is_string(uid))
			k8s_meta_delete(json_string_value(uid));
		else
			ctr_inc(&s->bad);
	} else {
		ctr_inc(&s->bad);
		goto out;
	}
	/* the event is applied (or counted): the watch resumes after it */
	set_rv(s, json_object_get(obj, "metadata"));
out:
	json_decref(ev);
	return r;
}

static int line_append(struct k8s_sync *s, const char *p, size_t n)
{
	/* a newline first in a stream: no buffer yet, and nothing to add */
	if (!n)
		return 0;
	if (s->len + n > K8S_EVENT_MAX)
		return -EMSGSIZE;
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		char *nb;

		while (cap < s->len + n)
			cap *= 2;
		if (cap > K8S_EVENT_MAX)
			cap = K8S_EVENT_MAX;
		nb = realloc(s->line, cap);
		if (!nb)
			return -ENOMEM;
		s->line = nb;
		s->cap = cap;
	}
	memcpy(s->line + s->len, p, n);
	s->len += n;
	return 0;
}

enum k8s_result k8s_sync_feed(struct k8s_sync *s, const char *data, size_t n)
{
	const char *end = data + n;

	while (data < end) {
		const char *nl = memchr(data, '\n', (size_t)(end - data));
		size_t chunk = (size_t)((nl ? nl : end) - data);
		enum k8s_result r;

		if (!s->skipping && line_append(s, data, chunk)) {
			/* too large (or no memory): drop this event, keep
			 * the stream; the next resync brings the pod */
			ctr_inc(&s->bad);
			s->skipping = true;
			s->len = 0;
		}
		if (!nl)
			break;
		data = nl + 1;
		if (s->skipping) {
			s->skipping = false;
			continue;
		}
		r = s->len ? k8s_sync_event(s, s->line, s->len) : K8S_OK;
		s->len = 0;
		if (r != K8S_OK) {
			s->stop = r;
			return r;
		}
	}
	return K8S_OK;
}

void k8s_sync_reset_stream(struct k8s_sync *s)
{
	free(s->line);
	s->line = NULL;
	s->len = s->cap = 0;
	s->skipping = false;
	s->stop = K8S_OK;
}

double k8s_backoff(unsigned int attempt, double r)
{
	double step = K8S_BACKOFF_MIN_S;

	for (unsigned int i = 0; i < attempt && step < K8S_BACKOFF_MAX_S; i++)
		step *= 2;
	if (step > K8S_BACKOFF_MAX_S)
		step = K8S_BACKOFF_MAX_S;
	return step / 2 + r * step / 2;
}

int k8s_mode_parse(const char *s, enum k8s_mode *out)
{
	if (!strcmp(s, "auto"))
		*out = K8S_MODE_AUTO;
	else if (!strcmp(s, "on"))
		*out = K8S_MODE_ON;
	else if (!strcmp(s, "off"))
		*out = K8S_MODE_OFF;
	else
		return -EINVAL;
	return 0;
}

int k8s_config_opt(struct k8s_config *kc, int which, const char *arg)
{
	switch (which) {
	case 0:
		if (k8s_mode_parse(arg, &kc->mode)) {
			p_err("--kubernetes '%s': expected auto, on or off", arg);
			return -EINVAL;
		}
		return 0;
	case 1:
		kc->api = arg;
		return 0;
	case 2:
		kc->token_file = arg;
		return 0;
	case 3:
		kc->ca_file = arg;
		return 0;
	case 4:
		kc->node = arg;
		return 0;
	case 5:
		if (parse_long(arg, 1, 86400, &kc->resync_s)) {
			p_err("--kube-resync '%s': expected seconds, 1..86400", arg);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* The thread                                                               */
/* ------------------------------------------------------------------------ */

static struct {
	bool started;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_bool stop;
	char api[URL_MAX];
	char token_file[PATH_MAX_K8S]; /* "" : no token */
	char ca_file[PATH_MAX_K8S]; /* "" : the system's CAs */
	char selector[3 * TXN_POD_MAX + 32]; /* fieldSelector, percent-encoded */
	char node[TXN_POD_MAX];
	double resync_s;
	uint64_t rng;
	bool failing; /* a failure was logged; the next success says so */
	bool listed; /* the first list's pod count was logged */
	bool watch_data; /* the current watch has streamed something */
	bool token_warned;
	bool full_warned;
	struct k8s_sync sync;
	/* the LIST answer being read */
	char *body;
	size_t body_len, body_cap;
	bool body_overflow;
} w = { .mu = PTHREAD_MUTEX_INITIALIZER };

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double rnd(void)
{
	/* xorshift64*: jitter only, not secrets */
	w.rng ^= w.rng >> 12;
	w.rng ^= w.rng << 25;
	w.rng ^= w.rng >> 27;
	return (double)((w.rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static bool should_cancel(void *arg)
{
	(void)arg;
	return atomic_load(&w.stop);
}

/* Sleep `seconds` unless stopped; true when stopping. */
static bool wait_or_stop(double seconds)
{
	double t = mono_s() + seconds;
	struct timespec dl = { .tv_sec = (time_t)t, .tv_nsec = (long)((t - (double)(time_t)t) * 1e9) };
	bool stop;

	pthread_mutex_lock(&w.mu);
	while (!atomic_load(&w.stop) && pthread_cond_timedwait(&w.cv, &w.mu, &dl) != ETIMEDOUT)
		;
	stop = atomic_load(&w.stop);
	pthread_mutex_unlock(&w.mu);
	return stop;
}

/* RFC 3986 unreserved characters stay, the rest is %XX. */
static void pct_encode(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

/* "Authorization: Bearer <token>" from the token file, malloc'd, or NULL
 * (no token file, or unreadable: logged once). */
static char *auth_header(void)
{
	static const char pfx[] = "Authorization: Bearer ";
	bool too_long;
	char *h;
	size_t n;
	FILE *f;

	if (!w.token_file[0])
		return NULL;
	f = fopen(w.token_file, "re");
	h = f ? malloc(sizeof(pfx) + TOKEN_MAX) : NULL;
	if (!h) {
		if (!w.token_warned)
			p_warn("k8s: token %s: %s; asking the API without one", w.token_file,
			       f ? "out of memory" : strerror(errno));
		w.token_warned = true;
		if (f)
			fclose(f);
		return NULL;
	}
	memcpy(h, pfx, sizeof(pfx) - 1);
	n = fread(h + sizeof(pfx) - 1, 1, TOKEN_MAX, f);
	fclose(f);
	too_long = n == TOKEN_MAX;
	while (n && (h[sizeof(pfx) - 2 + n] == '\n' || h[sizeof(pfx) - 2 + n] == '\r' ||
		     h[sizeof(pfx) - 2 + n] == ' '))
		n--;
	h[sizeof(pfx) - 1 + n] = '\0';
	/* a header value must not break the request */
	if (!n || too_long || strpbrk(h + sizeof(pfx) - 1, "\r\n")) {
		if (!w.token_warned)
			p_warn("k8s: token %s: %s; asking the API without one", w.token_file,
			       !n ? "empty" : too_long ? "larger than 16 KiB" : "not a token");
		w.token_warned = true;
		explicit_bzero(h, sizeof(pfx) + TOKEN_MAX);
		free(h);
		return NULL;
	}
	w.token_warned = false;
	return h;
}

static void free_auth(char *h)
{
	if (h) {
		explicit_bzero(h, strlen(h));
		free(h);
	}
}

/* One GET to the API; the body goes to on_data. 0 with *status, or
 * -errno (reason in why). */
static int api_get(const char *url, long timeout_ms, bool (*on_data)(const char *, size_t, void *),
		   long *status, char *why, size_t whylen)
{
	char *auth = auth_header();
	struct http_req req = {
		.method = "GET",
		.url = url,
		.headers = { "Accept: application/json", auth },
		.connect_timeout_ms = CONNECT_TIMEOUT_MS,
		.timeout_ms = timeout_ms,
		.cancel = should_cancel,
		.ca_file = w.ca_file[0] ? w.ca_file : NULL,
		.on_data = on_data,
	};
	struct http_resp resp;
	int err = http_request(&req, &resp, why, whylen);

	free_auth(auth);
	free(resp.body);
	*status = resp.status;
	return err;
}

static bool on_list_data(const char *p, size_t n, void *arg)
{
	(void)arg;
	if (w.body_len + n + 1 > K8S_LIST_MAX) {
		w.body_overflow = true;
		return false;
	}
	if (w.body_len + n + 1 > w.body_cap) {
		size_t cap = w.body_cap ? w.body_cap : 65536;
		char *nb;

		while (cap < w.body_len + n + 1)
			cap *= 2;
		nb = realloc(w.body, cap);
		if (!nb)
			return false;
		w.body = nb;
		w.body_cap = cap;
	}
	memcpy(w.body + w.body_len, p, n);
	w.body_len += n;
	return true;
}

static void report_success(void);

static bool on_watch_data(const char *p, size_t n, void *arg)
{
	(void)arg;
	w.watch_data = true;
	/* the API answers again: say so now, not when this watch ends */
	if (w.failing)
		report_success();
	return k8s_sync_feed(&w.sync, p, n) == K8S_OK;
}

static void http_why(long status, char *why, size_t n)
{
	if (status == 401 || status == 403)
		snprintf(why, n, "HTTP %ld: the service account needs get, list and watch on pods "
			 "(and a valid token)", status);
	else
		snprintf(why, n, "HTTP %ld", status);
}

/* A full LIST into the store. consistent: from etcd (after a 410), else
 * from the API server's cache (resourceVersion=0), which is cheaper. */
static enum k8s_result do_list(bool consistent, char *why, size_t whylen)
{
	char cont[1024] = "", enc[3 * sizeof(cont)];
	char url[sizeof(w.api) + sizeof(w.selector) + sizeof(enc) + 128];
	enum k8s_result r = K8S_OK;
	long status;
	int pages = 0;

	ctr_inc(&w.sync.lists);
	k8s_meta_sync_begin();
	do {
		pct_encode(cont, enc, sizeof(enc));
		snprintf(url, sizeof(url), "%s/api/v1/pods?fieldSelector=%s&limit=" LIST_PAGE "%s%s%s",
			 w.api, w.selector, consistent ? "" : "&resourceVersion=0",
			 cont[0] ? "&continue=" : "", enc);
		w.body_len = 0;
		w.body_overflow = false;
		if (api_get(url, LIST_TIMEOUT_MS, on_list_data, &status, why, whylen)) {
			if (w.body_overflow)
				snprintf(why, whylen, "pod list larger than %d MiB",
					 K8S_LIST_MAX >> 20);
			r = K8S_FAILED;
			break;
		}
		if (status != 200 && status != 410) {
			http_why(status, why, whylen);
			r = K8S_FAILED;
			break;
		}
		r = k8s_sync_list_page(&w.sync, w.body ? w.body : "", w.body_len, cont, sizeof(cont));
		if (r != K8S_OK) {
			snprintf(why, whylen, "%s", w.sync.why);
			break;
		}
	} while (cont[0] && ++pages < 10000);
	free(w.body);
	w.body = NULL;
	w.body_cap = w.body_len = 0;
	if (r != K8S_OK) {
		ctr_inc(&w.sync.list_errors);
		return r;
	}
	/* only a complete list may remove pods */
	k8s_meta_sync_end();
	return K8S_OK;
}

/* One watch until the server ends it (timeout_s), an error, or 410. */
static enum k8s_result do_watch(double timeout_s, char *why, size_t whylen)
{
	char url[sizeof(w.api) + sizeof(w.selector) + K8S_RV_MAX + 128];
	double t0 = mono_s();
	long status, secs = (long)timeout_s;
	int err;

	if (secs < 1)
		secs = 1;
	ctr_inc(&w.sync.watches);
	snprintf(url, sizeof(url),
		 "%s/api/v1/pods?fieldSelector=%s&watch=1&allowWatchBookmarks=true"
		 "&resourceVersion=%s&timeoutSeconds=%ld",
		 w.api, w.selector, w.sync.rv, secs);
	k8s_sync_reset_stream(&w.sync);
	w.watch_data = false;
	err = api_get(url, (secs + WATCH_SLACK_S) * 1000L, on_watch_data, &status, why, whylen);
	if (w.sync.stop != K8S_OK) {
		/* an ERROR event, or a Status body: the stream said why */
		snprintf(why, whylen, "%s", w.sync.why);
		return w.sync.stop;
	}
	/* our own deadline after a full watch: the server kept it open,
	 * which is no error (a connect timeout is) */
	if (err == -ETIMEDOUT && mono_s() - t0 >= (double)secs)
		return K8S_OK;
	if (err)
		return K8S_FAILED;
	if (status == 410)
		return K8S_GONE;
	if (status != 200) {
		http_why(status, why, whylen);
		return K8S_FAILED;
	}
	if (mono_s() - t0 < WATCH_SHORT_S) {
		/* 200 and at once the end: a broken proxy or server */
		snprintf(why, whylen, "the watch ended at once");
		return K8S_FAILED;
	}
	return K8S_OK;
}

static void report_failure(const char *what, const char *why)
{
	ctr_inc(&w.sync.errors);
	if (w.failing) {
		p_dbg("k8s: %s: %s", what, why);
		return;
	}
	w.failing = true;
	p_warn("k8s: %s %s: %s; segments carry no new pod metadata until it answers "
	       "(retrying with backoff)",
	       what, w.api, why);
}

static void report_success(void)
{
	struct k8s_meta_stats ms;

	k8s_meta_get_stats(&ms);
	if (ms.pods_dropped && !w.full_warned) {
		w.full_warned = true;
		p_warn("k8s: more than %d pods on node %s: the rest are not mapped (counted)",
		       K8S_PODS_MAX, w.node);
	}
	if (!w.failing && w.listed)
		return;
	p_info("k8s: %s%" PRIu64 " pods on node %s", w.failing ? "API reachable again: " : "",
	       ms.pods, w.node);
	w.failing = false;
	w.listed = true;
}

static void *watch_main(void *arg)
{
	char why[256];
	unsigned int attempt = 0;
	bool need_list = true, consistent = false;
	double next_resync = 0;

	(void)arg;
	while (!atomic_load(&w.stop)) {
		enum k8s_result r;
		double now = mono_s(), timeout;

		why[0] = '\0';
		if (need_list || now >= next_resync) {
			r = do_list(consistent, why, sizeof(why));
			if (atomic_load(&w.stop))
				break;
			if (r == K8S_GONE && !consistent) {
				/* a stale page token: list again from etcd */
				ctr_inc(&w.sync.gone);
				consistent = true;
				continue;
			}
			if (r != K8S_OK) {
				report_failure("pod list from", why[0] ? why : "failed");
				need_list = true;
				if (wait_or_stop(k8s_backoff(attempt++, rnd())))
					break;
				continue;
			}
			report_success();
			need_list = consistent = false;
			attempt = 0;
			next_resync = mono_s() + w.resync_s * (1 - RESYNC_JITTER + 2 * RESYNC_JITTER * rnd());
			continue;
		}
		timeout = WATCH_MIN_S + WATCH_SPREAD_S * rnd();
		if (timeout > next_resync - now)
			timeout = next_resync - now;
		r = do_watch(timeout, why, sizeof(why));
		if (atomic_load(&w.stop))
			break;
		if (r == K8S_OK) {
			if (w.failing)
				report_success();
			attempt = 0;
		} else if (r == K8S_GONE) {
			ctr_inc(&w.sync.gone);
			p_dbg("k8s: watch: %s: listing again", why);
			need_list = consistent = true;
		} else {
			/* reconnect from the same resourceVersion; if it
			 * expired meanwhile, the answer is a 410. A watch
			 * that streamed before it broke (a proxy's idle
			 * cut) is retried soon, not after a growing wait. */
			report_failure("pod watch on", why[0] ? why : "failed");
			if (w.watch_data)
				attempt = 0;
			if (wait_or_stop(k8s_backoff(attempt++, rnd())))
				break;
		}
	}
	k8s_sync_reset_stream(&w.sync);
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static bool readable(const char *path)
{
	return !access(path, R_OK);
}

/* The API address: --kube-api, else the in-cluster service variables. */
static int api_url(const struct k8s_config *c, char *out, size_t n)
{
	const char *host = env("KUBERNETES_SERVICE_HOST"), *port = env("KUBERNETES_SERVICE_PORT");
	size_t len;

	if (c->api)
		len = (size_t)snprintf(out, n, "%s", c->api);
	else if (host)
		len = (size_t)snprintf(out, n, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
				       host, port ? port : "443");
	else
		return -ENOENT;
	if (len >= n || (strncmp(out, "http://", 7) && strncmp(out, "https://", 8)))
		return -EINVAL;
	while (len && out[len - 1] == '/')
		out[--len] = '\0';
	return 0;
}

int k8s_start(const struct k8s_config *c, char *err, size_t errlen)
{
	const char *node = c->node ? c->node : env("NODE_NAME");
	bool on = c->mode == K8S_MODE_ON;
	pthread_condattr_t ca;
	uint64_t seed = 0;
	int ret;

	if (c->mode == K8S_MODE_OFF)
		return 0;
	ret = api_url(c, w.api, sizeof(w.api));
	if (ret == -EINVAL) {
		snprintf(err, errlen, "--kube-api: expected an http(s) URL of at most %zu bytes",
			 sizeof(w.api) - 1);
		return -EINVAL;
	}
	if (ret) {
		if (!on)
			return 0; /* auto, and not in a cluster */
		snprintf(err, errlen, "--kubernetes on: no API address (--kube-api, or "
			 "KUBERNETES_SERVICE_HOST in a pod)");
		return -EINVAL;
	}
	if (!node || strlen(node) >= sizeof(w.node)) {
		if (!on && !node) {
			p_warn("k8s: in a cluster but no node name (set NODE_NAME from spec.nodeName, "
			       "or --node-name): no pod metadata");
			return 0;
		}
		snprintf(err, errlen, node ? "--node-name: longer than %zu bytes"
					   : "--kubernetes on: no node name (--node-name, or "
					     "NODE_NAME from the downward API)",
			 sizeof(w.node) - 1);
		return -EINVAL;
	}
	if (c->token_file && !readable(c->token_file)) {
		snprintf(err, errlen, "--kube-token-file %s: %s", c->token_file, strerror(errno));
		return -EINVAL;
	}
	if (c->ca_file && !readable(c->ca_file)) {
		snprintf(err, errlen, "--kube-ca-file %s: %s", c->ca_file, strerror(errno));
		return -EINVAL;
	}
	/* defaults: the pod's service account, when mounted */
	snprintf(w.token_file, sizeof(w.token_file), "%s",
		 c->token_file ? c->token_file
		 : readable(K8S_SA_DIR "/token") ? K8S_SA_DIR "/token" : "");
	snprintf(w.ca_file, sizeof(w.ca_file), "%s",
		 c->ca_file ? c->ca_file : readable(K8S_SA_DIR "/ca.crt") ? K8S_SA_DIR "/ca.crt" : "");
	if (strlen(w.token_file) >= sizeof(w.token_file) - 1 ||
	    strlen(w.ca_file) >= sizeof(w.ca_file) - 1) {
		snprintf(err, errlen, "--kube-token-file/--kube-ca-file: path too long");
		return -EINVAL;
	}
	strcpy(w.node, node);
	/* a fresh start (the unit tests start and stop more than once) */
	memset(&w.sync, 0, sizeof(w.sync));
	w.failing = w.listed = w.token_warned = w.full_warned = false;
	{
		char sel[sizeof("spec.nodeName=") + TXN_POD_MAX];

		snprintf(sel, sizeof(sel), "spec.nodeName=%s", node);
		pct_encode(sel, w.selector, sizeof(w.selector));
	}
	w.resync_s = c->resync_s > 0 ? (double)c->resync_s : K8S_RESYNC_DEFAULT_S;
	if (http_client_global_init()) {
		snprintf(err, errlen, "libcurl initialisation failed");
		return -EIO;
	}
	ret = k8s_meta_init(node, "/proc");
	if (ret) {
		snprintf(err, errlen, "pod metadata: %s", strerror(-ret));
		return ret;
	}
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	w.rng = seed | 1;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_store(&w.stop, false);
	ret = pthread_create(&w.thread, NULL, watch_main, NULL);
	if (ret) {
		pthread_cond_destroy(&w.cv);
		k8s_meta_destroy();
		snprintf(err, errlen, "k8s thread: %s", strerror(ret));
		return -ret;
	}
	w.started = true;
	p_info("k8s: pods of node %s from %s%s%s", w.node, w.api,
	       w.token_file[0] ? ", token " : ", no token", w.token_file);
	return 0;
}

void k8s_log_stats(void)
{
	struct k8s_meta_stats m;
	struct k8s_sync *s = &w.sync;

	if (!w.started)
		return;
	k8s_meta_get_stats(&m);
	p_info("k8s: pods=%" PRIu64 " containers=%" PRIu64 " lists=%" PRIu64 " list_errors=%" PRIu64
	       " watches=%" PRIu64 " events=%" PRIu64 " bookmarks=%" PRIu64 " gone=%" PRIu64
	       " errors=%" PRIu64 " bad=%" PRIu64 " pods_dropped=%" PRIu64 " containers_cut=%" PRIu64
	       " procs=%" PRIu64 " procs_evicted=%" PRIu64 " procs_reused=%" PRIu64
	       " proc_unreadable=%" PRIu64 " with_pod=%" PRIu64 " without_pod=%" PRIu64,
	       m.pods, m.containers, ctr_get(&s->lists), ctr_get(&s->list_errors),
	       ctr_get(&s->watches), ctr_get(&s->events), ctr_get(&s->bookmarks), ctr_get(&s->gone),
	       ctr_get(&s->errors), ctr_get(&s->bad), m.pods_dropped, m.containers_cut, m.procs,
	       m.procs_evicted, m.procs_reused, m.proc_unreadable, m.with_pod, m.without_pod);
}

void k8s_stop(void)
{
	if (!w.started)
		return;
	pthread_mutex_lock(&w.mu);
	atomic_store(&w.stop, true);
	pthread_cond_broadcast(&w.cv);
	pthread_mutex_unlock(&w.mu);
	pthread_join(w.thread, NULL);
	pthread_cond_destroy(&w.cv);
	k8s_log_stats();
	w.started = false;
	k8s_meta_destroy();
}
