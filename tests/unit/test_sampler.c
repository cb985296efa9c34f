/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The sampler: globs, rule order, reservoir / borrow / fixed rate with an
 * injected clock and RNG, rule cache expiry, targets, the local rules file,
 * and the request shapes of the polls (through a fake transport). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "sampling.h"
#include "xtap.h"

#define T0 1795344132.0 /* a whole second */

/* The injected clock and RNG. */
static double clk;
static double rnd;

static double fake_now(void *ctx)
{
	(void)ctx;
	return clk;
}

static double fake_rand(void *ctx)
{
	(void)ctx;
	return rnd;
}

/* The fake transport: records each call, answers from a queue. */
#define CALLS_MAX 16
static struct {
	char path[CALLS_MAX][64];
	json_t *body[CALLS_MAX];
	const char *answer[CALLS_MAX];
	int n, n_answers;
	int fail; /* return this instead, when non-zero */
} tr;

static int fake_post(void *ctx, const char *path, const char *body, char **resp)
{
	int i = tr.n;

	(void)ctx;
	if (tr.fail)
		return tr.fail;
	assert_true(i < CALLS_MAX);
	snprintf(tr.path[i], sizeof(tr.path[i]), "%s", path);
	tr.body[i] = json_loads(body, 0, NULL);
	assert_non_null(tr.body[i]);
	tr.n++;
	if (i < tr.n_answers)
		*resp = strdup(tr.answer[i]);
	else if (!strcmp(path, "/SamplingTargets"))
		*resp = strdup("{\"SamplingTargetDocuments\":[]}");
	else
		*resp = strdup("{\"SamplingRuleRecords\":[]}");
	return 0;
}

static void tr_reset(void)
{
	for (int i = 0; i < tr.n; i++)
		json_decref(tr.body[i]);
	memset(&tr, 0, sizeof(tr));
}

static struct sampler *mk(enum sampling_mode mode, const char *local)
{
	struct sampling_config c = {
		.mode = mode,
		.local_rules_json = local,
		.post = fake_post,
		.now = fake_now,
		.rand01 = fake_rand,
	};
	struct sampler *s = NULL;
	char err[256] = "";

	assert_int_equal(sampler_create(&c, &s, err, sizeof(err)), 0);
	assert_non_null(s);
	return s;
}

static bool decide(struct sampler *s, const char *svc, const char *host, const char *method,
		   const char *path, char *rule)
{
	struct sampling_req q = { svc, "", host, method, path };
	struct sampling_decision d;

	sampler_decide(s, &q, &d);
	if (rule)
		strcpy(rule, d.rule_name);
	return d.sampled;
}

static bool get(struct sampler *s)
{
	return decide(s, "svc", "example.com", "GET", "/x", NULL);
}

static int count_sampled(struct sampler *s, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += get(s);
	return k;
}

/* A SamplingRuleRecord. */
static char *rec(char *buf, size_t cap, const char *name, int prio, double rate, int reservoir,
		 const char *svc, const char *host, const char *method, const char *path,
		 const char *extra)
{
	snprintf(buf, cap,
		 "{\"SamplingRule\":{\"RuleName\":\"%s\",\"RuleARN\":\"arn:x\",\"ResourceARN\":\"*\","
		 "\"Priority\":%d,\"FixedRate\":%g,\"ReservoirSize\":%d,\"ServiceName\":\"%s\","
		 "\"ServiceType\":\"*\",\"Host\":\"%s\",\"HTTPMethod\":\"%s\",\"URLPath\":\"%s\","
		 "\"Version\":1,\"Attributes\":{}%s},\"CreatedAt\":0,\"ModifiedAt\":0}",
		 name, prio, rate, reservoir, svc, host, method, path, extra ? extra : "");
	return buf;
}

static void load(struct sampler *s, const char *records)
{
	size_t cap = strlen(records) + 64;
	char *body = malloc(cap);

	assert_non_null(body);
	snprintf(body, cap, "{\"SamplingRuleRecords\":[%s]}", records);
	assert_int_equal(sampler_load_rules(s, body), 0);
	free(body);
}

/* ------------------------------------------------------------------ */

static void test_glob(void **state)
{
	static const struct {
		const char *p, *s;
		bool m;
	} t[] = {
		{ "*", "", true },
		{ "*", "anything", true },
		{ "", "", true },
		{ "", "a", false },
		{ "a", "A", true },
		{ "GET", "get", true },
		{ "?", "", false },
		{ "?", "x", true },
		{ "??", "x", false },
		{ "/api/*", "/api/", true },
		{ "/api/*", "/api/users/1?x=2", true },
		{ "/api/*", "/apx/users", false },
		{ "*.example.com", "www.EXAMPLE.com", true },
		{ "*.example.com", "example.com", false },
		{ "a*b*c", "aXXbYYc", true },
		{ "a*b*c", "aXXbYY", false },
		{ "a*b?c", "abbbxc", true },
		{ "*a", "bbbba", true },
		{ "*a", "bbbab", false },
		{ "**", "x", true },
		{ "*?*", "", false },
		{ "*?*", "q", true },
		{ "/users/?/profile", "/users/7/profile", true },
		{ "/users/?/profile", "/users/17/profile", false },
		{ "localhost:8080", "LOCALHOST:8080", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (sampling_glob_match(t[i].p, t[i].s) != t[i].m)
			fail_msg("glob '%s' vs '%s': expected %s", t[i].p, t[i].s,
				 t[i].m ? "match" : "no match");
	}
}

static void test_off_samples_all(void **state)
{
	struct sampler *s = mk(SAMPLING_OFF, NULL);

	(void)state;
	rnd = 0.99;
	clk = T0;
	assert_int_equal(count_sampled(s, 100), 100);
	sampler_destroy(s);
	/* a NULL sampler is "off" too */
	assert_true(get(NULL));
}

/* The built-in local default: 1 per second, then 5%. */
static void test_local_default(void **state)
{
	struct sampler *s = mk(SAMPLING_LOCAL, NULL);
	char rule[64];

	(void)state;
	clk = T0 + 0.1;
	rnd = 0.5;
	assert_true(decide(s, "svc", "h", "GET", "/", rule));
	assert_string_equal(rule, ""); /* local rules are not named in segments */
	assert_int_equal(count_sampled(s, 50), 0); /* 0.5 >= 0.05 */
	rnd = 0.049;
	assert_int_equal(count_sampled(s, 5), 5);
	rnd = 0.05; /* rand < rate, strictly */
	assert_false(get(s));
	clk = T0 + 1.0; /* a new second: one more from the reservoir */
	rnd = 0.9;
	assert_int_equal(count_sampled(s, 10), 1);
	clk = T0 + 1.999;
	assert_int_equal(count_sampled(s, 10), 0);
	sampler_destroy(s);
}

static const char local_file[] =
	"{\"version\":2,"
	"\"rules\":["
	" {\"description\":\"health\",\"host\":\"*\",\"http_method\":\"GET\",\"url_path\":\"/health*\","
	"  \"fixed_target\":0,\"rate\":0},"
	" {\"description\":\"api\",\"host\":\"api.*\",\"http_method\":\"*\",\"url_path\":\"/v?/*\","
	"  \"fixed_target\":2,\"rate\":0.5}],"
	"\"default\":{\"fixed_target\":0,\"rate\":1}}";

static void test_local_rules_file(void **state)
{
	struct sampler *s = mk(SAMPLING_LOCAL, local_file);
	int k = 0;

	(void)state;
	clk = T0;
	rnd = 0.6;
	/* health: never */
	for (int i = 0; i < 10; i++)
		k += decide(s, "svc", "h", "GET", "/healthz", NULL);
	assert_int_equal(k, 0);
	/* api: 2 per second, then 50% (0.6 is not < 0.5) */
	for (k = 0; k < 10; k++)
		if (!decide(s, "svc", "api.example.com", "POST", "/v1/users", NULL))
			break;
	assert_int_equal(k, 2);
	rnd = 0.4;
	assert_true(decide(s, "svc", "API.example.com", "POST", "/v1/users", NULL));
	/* first match wins, in file order: POST /healthz is not the health rule */
	rnd = 0.99;
	assert_true(decide(s, "svc", "h", "POST", "/healthz", NULL)); /* default: rate 1 */
	sampler_destroy(s);
}

static void test_local_version1(void **state)
{
	/* version 1 calls the host field service_name */
	struct sampler *s = mk(SAMPLING_LOCAL,
			       "{\"version\":1,\"default\":{\"fixed_target\":0,\"rate\":0},"
			       "\"rules\":[{\"service_name\":\"a.com\",\"http_method\":\"*\","
			       "\"url_path\":\"*\",\"fixed_target\":0,\"rate\":1}]}");

	(void)state;
	rnd = 0.5;
	assert_true(decide(s, "svc", "A.COM", "GET", "/", NULL));
	assert_false(decide(s, "svc", "b.com", "GET", "/", NULL));
	sampler_destroy(s);
}

static void test_local_invalid(void **state)
{
	static const struct {
		const char *json, *want;
	} t[] = {
		{ "{", "line 1" },
		{ "[]", "not a JSON object" },
		{ "{\"default\":{\"fixed_target\":1,\"rate\":0.1}}", "\"version\" must be 1 or 2" },
		{ "{\"version\":3,\"default\":{\"fixed_target\":1,\"rate\":0.1}}", "\"version\"" },
		{ "{\"version\":4294967297,\"default\":{\"fixed_target\":1,\"rate\":0.1}}",
		  "\"version\"" },
		{ "{\"version\":2}", "\"default\" missing" },
		{ "{\"version\":2,\"default\":{\"fixed_target\":1}}", "default: \"rate\"" },
		{ "{\"version\":2,\"default\":{\"fixed_target\":-1,\"rate\":0.1}}",
		  "default: \"fixed_target\"" },
		{ "{\"version\":2,\"default\":{\"fixed_target\":1,\"rate\":1.5}}", "default: \"rate\"" },
		{ "{\"version\":2,\"default\":{\"fixed_target\":1,\"rate\":0.1,\"host\":\"x\"}}",
		  "only fixed_target and rate" },
		{ "{\"version\":2,\"default\":{\"fixed_target\":1,\"rate\":0.1},\"rules\":{}}",
		  "\"rules\" is not an array" },
		{ "{\"version\":2,\"default\":{\"fixed_target\":1,\"rate\":0.1},\"rules\":[{\"host\":"
		  "\"*\",\"http_method\":\"*\",\"fixed_target\":1,\"rate\":0.1}]}",
		  "rules[0]: \"url_path\" missing" },
		{ "{\"version\":2,\"default\":{\"fixed_target\":1,\"rate\":0.1},\"rules\":[{\"host\":"
		  "\"*\",\"http_method\":\"*\",\"url_path\":\"*\",\"fixed_target\":1.5,\"rate\":0.1}]}",
		  "rules[0]: \"fixed_target\"" },
		{ "{\"version\":2,\"default\":{\"fixed_target\":1,\"rate\":0.1},\"rules\":[5]}",
		  "rules[0]: not an object" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sampling_config c = { .mode = SAMPLING_LOCAL, .local_rules_json = t[i].json };
		struct sampler *s = NULL;
		char err[256] = "";

		assert_int_equal(sampler_create(&c, &s, err, sizeof(err)), -EINVAL);
		assert_null(s);
		if (!strstr(err, t[i].want))
			fail_msg("rules file %s: error '%s' lacks '%s'", t[i].json, err, t[i].want);
	}
}

static void test_centralized_needs_transport(void **state)
{
	struct sampling_config c = { .mode = SAMPLING_CENTRALIZED };
	struct sampler *s = NULL;
	char err[128] = "";

	(void)state;
	assert_int_equal(sampler_create(&c, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "endpoint"));
}

/* Priority first, then the name; Default (10000) last; ResourceARN other
 * than "*" and non-empty Attributes skip a rule. */
static void test_rule_order(void **state)
{
	struct sampler *s = mk(SAMPLING_CENTRALIZED, NULL);
	char r[6][700], all[5000], rule[64];

	(void)state;
	clk = T0;
	rnd = 0.0;
	snprintf(all, sizeof(all), "%s,%s,%s,%s,%s,%s",
		 rec(r[0], sizeof(r[0]), "Default", 10000, 1, 0, "*", "*", "*", "*", NULL),
		 rec(r[1], sizeof(r[1]), "zeta", 5, 1, 0, "*", "*", "*", "/api/*", NULL),
		 rec(r[2], sizeof(r[2]), "alpha", 5, 1, 0, "*", "*", "*", "/api/*", NULL),
		 rec(r[3], sizeof(r[3]), "first", 1, 1, 0, "*", "*", "POST", "*", NULL),
		 rec(r[4], sizeof(r[4]), "arn", 0, 1, 0, "*", "*", "*", "*", NULL),
		 rec(r[5], sizeof(r[5]), "attrs", 0, 1, 0, "*", "*", "*", "*",
		     ",\"Attributes\":{\"k\":\"v\"}"));
	/* the "arn" rule: make its ResourceARN specific */
	{
		char *p = strstr(all, "\"RuleName\":\"arn\"");

		assert_non_null(p);
		p = strstr(p, "\"ResourceARN\":\"*\"");
		memcpy(p, "\"ResourceARN\":\"x\"", 17);
	}
	load(s, all);
	assert_true(decide(s, "svc", "h", "POST", "/api/x", rule));
	assert_string_equal(rule, "first");
	assert_true(decide(s, "svc", "h", "GET", "/api/x", rule));
	assert_string_equal(rule, "alpha");
	assert_true(decide(s, "svc", "h", "GET", "/other", rule));
	assert_string_equal(rule, "Default");
	sampler_destroy(s);
}

/* A Priority past an int sorts last, as the largest one would: it is not
 * converted out of range (found by fuzz_sampling). */
static void test_priority_out_of_range(void **state)
{
	struct sampler *s = mk(SAMPLING_CENTRALIZED, NULL);
	char rule[64];

	(void)state;
	clk = T0;
	rnd = 0.0;
	assert_int_equal(sampler_load_rules(s, "{\"SamplingRuleRecords\":["
					       "{\"SamplingRule\":{\"RuleName\":\"huge\","
					       "\"Priority\":1e12,\"FixedRate\":1}},"
					       "{\"SamplingRule\":{\"RuleName\":\"Default\","
					       "\"Priority\":10000,\"FixedRate\":1}}]}"),
			 0);
	assert_true(decide(s, "svc", "h", "GET", "/", rule));
	assert_string_equal(rule, "Default");
	sampler_destroy(s);
}

static void test_match_fields(void **state)
{
	struct sampler *s = mk(SAMPLING_CENTRALIZED, NULL);
	struct sampling_req q = { "orders", "AWS::EC2::Instance", "shop.example.com:8080", "PUT",
				  "/cart/1?x=1" };
	struct sampling_decision d;
	char r[2][700], all[1500];

	(void)state;
	clk = T0;
	rnd = 0.0;
	snprintf(all, sizeof(all), "%s,%s",
		 rec(r[0], sizeof(r[0]), "Default", 10000, 1, 0, "*", "*", "*", "*", NULL),
		 rec(r[1], sizeof(r[1]), "cart", 10, 1, 0, "ord*", "shop.*:8080", "put", "/cart/*",
		     NULL));
	{
		/* and a ServiceType condition */
		char *p = strstr(all, "\"RuleName\":\"cart\"");

		p = strstr(p, "\"ServiceType\":\"*\"");
		memmove(p + 32, p + 17, strlen(p + 17) + 1);
		memcpy(p, "\"ServiceType\":\"AWS::EC2::Insta*\"", 32);
	}
	load(s, all);
	sampler_decide(s, &q, &d);
	assert_string_equal(d.rule_name, "cart");
	q.service_type = "";
	sampler_decide(s, &q, &d);
	assert_string_equal(d.rule_name, "Default");
	q.service_type = "AWS::EC2::Instance";
	q.service_name = "billing";
	sampler_decide(s, &q, &d);
	assert_string_equal(d.rule_name, "Default");
	sampler_destroy(s);
}

/* No quota yet: borrow 1/s when ReservoirSize > 0, then FixedRate. */
static void test_borrow_then_rate(void **state)
{
	struct sampler *s = mk(SAMPLING_CENTRALIZED, NULL);
	char r[700];

	(void)state;
	load(s, rec(r, sizeof(r), "Default", 10000, 0.1, 5, "*", "*", "*", "*", NULL));
	clk = T0 + 0.5;
	rnd = 0.5;
	assert_int_equal(count_sampled(s, 20), 1); /* one borrowed */
	rnd = 0.09;
	assert_int_equal(count_sampled(s, 3), 3); /* rate */
	clk = T0 + 1.2;
	rnd = 0.5;
	assert_int_equal(count_sampled(s, 20), 1);
	sampler_destroy(s);

	/* ReservoirSize 0: no borrowing */
	s = mk(SAMPLING_CENTRALIZED, NULL);
	load(s, rec(r, sizeof(r), "Default", 10000, 0, 0, "*", "*", "*", "*", NULL));
	clk = T0;
	rnd = 0.0;
	assert_int_equal(count_sampled(s, 20), 0); /* rate 0 never samples, even at rand 0 */
	sampler_destroy(s);
}

/* A quota of N/s while its TTL holds, then borrowing again. */
static void test_targets_quota_ttl(void **state)
{
	struct sampler *s = mk(SAMPLING_CENTRALIZED, NULL);
	char r[700], body[512];

	(void)state;
	load(s, rec(r, sizeof(r), "Default", 10000, 0.5, 1, "*", "*", "*", "*", NULL));
	snprintf(body, sizeof(body),
		 "{\"SamplingTargetDocuments\":[{\"RuleName\":\"Default\",\"FixedRate\":0,"
		 "\"ReservoirQuota\":3,\"ReservoirQuotaTTL\":%.0f,\"Interval\":20},"
		 "{\"RuleName\":\"unknown\",\"FixedRate\":1}],\"LastRuleModification\":0,"
		 "\"UnprocessedStatistics\":[]}",
		 T0 + 10);
	assert_int_equal(sampler_apply_targets(s, body), 0);
	assert_true(sampler_targets_interval(s) == 20.0);
	rnd = 0.0; /* FixedRate 0 from the target: only the quota samples */
	for (int sec = 0; sec < 10; sec++) {
		clk = T0 + sec + 0.25;
		assert_int_equal(count_sampled(s, 10), 3);
	}
	clk = T0 + 10; /* the TTL's own second still holds */
	assert_int_equal(count_sampled(s, 10), 3);
	clk = T0 + 10.5; /* TTL passed: borrow 1/s again (ReservoirSize 1) */
	assert_int_equal(count_sampled(s, 10), 1);
	sampler_destroy(s);
}

/* No fetch for an hour: local rules again. */
static void test_cache_expiry(void **state)
{
	struct sampler *s = mk(SAMPLING_CENTRALIZED,
			       "{\"version\":2,\"default\":{\"fixed_target\":0,\"rate\":0}}");
	char r[700], rule[64];

	(void)state;
	rnd = 0.5;
	clk = T0;
	/* before any rules: the local fallback (here: nothing) */
	assert_false(decide(s, "svc", "h", "GET", "/", rule));
	assert_string_equal(rule, "");
	load(s, rec(r, sizeof(r), "Default", 10000, 1, 0, "*", "*", "*", "*", NULL));
	clk = T0 + SAMPLING_RULES_TTL - 1;
	assert_true(decide(s, "svc", "h", "GET", "/", rule));
	assert_string_equal(rule, "Default");
	clk = T0 + SAMPLING_RULES_TTL;
	assert_false(decide(s, "svc", "h", "GET", "/", rule));
	assert_string_equal(rule, "");
	sampler_destroy(s);
}

/* The statistics report: shape, counts, reset, 25 per call, targets
 * applied, and a newer LastRuleModification triggering a rules fetch. */
static void test_poll_targets(void **state)
{
	struct sampler *s = mk(SAMPLING_CENTRALIZED, NULL);
	char recs[30 * 700], r[700], ans[512];
	const char *cid = sampler_client_id(s);
	size_t off = 0, i;
	json_t *docs, *d;

	(void)state;
	tr_reset();
	assert_int_equal(strlen(cid), 24);
	assert_int_equal(strspn(cid, "0123456789abcdef"), 24);
	for (i = 0; i < 29; i++) {
		char name[16];

		snprintf(name, sizeof(name), "r%02zu", i);
		off += (size_t)snprintf(recs + off, sizeof(recs) - off, "%s%s", i ? "," : "",
					rec(r, sizeof(r), name, (int)i + 1, 0, 1, "*", "*", "*",
					    i == 0 ? "/a" : "/never", NULL));
	}
	clk = T0;
	load(s, recs);
	rnd = 0.9;
	for (i = 0; i < 4; i++)
		decide(s, "svc", "h", "GET", "/a", NULL); /* r00: 1 borrowed, 3 not */
	snprintf(ans, sizeof(ans),
		 "{\"SamplingTargetDocuments\":[{\"RuleName\":\"r00\",\"FixedRate\":1,"
		 "\"ReservoirQuota\":0,\"ReservoirQuotaTTL\":%.0f}],\"LastRuleModification\":%.0f}",
		 T0 + 60, T0 + 5);
	tr.answer[0] = ans;
	tr.n_answers = 1;
	clk = T0 + 10;
	assert_int_equal(sampler_poll_targets(s), 0);
	assert_int_equal(tr.n, 2); /* 29 rules: 25 + 4 */
	assert_string_equal(tr.path[0], "/SamplingTargets");
	docs = json_object_get(tr.body[0], "SamplingStatisticsDocuments");
	assert_int_equal(json_array_size(docs), 25);
	assert_int_equal(json_array_size(json_object_get(tr.body[1], "SamplingStatisticsDocuments")),
			 4);
	d = json_array_get(docs, 0);
	assert_string_equal(json_string_value(json_object_get(d, "RuleName")), "r00");
	assert_string_equal(json_string_value(json_object_get(d, "ClientID")), cid);
	assert_true(json_number_value(json_object_get(d, "Timestamp")) == T0 + 10);
	assert_int_equal(json_integer_value(json_object_get(d, "RequestCount")), 4);
	assert_int_equal(json_integer_value(json_object_get(d, "SampledCount")), 1);
	assert_int_equal(json_integer_value(json_object_get(d, "BorrowCount")), 1);
	/* the target applied: FixedRate 1, a quota of 0 that holds (no borrowing) */
	rnd = 0.99;
	assert_true(decide(s, "svc", "h", "GET", "/a", NULL));
	/* counts start again */
	tr_reset();
	assert_int_equal(sampler_poll_targets(s), 0);
	d = json_array_get(json_object_get(tr.body[0], "SamplingStatisticsDocuments"), 0);
	assert_int_equal(json_integer_value(json_object_get(d, "RequestCount")), 1);
	assert_int_equal(json_integer_value(json_object_get(d, "BorrowCount")), 0);
	tr_reset();
	sampler_destroy(s);
}

static void test_poll_rules_pages(void **state)
{
	struct sampler *s = mk(SAMPLING_CENTRALIZED, NULL);
	char a[700], b[700], p1[1024], p2[1024], rule[64];

	(void)state;
	tr_reset();
	snprintf(p1, sizeof(p1), "{\"SamplingRuleRecords\":[%s],\"NextToken\":\"tok2\"}",
		 rec(a, sizeof(a), "Default", 10000, 0, 0, "*", "*", "*", "*", NULL));
	snprintf(p2, sizeof(p2), "{\"SamplingRuleRecords\":[%s]}",
		 rec(b, sizeof(b), "page2", 1, 1, 0, "*", "*", "*", "/p2", NULL));
	tr.answer[0] = p1;
	tr.answer[1] = p2;
	tr.n_answers = 2;
	clk = T0;
	assert_int_equal(sampler_poll_rules(s), 0);
	assert_int_equal(tr.n, 2);
	assert_string_equal(tr.path[0], "/GetSamplingRules");
	assert_int_equal(json_object_size(tr.body[0]), 0);
	assert_string_equal(json_string_value(json_object_get(tr.body[1], "NextToken")), "tok2");
	rnd = 0.5;
	assert_true(decide(s, "svc", "h", "GET", "/p2", rule));
	assert_string_equal(rule, "page2");
	/* a failing transport leaves the rules in place */
	tr_reset();
	tr.fail = -ECONNREFUSED;
	assert_int_equal(sampler_poll_rules(s), -ECONNREFUSED);
	assert_true(decide(s, "svc", "h", "GET", "/p2", rule));
	assert_string_equal(rule, "page2");
	/* a bad body: an error, rules kept */
	tr_reset();
	assert_int_equal(sampler_load_rules(s, "{\"nope\":1}"), -EBADMSG);
	assert_int_equal(sampler_apply_targets(s, "not json"), -EBADMSG);
	assert_true(decide(s, "svc", "h", "GET", "/p2", rule));
	tr_reset();
	sampler_destroy(s);
}

/* New rules keep the state of the rules that carry on. */
static void test_reload_keeps_quota(void **state)
{
	struct sampler *s = mk(SAMPLING_CENTRALIZED, NULL);
	char r[700], body[256];

	(void)state;
	clk = T0;
	rnd = 0.9;
	load(s, rec(r, sizeof(r), "Default", 10000, 0, 0, "*", "*", "*", "*", NULL));
	snprintf(body, sizeof(body),
		 "{\"SamplingTargetDocuments\":[{\"RuleName\":\"Default\",\"ReservoirQuota\":2,"
		 "\"ReservoirQuotaTTL\":%.0f}]}",
		 T0 + 100);
	assert_int_equal(sampler_apply_targets(s, body), 0);
	load(s, rec(r, sizeof(r), "Default", 10000, 0, 0, "*", "*", "*", "*", NULL));
	clk = T0 + 1;
	assert_int_equal(count_sampled(s, 10), 2);
	sampler_destroy(s);
}

/* The poller thread starts and stops promptly against a dead transport. */
/* Sampling in the kernel: which services a slot can decide for, the
 * parameters the kernel reads, and one reservoir shared with the agent. */
static struct xtap_sample_slot kslots[XTAP_SAMPLE_SLOTS];
static volatile uint32_t kgen;

static void test_kernel_slot_local(void **state)
{
	/* local rules name no service: a narrower rule first may take any
	 * service's requests */
	static const char narrow[] =
		"{\"version\":2,\"rules\":["
		" {\"host\":\"*\",\"http_method\":\"GET\",\"url_path\":\"/health\","
		"  \"fixed_target\":0,\"rate\":0}],"
		"\"default\":{\"fixed_target\":1,\"rate\":0.05}}";
	static const char wide[] = "{\"version\":2,\"default\":{\"fixed_target\":2,\"rate\":0.25}}";
	struct sampler *s = mk(SAMPLING_LOCAL, narrow);
	struct sampling_decision d;
	char err[128];
	uint32_t gen = 99;
	int slot;

	(void)state;
	memset(kslots, 0, sizeof(kslots));
	/* not bound yet: the agent decides everything */
	assert_int_equal(sampler_service_slot(s, "web", "", &d, &gen), -1);
	sampler_bind_kernel(s, kslots, &kgen);
	assert_int_equal(sampler_service_slot(s, "web", "", &d, &gen), -1);
	/* new rules: the generation moves, so the kernel drops old plans */
	gen = kgen;
	assert_int_equal(sampler_set_local_rules(s, wide, err, sizeof(err)), 0);
	assert_int_not_equal(kgen, gen);
	assert_int_equal(sampler_generation(s), kgen);
	slot = sampler_service_slot(s, "web", "", &d, &gen);
	assert_int_equal(slot, SAMPLING_RULES_MAX);
	assert_int_equal(gen, kgen);
	assert_string_equal(d.rule_name, ""); /* local rules have no name in segments */
	assert_true(kslots[slot].rate == XTAP_RATE_ONE / 4);
	assert_int_equal(kslots[slot].quota, 2);
	assert_true(kslots[slot].quota_until == UINT64_MAX);
	assert_int_equal(kslots[slot].borrow, 0);
	assert_int_equal(sampler_service_slot(s, "other", "", &d, &gen), slot);

	/* one reservoir: what the kernel took this second, the agent cannot */
	clk = T0 + 0.5;
	rnd = 0.99;
	kslots[slot].sec = (uint64_t)T0;
	kslots[slot].taken = 2;
	assert_false(decide(s, "web", "h", "GET", "/x", NULL));
	kslots[slot].taken = 1;
	assert_true(decide(s, "web", "h", "GET", "/x", NULL));
	assert_int_equal(kslots[slot].taken, 2);
	/* a new second empties it, for both */
	clk = T0 + 1.5;
	assert_true(decide(s, "web", "h", "GET", "/x", NULL));
	assert_true(kslots[slot].sec == (uint64_t)T0 + 1);
	assert_int_equal(kslots[slot].taken, 1);
	sampler_destroy(s);
}

static void test_kernel_slot_centralized(void **state)
{
	struct sampler *s = mk(SAMPLING_CENTRALIZED, NULL);
	struct sampling_decision d;
	char r[700], recs[1400], body[512];
	uint32_t gen;
	json_t *doc;
	int slot;

	(void)state;
	memset(kslots, 0, sizeof(kslots));
	sampler_bind_kernel(s, kslots, &kgen);
	clk = T0;
	snprintf(recs, sizeof(recs), "%s,", rec(r, sizeof(r), "Default", 10000, 0.1, 5, "*", "*", "*", "*", NULL));
	rec(r, sizeof(r), "cart", 10, 0.5, 0, "cart", "*", "POST", "*", NULL);
	strcat(recs, r);
	load(s, recs);
	/* cart's POST rule narrows by method: the agent decides for cart */
	assert_int_equal(sampler_service_slot(s, "cart", "", &d, &gen), -1);
	slot = sampler_service_slot(s, "web", "", &d, &gen);
	assert_int_equal(slot, 1); /* by priority: cart, then Default */
	assert_string_equal(d.rule_name, "Default");
	/* no quota yet: borrow one a second, then the rate */
	assert_true(kslots[slot].quota_until == 0);
	assert_int_equal(kslots[slot].borrow, 1);
	assert_true(kslots[slot].rate == (uint64_t)(0.1 * XTAP_RATE_ONE));
	/* a quota from SamplingTargets reaches the kernel */
	snprintf(body, sizeof(body),
		 "{\"SamplingTargetDocuments\":[{\"RuleName\":\"Default\",\"FixedRate\":0.2,"
		 "\"ReservoirQuota\":3,\"ReservoirQuotaTTL\":%.0f}]}",
		 T0 + 10);
	assert_int_equal(sampler_apply_targets(s, body), 0);
	assert_int_equal(kslots[slot].quota, 3);
	assert_true(kslots[slot].quota_until == (uint64_t)T0 + 10);
	assert_true(kslots[slot].rate == (uint64_t)(0.2 * XTAP_RATE_ONE));
	/* what the kernel decided is reported with the agent's own */
	kslots[slot].requests = 7;
	kslots[slot].sampled = 2;
	rnd = 0.99;
	clk = T0 + 1;
	assert_true(decide(s, "web", "h", "GET", "/", NULL)); /* the quota */
	tr_reset();
	assert_int_equal(sampler_poll_targets(s), 0);
	doc = json_array_get(json_object_get(tr.body[0], "SamplingStatisticsDocuments"), 1);
	assert_string_equal(json_string_value(json_object_get(doc, "RuleName")), "Default");
	assert_int_equal(json_integer_value(json_object_get(doc, "RequestCount")), 8);
	assert_int_equal(json_integer_value(json_object_get(doc, "SampledCount")), 3);
	assert_true(kslots[slot].requests == 0);
	tr_reset();
	/* new rules: the same rule keeps its reservoir, out of the kernel */
	kslots[slot].sec = (uint64_t)T0 + 1;
	kslots[slot].taken = 3;
	gen = kgen;
	load(s, recs);
	assert_int_not_equal(kgen, gen);
	assert_false(decide(s, "web", "h", "GET", "/", NULL)); /* quota 3 spent, rate 0.2 */
	sampler_destroy(s);
}

static void test_thread_start_stop(void **state)
{
	struct sampling_config c = { .mode = SAMPLING_CENTRALIZED, .post = fake_post };
	struct sampler *s = NULL;
	char err[64];

	(void)state;
	tr_reset();
	tr.fail = -ECONNREFUSED;
	assert_int_equal(sampler_create(&c, &s, err, sizeof(err)), 0);
	assert_int_equal(sampler_start(s), 0);
	assert_true(get(s) || true); /* decisions while the thread runs */
	sampler_destroy(s);
	tr_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_off_samples_all),
		cmocka_unit_test(test_local_default),
		cmocka_unit_test(test_local_rules_file),
		cmocka_unit_test(test_local_version1),
		cmocka_unit_test(test_local_invalid),
		cmocka_unit_test(test_centralized_needs_transport),
		cmocka_unit_test(test_rule_order),
		cmocka_unit_test(test_priority_out_of_range),
		cmocka_unit_test(test_match_fields),
		cmocka_unit_test(test_borrow_then_rate),
		cmocka_unit_test(test_targets_quota_ttl),
		cmocka_unit_test(test_cache_expiry),
		cmocka_unit_test(test_poll_targets),
		cmocka_unit_test(test_poll_rules_pages),
		cmocka_unit_test(test_reload_keeps_quota),
		cmocka_unit_test(test_kernel_slot_local),
		cmocka_unit_test(test_kernel_slot_centralized),
		cmocka_unit_test(test_thread_start_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
