/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Pod objects as the Kubernetes API sends them → what xtap keeps: names,
 * the segment-name annotation or label, container ids by runtime, and the
 * owning workload (ReplicaSet → Deployment, Job → CronJob, the rest as
 * they are). Bad objects are refused whole. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "k8s_pod.h"

#define ID1 "2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c"
#define ID2 "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"
#define ID3 "1111111111111111111111111111111111111111111111111111111111111111"

/* kubectl get pod -o json, trimmed of what xtap ignores (spec mostly) */
static const char deployment_pod[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{"
	"\"creationTimestamp\":\"2024-05-01T10:00:00Z\",\"generateName\":\"web-5d8f7c9b6-\","
	"\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"5d8f7c9b6\"},"
	"\"name\":\"web-5d8f7c9b6-x2x4z\",\"namespace\":\"shop\","
	"\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"blockOwnerDeletion\":true,"
	"\"controller\":true,\"kind\":\"ReplicaSet\",\"name\":\"web-5d8f7c9b6\","
	"\"uid\":\"0f6a3c1e-0000-4c3b-9a1e-2b7c6d5e4f30\"}],"
	"\"resourceVersion\":\"12345\",\"uid\":\"4a5b3c1e-8f2d-4c3b-9a1e-2b7c6d5e4f30\"},"
	"\"spec\":{\"containers\":[{\"image\":\"nginx:1.25\",\"name\":\"app\"},"
	"{\"image\":\"envoy\",\"name\":\"proxy\"}],\"nodeName\":\"ip-10-0-1-2.ec2.internal\"},"
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.1.7\","
	"\"containerStatuses\":[{\"containerID\":\"containerd://" ID1 "\",\"image\":\"nginx:1.25\","
	"\"name\":\"app\",\"ready\":true,\"restartCount\":0,\"started\":true,"
	"\"state\":{\"running\":{\"startedAt\":\"2024-05-01T10:00:05Z\"}}},"
	"{\"containerID\":\"containerd://" ID2 "\",\"name\":\"proxy\",\"ready\":true}],"
	"\"initContainerStatuses\":[{\"containerID\":\"containerd://" ID3 "\",\"name\":\"init-db\","
	"\"ready\":true,\"state\":{\"terminated\":{\"exitCode\":0}}}]}}";

static json_t *load(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	if (!j)
		fail_msg("fixture is not JSON: %s", e.text);
	return j;
}

static int parse_str(const char *s, struct k8s_pod *p, unsigned int *cut)
{
	json_t *j = load(s);
	int r = k8s_pod_parse(j, p, cut);

	json_decref(j);
	return r;
}

/* A pod with the given metadata fragment and statuses fragment. */
static int parse_pod(const char *meta_extra, const char *status, struct k8s_pod *p)
{
	char buf[16384];

	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"p-1\",\"namespace\":\"ns\",\"uid\":\"u-1\"%s%s},"
		 "\"status\":{%s}}",
		 meta_extra[0] ? "," : "", meta_extra, status);
	return parse_str(buf, p, NULL);
}

static void test_deployment_pod(void **state)
{
	struct k8s_pod p;
	unsigned int cut = 99;

	(void)state;
	assert_int_equal(parse_str(deployment_pod, &p, &cut), 0);
	assert_int_equal(cut, 0);
	assert_string_equal(p.uid, "4a5b3c1e-8f2d-4c3b-9a1e-2b7c6d5e4f30");
	assert_string_equal(p.name, "web-5d8f7c9b6-x2x4z");
	assert_string_equal(p.ns, "shop");
	assert_string_equal(p.workload_kind, "Deployment");
	assert_string_equal(p.workload, "web");
	assert_string_equal(p.seg_name, "");
	assert_string_equal(p.mirror_uid, "");
	assert_int_equal(p.n_containers, 3);
	assert_string_equal(p.c[0].id, ID1);
	assert_string_equal(p.c[0].name, "app");
	assert_string_equal(p.c[1].id, ID2);
	assert_string_equal(p.c[1].name, "proxy");
	assert_string_equal(p.c[2].id, ID3);
	assert_string_equal(p.c[2].name, "init-db");
}

static void test_same_object_same_bytes(void **state)
{
	struct k8s_pod a, b;

	(void)state;
	/* the store compares parses with memcmp to skip no-op updates */
	memset(&a, 0x11, sizeof(a));
	memset(&b, 0x22, sizeof(b));
	assert_int_equal(parse_str(deployment_pod, &a, NULL), 0);
	assert_int_equal(parse_str(deployment_pod, &b, NULL), 0);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_workload_resolution(void **state)
{
	struct k8s_pod p;
	/* 2024-05-01T10:00:00Z = 1714557600 s = 28575960 min */
	const int64_t created = 1714557600;

	(void)state;
	memset(&p, 0, sizeof(p));
	k8s_pod_workload(&p, "ReplicaSet", "web-5d8f7c9b6", "5d8f7c9b6", created);
	assert_string_equal(p.workload_kind, "Deployment");
	assert_string_equal(p.workload, "web");
	/* dashes in the Deployment name stay */
	k8s_pod_workload(&p, "ReplicaSet", "my-api-v2-7f9c8d6b5", "7f9c8d6b5", 0);
	assert_string_equal(p.workload, "my-api-v2");
	/* a ReplicaSet of its own (no hash label, or a different one) */
	k8s_pod_workload(&p, "ReplicaSet", "frontend", NULL, created);
	assert_string_equal(p.workload_kind, "ReplicaSet");
	assert_string_equal(p.workload, "frontend");
	k8s_pod_workload(&p, "ReplicaSet", "web-5d8f7c9b6", "abc", created);
	assert_string_equal(p.workload_kind, "ReplicaSet");
	assert_string_equal(p.workload, "web-5d8f7c9b6");
	/* the hash alone is no name */
	k8s_pod_workload(&p, "ReplicaSet", "-5d8f7c9b6", "5d8f7c9b6", created);
	assert_string_equal(p.workload_kind, "ReplicaSet");
	k8s_pod_workload(&p, "StatefulSet", "db", "db-0-hash", created);
	assert_string_equal(p.workload_kind, "StatefulSet");
	assert_string_equal(p.workload, "db");
	k8s_pod_workload(&p, "DaemonSet", "fluent-bit", NULL, created);
	assert_string_equal(p.workload_kind, "DaemonSet");
	assert_string_equal(p.workload, "fluent-bit");
	/* a CronJob's Job: "<cronjob>-<scheduled minute>", pod made after it */
	k8s_pod_workload(&p, "Job", "nightly-report-28575960", NULL, created + 42);
	assert_string_equal(p.workload_kind, "CronJob");
	assert_string_equal(p.workload, "nightly-report");
	/* retried a day later: still the CronJob */
	k8s_pod_workload(&p, "Job", "nightly-report-28575960", NULL, created + 86400);
	assert_string_equal(p.workload_kind, "CronJob");
	/* a Job that only ends in digits: too far from its creation */
	k8s_pod_workload(&p, "Job", "backup-20240101", NULL, created);
	assert_string_equal(p.workload_kind, "Job");
	assert_string_equal(p.workload, "backup-20240101");
	/* scheduled in the future of the pod (beyond skew): a plain Job */
	k8s_pod_workload(&p, "Job", "x-28576080", NULL, created);
	assert_string_equal(p.workload_kind, "Job");
	/* unknown creation time: no guess */
	k8s_pod_workload(&p, "Job", "nightly-report-28575960", NULL, 0);
	assert_string_equal(p.workload_kind, "Job");
	k8s_pod_workload(&p, "Job", "migrate", NULL, created);
	assert_string_equal(p.workload_kind, "Job");
	assert_string_equal(p.workload, "migrate");
	k8s_pod_workload(&p, "Job", "migrate-", NULL, created);
	assert_string_equal(p.workload, "migrate-");
	/* any other owner, e.g. a custom controller */
	k8s_pod_workload(&p, "Rollout", "canary", NULL, created);
	assert_string_equal(p.workload_kind, "Rollout");
	assert_string_equal(p.workload, "canary");
	/* no owner */
	k8s_pod_workload(&p, NULL, NULL, NULL, created);
	assert_string_equal(p.workload_kind, "");
	assert_string_equal(p.workload, "");
	k8s_pod_workload(&p, "ReplicaSet", "", NULL, created);
	assert_string_equal(p.workload, "");
}

static void test_owner_refs(void **state)
{
	struct k8s_pod p;

	(void)state;
	/* the controller reference wins over the others */
	assert_int_equal(parse_pod("\"ownerReferences\":[{\"kind\":\"ConfigMap\",\"name\":\"cm\"},"
				   "{\"kind\":\"StatefulSet\",\"name\":\"db\",\"controller\":true}]",
				   "", &p),
			 0);
	assert_string_equal(p.workload_kind, "StatefulSet");
	assert_string_equal(p.workload, "db");
	/* none marked: the first */
	assert_int_equal(parse_pod("\"ownerReferences\":[{\"kind\":\"DaemonSet\",\"name\":\"ds\"}]",
				   "", &p),
			 0);
	assert_string_equal(p.workload_kind, "DaemonSet");
	/* a CronJob's Job through the creation timestamp */
	assert_int_equal(parse_pod("\"creationTimestamp\":\"2024-05-01T10:00:30Z\","
				   "\"ownerReferences\":[{\"kind\":\"Job\",\"name\":\"rep-28575960\","
				   "\"controller\":true}]",
				   "", &p),
			 0);
	assert_string_equal(p.workload_kind, "CronJob");
	assert_string_equal(p.workload, "rep");
	/* a static pod's mirror: owned by the Node; its cgroups carry the hash */
	assert_int_equal(parse_pod("\"annotations\":{\"kubernetes.io/config.mirror\":"
				   "\"6e0b2d6bd7c25fa6a4f3fa2d8a8b3b1c\"},\"ownerReferences\":[{"
				   "\"kind\":\"Node\",\"name\":\"ip-10-0-1-2\",\"controller\":true}]",
				   "", &p),
			 0);
	assert_string_equal(p.mirror_uid, "6e0b2d6bd7c25fa6a4f3fa2d8a8b3b1c");
	assert_string_equal(p.workload_kind, "Node");
	/* malformed references refuse the pod */
	assert_int_equal(parse_pod("\"ownerReferences\":[{\"kind\":5,\"name\":\"x\"}]", "", &p),
			 -EINVAL);
	assert_int_equal(parse_pod("\"ownerReferences\":[{\"kind\":\"Job\"}]", "", &p), -EINVAL);
	/* no references, an empty list: no workload */
	assert_int_equal(parse_pod("\"ownerReferences\":[]", "", &p), 0);
	assert_string_equal(p.workload, "");
}

static void test_segment_name_key(void **state)
{
	struct k8s_pod p;
	char meta[1200], longval[600];

	(void)state;
	assert_int_equal(parse_pod("\"annotations\":{\"xtap.io/segment-name\":\"checkout\"},"
				   "\"labels\":{\"xtap.io/segment-name\":\"from-label\"}",
				   "", &p),
			 0);
	assert_string_equal(p.seg_name, "checkout");
	assert_int_equal(parse_pod("\"labels\":{\"xtap.io/segment-name\":\"from-label\"}", "", &p), 0);
	assert_string_equal(p.seg_name, "from-label");
	/* an empty annotation does not hide the label */
	assert_int_equal(parse_pod("\"annotations\":{\"xtap.io/segment-name\":\"\"},"
				   "\"labels\":{\"xtap.io/segment-name\":\"lbl\"}",
				   "", &p),
			 0);
	assert_string_equal(p.seg_name, "lbl");
	/* other keys mean nothing */
	assert_int_equal(parse_pod("\"labels\":{\"app.kubernetes.io/name\":\"x\"}", "", &p), 0);
	assert_string_equal(p.seg_name, "");
	/* annotation values have no length limit: cut, never mid-character */
	memset(longval, 0, sizeof(longval));
	for (int i = 0; i < 200; i++)
		memcpy(longval + 2 * i, "\xc3\xa9", 2); /* é: 400 bytes */
	snprintf(meta, sizeof(meta), "\"annotations\":{\"xtap.io/segment-name\":\"a%s\"}", longval);
	assert_int_equal(parse_pod(meta, "", &p), 0);
	/* 253 bytes fit: 'a' + 126 é exactly */
	assert_int_equal(strlen(p.seg_name), sizeof(p.seg_name) - 1);
	assert_int_equal((unsigned char)p.seg_name[strlen(p.seg_name) - 1], 0xa9);
	/* without the 'a' the cut falls inside an é: 126 é, not 126.5 */
	snprintf(meta, sizeof(meta), "\"annotations\":{\"xtap.io/segment-name\":\"%s\"}", longval);
	assert_int_equal(parse_pod(meta, "", &p), 0);
	assert_int_equal(strlen(p.seg_name), sizeof(p.seg_name) - 2);
	assert_int_equal((unsigned char)p.seg_name[strlen(p.seg_name) - 1], 0xa9);
}

static void test_container_ids(void **state)
{
	struct k8s_pod p;
	unsigned int cut;
	char status[12000];
	size_t n = 0;

	(void)state;
	/* CRI-O and docker prefixes; a container not started yet; an id
	 * that is not 64 hex; ephemeral containers */
	assert_int_equal(parse_pod("",
				   "\"containerStatuses\":[{\"name\":\"a\",\"containerID\":\"cri-o://" ID1
				   "\"},{\"name\":\"b\",\"containerID\":\"\"},{\"name\":\"c\"},"
				   "{\"name\":\"d\",\"containerID\":\"containerd://abc\"}],"
				   "\"ephemeralContainerStatuses\":[{\"name\":\"debug\","
				   "\"containerID\":\"docker://" ID2 "\"}]",
				   &p),
			 0);
	assert_int_equal(p.n_containers, 2);
	assert_string_equal(p.c[0].name, "a");
	assert_string_equal(p.c[0].id, ID1);
	assert_string_equal(p.c[1].name, "debug");
	assert_string_equal(p.c[1].id, ID2);

	/* more than K8S_CONTAINERS_MAX: the first ones kept, the rest counted */
	n += (size_t)snprintf(status + n, sizeof(status) - n, "\"containerStatuses\":[");
	for (int i = 0; i < K8S_CONTAINERS_MAX + 3; i++)
		n += (size_t)snprintf(status + n, sizeof(status) - n,
				      "%s{\"name\":\"c%d\",\"containerID\":\"containerd://%064x\"}",
				      i ? "," : "", i, i + 1);
	snprintf(status + n, sizeof(status) - n, "]");
	{
		char buf[16384];
		json_t *j;

		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"big\",\"namespace\":\"ns\",\"uid\":\"u\"},"
			 "\"status\":{%s}}",
			 status);
		j = load(buf);
		assert_int_equal(k8s_pod_parse(j, &p, &cut), 0);
		json_decref(j);
	}
	assert_int_equal(p.n_containers, K8S_CONTAINERS_MAX);
	assert_int_equal(cut, 3);
	assert_string_equal(p.c[K8S_CONTAINERS_MAX - 1].name, "c31");

	/* a status list that is not a list, a container without a name */
	assert_int_equal(parse_pod("", "\"containerStatuses\":{}", &p), -EINVAL);
	assert_int_equal(parse_pod("", "\"containerStatuses\":[{\"containerID\":\"containerd://" ID1
				   "\"}]",
				   &p),
			 -EINVAL);
}

static void test_refused(void **state)
{
	struct k8s_pod p;
	char buf[1024];
	json_t *j;

	(void)state;
	assert_int_equal(parse_str("{}", &p, NULL), -EINVAL);
	assert_int_equal(parse_str("[]", &p, NULL), -EINVAL);
	assert_int_equal(parse_str("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"}}", &p, NULL),
			 -EINVAL);
	assert_int_equal(parse_str("{\"metadata\":{\"uid\":\"u\",\"namespace\":\"b\"}}", &p, NULL),
			 -EINVAL);
	assert_int_equal(parse_str("{\"metadata\":{\"uid\":\"u\",\"name\":\"a\"}}", &p, NULL), -EINVAL);
	assert_int_equal(parse_str("{\"metadata\":{\"uid\":\"\",\"name\":\"a\",\"namespace\":\"b\"}}",
				   &p, NULL),
			 -EINVAL);
	assert_int_equal(parse_str("{\"metadata\":{\"uid\":1,\"name\":\"a\",\"namespace\":\"b\"}}", &p,
				   NULL),
			 -EINVAL);
	/* a namespace is a DNS label: 64 characters is one too many */
	snprintf(buf, sizeof(buf), "{\"metadata\":{\"uid\":\"u\",\"name\":\"a\",\"namespace\":\"%064d\"}}",
		 0);
	assert_int_equal(parse_str(buf, &p, NULL), -EINVAL);
	snprintf(buf, sizeof(buf), "{\"metadata\":{\"uid\":\"u\",\"name\":\"a\",\"namespace\":\"%063d\"}}",
		 0);
	assert_int_equal(parse_str(buf, &p, NULL), 0);
	/* a refused pod leaves nothing behind */
	assert_int_equal(parse_pod("\"ownerReferences\":[{\"kind\":5}]", "", &p), -EINVAL);
	assert_string_equal(p.name, "");
	j = json_integer(3);
	assert_int_equal(k8s_pod_parse(j, &p, NULL), -EINVAL);
	json_decref(j);
	assert_int_equal(k8s_pod_parse(NULL, &p, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deployment_pod),
		cmocka_unit_test(test_same_object_same_bytes),
		cmocka_unit_test(test_workload_resolution),
		cmocka_unit_test(test_owner_refs),
		cmocka_unit_test(test_segment_name_key),
		cmocka_unit_test(test_container_ids),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
