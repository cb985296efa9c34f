/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Platform identity: the instance identity document, the EKS cluster name,
 * the IMDSv2 exchange against a fake IMDS on 127.0.0.1, and what segments
 * carry (aws.ec2 / aws.eks, origin, aws.xray.rule_name). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "identity.h"
#include "segment.h"

#define DOC                                                                                  \
	"{\"accountId\":\"123456789012\",\"architecture\":\"x86_64\","                      \
	"\"availabilityZone\":\"us-west-2c\",\"billingProducts\":null,"                     \
	"\"imageId\":\"ami-0abcdef1234567890\",\"instanceId\":\"i-0b5a4678fc325bg98\","    \
	"\"instanceType\":\"m5.large\",\"kernelId\":null,\"pendingTime\":"                  \
	"\"2026-01-01T00:00:00Z\",\"privateIp\":\"10.0.0.1\",\"ramdiskId\":null,"           \
	"\"region\":\"us-west-2\",\"version\":\"2017-09-30\"}"

static void test_parse_document(void **state)
{
	struct ec2_identity e;
	char big[200];

	(void)state;
	assert_int_equal(identity_parse_document(DOC, &e), 0);
	assert_string_equal(e.instance_id, "i-0b5a4678fc325bg98");
	assert_string_equal(e.availability_zone, "us-west-2c");
	assert_string_equal(e.instance_size, "m5.large");
	assert_string_equal(e.ami_id, "ami-0abcdef1234567890");
	assert_string_equal(e.region, "us-west-2");
	assert_string_equal(e.account_id, "123456789012");

	assert_int_equal(identity_parse_document("{\"instanceId\":\"i-1\",\"availabilityZone\":\"a\"}",
						 &e),
			 0);
	assert_string_equal(e.instance_size, "");
	assert_int_equal(identity_parse_document("not json", &e), -EINVAL);
	assert_int_equal(identity_parse_document("[]", &e), -EINVAL);
	assert_int_equal(identity_parse_document("{\"availabilityZone\":\"a\"}", &e), -EINVAL);
	assert_int_equal(identity_parse_document("{\"instanceId\":\"i-1\"}", &e), -EINVAL);
	assert_int_equal(identity_parse_document("{\"instanceId\":5,\"availabilityZone\":\"a\"}", &e),
			 -EINVAL);
	snprintf(big, sizeof(big), "{\"instanceId\":\"i-%0100d\",\"availabilityZone\":\"a\"}", 0);
	assert_int_equal(identity_parse_document(big, &e), -EINVAL);
	assert_string_equal(e.availability_zone, ""); /* nothing half-filled */
}

static void test_cluster_from_env(void **state)
{
	char out[EKS_CLUSTER_MAX + 1];

	(void)state;
	unsetenv("OTEL_RESOURCE_ATTRIBUTES");
	assert_false(identity_cluster_from_env(out));
	setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=x,k8s.cluster.name=prod-1,a=b", 1);
	assert_true(identity_cluster_from_env(out));
	assert_string_equal(out, "prod-1");
	setenv("OTEL_RESOURCE_ATTRIBUTES", "k8s.cluster.name=my%20cluster", 1);
	assert_true(identity_cluster_from_env(out));
	assert_string_equal(out, "my cluster");
	setenv("OTEL_RESOURCE_ATTRIBUTES", "xk8s.cluster.name=no,k8s.cluster.namex=no", 1);
	assert_false(identity_cluster_from_env(out));
	setenv("OTEL_RESOURCE_ATTRIBUTES", "k8s.cluster.name=", 1);
	assert_false(identity_cluster_from_env(out));
	unsetenv("OTEL_RESOURCE_ATTRIBUTES");
}

static void test_platform_parse(void **state)
{
	enum xtap_platform p;

	(void)state;
	assert_int_equal(identity_platform_parse("auto", &p), 0);
	assert_int_equal(p, PLATFORM_AUTO);
	assert_int_equal(identity_platform_parse("eks", &p), 0);
	assert_int_equal(p, PLATFORM_EKS);
	assert_int_equal(identity_platform_parse("none", &p), 0);
	assert_int_equal(p, PLATFORM_NONE);
	assert_int_equal(identity_platform_parse("EC2", &p), -EINVAL);
}

static void test_start_modes(void **state)
{
	static struct xtap_identity id;
	const struct xtap_identity *g;
	char err[256] = "";
	char long_name[EKS_CLUSTER_MAX + 2];

	(void)state;
	assert_int_equal(identity_start(&id, PLATFORM_AUTO, "prod", err, sizeof(err)), 0);
	g = identity_get(&id);
	assert_non_null(g);
	assert_int_equal(g->platform, PLATFORM_EKS);
	assert_string_equal(g->origin, ORIGIN_EKS);
	assert_string_equal(g->cluster_name, "prod");
	identity_stop(&id);

	assert_int_equal(identity_start(&id, PLATFORM_EKS, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cluster name"));
	memset(long_name, 'c', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(identity_start(&id, PLATFORM_EKS, long_name, err, sizeof(err)), -EINVAL);

	assert_int_equal(identity_start(&id, PLATFORM_NONE, "prod", err, sizeof(err)), 0);
	assert_null(identity_get(&id));
	identity_stop(&id);

	setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
	assert_int_equal(identity_start(&id, PLATFORM_EC2, NULL, err, sizeof(err)), 0);
	assert_null(identity_get(&id));
	assert_int_equal(id.platform, PLATFORM_NONE);
	identity_stop(&id);
	unsetenv("AWS_EC2_METADATA_DISABLED");
}

/* ------------------------------------------------------------------ */
/* A fake IMDS on 127.0.0.1                                            */
/* ------------------------------------------------------------------ */

struct fake_imds {
	int fd;
	int port;
	int token_status; /* answer to the token PUT */
	bool want_token; /* the document GET must carry the token */
	char log[4096]; /* request lines and token headers seen */
	pthread_t th;
};

static void *imds_thread(void *arg)
{
	struct fake_imds *f = arg;

	/* at most two exchanges (token, document), each bounded by 3 s */
	for (int i = 0; i < 2; i++) {
		struct pollfd p = { .fd = f->fd, .events = POLLIN };
		char req[4096], resp[2048];
		const char *body = "";
		size_t n = 0;
		int c, status = 404;

		if (poll(&p, 1, 3000) != 1)
			break;
		c = accept(f->fd, NULL, NULL);
		if (c < 0)
			break;
		while (n < sizeof(req) - 1) {
			struct pollfd q = { .fd = c, .events = POLLIN };
			ssize_t r;

			if (poll(&q, 1, 3000) != 1)
				break;
			r = read(c, req + n, sizeof(req) - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
			req[n] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[n] = '\0';
		strncat(f->log, req, strcspn(req, "\r"));
		strncat(f->log, strstr(req, "X-aws-ec2-metadata-token: tok123") ? " +token\n" : "\n",
			sizeof(f->log) - strlen(f->log) - 1);
		if (!strncmp(req, "PUT /latest/api/token ", 22)) {
			status = f->token_status;
			body = status == 200 ? "tok123" : "";
		} else if (!strncmp(req, "GET /latest/dynamic/instance-identity/document ", 47)) {
			bool has = strstr(req, "X-aws-ec2-metadata-token: tok123");

			status = !f->want_token || has ? 200 : 401;
			body = status == 200 ? DOC : "";
		}
		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", status,
			 strlen(body), body);
		/* a short write means the client gave up: its test fails */
		(void)!write(c, resp, strlen(resp));
		close(c);
	}
	return NULL;
}

static void imds_start(struct fake_imds *f, int token_status, bool want_token)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	char ep[64];

	memset(f, 0, sizeof(*f));
	f->token_status = token_status;
	f->want_token = want_token;
	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->fd, 4), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &al), 0);
	f->port = ntohs(a.sin_port);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/", f->port);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, 1);
	assert_int_equal(pthread_create(&f->th, NULL, imds_thread, f), 0);
}

static void imds_end(struct fake_imds *f)
{
	pthread_join(f->th, NULL);
	close(f->fd);
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
}

/* identity_get polled for up to 5 s. */
static const struct xtap_identity *wait_ready(struct xtap_identity *id)
{
	for (int i = 0; i < 500; i++) {
		const struct xtap_identity *g = identity_get(id);
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (g)
			return g;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void test_imds_v2(void **state)
{
	static struct xtap_identity id;
	struct fake_imds f;
	const struct xtap_identity *g;
	char err[128];

	(void)state;
	imds_start(&f, 200, true);
	assert_int_equal(identity_start(&id, PLATFORM_AUTO, NULL, err, sizeof(err)), 0);
	g = wait_ready(&id);
	assert_non_null(g);
	identity_stop(&id);
	imds_end(&f);
	assert_int_equal(g->platform, PLATFORM_EC2);
	assert_string_equal(g->origin, ORIGIN_EC2);
	assert_string_equal(g->ec2.instance_id, "i-0b5a4678fc325bg98");
	assert_string_equal(g->ec2.instance_size, "m5.large");
	assert_string_equal(f.log, "PUT /latest/api/token HTTP/1.1\n"
				   "GET /latest/dynamic/instance-identity/document HTTP/1.1 +token\n");
}

/* A token refused with 404: IMDSv1, the GET without a token. */
static void test_imds_v1_fallback(void **state)
{
	static struct xtap_identity id;
	struct fake_imds f;
	char err[128];

	(void)state;
	imds_start(&f, 404, false);
	assert_int_equal(identity_start(&id, PLATFORM_EC2, NULL, err, sizeof(err)), 0);
	assert_non_null(wait_ready(&id));
	identity_stop(&id);
	imds_end(&f);
	assert_string_equal(f.log, "PUT /latest/api/token HTTP/1.1\n"
				   "GET /latest/dynamic/instance-identity/document HTTP/1.1\n");
}

/* Nothing listening: no identity, and stop returns promptly. */
static void test_imds_absent(void **state)
{
	static struct xtap_identity id;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char err[128], ep[64];

	(void)state;
	/* a port that was just free and now has no listener */
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", ntohs(a.sin_port));
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, 1);
	assert_int_equal(identity_start(&id, PLATFORM_AUTO, NULL, err, sizeof(err)), 0);
	identity_stop(&id);
	assert_null(identity_get(&id));
	assert_int_equal(id.platform, PLATFORM_NONE);
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
}

/* ------------------------------------------------------------------ */
/* Segments                                                            */
/* ------------------------------------------------------------------ */

static char doc[SEGMENT_DOC_MAX];

static void txn(struct xtap_txn *t, uint8_t role)
{
	memset(t, 0, sizeof(*t));
	t->role = role;
	t->has_response = true;
	t->pid = 42;
	strcpy(t->comm, "node");
	strcpy(t->method, "GET");
	strcpy(t->target, "/ok");
	strcpy(t->host, "127.0.0.1:8080");
	t->has_host = true;
	strcpy(t->local_ip, "127.0.0.1");
	strcpy(t->peer_ip, "127.0.0.1");
	t->status = 200;
	t->content_length = -1;
	t->start_ns = 1795344132155000000ull;
	t->end_ns = 1795344132166000000ull;
}

static json_t *write_seg(const struct xtap_txn *t, const struct segment_config *c)
{
	struct trace_ctx ctx;
	json_error_t je;
	json_t *root;
	int n;

	segment_trace_ctx(t, &ctx);
	n = segment_write(t, &ctx, c, doc, sizeof(doc), NULL);
	assert_true(n > 0);
	root = json_loads(doc, JSON_PRESERVE_ORDER, &je);
	if (!root)
		fail_msg("bad JSON: %s", doc);
	return root;
}

static void keys(json_t *o, const char *want)
{
	char got[512] = "";
	const char *k;
	json_t *v;

	assert_non_null(o);
	json_object_foreach(o, k, v) {
		(void)v;
		if (got[0])
			strcat(got, ",");
		strcat(got, k);
	}
	assert_string_equal(got, want);
}

static void test_segment_ec2(void **state)
{
	static struct xtap_identity id;
	struct segment_config c = { .name = "app", .sdk_version = "1", .identity = &id,
				    .rule_name = "my-rule" };
	struct xtap_txn t;
	json_t *d;

	(void)state;
	memset(&id, 0, sizeof(id));
	id.platform = PLATFORM_EC2;
	id.origin = ORIGIN_EC2;
	assert_int_equal(identity_parse_document(DOC, &id.ec2), 0);
	txn(&t, XTAP_ROLE_SERVER);

	/* not ready yet: nothing */
	d = write_seg(&t, &c);
	keys(json_object_get(d, "aws"), "xray");
	assert_null(json_object_get(d, "origin"));
	json_decref(d);

	atomic_store(&id.ready, true);
	d = write_seg(&t, &c);
	keys(d, "trace_id,id,start_time,name,aws,origin,annotations,metadata,http,end_time");
	keys(json_object_get(d, "aws"), "ec2,xray");
	keys(json_object_get(json_object_get(d, "aws"), "ec2"),
	     "instance_id,availability_zone,instance_size,ami_id");
	assert_string_equal(json_string_value(json_object_get(d, "origin")), "AWS::EC2::Instance");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(json_object_get(d, "aws"), "ec2"),
						  "availability_zone")),
		"us-west-2c");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(json_object_get(d, "aws"), "xray"),
						  "rule_name")),
		"my-rule");
	json_decref(d);

	/* a client subsegment carries neither */
	txn(&t, XTAP_ROLE_CLIENT);
	d = write_seg(&t, &c);
	assert_null(json_object_get(d, "aws"));
	assert_null(json_object_get(d, "origin"));
	json_decref(d);
}

static void test_segment_eks(void **state)
{
	static struct xtap_identity id;
	struct segment_config c = { .name = "app", .sdk_version = "1", .identity = &id };
	struct xtap_txn t;
	json_t *d, *eks;

	(void)state;
	memset(&id, 0, sizeof(id));
	id.platform = PLATFORM_EKS;
	id.origin = ORIGIN_EKS;
	strcpy(id.cluster_name, "prod");
	atomic_store(&id.ready, true);
	txn(&t, XTAP_ROLE_SERVER);
	d = write_seg(&t, &c);
	eks = json_object_get(json_object_get(d, "aws"), "eks");
	keys(eks, "cluster_name");
	assert_string_equal(json_string_value(json_object_get(eks, "cluster_name")), "prod");
	assert_string_equal(json_string_value(json_object_get(d, "origin")), "AWS::EKS::Container");
	assert_null(json_object_get(json_object_get(json_object_get(d, "aws"), "xray"), "rule_name"));
	json_decref(d);

	strcpy(t.k8s.pod, "web-5d8f7-abcde");
	strcpy(t.k8s.container_id, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	d = write_seg(&t, &c);
	eks = json_object_get(json_object_get(d, "aws"), "eks");
	keys(eks, "cluster_name,pod,container_id");
	assert_string_equal(json_string_value(json_object_get(eks, "pod")), "web-5d8f7-abcde");
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_document),
		cmocka_unit_test(test_cluster_from_env),
		cmocka_unit_test(test_platform_parse),
		cmocka_unit_test(test_start_modes),
		cmocka_unit_test(test_imds_v2),
		cmocka_unit_test(test_imds_v1_fallback),
		cmocka_unit_test(test_imds_absent),
		cmocka_unit_test(test_segment_ec2),
		cmocka_unit_test(test_segment_eks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
