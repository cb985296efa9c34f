/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* X-Ray API export: endpoint selection, the PutTraceSegments body (at most
 * 50 documents, each a JSON string), backoff bounds, the retry verdicts,
 * and the queue against a loopback HTTP server that scripts answers
 * (batches of 50, a retry after 429 and 503, no retry after 400). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "xray_api.h"

static const char *const env_names[] = { "AWS_ENDPOINT_URL_XRAY", "AWS_ENDPOINT_URL",
					 "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY" };

static int clear_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
		unsetenv(env_names[i]);
	return 0;
}

static void test_endpoint(void **state)
{
	char u[XRAY_ENDPOINT_MAX];
	bool ov = true;

	(void)state;
	assert_int_equal(xray_endpoint_select(NULL, "us-west-2", u, sizeof(u), &ov), 0);
	assert_string_equal(u, "https://xray.us-west-2.amazonaws.com");
	assert_false(ov);
	assert_int_equal(xray_endpoint_select(NULL, "cn-northwest-1", u, sizeof(u), &ov), 0);
	assert_string_equal(u, "https://xray.cn-northwest-1.amazonaws.com.cn");
	assert_int_equal(xray_endpoint_select(NULL, NULL, u, sizeof(u), &ov), -EINVAL);
	assert_int_equal(xray_endpoint_select("", "", u, sizeof(u), &ov), -EINVAL);
	/* the generic override, then the service one, then the flag */
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/", 1);
	assert_int_equal(xray_endpoint_select(NULL, "us-west-2", u, sizeof(u), &ov), 0);
	assert_string_equal(u, "http://127.0.0.1:4566");
	assert_true(ov);
	setenv("AWS_ENDPOINT_URL_XRAY", "https://xray-fips.us-east-1.amazonaws.com", 1);
	assert_int_equal(xray_endpoint_select(NULL, NULL, u, sizeof(u), &ov), 0);
	assert_string_equal(u, "https://xray-fips.us-east-1.amazonaws.com");
	assert_int_equal(xray_endpoint_select("http://127.0.0.1:2000", "x", u, sizeof(u), &ov), 0);
	assert_string_equal(u, "http://127.0.0.1:2000");
	assert_true(ov);
	assert_int_equal(xray_endpoint_select("127.0.0.1:2000", "x", u, sizeof(u), &ov), -EINVAL);
	assert_int_equal(xray_endpoint_select("http://127.0.0.1:2000", "x", u, 10, &ov), -ENOSPC);
	setenv("AWS_ENDPOINT_URL_XRAY", "", 1); /* empty: as if unset */
	assert_int_equal(xray_endpoint_select(NULL, NULL, u, sizeof(u), &ov), 0);
	assert_string_equal(u, "http://127.0.0.1:4566");
}

static void test_export_mode(void **state)
{
	enum xray_export_mode m;

	(void)state;
	assert_int_equal(xray_export_mode_parse("auto", &m), 0);
	assert_int_equal(m, XRAY_EXPORT_AUTO);
	assert_int_equal(xray_export_mode_parse("both", &m), 0);
	assert_int_equal(m, XRAY_EXPORT_BOTH);
	assert_int_equal(xray_export_mode_parse("none", &m), 0);
	assert_int_equal(m, XRAY_EXPORT_NONE);
	assert_int_equal(xray_export_mode_parse("API", &m), -EINVAL);
	assert_int_equal(xray_export_mode_parse("", &m), -EINVAL);
}

static void test_batch_escaping(void **state)
{
	static const char *const docs[] = {
		"{\"id\":\"1\",\"name\":\"a \\\"quoted\\\" name\"}",
		"{\"id\":\"2\",\"url\":\"http://h/p?q=1&r=\\\\x\"}\n",
		"{\"id\":\"3\",\"s\":\"caf\xc3\xa9 \xe2\x82\xac / </script>\"}",
		"{\"id\":\"4\",\"c\":\"\\u0001\\t\"}",
	};
	size_t lens[4], len = 0;
	json_t *root, *arr;
	char *body;

	(void)state;
	for (int i = 0; i < 4; i++)
		lens[i] = strlen(docs[i]);
	body = xray_batch_build(docs, lens, 4, &len);
	assert_non_null(body);
	assert_int_equal(len, strlen(body));
	assert_null(strchr(body, '\n')); /* compact, newline escaped */
	root = json_loads(body, 0, NULL);
	assert_non_null(root);
	assert_int_equal(json_object_size(root), 1);
	arr = json_object_get(root, "TraceSegmentDocuments");
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 4);
	for (int i = 0; i < 4; i++) {
		json_t *s = json_array_get(arr, i);

		assert_true(json_is_string(s));
		assert_int_equal(json_string_length(s), lens[i]);
		assert_memory_equal(json_string_value(s), docs[i], lens[i]);
	}
	json_decref(root);
	free(body);
	/* an embedded NUL survives as \u0000 */
	{
		const char *d = "ab\0cd";
		size_t l = 5;

		body = xray_batch_build(&d, &l, 1, &len);
		assert_non_null(body);
		assert_non_null(strstr(body, "ab\\u0000cd"));
		free(body);
	}
}

static void test_batch_bounds(void **state)
{
	const char *docs[XRAY_BATCH_MAX + 1];
	size_t lens[XRAY_BATCH_MAX + 1], len;
	char *body;
	json_t *root;

	(void)state;
	for (int i = 0; i <= XRAY_BATCH_MAX; i++) {
		docs[i] = "{\"id\":\"x\"}";
		lens[i] = strlen(docs[i]);
	}
	body = xray_batch_build(docs, lens, XRAY_BATCH_MAX, &len);
	assert_non_null(body);
	root = json_loads(body, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(root, "TraceSegmentDocuments")),
			 XRAY_BATCH_MAX);
	json_decref(root);
	free(body);
	errno = 0;
	assert_null(xray_batch_build(docs, lens, XRAY_BATCH_MAX + 1, &len));
	assert_int_equal(errno, EINVAL);
	assert_null(xray_batch_build(docs, lens, 0, &len));
	/* invalid UTF-8 is refused, not sent mangled */
	docs[3] = "{\"id\":\"\xff\xfe\"}";
	lens[3] = strlen(docs[3]);
	errno = 0;
	assert_null(xray_batch_build(docs, lens, 5, &len));
	assert_int_equal(errno, EINVAL);
}

static void test_backoff(void **state)
{
	(void)state;
	for (unsigned a = 0; a < 40; a++) {
		uint64_t cap = (uint64_t)XRAY_BACKOFF_BASE_MS << (a < 20 ? a : 20);

		if (cap > XRAY_BACKOFF_CAP_MS)
			cap = XRAY_BACKOFF_CAP_MS;
		assert_int_equal(xray_backoff_ms(a, 0), 0);
		assert_int_equal(xray_backoff_ms(a, UINT32_MAX), cap);
		assert_true(xray_backoff_ms(a, 0x80000000u) <= cap / 2 + 1);
		assert_true(xray_backoff_ms(a, 0x80000000u) + 1 >= cap / 2);
	}
	assert_int_equal(xray_backoff_ms(0, UINT32_MAX), XRAY_BACKOFF_BASE_MS);
	assert_int_equal(xray_backoff_ms(1000, UINT32_MAX), XRAY_BACKOFF_CAP_MS);
	/* the worst case of the retry schedule fits the budget */
	{
		uint64_t worst = 0;

		for (unsigned a = 0; a + 1 < XRAY_ATTEMPTS_MAX; a++)
			worst += xray_backoff_ms(a, UINT32_MAX) + XRAY_TIMEOUT_MS;
		assert_true(worst + XRAY_TIMEOUT_MS <= XRAY_RETRY_BUDGET_MS + XRAY_TIMEOUT_MS);
	}
}

static void test_classify(void **state)
{
	(void)state;
	assert_int_equal(xray_classify(0, 200), XRAY_OK);
	assert_int_equal(xray_classify(0, 204), XRAY_OK);
	assert_int_equal(xray_classify(0, 429), XRAY_RETRY);
	assert_int_equal(xray_classify(0, 500), XRAY_RETRY);
	assert_int_equal(xray_classify(0, 503), XRAY_RETRY);
	assert_int_equal(xray_classify(-ETIMEDOUT, 0), XRAY_RETRY);
	assert_int_equal(xray_classify(-ECONNREFUSED, 0), XRAY_RETRY);
	assert_int_equal(xray_classify(-EIO, 0), XRAY_RETRY);
	assert_int_equal(xray_classify(0, 400), XRAY_DROP);
	assert_int_equal(xray_classify(0, 403), XRAY_DROP);
	assert_int_equal(xray_classify(0, 413), XRAY_DROP);
	assert_int_equal(xray_classify(0, 301), XRAY_DROP);
	assert_int_equal(xray_classify(-ECANCELED, 0), XRAY_DROP);
	assert_int_equal(xray_classify(-ENOENT, 0), XRAY_DROP);
}

/* ---- the queue against a scripted loopback server ---- */

struct fake {
	int lfd, port;
	pthread_t th;
	volatile bool stop;
	pthread_mutex_t lock;
	const int *script; /* statuses to answer, then 200 */
	size_t n_script, next;
	size_t requests, docs_ok; /* documents in requests answered 200 */
	size_t batch_sizes[64];
};

static void serve_one(struct fake *f, int fd)
{
	static char buf[4 * 1024 * 1024];
	size_t len = 0, want = 0;
	int status = 200, n_docs = 0;
	char resp[256];
	json_t *root;

	for (int i = 0; i < 200; i++) { /* 200 x 25 ms at most */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		const char *h;
		ssize_t n;

		if (poll(&p, 1, 25) != 1)
			continue;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += n;
		buf[len] = '\0';
		h = strstr(buf, "\r\n\r\n");
		if (h && !want) {
			const char *cl = strcasestr(buf, "\r\nContent-Length:");

			want = (h + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
			if (strcasestr(buf, "\r\nExpect: 100-continue"))
				(void)!write(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		}
		if (want && len >= want)
			break;
	}
	root = json_loads(strstr(buf, "\r\n\r\n") ? strstr(buf, "\r\n\r\n") + 4 : "", 0, NULL);
	n_docs = json_array_size(json_object_get(root, "TraceSegmentDocuments"));
	json_decref(root);
	pthread_mutex_lock(&f->lock);
	if (f->next < f->n_script)
		status = f->script[f->next++];
	if (f->requests < 64)
		f->batch_sizes[f->requests] = n_docs;
	f->requests++;
	if (status == 200)
		f->docs_ok += n_docs;
	pthread_mutex_unlock(&f->lock);
	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
		 "Connection: close\r\n\r\n{}",
		 status);
	(void)!write(fd, resp, strlen(resp));
	close(fd);
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;

	while (!f->stop) {
		struct pollfd p = { .fd = f->lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 50) != 1)
			continue;
		fd = accept(f->lfd, NULL, NULL);
		if (fd >= 0)
			serve_one(f, fd);
	}
	return NULL;
}

static void fake_start(struct fake *f, const int *script, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	char url[64];

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->script = script;
	f->n_script = n;
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->lfd, 16), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
	f->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&f->th, NULL, fake_run, f), 0);
	/* an endpoint override and no credentials: sent unsigned */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f->port);
	assert_int_equal(xray_api_configure(url, "us-west-2"), 0);
}

static void fake_stop(struct fake *f)
{
	f->stop = true;
	pthread_join(f->th, NULL);
	close(f->lfd);
	pthread_mutex_destroy(&f->lock);
}

static void submit_n(struct xray_api *xa, int n)
{
	char doc[64];

	for (int i = 0; i < n; i++) {
		int l = snprintf(doc, sizeof(doc), "{\"id\":\"%016x\"}", i);

		assert_int_equal(xray_api_submit(xa, doc, l), 0);
	}
}

static void test_queue_batches(void **state)
{
	struct xray_api_stats st;
	struct xray_api *xa;
	struct fake f;

	(void)state;
	fake_start(&f, NULL, 0);
	xa = xray_api_start();
	assert_non_null(xa);
	submit_n(xa, 120);
	/* a document over the limit is refused at once */
	{
		char *big = malloc(XRAY_DOC_MAX + 1);

		memset(big, 'x', XRAY_DOC_MAX + 1);
		assert_int_equal(xray_api_submit(xa, big, XRAY_DOC_MAX + 1), -EMSGSIZE);
		free(big);
	}
	xray_api_stop(xa, 5000, &st);
	fake_stop(&f);
	assert_int_equal(st.submitted, 121);
	assert_int_equal(st.too_large, 1);
	assert_int_equal(st.sent, 120);
	assert_int_equal(st.batches, 3);
	assert_int_equal(f.docs_ok, 120);
	assert_int_equal(f.batch_sizes[0], 50);
	assert_int_equal(f.batch_sizes[1], 50);
	assert_int_equal(f.batch_sizes[2], 20);
	assert_int_equal(st.retries, 0);
	assert_int_equal(st.queue_depth, 0);
}

static void test_queue_retry(void **state)
{
	static const int script[] = { 429, 503, 200, 400 };
	struct xray_api_stats st;
	struct xray_api *xa;
	struct fake f;
	struct timespec ts = { 1, 500 * 1000000 };

	(void)state;
	fake_start(&f, script, 4);
	xa = xray_api_start();
	assert_non_null(xa);
	submit_n(xa, 3); /* sent after the idle time: 429, 503, then 200 */
	/* wait for the first batch to settle (idle 1 s + backoff <= 0.3 s) */
	for (int i = 0; i < 100; i++) {
		xray_api_get_stats(xa, &st);
		if (st.sent)
			break;
		nanosleep(&(struct timespec){ 0, 50 * 1000000 }, NULL);
	}
	nanosleep(&ts, NULL);
	submit_n(xa, 2); /* 400: dropped, not retried */
	xray_api_stop(xa, 5000, &st);
	fake_stop(&f);
	assert_int_equal(st.sent, 3);
	assert_int_equal(st.retries, 2);
	assert_int_equal(st.rejected, 2);
	assert_int_equal(st.failed, 0);
	assert_int_equal(f.requests, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_endpoint, clear_env, clear_env),
		cmocka_unit_test(test_export_mode),
		cmocka_unit_test(test_batch_escaping),
		cmocka_unit_test(test_batch_bounds),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_classify),
		cmocka_unit_test_setup_teardown(test_queue_batches, clear_env, clear_env),
		cmocka_unit_test_setup_teardown(test_queue_retry, clear_env, clear_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
