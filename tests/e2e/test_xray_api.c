/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Direct export to the X-Ray API (--export api) against tests/aws-mock, a
 * node server on 127.0.0.1 that plays X-Ray, STS, IMDSv2 and the EKS Pod
 * Identity agent and checks every SigV4 signature with AWS's own signer
 * (@smithy/signature-v4). Real BPF, real traffic (python http.server).
 *
 * Groups, one agent (and one mock) each:
 *   env     static keys + session token; 429, 500 and a hung request are
 *           retried and every document arrives exactly once; 400 is not
 *           retried; UnprocessedTraceSegments is counted
 *   irsa    web identity: short-lived credentials (6 s) refreshed before
 *           expiry, token file rotated mid-run, new key used afterwards; a
 *           403 ExpiredTokenException forces one refresh and a resend
 *   pod     Pod Identity: Authorization = token file, rotated mid-run
 *   imds    IMDSv2: token PUT, role, credentials, region from the identity
 *           document
 *   auto    --export auto picks the API with a region and credentials, the
 *           daemon without; an explicit daemon address keeps the daemon;
 *           --export api with an endpoint and no credentials goes unsigned
 *
 *   make build/tests/test_xray_api && build/tests/test_xray_api
 *   E2E_GROUPS=env,auto build/tests/test_xray_api
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <curl/curl.h>

#define MOCK_DIR "tests/aws-mock"
#define NPM_TIMEOUT 180
/* Credentials the mock issues live this long: refreshes happen at half
 * life (aws_creds.c), so a run of ~15 s sees several. */
#define CRED_TTL "6"
#define STATIC_KEY "AKIDXTAPE2ETEST"
#define STATIC_SECRET "e2eSecret/Key+With=Chars"
#define STATIC_TOKEN "E2eStaticSessionToken/abc+def=="
#define DELIVERY_TIMEOUT 40.0

static struct e2e_proc *mock;
static int mock_port;
static struct e2e_peer *peer;
static struct e2e_agent *agent;
static const char *tok_file;

/* ------------------------------------------------------------------------ */
/* The mock                                                                 */
/* ------------------------------------------------------------------------ */

static bool exists(const char *p)
{
	struct stat st;

	return !stat(p, &st);
}

static void npm_ci(void)
{
	const char *argv[] = { "npm", "ci", "--no-audit", "--no-fund", NULL };
	struct e2e_spawn_opts o = { .argv = argv, .cwd = MOCK_DIR, .split_stderr = true };
	struct e2e_run r;

	e2e_require_bin("node");
	e2e_require_bin("npm");
	if (!exists(MOCK_DIR "/server.js") || !exists(MOCK_DIR "/package-lock.json"))
		fail_msg(MOCK_DIR "/server.js or package-lock.json not found: run from the "
				  "repository root");
	if (exists(MOCK_DIR "/node_modules/@smithy/signature-v4/package.json"))
		return;
	printf("test_xray_api: npm ci in " MOCK_DIR " (first run)\n");
	fflush(stdout);
	r = e2e_run_cmd(&o, NPM_TIMEOUT);
	if (r.status != 0)
		fail_msg("npm ci in " MOCK_DIR " failed (exit %d):\n%s\n%s", r.status,
			 e2e_tail(r.out, 2000), e2e_tail(r.err, 4000));
}

/* Start the mock with extra args (NULL-terminated); waits for its port. */
static void mock_start(const char *const *extra)
{
	const char *argv[24] = { "node", "server.js", "--cred-ttl", CRED_TTL };
	struct e2e_spawn_opts o = { .argv = argv, .cwd = MOCK_DIR, .split_stderr = true };
	size_t n = 4;
	double end;

	for (; extra && *extra && n + 1 < sizeof(argv) / sizeof(argv[0]); extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	mock = e2e_spawn(&o);
	end = e2e_mono() + 15;
	mock_port = 0;
	while (e2e_mono() < end && !mock_port) {
		const char *out = e2e_proc_out(mock);

		if (!e2e_proc_alive(mock))
			fail_msg("aws-mock exited:\n%s", e2e_proc_err(mock));
		if (sscanf(out, "port %d", &mock_port) != 1)
			mock_port = 0;
		if (!mock_port)
			e2e_sleep(0.05);
	}
	if (!mock_port)
		fail_msg("aws-mock printed no port in 15 s:\n%s", e2e_proc_err(mock));
}

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *d, size_t s, size_t n, void *ud)
{
	struct buf *b = ud;
	char *np = realloc(b->p, b->n + s * n + 1);

	if (!np)
		return 0;
	b->p = np;
	memcpy(b->p + b->n, d, s * n);
	b->n += s * n;
	b->p[b->n] = '\0';
	return s * n;
}

/* GET (body NULL) or POST a mock control path; the parsed JSON answer
 * (new reference: json_decref it). Fails the test on any error. */
static json_t *mock_req(const char *path, const char *body)
{
	struct buf b = { 0 };
	json_error_t je;
	CURL *h = curl_easy_init();
	CURLcode c;
	json_t *j;

	assert_non_null(h);
	curl_easy_setopt(h, CURLOPT_URL, e2e_fmt("http://127.0.0.1:%d%s", mock_port, path));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	c = curl_easy_perform(h);
	curl_easy_cleanup(h);
	if (c != CURLE_OK)
		fail_msg("aws-mock %s: %s\n%s", path, curl_easy_strerror(c), e2e_proc_err(mock));
	j = json_loads(b.p ? b.p : "", 0, &je);
	if (!j)
		fail_msg("aws-mock %s: not JSON (%s): %s", path, je.text, e2e_tail(b.p ? b.p : "", 500));
	free(b.p);
	return j;
}

static void mock_script(const char *json)
{
	json_decref(mock_req("/__script", json));
}

/* How often the mock stored each id (0 if never). */
static long delivered_count(json_t *segs, const char *id)
{
	return json_integer_value(json_object_get(json_object_get(segs, "delivered"), id));
}

/* ------------------------------------------------------------------------ */
/* Agent and traffic                                                        */
/* ------------------------------------------------------------------------ */

/* Every AWS variable the agent might pick up from the test's environment,
 * unset, so each group sees only what it sets. */
#define AWS_UNSETS                                                                              \
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",   \
		"AWS_CREDENTIAL_EXPIRATION", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",        \
		"AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_FULL_URI",                     \
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",     \
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_REGION", "AWS_DEFAULT_REGION",      \
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_XRAY", "AWS_ENDPOINT_URL_STS",               \
		"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_PROFILE", "http_proxy", "HTTP_PROXY",    \
		"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"

/* Start the agent traced on the peer's port with the given extra args and
 * env (both NULL-terminated, either may be NULL). */
static struct e2e_agent *start_agent(const char *const *args, const char *const *env)
{
	const char *a[32], *e[64] = { AWS_UNSETS };
	size_t na = 0, ne = 0;

	while (e[ne])
		ne++;
	a[na++] = "--port";
	a[na++] = e2e_fmt("%d", peer->port);
	for (; args && *args && na + 1 < sizeof(a) / sizeof(a[0]); args++)
		a[na++] = *args;
	a[na] = NULL;
	for (; env && *env && ne + 1 < sizeof(e) / sizeof(e[0]); env++)
		e[ne++] = *env;
	e[ne] = NULL;
	{
		struct e2e_agent_opts o = { .args = a, .env = e };

		return e2e_agent_start(&o);
	}
}

/* n GETs to the peer, tagged; waits until the agent wrote their n server
 * segments. Returns the ids of every document in the output so far. */
static json_t *traffic(const char *tag, int n)
{
	struct e2e_filter f = { .type = "segment", .url_contains = tag };
	json_t *docs, *ids = json_array(), *d;
	size_t i;

	for (int k = 0; k < n; k++) {
		struct e2e_run r =
			e2e_curl(e2e_url(peer->port, e2e_fmt("/hello.txt?%s=%d", tag, k)), NULL);

		assert_int_equal(r.status, 0);
	}
	docs = e2e_agent_wait_docs(agent, &f, n, 15);
	assert_doc_count(docs, n);
	e2e_agent_expect_final(agent, &f, n);
	/* the curl side's subsegments trail a little */
	e2e_sleep(0.3);
	docs = e2e_agent_docs(agent);
	json_array_foreach(docs, i, d)
		json_array_append_new(ids, json_string(e2e_json_str(d, "id")));
	return ids;
}

/* Wait until every id in ids reached the mock (bounded). */
static void wait_delivered(json_t *ids)
{
	double end = e2e_mono() + DELIVERY_TIMEOUT;
	const char *missing = NULL;

	do {
		json_t *segs = mock_req("/__segments", NULL), *v;
		size_t i;

		missing = NULL;
		json_array_foreach(ids, i, v) {
			if (!delivered_count(segs, json_string_value(v))) {
				missing = e2e_fmt("%s", json_string_value(v));
				break;
			}
		}
		json_decref(segs);
		if (missing)
			e2e_sleep(0.2);
	} while (missing && e2e_mono() < end);
	if (missing) {
		json_t *log = mock_req("/__log", NULL);

		fail_msg("document %s never reached the mock in %.0f s\n--- mock log:\n%s\n"
			 "--- agent log:\n%s",
			 missing, DELIVERY_TIMEOUT, e2e_tail(e2e_json_dump(log), 6000),
			 e2e_tail(e2e_agent_log(agent), 4000));
	}
}

/* After the agent stopped: every document it wrote reached the mock
 * exactly once, except those in `except` (refused or unprocessed), which
 * must not have been stored. */
static void check_exactly_once(json_t *except)
{
	json_t *docs = e2e_agent_docs(agent), *segs = mock_req("/__segments", NULL), *d;
	size_t i, want = 0;

	json_array_foreach(docs, i, d) {
		const char *id = e2e_json_str(d, "id");
		bool skip = false;
		json_t *x;
		size_t k;

		json_array_foreach(except, k, x) {
			if (!strcmp(json_string_value(x), id))
				skip = true;
		}
		if (skip) {
			if (delivered_count(segs, id))
				fail_msg("document %s should not be stored, it was %ld times", id,
					 delivered_count(segs, id));
			continue;
		}
		want++;
		if (delivered_count(segs, id) != 1)
			fail_msg("document %s stored %ld times, want exactly once\n--- doc: %s\n"
				 "--- agent log:\n%s",
				 id, delivered_count(segs, id), e2e_json_dump(d),
				 e2e_tail(e2e_agent_log(agent), 4000));
	}
	if (json_object_size(json_object_get(segs, "delivered")) != want)
		fail_msg("the mock stored %zu ids, the agent wrote %zu documents",
			 json_object_size(json_object_get(segs, "delivered")), want);
	assert_true(want > 0);
	json_decref(segs);
}

/* Every X-Ray request the mock saw (segments and sampling) was signed,
 * verified by the JS signer,
 * for service xray in `region`, with the session token signed when the
 * credentials have one (`token`). Returns the number of X-Ray requests. */
static size_t check_signatures(const char *region, bool token)
{
	json_t *log = mock_req("/__log", NULL), *e;
	size_t i, n = 0;

	json_array_foreach(log, i, e) {
		const char *path = e2e_json_str(e, "path");

		/* X-Ray calls: PutTraceSegments, and the sampler's
		 * GetSamplingRules / SamplingTargets through the same client */
		if (strcmp(path, "/TraceSegments") && strcmp(path, "/GetSamplingRules") &&
		    strcmp(path, "/SamplingTargets"))
			continue;
		n += !strcmp(path, "/TraceSegments");
		if (!json_is_true(e2e_json_get(e, "sig.ok")))
			fail_msg("X-Ray request %zu failed verification: %s", i, e2e_json_dump(e));
		assert_json_str(e, "sig.service", "xray");
		assert_json_str(e, "sig.region", region);
		if (token)
			assert_json_true(e, "sig.signedToken");
		else
			assert_json_str(e, "sig.token", "");
	}
	json_decref(log);
	assert_true(n > 0);
	return n;
}

/* The access key of the (first) 200 request that carried id. */
static const char *key_for(const char *id)
{
	json_t *log = mock_req("/__log", NULL), *e, *x;
	const char *key = NULL;
	size_t i, k;

	json_array_foreach(log, i, e) {
		if (json_integer_value(json_object_get(e, "status")) != 200 ||
		    strcmp(e2e_json_str(e, "path"), "/TraceSegments"))
			continue;
		json_array_foreach(json_object_get(e, "ids"), k, x) {
			if (!key && !strcmp(json_string_value(x), id))
				key = e2e_fmt("%s", e2e_json_str(e, "sig.akid"));
		}
	}
	json_decref(log);
	if (!key)
		fail_msg("no 200 request carried %s", id);
	return key;
}

static void stop_agent(void)
{
	assert_int_equal(e2e_agent_stop(agent), 0);
	e2e_agent_check_final(agent);
}

/* ------------------------------------------------------------------------ */
/* Group env: static credentials, retries, 400, unprocessed                 */
/* ------------------------------------------------------------------------ */

static int env_setup(void **state)
{
	const char *margs[] = { "--static", STATIC_KEY ":" STATIC_SECRET ":" STATIC_TOKEN, NULL };
	const char *args[] = { "--export", "api", "--xray-endpoint", NULL, NULL };
	const char *env[] = { "AWS_ACCESS_KEY_ID=" STATIC_KEY, "AWS_SECRET_ACCESS_KEY=" STATIC_SECRET,
			      "AWS_SESSION_TOKEN=" STATIC_TOKEN, "AWS_REGION=us-west-2",
			      "AWS_EC2_METADATA_DISABLED=true", NULL };

	e2e_group_setup(state);
	npm_ci();
	mock_start(margs);
	peer = e2e_peer_python();
	args[3] = e2e_fmt("http://127.0.0.1:%d", mock_port);
	agent = start_agent(args, env);
	if (!strstr(e2e_agent_log(agent), "export: api http://127.0.0.1:"))
		fail_msg("no 'export: api' line:\n%s", e2e_agent_log(agent));
	assert_non_null(strstr(e2e_agent_log(agent), "credentials env"));
	return 0;
}

static json_t *refused_ids;

/* 429, then 500, then a request the mock never answers in time: the same
 * batch is sent four times and stored once. */
static void test_env_retries(void **state)
{
	json_t *ids;

	(void)state;
	mock_script("[{\"status\":429},{\"status\":500},{\"hang\":7000}]");
	ids = traffic("retry", 4);
	wait_delivered(ids);
	json_decref(ids);
}

static void test_env_no_retry_on_400(void **state)
{
	json_t *before = mock_req("/__segments", NULL), *log, *e, *ids, *v;
	size_t i, k, n400 = 0, carried = 0;
	double end;

	(void)state;
	mock_script("[{\"status\":400}]");
	ids = traffic("bad", 1);
	/* wait for the 400, then give a retry time to (wrongly) happen */
	end = e2e_mono() + 10;
	while (e2e_mono() < end && !n400) {
		log = mock_req("/__log", NULL);
		json_array_foreach(log, i, e)
			n400 += json_integer_value(json_object_get(e, "status")) == 400;
		json_decref(log);
		if (!n400)
			e2e_sleep(0.2);
	}
	assert_int_equal(n400, 1);
	e2e_sleep(2.5);
	log = mock_req("/__log", NULL);
	refused_ids = json_array();
	json_array_foreach(log, i, e) {
		if (json_integer_value(json_object_get(e, "status")) != 400)
			continue;
		json_array_foreach(json_object_get(e, "ids"), k, v)
			json_array_append(refused_ids, v);
	}
	/* none of the refused ids was sent again */
	json_array_foreach(log, i, e) {
		json_t *x;

		json_array_foreach(json_object_get(e, "ids"), k, v) {
			size_t j;

			json_array_foreach(refused_ids, j, x)
				carried += json_equal(x, v);
		}
	}
	assert_int_equal(carried, json_array_size(refused_ids));
	json_decref(log);
	json_decref(before);
	json_decref(ids);
}

static void test_env_unprocessed(void **state)
{
	json_t *ids, *segs;
	double end = e2e_mono() + 15;

	(void)state;
	mock_script("[{\"unprocessed\":1}]");
	ids = traffic("unproc", 1);
	do {
		segs = mock_req("/__segments", NULL);
		if (json_array_size(json_object_get(segs, "unprocessed")))
			break;
		json_decref(segs);
		segs = NULL;
		e2e_sleep(0.2);
	} while (e2e_mono() < end);
	if (!segs)
		fail_msg("the mock never reported an unprocessed document");
	json_array_extend(refused_ids, json_object_get(segs, "unprocessed"));
	json_decref(segs);
	json_decref(ids);
}

static void test_env_zz_stop(void **state)
{
	(void)state;
	stop_agent();
	check_exactly_once(refused_ids);
	check_signatures("us-west-2", true);
	assert_int_equal(e2e_agent_counter(agent, "xray", "unprocessed"), 1);
	assert_true(e2e_agent_counter(agent, "xray", "retries") >= 3);
	assert_true(e2e_agent_counter(agent, "xray", "rejected") >= 1);
	assert_int_equal(e2e_agent_counter(agent, "xray", "failed"), 0);
	assert_int_equal(e2e_agent_counter(agent, "xray", "dropped_full"), 0);
	assert_int_equal(e2e_agent_counter(agent, "counters", "xray_dropped"), 0);
	assert_null(strstr(e2e_agent_log(agent), STATIC_SECRET));
	json_decref(refused_ids);
	refused_ids = NULL;
}

/* ------------------------------------------------------------------------ */
/* Group irsa: web identity, rotation, refresh                              */
/* ------------------------------------------------------------------------ */

#define IRSA_TOK1 "eyJhbGciOiJSUzI1NiJ9.first-token.sig1"
#define IRSA_TOK2 "eyJhbGciOiJSUzI1NiJ9.rotated-token.sig2"

static int irsa_setup(void **state)
{
	const char *args[] = { "--export", "api", "--xray-endpoint", NULL, NULL };
	const char *env[8];

	e2e_group_setup(state);
	npm_ci();
	mock_start(NULL);
	peer = e2e_peer_python();
	tok_file = e2e_fmt("%s/token", e2e_tmpdir());
	e2e_write_file(tok_file, IRSA_TOK1 "\n", strlen(IRSA_TOK1) + 1);
	args[3] = e2e_fmt("http://127.0.0.1:%d", mock_port);
	env[0] = "AWS_ROLE_ARN=arn:aws:iam::000000000000:role/xtap-e2e";
	env[1] = e2e_fmt("AWS_WEB_IDENTITY_TOKEN_FILE=%s", tok_file);
	env[2] = "AWS_ROLE_SESSION_NAME=xtap-e2e";
	env[3] = "AWS_REGION=ap-southeast-2";
	env[4] = e2e_fmt("AWS_ENDPOINT_URL_STS=http://127.0.0.1:%d", mock_port);
	env[5] = "AWS_EC2_METADATA_DISABLED=true";
	env[6] = NULL;
	agent = start_agent(args, env);
	assert_non_null(strstr(e2e_agent_log(agent), "credentials web-identity"));
	return 0;
}

/* STS requests the mock saw with this token; *last_key gets the key issued
 * by the last of them. */
static size_t sts_calls(const char *token, const char **last_key)
{
	json_t *log = mock_req("/__log", NULL), *e;
	size_t i, n = 0;

	json_array_foreach(log, i, e) {
		const char *t = e2e_json_str(e, "sts.token");

		if (!t || strcmp(t, token))
			continue;
		n++;
		assert_json_str(e, "sts.action", "AssumeRoleWithWebIdentity");
		assert_json_str(e, "sts.roleArn", "arn:aws:iam::000000000000:role/xtap-e2e");
		assert_json_str(e, "sts.session", "xtap-e2e");
		assert_json_true(e, "sig.ok"); /* sent unsigned */
		if (last_key && e2e_json_str(e, "issued"))
			*last_key = e2e_fmt("%s", e2e_json_str(e, "issued"));
	}
	json_decref(log);
	return n;
}

/* Keys the mock issued for this token. */
static bool issued_for(const char *token, const char *key)
{
	json_t *log = mock_req("/__log", NULL), *e;
	size_t i;
	bool found = false;

	json_array_foreach(log, i, e) {
		const char *t = e2e_json_str(e, "sts.token"), *k = e2e_json_str(e, "issued");

		if (t && k && !strcmp(t, token) && !strcmp(k, key))
			found = true;
	}
	json_decref(log);
	return found;
}

static void test_irsa_rotation(void **state)
{
	json_t *ids1, *ids2;
	const char *key1, *key2;
	double end;

	(void)state;
	ids1 = traffic("irsa1", 3);
	wait_delivered(ids1);
	key1 = key_for(json_string_value(json_array_get(ids1, 0)));
	assert_true(issued_for(IRSA_TOK1, key1));
	/* rotate the projected token, as the kubelet does */
	e2e_write_file(tok_file, IRSA_TOK2 "\n", strlen(IRSA_TOK2) + 1);
	end = e2e_mono() + 15;
	while (!sts_calls(IRSA_TOK2, NULL) && e2e_mono() < end)
		e2e_sleep(0.2);
	if (!sts_calls(IRSA_TOK2, NULL))
		fail_msg("the rotated token never reached STS in 15 s\n--- agent log:\n%s",
			 e2e_tail(e2e_agent_log(agent), 3000));
	/* let the credentials issued for the old token expire (6 s) */
	e2e_sleep(6.5);
	ids2 = traffic("irsa2", 3);
	wait_delivered(ids2);
	key2 = key_for(json_string_value(json_array_get(ids2, json_array_size(ids2) - 1)));
	assert_string_not_equal(key1, key2);
	if (!issued_for(IRSA_TOK2, key2))
		fail_msg("the key used after rotation (%s) was not issued for the new token", key2);
	assert_true(sts_calls(IRSA_TOK1, NULL) >= 1);
	json_decref(ids1);
	json_decref(ids2);
}

/* X-Ray says the credentials expired (403 ExpiredTokenException): the
 * agent asks for new ones at once and sends the batch again with them. */
static void test_irsa_expired_token(void **state)
{
	const char *key_before = NULL, *key_after = NULL, *used;
	size_t n0, n1;
	json_t *ids;

	(void)state;
	/* long-lived credentials from the next refresh on (within 3 s), so
	 * no scheduled refresh can happen during the check */
	json_decref(mock_req("/__config", "{\"credTtl\":3600}"));
	e2e_sleep(4);
	n0 = sts_calls(IRSA_TOK2, &key_before);
	mock_script("[{\"status\":403,\"type\":\"ExpiredTokenException\"}]");
	ids = traffic("expired", 1);
	wait_delivered(ids);
	n1 = sts_calls(IRSA_TOK2, &key_after);
	if (n1 != n0 + 1)
		fail_msg("want exactly one STS call forced by the 403, got %zu\n--- agent log:\n%s",
			 n1 - n0, e2e_tail(e2e_agent_log(agent), 3000));
	used = key_for(json_string_value(json_array_get(ids, json_array_size(ids) - 1)));
	assert_string_not_equal(key_before, key_after);
	assert_string_equal(used, key_after);
	json_decref(ids);
}

static void test_irsa_zz_stop(void **state)
{
	(void)state;
	stop_agent();
	check_exactly_once(NULL);
	check_signatures("ap-southeast-2", true);
	assert_true(e2e_agent_counter(agent, "xray", "creds_refreshed") >= 2);
}

/* ------------------------------------------------------------------------ */
/* Group pod: EKS Pod Identity                                              */
/* ------------------------------------------------------------------------ */

static int pod_setup(void **state)
{
	const char *args[] = { "--export", "api", "--xray-endpoint", NULL, NULL };
	const char *margs[] = { "--pod-token-file", NULL, NULL };
	const char *env[6];

	e2e_group_setup(state);
	npm_ci();
	tok_file = e2e_fmt("%s/eks-pod-identity-token", e2e_tmpdir());
	e2e_write_file(tok_file, "pod-token-1", 11);
	margs[1] = tok_file;
	mock_start(margs);
	peer = e2e_peer_python();
	args[3] = e2e_fmt("http://127.0.0.1:%d", mock_port);
	env[0] = e2e_fmt("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:%d/v1/credentials",
			 mock_port);
	env[1] = e2e_fmt("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=%s", tok_file);
	env[2] = "AWS_REGION=us-east-2";
	env[3] = "AWS_EC2_METADATA_DISABLED=true";
	env[4] = NULL;
	agent = start_agent(args, env);
	assert_non_null(strstr(e2e_agent_log(agent), "credentials container"));
	return 0;
}

static void test_pod_rotation(void **state)
{
	json_t *ids, *log, *e;
	size_t i, ok2 = 0;

	(void)state;
	ids = traffic("pod1", 2);
	wait_delivered(ids);
	json_decref(ids);
	e2e_write_file(tok_file, "pod-token-2", 11);
	e2e_sleep(7); /* past the old credentials' expiry: several refreshes */
	ids = traffic("pod2", 2);
	wait_delivered(ids);
	json_decref(ids);
	log = mock_req("/__log", NULL);
	json_array_foreach(log, i, e) {
		if (strcmp(e2e_json_str(e, "path"), "/v1/credentials"))
			continue;
		/* every fetch carried the file's contents of the moment */
		if (json_integer_value(json_object_get(e, "status")) != 200)
			fail_msg("Pod Identity fetch refused: %s", e2e_json_dump(e));
		ok2 += !strcmp(e2e_json_str(e, "pod.authorization"), "pod-token-2");
	}
	json_decref(log);
	assert_true(ok2 >= 1);
}

static void test_pod_zz_stop(void **state)
{
	(void)state;
	stop_agent();
	check_exactly_once(NULL);
	check_signatures("us-east-2", true);
}

/* ------------------------------------------------------------------------ */
/* Group imds: EC2 IMDSv2                                                   */
/* ------------------------------------------------------------------------ */

static int imds_setup(void **state)
{
	const char *args[] = { "--export", "api", "--xray-endpoint", NULL, NULL };
	const char *margs[] = { "--region", "eu-central-1", NULL };
	const char *env[3];

	e2e_group_setup(state);
	npm_ci();
	mock_start(margs);
	peer = e2e_peer_python();
	args[3] = e2e_fmt("http://127.0.0.1:%d", mock_port);
	env[0] = e2e_fmt("AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:%d", mock_port);
	env[1] = "AWS_EC2_METADATA_DISABLED";
	env[2] = NULL;
	agent = start_agent(args, env);
	assert_non_null(strstr(e2e_agent_log(agent), "region eu-central-1, credentials imds"));
	return 0;
}

static void test_imds(void **state)
{
	json_t *ids, *log, *e;
	size_t i, puts = 0;

	(void)state;
	ids = traffic("imds", 3);
	wait_delivered(ids);
	json_decref(ids);
	e2e_sleep(4); /* a refresh at half life: a new token PUT and GETs */
	log = mock_req("/__log", NULL);
	json_array_foreach(log, i, e) {
		const char *p = e2e_json_str(e, "path");

		if (!strncmp(p, "/latest/", 8) && json_integer_value(json_object_get(e, "status")) != 200)
			fail_msg("IMDS request refused: %s", e2e_json_dump(e));
		puts += !strcmp(p, "/latest/api/token");
	}
	json_decref(log);
	assert_true(puts >= 2);
}

static void test_imds_zz_stop(void **state)
{
	(void)state;
	stop_agent();
	check_exactly_once(NULL);
	check_signatures("eu-central-1", true);
}

/* ------------------------------------------------------------------------ */
/* Group auto: selection                                                    */
/* ------------------------------------------------------------------------ */

static int auto_setup(void **state)
{
	const char *margs[] = { "--static", STATIC_KEY ":" STATIC_SECRET, NULL };

	e2e_group_setup(state);
	npm_ci();
	mock_start(margs);
	peer = e2e_peer_python();
	return 0;
}

/* A region and credentials, no daemon address: the API. */
static void test_auto_api(void **state)
{
	const char *args[] = { "--export", "auto", "--no-daemon", NULL };
	const char *env[] = { "AWS_ACCESS_KEY_ID=" STATIC_KEY, "AWS_SECRET_ACCESS_KEY=" STATIC_SECRET,
			      "AWS_DEFAULT_REGION=sa-east-1", "AWS_EC2_METADATA_DISABLED=true",
			      NULL, NULL };
	json_t *ids;

	(void)state;
	env[4] = e2e_fmt("AWS_ENDPOINT_URL_XRAY=http://127.0.0.1:%d", mock_port);
	agent = start_agent(args, env);
	if (!strstr(e2e_agent_log(agent), "export: api") ||
	    !strstr(e2e_agent_log(agent), "(auto: region and credentials found)"))
		fail_msg("auto did not pick the API:\n%s", e2e_agent_log(agent));
	ids = traffic("auto", 2);
	wait_delivered(ids);
	json_decref(ids);
	assert_int_equal(e2e_agent_stop(agent), 0);
	e2e_agent_check_final(agent);
	check_signatures("sa-east-1", false);
	/* said once ("xtap: export: submitted=" is the exporter's counters) */
	assert_int_equal(e2e_count_str(e2e_agent_log(agent), "xtap: export: api"), 1);
	assert_null(strstr(e2e_agent_log(agent), "xtap: export: daemon"));
}

/* Neither: the daemon. */
static void test_auto_daemon_without_creds(void **state)
{
	const char *args[] = { "--export", "auto", "--no-daemon", NULL };
	const char *env[] = { "AWS_EC2_METADATA_DISABLED=true", NULL };

	(void)state;
	agent = start_agent(args, env);
	if (!strstr(e2e_agent_log(agent),
		    "export: daemon (auto: no AWS region and no credentials)"))
		fail_msg("auto did not pick the daemon:\n%s", e2e_agent_log(agent));
	assert_int_equal(e2e_agent_stop(agent), 0);
	/* a region alone is not enough */
	{
		const char *env2[] = { "AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=us-west-1",
				       NULL };

		agent = start_agent(args, env2);
		if (!strstr(e2e_agent_log(agent), "export: daemon (auto: no AWS credentials)"))
			fail_msg("auto did not pick the daemon:\n%s", e2e_agent_log(agent));
		assert_int_equal(e2e_agent_stop(agent), 0);
	}
}

/* Credentials and region, but the harness's daemon address: the daemon,
 * and the documents go over UDP, none to the API. */
static void test_auto_daemon_address_wins(void **state)
{
	const char *args[] = { "--export", "auto", NULL };
	const char *env[] = { "AWS_ACCESS_KEY_ID=" STATIC_KEY, "AWS_SECRET_ACCESS_KEY=" STATIC_SECRET,
			      "AWS_REGION=sa-east-1", "AWS_EC2_METADATA_DISABLED=true", NULL, NULL };
	json_t *segs_before, *segs_after;
	double end;

	(void)state;
	env[4] = e2e_fmt("AWS_ENDPOINT_URL_XRAY=http://127.0.0.1:%d", mock_port);
	segs_before = mock_req("/__segments", NULL);
	agent = start_agent(args, env);
	if (!strstr(e2e_agent_log(agent), "export: daemon (auto: a daemon address is configured)"))
		fail_msg("auto did not keep the daemon:\n%s", e2e_agent_log(agent));
	json_decref(traffic("udp", 2));
	end = e2e_mono() + 10;
	while (json_array_size(e2e_agent_udp_docs(agent)) < 2 && e2e_mono() < end)
		e2e_sleep(0.1);
	assert_true(json_array_size(e2e_agent_udp_docs(agent)) >= 2);
	assert_int_equal(e2e_agent_stop(agent), 0);
	segs_after = mock_req("/__segments", NULL);
	assert_int_equal(json_object_size(json_object_get(segs_after, "delivered")),
			 json_object_size(json_object_get(segs_before, "delivered")));
	json_decref(segs_before);
	json_decref(segs_after);
}

/* An endpoint override and no credentials: unsigned requests (for a
 * signing proxy such as the daemon's TCP address). */
static void test_api_unsigned(void **state)
{
	const char *args[] = { "--export", "api", "--xray-endpoint", NULL, NULL };
	const char *env[] = { "AWS_EC2_METADATA_DISABLED=true", NULL };
	json_t *ids, *log, *e;
	size_t i, n = 0;

	(void)state;
	json_decref(mock_req("/__config", "{\"requireSigned\":false}"));
	args[3] = e2e_fmt("http://127.0.0.1:%d", mock_port);
	agent = start_agent(args, env);
	assert_non_null(strstr(e2e_agent_log(agent), "credentials none: unsigned"));
	ids = traffic("unsigned", 2);
	wait_delivered(ids);
	json_decref(ids);
	assert_int_equal(e2e_agent_stop(agent), 0);
	log = mock_req("/__log", NULL);
	json_array_foreach(log, i, e) {
		if (!json_is_true(e2e_json_get(e, "sig.unsigned")))
			continue;
		n++;
		assert_null(e2e_json_str(e, "headers.x-amz-security-token"));
	}
	json_decref(log);
	assert_true(n >= 1);
}

/* --export api with nothing to reach X-Ray with: a usage error. */
static void test_api_without_region_fails(void **state)
{
	const char *argv[] = { e2e_xtap_bin(), "run", "--export", "api", "--no-stdout", NULL };
	const char *env[] = { AWS_UNSETS, "AWS_EC2_METADATA_DISABLED=true", NULL };
	struct e2e_spawn_opts o = { .argv = argv, .env = env, .split_stderr = true };
	struct e2e_run r;

	(void)state;
	r = e2e_run_cmd(&o, 20);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--export api: no AWS region"));
}

/* ------------------------------------------------------------------------ */

static bool group_on(const char *name)
{
	const char *g = getenv("E2E_GROUPS");
	const char *p;
	size_t n = strlen(name);

	if (!g || !*g)
		return true;
	for (p = g; (p = strstr(p, name)); p += n) {
		if ((p == g || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return true;
	}
	return false;
}

int main(void)
{
	const struct CMUnitTest env_tests[] = {
		cmocka_unit_test_setup_teardown(test_env_retries, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_env_no_retry_on_400, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_env_unprocessed, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_env_zz_stop, e2e_test_setup, e2e_test_teardown),
	};
	const struct CMUnitTest irsa_tests[] = {
		cmocka_unit_test_setup_teardown(test_irsa_rotation, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_irsa_expired_token, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_irsa_zz_stop, e2e_test_setup, e2e_test_teardown),
	};
	const struct CMUnitTest pod_tests[] = {
		cmocka_unit_test_setup_teardown(test_pod_rotation, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_pod_zz_stop, e2e_test_setup, e2e_test_teardown),
	};
	const struct CMUnitTest imds_tests[] = {
		cmocka_unit_test_setup_teardown(test_imds, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_imds_zz_stop, e2e_test_setup, e2e_test_teardown),
	};
	const struct CMUnitTest auto_tests[] = {
		cmocka_unit_test_setup_teardown(test_auto_api, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_auto_daemon_without_creds, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_auto_daemon_address_wins, e2e_test_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_api_unsigned, e2e_test_setup, e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_api_without_region_fails, e2e_test_setup,
						e2e_test_teardown),
	};
	int failed = 0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (group_on("env"))
		failed += cmocka_run_group_tests_name("env", env_tests, env_setup, e2e_group_teardown);
	if (group_on("irsa"))
		failed += cmocka_run_group_tests_name("irsa", irsa_tests, irsa_setup,
						      e2e_group_teardown);
	if (group_on("pod"))
		failed += cmocka_run_group_tests_name("pod", pod_tests, pod_setup, e2e_group_teardown);
	if (group_on("imds"))
		failed += cmocka_run_group_tests_name("imds", imds_tests, imds_setup,
						      e2e_group_teardown);
	if (group_on("auto"))
		failed += cmocka_run_group_tests_name("auto", auto_tests, auto_setup,
						      e2e_group_teardown);
	return failed ? 1 : 0;
}
