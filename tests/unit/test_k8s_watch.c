/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The Kubernetes watch protocol apart from the network: PodList pages,
 * watch events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR with 410 Gone
 * or another code), a Status body in place of a stream, stream bytes split
 * anywhere, oversized and broken lines, the backoff, and the start-up
 * configuration (in-cluster defaults, errors, a thread that stops at once
 * while the API is unreachable). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "k8s_meta.h"
#include "k8s_watch.h"

#define ID1 "2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c"
#define ID2 "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"

#define POD(name, uid, id, rv)                                                                   \
	"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" name "\","           \
	"\"namespace\":\"shop\",\"uid\":\"" uid "\",\"resourceVersion\":\"" rv "\","             \
	"\"labels\":{\"pod-template-hash\":\"5d8f7c9b6\"},\"ownerReferences\":[{\"kind\":"       \
	"\"ReplicaSet\",\"name\":\"web-5d8f7c9b6\",\"controller\":true}]},"                        \
	"\"spec\":{\"nodeName\":\"n1\"},\"status\":{\"containerStatuses\":[{\"name\":\"app\","     \
	"\"containerID\":\"containerd://" id "\"}]}}"

static struct k8s_sync sync_state;

static int setup(void **state)
{
	(void)state;
	memset(&sync_state, 0, sizeof(sync_state));
	return k8s_meta_init("n1", "/proc");
}

static int teardown(void **state)
{
	(void)state;
	k8s_sync_reset_stream(&sync_state);
	k8s_meta_destroy();
	return 0;
}

/* The pod name the store maps a container id to, "" if none. */
static const char *pod_of(const char *id)
{
	static struct txn_k8s k;
	struct cgroup_ident c = { .runtime = CGROUP_RT_CONTAINERD };

	strcpy(c.container_id, id);
	k8s_meta_lookup(&c, &k);
	return k.pod;
}

static enum k8s_result event(const char *line)
{
	return k8s_sync_event(&sync_state, line, strlen(line));
}

static void test_list_pages(void **state)
{
	static const char page1[] = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{"
				    "\"resourceVersion\":\"100\",\"continue\":\"tok/1+=\"},\"items\":["
				    POD("web-a", "u-a", ID1, "90") "]}";
	static const char page2[] = "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"101\"},"
				    "\"items\":[" POD("web-b", "u-b", ID2, "91") "]}";
	char cont[64];

	(void)state;
	k8s_meta_sync_begin();
	assert_int_equal(k8s_sync_list_page(&sync_state, page1, strlen(page1), cont, sizeof(cont)),
			 K8S_OK);
	assert_string_equal(cont, "tok/1+=");
	assert_string_equal(sync_state.rv, "100");
	assert_int_equal(k8s_sync_list_page(&sync_state, page2, strlen(page2), cont, sizeof(cont)),
			 K8S_OK);
	assert_string_equal(cont, "");
	assert_string_equal(sync_state.rv, "101");
	k8s_meta_sync_end();
	assert_string_equal(pod_of(ID1), "web-a");
	assert_string_equal(pod_of(ID2), "web-b");

	/* the next list has only web-b: web-a goes */
	{
		static const char empty_a[] = "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":"
					      "\"200\"},\"items\":[" POD("web-b", "u-b", ID2, "91") "]}";

		k8s_meta_sync_begin();
		assert_int_equal(k8s_sync_list_page(&sync_state, empty_a, strlen(empty_a), cont,
						    sizeof(cont)),
				 K8S_OK);
		k8s_meta_sync_end();
		assert_string_equal(pod_of(ID1), "");
		assert_string_equal(pod_of(ID2), "web-b");
	}
	/* "items": null is an empty list */
	{
		static const char none[] = "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"5\"},"
					   "\"items\":null}";

		assert_int_equal(k8s_sync_list_page(&sync_state, none, strlen(none), cont,
						    sizeof(cont)),
				 K8S_OK);
		assert_string_equal(sync_state.rv, "5");
	}
}

static void test_list_errors(void **state)
{
	static const char gone[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
				   "\"status\":\"Failure\",\"message\":\"The provided continue "
				   "parameter is too old\",\"reason\":\"Expired\",\"code\":410}";
	static const char forbidden[] = "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":"
					"\"pods is forbidden\",\"reason\":\"Forbidden\",\"code\":403}";
	char cont[8];

	(void)state;
	assert_int_equal(k8s_sync_list_page(&sync_state, gone, strlen(gone), cont, sizeof(cont)),
			 K8S_GONE);
	assert_non_null(strstr(sync_state.why, "too old"));
	assert_int_equal(k8s_sync_list_page(&sync_state, forbidden, strlen(forbidden), cont,
					    sizeof(cont)),
			 K8S_FAILED);
	assert_non_null(strstr(sync_state.why, "code 403"));
	assert_int_equal(k8s_sync_list_page(&sync_state, "<html>", 6, cont, sizeof(cont)), K8S_FAILED);
	assert_int_equal(k8s_sync_list_page(&sync_state, "", 0, cont, sizeof(cont)), K8S_FAILED);
	assert_int_equal(k8s_sync_list_page(&sync_state, "{\"items\":[]}", 12, cont, sizeof(cont)),
			 K8S_FAILED);
	/* a continue token that does not fit is an error, not a silent end */
	{
		static const char long_cont[] = "{\"metadata\":{\"continue\":\"0123456789\"},\"items\":[]}";

		assert_int_equal(k8s_sync_list_page(&sync_state, long_cont, strlen(long_cont), cont,
						    sizeof(cont)),
				 K8S_FAILED);
	}
	/* a bad pod in a good list is counted and skipped */
	{
		static const char one_bad[] = "{\"metadata\":{\"resourceVersion\":\"7\"},\"items\":["
					      "{\"metadata\":{\"name\":\"x\"}}," POD("ok", "u-ok", ID1, "6")
					      "]}";

		assert_int_equal(k8s_sync_list_page(&sync_state, one_bad, strlen(one_bad), cont,
						    sizeof(cont)),
				 K8S_OK);
		assert_int_equal(sync_state.bad, 1);
		assert_string_equal(pod_of(ID1), "ok");
	}
}

static void test_events(void **state)
{
	(void)state;
	strcpy(sync_state.rv, "100");
	assert_int_equal(event("{\"type\":\"ADDED\",\"object\":" POD("web-a", "u-a", ID1, "101") "}"),
			 K8S_OK);
	assert_string_equal(pod_of(ID1), "web-a");
	assert_string_equal(sync_state.rv, "101");
	/* the container restarted under a new id */
	assert_int_equal(event("{\"type\":\"MODIFIED\",\"object\":" POD("web-a", "u-a", ID2, "102")
			       "}"),
			 K8S_OK);
	assert_string_equal(pod_of(ID1), "");
	assert_string_equal(pod_of(ID2), "web-a");
	assert_string_equal(sync_state.rv, "102");
	assert_int_equal(event("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":"
			       "\"v1\",\"metadata\":{\"resourceVersion\":\"150\",\"annotations\":{"
			       "\"k8s.io/initial-events-end\":\"true\"}}}}"),
			 K8S_OK);
	assert_string_equal(sync_state.rv, "150");
	assert_string_equal(pod_of(ID2), "web-a");
	assert_int_equal(event("{\"type\":\"DELETED\",\"object\":" POD("web-a", "u-a", ID2, "151") "}"),
			 K8S_OK);
	assert_string_equal(pod_of(ID2), "");
	assert_string_equal(sync_state.rv, "151");
	assert_int_equal(sync_state.events, 3);
	assert_int_equal(sync_state.bookmarks, 1);
	assert_int_equal(sync_state.bad, 0);
}

static void test_event_errors(void **state)
{
	(void)state;
	strcpy(sync_state.rv, "100");
	assert_int_equal(event("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
			       "\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old "
			       "resource version: 100 (2345)\",\"reason\":\"Expired\",\"code\":410}}"),
			 K8S_GONE);
	assert_non_null(strstr(sync_state.why, "too old resource version"));
	assert_int_equal(event("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"message\":"
			       "\"internal error\",\"code\":500}}"),
			 K8S_FAILED);
	/* a non-200 answer streams a Status and no events */
	assert_int_equal(event("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
			       "\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}"),
			 K8S_FAILED);
	assert_non_null(strstr(sync_state.why, "Unauthorized"));
	/* what cannot be used is counted; the stream goes on; rv stays */
	assert_int_equal(event("not json"), K8S_OK);
	assert_int_equal(event("[1,2]"), K8S_OK);
	assert_int_equal(event("{\"type\":\"ADDED\"}"), K8S_OK);
	assert_int_equal(event("{\"type\":\"WEIRD\",\"object\":{}}"), K8S_OK);
	assert_int_equal(event("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}"),
			 K8S_OK);
	assert_int_equal(event("{\"type\":\"DELETED\",\"object\":{\"metadata\":{}}}"), K8S_OK);
	assert_int_equal(event("{\"object\":{}}"), K8S_OK);
	assert_int_equal(sync_state.bad, 7);
	assert_string_equal(sync_state.rv, "100");
}

static void test_feed_split_anywhere(void **state)
{
	static const char stream[] =
		"{\"type\":\"ADDED\",\"object\":" POD("web-a", "u-a", ID1, "201") "}\n"
		"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"202\"}}}\n"
		"\n"
		"{\"type\":\"ADDED\",\"object\":" POD("web-b", "u-b", ID2, "203") "}\n"
		"{\"type\":\"DELETED\",\"object\":" POD("web-a", "u-a", ID1, "204") "}\n";
	size_t n = strlen(stream);

	(void)state;
	/* every split point: each event applies exactly once, at its '\n' */
	for (size_t cut = 0; cut <= n; cut += 7) {
		k8s_meta_sync_begin();
		k8s_meta_sync_end(); /* empty the store */
		k8s_sync_reset_stream(&sync_state);
		assert_int_equal(k8s_sync_feed(&sync_state, stream, cut), K8S_OK);
		assert_int_equal(k8s_sync_feed(&sync_state, stream + cut, n - cut), K8S_OK);
		assert_string_equal(pod_of(ID1), "");
		assert_string_equal(pod_of(ID2), "web-b");
		assert_string_equal(sync_state.rv, "204");
		assert_int_equal(sync_state.len, 0);
	}
	/* one byte at a time */
	k8s_meta_sync_begin();
	k8s_meta_sync_end();
	k8s_sync_reset_stream(&sync_state);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(k8s_sync_feed(&sync_state, stream + i, 1), K8S_OK);
	assert_string_equal(pod_of(ID2), "web-b");
	/* an event is applied only once its line is complete */
	k8s_sync_reset_stream(&sync_state);
	{
		static const char partial[] = "{\"type\":\"ADDED\",\"object\":" POD("web-c", "u-c", ID1,
										    "300") "}";

		assert_int_equal(k8s_sync_feed(&sync_state, partial, strlen(partial)), K8S_OK);
		assert_string_equal(pod_of(ID1), "");
		assert_int_equal(k8s_sync_feed(&sync_state, "\n", 1), K8S_OK);
		assert_string_equal(pod_of(ID1), "web-c");
	}
}

static void test_feed_stops_and_skips(void **state)
{
	static const char gone[] = "{\"type\":\"ADDED\",\"object\":" POD("web-a", "u-a", ID1, "201")
				   "}\n{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
				   "\"message\":\"gone\"}}\n"
				   "{\"type\":\"ADDED\",\"object\":" POD("web-b", "u-b", ID2, "203") "}\n";
	char *big;
	size_t bn = K8S_EVENT_MAX + 100;

	(void)state;
	/* 410 stops the stream: what follows is not applied */
	assert_int_equal(k8s_sync_feed(&sync_state, gone, strlen(gone)), K8S_GONE);
	assert_int_equal(sync_state.stop, K8S_GONE);
	assert_string_equal(pod_of(ID1), "web-a");
	assert_string_equal(pod_of(ID2), "");

	/* a line past K8S_EVENT_MAX is dropped (counted), in pieces or not;
	 * the stream goes on with the next line */
	k8s_sync_reset_stream(&sync_state);
	big = malloc(bn);
	assert_non_null(big);
	memset(big, ' ', bn);
	memcpy(big, "{\"type\":\"ADDED\",\"object\":{", 26);
	for (size_t off = 0; off < bn; off += 65536)
		assert_int_equal(k8s_sync_feed(&sync_state, big + off, bn - off < 65536 ? bn - off : 65536),
				 K8S_OK);
	free(big);
	assert_int_equal(sync_state.bad, 1);
	assert_true(sync_state.skipping);
	{
		static const char rest[] = "}}\n{\"type\":\"ADDED\",\"object\":" POD("web-b", "u-b", ID2,
									       "204") "}\n";

		assert_int_equal(k8s_sync_feed(&sync_state, rest, strlen(rest)), K8S_OK);
	}
	assert_false(sync_state.skipping);
	assert_int_equal(sync_state.bad, 1);
	assert_string_equal(pod_of(ID2), "web-b");
	assert_true(sync_state.cap <= K8S_EVENT_MAX);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_true(k8s_backoff(0, 0.0) == K8S_BACKOFF_MIN_S / 2);
	assert_true(k8s_backoff(0, 0.999) < K8S_BACKOFF_MIN_S);
	assert_true(k8s_backoff(1, 0.0) == K8S_BACKOFF_MIN_S);
	assert_true(k8s_backoff(3, 0.5) == K8S_BACKOFF_MIN_S * 8 * 0.75);
	/* capped, whatever the attempt count */
	assert_true(k8s_backoff(20, 0.0) == K8S_BACKOFF_MAX_S / 2);
	assert_true(k8s_backoff(4000000000u, 0.999) < K8S_BACKOFF_MAX_S);
	assert_true(k8s_backoff(4000000000u, 0.999) >= K8S_BACKOFF_MAX_S / 2);
}

static void test_mode_parse(void **state)
{
	enum k8s_mode m;

	(void)state;
	assert_int_equal(k8s_mode_parse("auto", &m), 0);
	assert_int_equal(m, K8S_MODE_AUTO);
	assert_int_equal(k8s_mode_parse("on", &m), 0);
	assert_int_equal(m, K8S_MODE_ON);
	assert_int_equal(k8s_mode_parse("off", &m), 0);
	assert_int_equal(m, K8S_MODE_OFF);
	assert_int_equal(k8s_mode_parse("yes", &m), -EINVAL);
	assert_int_equal(k8s_mode_parse("", &m), -EINVAL);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_start_config(void **state)
{
	struct k8s_config c = { .mode = K8S_MODE_AUTO };
	char err[256];
	double t0;

	(void)state;
	k8s_meta_destroy();
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("NODE_NAME");
	/* auto outside a cluster: off, quietly */
	assert_int_equal(k8s_start(&c, err, sizeof(err)), 0);
	assert_false(k8s_meta_enabled());
	/* off: off */
	c.mode = K8S_MODE_OFF;
	c.api = "http://127.0.0.1:1";
	assert_int_equal(k8s_start(&c, err, sizeof(err)), 0);
	assert_false(k8s_meta_enabled());
	/* on without an address, without a node */
	c = (struct k8s_config){ .mode = K8S_MODE_ON };
	assert_int_equal(k8s_start(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no API address"));
	c.api = "http://127.0.0.1:1";
	assert_int_equal(k8s_start(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no node name"));
	/* in a cluster (auto) but without a node name: warned, off */
	setenv("KUBERNETES_SERVICE_HOST", "10.100.0.1", 1);
	c = (struct k8s_config){ .mode = K8S_MODE_AUTO };
	assert_int_equal(k8s_start(&c, err, sizeof(err)), 0);
	assert_false(k8s_meta_enabled());
	unsetenv("KUBERNETES_SERVICE_HOST");
	/* not a URL; files that cannot be read */
	c = (struct k8s_config){ .mode = K8S_MODE_ON, .api = "ftp://x", .node = "n1" };
	assert_int_equal(k8s_start(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--kube-api"));
	c.api = "http://127.0.0.1:1";
	c.token_file = "/nonexistent/token";
	assert_int_equal(k8s_start(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--kube-token-file /nonexistent/token"));
	c.token_file = NULL;
	c.ca_file = "/nonexistent/ca.crt";
	assert_int_equal(k8s_start(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--kube-ca-file"));
	assert_false(k8s_meta_enabled());

	/* an API that refuses connections: the thread starts, fails, backs
	 * off, and stops at once when asked */
	c.ca_file = NULL;
	setenv("NODE_NAME", "n1", 1);
	c.node = NULL;
	assert_int_equal(k8s_start(&c, err, sizeof(err)), 0);
	assert_true(k8s_meta_enabled());
	usleep(1500 * 1000);
	t0 = now_s();
	k8s_stop();
	assert_true(now_s() - t0 < 3.0);
	assert_false(k8s_meta_enabled());
	unsetenv("NODE_NAME");
	k8s_meta_init("n1", "/proc"); /* for teardown's symmetry */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feed_split_anywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feed_stops_and_skips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_config, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
