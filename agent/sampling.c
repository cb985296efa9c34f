// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Local and centralized sampling, after the Node SDK's default_sampler.js,
 * reservoir.js, rule_cache.js and local_sampler.js (the X-Ray API reference). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <jansson.h>

#include "http_client.h"
#include "log.h"
#include "sampling.h"
#include "xray_api.h"
#include "xtap.h"

#define FIELD_CAP (SAMPLING_FIELD_MAX + 1)
#define DAEMON_TIMEOUT_MS 2000L

struct srule {
	char name[SAMPLING_NAME_MAX + 1];
	int priority;
	double rate;
	/* centralized: ReservoirSize (> 0: the rule may borrow 1/s);
	 * local: fixed_target, the requests per second taken first */
	uint32_t reservoir;
	char service_name[FIELD_CAP];
	char service_type[FIELD_CAP];
	char host[FIELD_CAP];
	char method[FIELD_CAP];
	char url_path[FIELD_CAP];
	bool is_default; /* matches every request */
	/* the quota from SamplingTargets, valid until quota_ttl (epoch s) */
	bool has_quota;
	uint32_t quota;
	double quota_ttl;
	/* The reservoir's current second, what it gave out in it, and the
	 * statistics since the last report: here, or in the kernel's slot
	 * (kslot, its index + 1; 0: none) while the kernel decides for a
	 * service by this rule. */
	struct xtap_sample_slot own;
	int kslot;
};

struct sampler {
	enum sampling_mode mode;
	/* mu guards everything below it up to the thread fields */
	pthread_mutex_t mu;
	struct srule *local; /* in file order, the default last */
	size_t n_local;
	struct srule *central; /* priority, then name */
	size_t n_central;
	double rules_fetched_at; /* epoch s of the last good GetSamplingRules; 0: never */
	double targets_interval;
	bool refetch_rules; /* LastRuleModification was newer than our rules */
	uint64_t rng;
	/* the kernel's slots (sampler_bind_kernel), NULL: none; gen counts
	 * rule changes, and the kernel ignores plans of another generation */
	struct xtap_sample_slot *kslots;
	volatile uint32_t *kgen;
	uint32_t gen;

	double (*now)(void *ctx);
	double (*rand01)(void *ctx);
	void *hook_ctx;
	sampling_post_fn post;
	void *post_ctx;
	char client_id[25];

	/* the poller */
	pthread_t thread;
	bool started;
	bool stop; /* under mu */
	pthread_cond_t cv;
};

/* ------------------------------------------------------------------ */
/* Glob, clock, RNG                                                    */
/* ------------------------------------------------------------------ */

bool sampling_glob_match(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL;

	/* Iterative with one backtrack point: linear in practice and never
	 * recursive, whatever the rule holds. */
	while (*s) {
		if (*p == '*') {
			star_p = ++p;
			star_s = s;
		} else if (*p && (*p == '?' || tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
			p++;
			s++;
		} else if (star_p) {
			p = star_p;
			s = ++star_s;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return !*p;
}

/* (no libm: the build links none) */
static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static double real_now(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: sampling needs uniform, not secret, numbers. */
static double rng_next(struct sampler *s)
{
	uint64_t x = s->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

static double now_of(struct sampler *s)
{
	return s->now ? s->now(s->hook_ctx) : real_now(NULL);
}

static double rand_of(struct sampler *s)
{
	return s->rand01 ? s->rand01(s->hook_ctx) : rng_next(s);
}

/* ------------------------------------------------------------------ */
/* Decisions                                                           */
/* ------------------------------------------------------------------ */

/* The state a rule draws from. A kernel slot is shared with programs on
 * every CPU (kernel_sample in bpf/propagate.bpf.h), hence the atomics,
 * which cost nothing here under the mutex. */
static struct xtap_sample_slot *rstate(struct sampler *s, struct srule *r)
{
	return r->kslot && s->kslots ? &s->kslots[r->kslot - 1] : &r->own;
}

static void count(__u64 *v)
{
	__atomic_fetch_add(v, 1, __ATOMIC_RELAXED);
}

static bool take(uint32_t *v, uint32_t max)
{
	if (__atomic_load_n(v, __ATOMIC_RELAXED) >= max)
		return false;
	__atomic_fetch_add(v, 1, __ATOMIC_RELAXED);
	return true;
}

static void reservoir_second(struct xtap_sample_slot *st, double now)
{
	/* epoch seconds are positive: truncation is floor */
	uint64_t sec = (uint64_t)now;

	if (__atomic_load_n(&st->sec, __ATOMIC_RELAXED) != sec) {
		__atomic_store_n(&st->sec, sec, __ATOMIC_RELAXED);
		__atomic_store_n(&st->taken, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&st->borrowed, 0, __ATOMIC_RELAXED);
	}
}

/* rand < rate, not <=: a rate of 0 must never sample. */
static bool central_sample(struct sampler *s, struct srule *r, double now)
{
	struct xtap_sample_slot *st = rstate(s, r);

	count(&st->requests);
	reservoir_second(st, now);
	if (r->has_quota && now <= r->quota_ttl) {
		if (take(&st->taken, r->quota)) {
			count(&st->sampled);
			return true;
		}
	} else if (r->reservoir > 0 && take(&st->borrowed, 1)) {
		/* no valid quota yet (or any more): borrow 1/s from the
		 * global reservoir, as the SDKs do */
		count(&st->borrows);
		count(&st->sampled);
		return true;
	}
	if (rand_of(s) < r->rate) {
		count(&st->sampled);
		return true;
	}
	return false;
}

static bool local_sample(struct sampler *s, struct srule *r, double now)
{
	struct xtap_sample_slot *st = rstate(s, r);

	reservoir_second(st, now);
	if (take(&st->taken, r->reservoir))
		return true;
	return rand_of(s) < r->rate;
}

/* The parameters the kernel decides with, as central_sample and
 * local_sample do. Called under mu whenever they change. */
static void kernel_params(struct sampler *s, struct srule *r)
{
	struct xtap_sample_slot *st;
	uint64_t rate;

	if (!r->kslot || !s->kslots)
		return;
	st = &s->kslots[r->kslot - 1];
	rate = r->rate >= 1 ? XTAP_RATE_ONE : r->rate > 0 ? (uint64_t)(r->rate * XTAP_RATE_ONE) : 0;
	__atomic_store_n(&st->rate, rate, __ATOMIC_RELAXED);
	if (r->kslot <= SAMPLING_RULES_MAX) { /* centralized */
		__atomic_store_n(&st->quota, r->quota, __ATOMIC_RELAXED);
		__atomic_store_n(&st->quota_until, r->has_quota ? (uint64_t)r->quota_ttl : 0,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&st->borrow, r->reservoir > 0, __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&st->quota, r->reservoir, __ATOMIC_RELAXED);
		__atomic_store_n(&st->quota_until, UINT64_MAX, __ATOMIC_RELAXED);
		__atomic_store_n(&st->borrow, 0, __ATOMIC_RELAXED);
	}
}

/* New rules are in: the kernel's plans name slots of the old ones, so
 * they lapse (the kernel compares generations) until made again. */
static void kernel_rules_changed(struct sampler *s)
{
	__atomic_store_n(&s->gen, s->gen + 1, __ATOMIC_RELAXED);
	if (s->kgen)
		*s->kgen = s->gen;
}

static bool all_wild(const char *p)
{
	while (*p == '*')
		p++;
	return !*p;
}

static bool field_match(const char *pattern, const char *v)
{
	return sampling_glob_match(pattern, v ? v : "");
}

static bool rule_match(const struct srule *r, const struct sampling_req *q)
{
	return r->is_default ||
	       (field_match(r->service_name, q->service_name) &&
		field_match(r->service_type, q->service_type) && field_match(r->host, q->host) &&
		field_match(r->method, q->method) && field_match(r->url_path, q->url_path));
}

void sampler_bind_kernel(struct sampler *s, struct xtap_sample_slot *slots, volatile uint32_t *gen)
{
	pthread_mutex_lock(&s->mu);
	s->kslots = slots;
	s->kgen = gen;
	*gen = s->gen;
	pthread_mutex_unlock(&s->mu);
}

uint32_t sampler_generation(const struct sampler *s)
{
	return __atomic_load_n(&s->gen, __ATOMIC_RELAXED);
}

int sampler_service_slot(struct sampler *s, const char *service_name, const char *service_type,
			 struct sampling_decision *rule, uint32_t *gen)
{
	struct srule *rules, *r = NULL;
	size_t i, n, base;

	if (!s || !s->kslots || s->mode == SAMPLING_OFF)
		return -1;
	pthread_mutex_lock(&s->mu);
	*gen = s->gen;
	/* the rule sampler_decide would pick for any request of the service,
	 * when there is one: the first that can match the service, if it
	 * matches every request of it */
	if (s->mode == SAMPLING_CENTRALIZED && s->n_central &&
	    now_of(s) < s->rules_fetched_at + SAMPLING_RULES_TTL) {
		rules = s->central;
		n = s->n_central;
		base = 0;
	} else {
		rules = s->local;
		n = s->n_local;
		base = SAMPLING_RULES_MAX;
	}
	for (i = 0; i < n; i++) {
		if (!rules[i].is_default && !(field_match(rules[i].service_name, service_name) &&
					      field_match(rules[i].service_type, service_type)))
			continue;
		if (rules[i].is_default || (all_wild(rules[i].host) && all_wild(rules[i].method) &&
					    all_wild(rules[i].url_path)))
			r = &rules[i];
		break;
	}
	if (!r) {
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	if (!r->kslot) {
		r->kslot = (int)(base + (size_t)(r - rules)) + 1;
		s->kslots[r->kslot - 1] = r->own; /* its reservoir moves into the kernel */
		kernel_params(s, r);
	}
	snprintf(rule->rule_name, sizeof(rule->rule_name), "%s", base ? "" : r->name);
	pthread_mutex_unlock(&s->mu);
	return r->kslot - 1;
}

void sampler_decide(struct sampler *s, const struct sampling_req *q, struct sampling_decision *d)
{
	double now;
	size_t i;

	d->sampled = true;
	d->rule_name[0] = '\0';
	if (!s || s->mode == SAMPLING_OFF)
		return;
	pthread_mutex_lock(&s->mu);
	now = now_of(s);
	if (s->mode == SAMPLING_CENTRALIZED && s->n_central &&
	    now < s->rules_fetched_at + SAMPLING_RULES_TTL) {
		for (i = 0; i < s->n_central; i++) {
			struct srule *r = &s->central[i];

			if (rule_match(r, q)) {
				d->sampled = central_sample(s, r, now);
				memcpy(d->rule_name, r->name, sizeof(d->rule_name));
				goto unlock;
			}
		}
	}
	/* local rules (or the fallback: no centralized rules, or expired) */
	for (i = 0; i < s->n_local; i++) {
		if (rule_match(&s->local[i], q)) {
			d->sampled = local_sample(s, &s->local[i], now);
			goto unlock;
		}
	}
	d->sampled = false; /* unreachable: the local default matches all */
unlock:
	pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------------ */
/* Local rules file (the SDKs' format, versions 1 and 2)               */
/* ------------------------------------------------------------------ */

static int copy_field(char *dst, const char *src)
{
	size_t n = strlen(src);

	if (n > SAMPLING_FIELD_MAX)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

static int local_target_rate(json_t *o, const char *where, struct srule *r, char *err,
			     size_t errlen)
{
	json_t *ft = json_object_get(o, "fixed_target");
	json_t *rate = json_object_get(o, "rate");

	if (!json_is_integer(ft) || json_integer_value(ft) < 0 ||
	    json_integer_value(ft) > UINT32_MAX) {
		snprintf(err, errlen, "%s: \"fixed_target\" must be an integer >= 0", where);
		return -EINVAL;
	}
	if (!json_is_number(rate) || json_number_value(rate) < 0 || json_number_value(rate) > 1) {
		snprintf(err, errlen, "%s: \"rate\" must be a number in [0, 1]", where);
		return -EINVAL;
	}
	r->reservoir = (uint32_t)json_integer_value(ft);
	r->rate = json_number_value(rate);
	return 0;
}

static void rule_wild(struct srule *r)
{
	strcpy(r->service_name, "*");
	strcpy(r->service_type, "*");
	strcpy(r->host, "*");
	strcpy(r->method, "*");
	strcpy(r->url_path, "*");
}

static int local_rule(json_t *o, int version, size_t idx, struct srule *r, char *err,
		      size_t errlen)
{
	/* version 1 named the host field service_name (Node reads it as host) */
	const char *keys[] = { version == 1 ? "service_name" : "host", "http_method", "url_path" };
	char *dsts[] = { r->host, r->method, r->url_path };
	char where[48];
	size_t k;

	snprintf(where, sizeof(where), "rules[%zu]", idx);
	if (!json_is_object(o)) {
		snprintf(err, errlen, "%s: not an object", where);
		return -EINVAL;
	}
	rule_wild(r);
	for (k = 0; k < 3; k++) {
		json_t *v = json_object_get(o, keys[k]);

		if (!json_is_string(v)) {
			snprintf(err, errlen, "%s: \"%s\" missing or not a string", where, keys[k]);
			return -EINVAL;
		}
		if (copy_field(dsts[k], json_string_value(v))) {
			snprintf(err, errlen, "%s: \"%s\" longer than %d bytes", where, keys[k],
				 SAMPLING_FIELD_MAX);
			return -EINVAL;
		}
	}
	return local_target_rate(o, where, r, err, errlen);
}

/* The SDKs' built-in local rules: one request a second, then 5%. */
static const char local_default[] = "{\"version\":2,\"default\":{\"fixed_target\":1,\"rate\":0.05}}";

/* Parse into s->local (n_local rules, the default last). */
static int local_parse(struct sampler *s, const char *text, char *err, size_t errlen)
{
	json_t *root, *ver, *def, *rules, *v;
	json_error_t je;
	const char *key;
	size_t i, n = 0;
	int version, ret = -EINVAL;

	root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "line %d: %s", je.line, je.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	ver = json_object_get(root, "version");
	/* compared whole: 4294967297 is not version 1 */
	version = json_is_integer(ver) && (json_integer_value(ver) == 1 || json_integer_value(ver) == 2)
			  ? (int)json_integer_value(ver)
			  : 0;
	if (!version) {
		snprintf(err, errlen, "\"version\" must be 1 or 2");
		goto out;
	}
	def = json_object_get(root, "default");
	if (!json_is_object(def)) {
		snprintf(err, errlen, "\"default\" missing or not an object");
		goto out;
	}
	json_object_foreach(def, key, v) {
		if (strcmp(key, "fixed_target") && strcmp(key, "rate")) {
			snprintf(err, errlen, "default: only fixed_target and rate allowed, not \"%s\"",
				 key);
			goto out;
		}
	}
	rules = json_object_get(root, "rules");
	if (rules && !json_is_array(rules)) {
		snprintf(err, errlen, "\"rules\" is not an array");
		goto out;
	}
	if (json_array_size(rules) + 1 > SAMPLING_RULES_MAX) {
		snprintf(err, errlen, "more than %d rules", SAMPLING_RULES_MAX - 1);
		goto out;
	}
	json_array_foreach(rules, i, v) {
		struct srule *r = &s->local[n];

		memset(r, 0, sizeof(*r));
		if (local_rule(v, version, i, r, err, errlen))
			goto out;
		n++;
	}
	memset(&s->local[n], 0, sizeof(s->local[n]));
	rule_wild(&s->local[n]);
	strcpy(s->local[n].name, "Default");
	s->local[n].is_default = true;
	if (local_target_rate(def, "default", &s->local[n], err, errlen))
		goto out;
	s->n_local = n + 1;
	ret = 0;
out:
	json_decref(root);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Centralized rules and targets                                       */
/* ------------------------------------------------------------------ */

static int rule_cmp(const void *a, const void *b)
{
	const struct srule *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return strcmp(x->name, y->name);
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* One SamplingRule into r; false for a rule the SDKs skip. */
static bool central_rule(json_t *sr, struct srule *r)
{
	const char *keys[] = { "ServiceName", "ServiceType", "Host", "HTTPMethod", "URLPath" };
	char *dsts[] = { r->service_name, r->service_type, r->host, r->method, r->url_path };
	json_t *name = json_object_get(sr, "RuleName"), *attrs = json_object_get(sr, "Attributes");
	json_t *ver = json_object_get(sr, "Version");
	size_t k;

	memset(r, 0, sizeof(*r));
	if (!json_is_string(name) || !json_string_length(name) ||
	    json_string_length(name) > SAMPLING_NAME_MAX)
		return false;
	strcpy(r->name, json_string_value(name));
	/* the SDKs support rules for every resource and no attribute
	 * conditions: xtap has no attributes to test them against */
	if (strcmp(str_or(sr, "ResourceARN", "*"), "*"))
		return false;
	if (attrs && !(json_is_object(attrs) && !json_object_size(attrs)))
		return false;
	if (ver && !(json_is_integer(ver) && json_integer_value(ver) == 1))
		return false;
	if (!json_is_number(json_object_get(sr, "FixedRate")) ||
	    !json_is_number(json_object_get(sr, "Priority")))
		return false;
	r->rate = json_number_value(json_object_get(sr, "FixedRate"));
	/* the API allows 1..9999; anything past an int sorts at its end,
	 * rather than being converted out of range (undefined) */
	r->priority = (int)clampd(json_number_value(json_object_get(sr, "Priority")), INT_MIN,
				  INT_MAX);
	r->reservoir = (uint32_t)clampd(json_number_value(json_object_get(sr, "ReservoirSize")), 0, UINT32_MAX);
	for (k = 0; k < 5; k++)
		if (copy_field(dsts[k], str_or(sr, keys[k], "*")))
			return false;
	r->is_default = !strcmp(r->name, "Default");
	return true;
}

/* Append the rules of one GetSamplingRules page to tmp[*n]. */
static int rules_page(const char *body, struct srule *tmp, size_t *n, char *token, size_t cap)
{
	json_t *root, *recs, *rec;
	json_error_t je;
	const char *tok;
	size_t i;

	root = json_loads(body, 0, &je);
	if (!root) {
		p_warn("sampling: GetSamplingRules: bad JSON: %s", je.text);
		return -EBADMSG;
	}
	recs = json_object_get(root, "SamplingRuleRecords");
	if (!json_is_array(recs)) {
		p_warn("sampling: GetSamplingRules: no SamplingRuleRecords");
		json_decref(root);
		return -EBADMSG;
	}
	json_array_foreach(recs, i, rec) {
		json_t *sr = json_object_get(rec, "SamplingRule");

		if (*n >= SAMPLING_RULES_MAX) {
			p_warn("sampling: more than %d rules, the rest ignored", SAMPLING_RULES_MAX);
			break;
		}
		if (json_is_object(sr) && central_rule(sr, &tmp[*n]))
			(*n)++;
		else
			p_dbg("sampling: rule %s skipped (ResourceARN, Attributes or fields)",
			      str_or(sr, "RuleName", "?"));
	}
	tok = str_or(root, "NextToken", NULL);
	token[0] = '\0';
	if (tok && *tok && strlen(tok) < cap)
		strcpy(token, tok);
	json_decref(root);
	return 0;
}

/* Install new rules, keeping the reservoir, quota and statistics of the
 * rules that carry on (same name), as Node's rule_cache does. */
static void rules_commit(struct sampler *s, struct srule *tmp, size_t n)
{
	size_t i, j;

	qsort(tmp, n, sizeof(*tmp), rule_cmp);
	pthread_mutex_lock(&s->mu);
	for (i = 0; i < n; i++) {
		for (j = 0; j < s->n_central; j++) {
			const struct srule *o = &s->central[j];

			if (strcmp(o->name, tmp[i].name))
				continue;
			tmp[i].has_quota = o->has_quota;
			tmp[i].quota = o->quota;
			tmp[i].quota_ttl = o->quota_ttl;
			tmp[i].own = *rstate(s, (struct srule *)o);
			break;
		}
	}
	memcpy(s->central, tmp, n * sizeof(*tmp));
	kernel_rules_changed(s);
	s->n_central = n;
	s->rules_fetched_at = now_of(s);
	s->refetch_rules = false;
	pthread_mutex_unlock(&s->mu);
}

int sampler_load_rules(struct sampler *s, const char *body)
{
	struct srule *tmp = calloc(SAMPLING_RULES_MAX, sizeof(*tmp));
	char token[8];
	size_t n = 0;
	int err;

	if (!tmp)
		return -ENOMEM;
	err = rules_page(body, tmp, &n, token, sizeof(token));
	if (!err)
		rules_commit(s, tmp, n);
	free(tmp);
	return err;
}

int sampler_poll_rules(struct sampler *s)
{
	struct srule *tmp = calloc(SAMPLING_RULES_MAX, sizeof(*tmp));
	char token[1024] = "";
	size_t n = 0;
	int err = 0, page;

	if (!tmp)
		return -ENOMEM;
	for (page = 0; page < SAMPLING_RULES_PAGES_MAX; page++) {
		json_t *req = json_object();
		char *resp = NULL, *dump;

		if (token[0])
			json_object_set_new(req, "NextToken", json_string(token));
		dump = json_dumps(req, JSON_COMPACT);
		json_decref(req);
		if (!dump) {
			err = -ENOMEM;
			break;
		}
		err = s->post(s->post_ctx, "/GetSamplingRules", dump, &resp);
		free(dump);
		if (!err)
			err = rules_page(resp, tmp, &n, token, sizeof(token));
		free(resp);
		if (err || !token[0])
			break;
	}
	if (!err) {
		rules_commit(s, tmp, n);
		p_dbg("sampling: %zu rules loaded", n);
	}
	free(tmp);
	return err;
}

static struct srule *central_find(struct sampler *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n_central; i++)
		if (!strcmp(s->central[i].name, name))
			return &s->central[i];
	return NULL;
}

int sampler_apply_targets(struct sampler *s, const char *body)
{
	json_t *root, *docs, *doc, *v;
	json_error_t je;
	size_t i;

	root = json_loads(body, 0, &je);
	if (!root) {
		p_warn("sampling: SamplingTargets: bad JSON: %s", je.text);
		return -EBADMSG;
	}
	docs = json_object_get(root, "SamplingTargetDocuments");
	if (!json_is_array(docs)) {
		p_warn("sampling: SamplingTargets: no SamplingTargetDocuments");
		json_decref(root);
		return -EBADMSG;
	}
	pthread_mutex_lock(&s->mu);
	json_array_foreach(docs, i, doc) {
		struct srule *r = central_find(s, str_or(doc, "RuleName", ""));

		if (!r)
			continue;
		v = json_object_get(doc, "FixedRate");
		if (json_is_number(v))
			r->rate = json_number_value(v);
		v = json_object_get(doc, "ReservoirQuota");
		if (json_is_number(v)) {
			r->has_quota = true;
			r->quota = (uint32_t)clampd(json_number_value(v), 0, UINT32_MAX);
		}
		v = json_object_get(doc, "ReservoirQuotaTTL");
		if (json_is_number(v))
			r->quota_ttl = json_number_value(v);
		kernel_params(s, r);
		v = json_object_get(doc, "Interval");
		/* the service sets the pace; bounded so a bad value can
		 * neither spin the poller nor silence it */
		if (json_is_number(v) && json_number_value(v) > 0)
			s->targets_interval = clampd(json_number_value(v), 1, 3600);
	}
	v = json_object_get(root, "LastRuleModification");
	if (json_is_number(v) && json_number_value(v) > s->rules_fetched_at)
		s->refetch_rules = true;
	pthread_mutex_unlock(&s->mu);
	json_decref(root);
	return 0;
}

int sampler_poll_targets(struct sampler *s)
{
	json_t *arr = json_array();
	size_t i, start = 0, total;
	double now;
	int err = 0;

	if (!arr)
		return -ENOMEM;
	pthread_mutex_lock(&s->mu);
	now = now_of(s);
	/* Report every rule, as Go does: the service splits the reservoir
	 * among the clients that report. Counts start again from zero. */
	for (i = 0; i < s->n_central; i++) {
		struct srule *r = &s->central[i];
		struct xtap_sample_slot *st = rstate(s, r);
		uint64_t requests = __atomic_exchange_n(&st->requests, 0, __ATOMIC_RELAXED);
		uint64_t sampled = __atomic_exchange_n(&st->sampled, 0, __ATOMIC_RELAXED);
		uint64_t borrows = __atomic_exchange_n(&st->borrows, 0, __ATOMIC_RELAXED);

		json_array_append_new(arr, json_pack("{s:s, s:s, s:f, s:I, s:I, s:I}", "RuleName",
						     r->name, "ClientID", s->client_id, "Timestamp",
						     now, "RequestCount", (json_int_t)requests,
						     "SampledCount", (json_int_t)sampled,
						     "BorrowCount", (json_int_t)borrows));
	}
	pthread_mutex_unlock(&s->mu);
	total = json_array_size(arr);
	/* at most SAMPLING_STATS_BATCH documents per call; no rules, no call */
	for (start = 0; start < total && !err; start += SAMPLING_STATS_BATCH) {
		json_t *batch = json_array(), *req;
		char *body, *resp = NULL;

		for (i = start; i < total && i < start + SAMPLING_STATS_BATCH; i++)
			json_array_append(batch, json_array_get(arr, i));
		req = json_pack("{s:o}", "SamplingStatisticsDocuments", batch);
		body = req ? json_dumps(req, JSON_COMPACT) : NULL;
		json_decref(req);
		if (!body) {
			err = -ENOMEM;
			break;
		}
		err = s->post(s->post_ctx, "/SamplingTargets", body, &resp);
		free(body);
		if (!err)
			err = sampler_apply_targets(s, resp);
		free(resp);
	}
	json_decref(arr);
	return err;
}

const char *sampler_client_id(const struct sampler *s)
{
	return s->client_id;
}

double sampler_targets_interval(const struct sampler *s)
{
	return s->targets_interval;
}

enum sampling_mode sampler_mode(const struct sampler *s)
{
	return s ? s->mode : SAMPLING_OFF;
}

static json_t *rule_json(const struct srule *r, bool central, size_t idx)
{
	json_t *o = json_object();
	char local_name[32];

	if (!o)
		return NULL;
	/* local rules have no names: the file's default, or their place in "rules" */
	snprintf(local_name, sizeof(local_name), r->is_default ? "default" : "rules[%zu]", idx);
	json_object_set_new(o, "name", json_string(central ? r->name : local_name));
	if (central)
		json_object_set_new(o, "priority", json_integer(r->priority));
	json_object_set_new(o, "rate", json_real(r->rate));
	/* central: ReservoirSize; local: fixed_target (requests per second) */
	json_object_set_new(o, "reservoir", json_integer(r->reservoir));
	if (central && r->has_quota)
		json_object_set_new(o, "quota", json_integer(r->quota));
	json_object_set_new(o, "service_name", json_string(r->service_name));
	json_object_set_new(o, "service_type", json_string(r->service_type));
	json_object_set_new(o, "host", json_string(r->host));
	json_object_set_new(o, "http_method", json_string(r->method));
	json_object_set_new(o, "url_path", json_string(r->url_path));
	return o;
}

json_t *sampler_status_json(struct sampler *s)
{
	static const char *const modes[] = { "off", "local", "centralized" };
	json_t *o = json_object(), *rules = json_array();
	bool central;
	double now;

	if (!o || !rules) {
		json_decref(o);
		json_decref(rules);
		return NULL;
	}
	json_object_set_new(o, "mode", json_string(modes[s ? s->mode : SAMPLING_OFF]));
	json_object_set_new(o, "rules", rules);
	if (!s || s->mode == SAMPLING_OFF)
		return o;
	pthread_mutex_lock(&s->mu);
	now = now_of(s);
	/* the same test sampler_decide makes */
	central = s->mode == SAMPLING_CENTRALIZED && s->n_central &&
		  now < s->rules_fetched_at + SAMPLING_RULES_TTL;
	json_object_set_new(o, "source", json_string(central ? "centralized" : "local"));
	if (s->rules_fetched_at > 0)
		json_object_set_new(o, "rules_age_seconds", json_real(now - s->rules_fetched_at));
	for (size_t i = 0; i < (central ? s->n_central : s->n_local); i++)
		json_array_append_new(rules, rule_json(central ? &s->central[i] : &s->local[i], central, i));
	pthread_mutex_unlock(&s->mu);
	return o;
}

/* ------------------------------------------------------------------ */
/* The poller                                                          */
/* ------------------------------------------------------------------ */

/* Wait until `seconds` pass or stop is set; true when stopping. */
static bool wait_or_stop(struct sampler *s, double seconds)
{
	struct timespec dl;
	double t = mono_now() + clampd(seconds, 0, 3600);
	bool stop;

	dl.tv_sec = (time_t)t;
	dl.tv_nsec = (long)((t - (double)dl.tv_sec) * 1e9);
	pthread_mutex_lock(&s->mu);
	while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &dl) != ETIMEDOUT)
		;
	stop = s->stop;
	pthread_mutex_unlock(&s->mu);
	return stop;
}

static void *poller(void *arg)
{
	struct sampler *s = arg;
	double next_rules = mono_now(), next_targets = next_rules + s->targets_interval;
	bool rules_ok = false, warned = false;

	for (;;) {
		double now = mono_now(), wait;
		bool refetch;

		pthread_mutex_lock(&s->mu);
		refetch = s->refetch_rules;
		pthread_mutex_unlock(&s->mu);
		if (now >= next_rules || refetch) {
			int err = sampler_poll_rules(s);

			rules_ok = !err;
			if (err && !warned) {
				/* once: the fallback is logged, not each retry */
				p_warn("sampling: GetSamplingRules: %s; local rules apply until it answers",
				       strerror(-err));
				warned = true;
			} else if (!err && warned) {
				p_info("sampling: centralized rules loaded");
				warned = false;
			}
			pthread_mutex_lock(&s->mu); /* the RNG is the event loop's too */
			next_rules = now + SAMPLING_RULES_PERIOD + rand_of(s) * SAMPLING_RULES_JITTER;
			pthread_mutex_unlock(&s->mu);
			/* report targets soon after the first rules, not 10 s later */
			if (rules_ok && next_targets > now + s->targets_interval)
				next_targets = now + s->targets_interval;
		}
		if (now >= next_targets) {
			if (rules_ok) {
				int err = sampler_poll_targets(s);

				if (err)
					p_dbg("sampling: SamplingTargets: %s", strerror(-err));
			}
			pthread_mutex_lock(&s->mu);
			next_targets = now + s->targets_interval +
				       rand_of(s) * SAMPLING_TARGETS_JITTER;
			pthread_mutex_unlock(&s->mu);
		}
		wait = (next_rules < next_targets ? next_rules : next_targets) - mono_now();
		if (wait_or_stop(s, wait))
			break;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

static void seed(struct sampler *s)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint64_t)real_now(NULL) ^ ((uint64_t)(uintptr_t)s << 16);
	s->rng = v ? v : 0x9E3779B97F4A7C15ull;
}

int sampler_create(const struct sampling_config *cfg, struct sampler **out, char *err,
		   size_t errlen)
{
	pthread_condattr_t ca;
	struct sampler *s;
	int ret, i;

	*out = NULL;
	if (cfg->mode == SAMPLING_CENTRALIZED && !cfg->post) {
		snprintf(err, errlen, "centralized sampling needs an X-Ray endpoint");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->local = calloc(SAMPLING_RULES_MAX, sizeof(*s->local));
	s->central = calloc(SAMPLING_RULES_MAX, sizeof(*s->central));
	if (!s->local || !s->central) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	s->mode = cfg->mode;
	s->now = cfg->now;
	s->rand01 = cfg->rand01;
	s->hook_ctx = cfg->hook_ctx;
	s->post = cfg->post;
	s->post_ctx = cfg->post_ctx;
	s->targets_interval = cfg->targets_period > 0 ? cfg->targets_period : SAMPLING_TARGETS_PERIOD;
	seed(s);
	for (i = 0; i < 24; i++)
		s->client_id[i] = "0123456789abcdef"[(uint64_t)(rng_next(s) * 16) & 15];
	ret = local_parse(s, cfg->local_rules_json ? cfg->local_rules_json : local_default, err,
			  errlen);
	if (ret)
		goto fail;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = s;
	return 0;
fail:
	free(s->local);
	free(s->central);
	free(s);
	return ret;
}

int sampler_set_local_rules(struct sampler *s, const char *json, char *err, size_t errlen)
{
	struct sampler tmp = {};
	struct srule *old;
	int ret;

	/* parsed aside, so a bad file leaves the rules in force untouched */
	tmp.local = calloc(SAMPLING_RULES_MAX, sizeof(*tmp.local));
	if (!tmp.local) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = local_parse(&tmp, json ? json : local_default, err, errlen);
	if (ret) {
		free(tmp.local);
		return ret;
	}
	pthread_mutex_lock(&s->mu);
	old = s->local;
	s->local = tmp.local;
	s->n_local = tmp.n_local;
	kernel_rules_changed(s);
	pthread_mutex_unlock(&s->mu);
	free(old);
	return 0;
}

int sampler_start(struct sampler *s)
{
	int err;

	if (!s || s->mode != SAMPLING_CENTRALIZED || s->started)
		return 0;
	err = pthread_create(&s->thread, NULL, poller, s);
	if (err)
		return -err;
	s->started = true;
	return 0;
}

void sampler_destroy(struct sampler *s)
{
	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		/* bounded: a call in flight ends within DAEMON_TIMEOUT_MS */
		pthread_join(s->thread, NULL);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->local);
	free(s->central);
	free(s);
}

/* ------------------------------------------------------------------ */
/* Transport: the daemon's TCP proxy                                   */
/* ------------------------------------------------------------------ */

int sampling_daemon_post(void *ctx, const char *path, const char *body, char **resp)
{
	struct http_req req = {
		.method = "POST",
		.headers = { "Content-Type: application/json" },
		.body = body,
		.body_len = strlen(body),
		.connect_timeout_ms = DAEMON_TIMEOUT_MS / 2,
		.timeout_ms = DAEMON_TIMEOUT_MS,
	};
	struct http_resp r;
	char url[512], why[256] = "";
	int err;

	*resp = NULL;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", (const char *)ctx, path) >= sizeof(url))
		return -ENAMETOOLONG;
	req.url = url;
	err = http_request(&req, &r, why, sizeof(why));
	if (err) {
		p_dbg("sampling: POST %s: %s", url, why[0] ? why : strerror(-err));
	} else if (r.status < 200 || r.status > 299) {
		p_dbg("sampling: POST %s: HTTP %ld", url, r.status);
		err = -EIO;
	} else {
		*resp = r.body ? r.body : strdup("");
		r.body = NULL;
		if (!*resp)
			err = -ENOMEM;
	}
	free(r.body);
	return err;
}

int sampling_xray_post(void *ctx, const char *path, const char *body, char **resp)
{
	size_t n = 0;
	long status = 0;
	char *b = NULL;
	int err;

	(void)ctx;
	*resp = NULL;
	err = xray_api_call(path, body, strlen(body), &status, &b, &n);
	if (err) {
		p_dbg("sampling: X-Ray %s: %s", path, strerror(-err));
		return err;
	}
	if (status < 200 || status > 299) {
		p_dbg("sampling: X-Ray %s: HTTP %ld: %.200s", path, status, b ? b : "");
		free(b);
		return -EIO;
	}
	*resp = b ? b : strdup("");
	return *resp ? 0 : -ENOMEM;
}
