/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kubernetes pod metadata, end to end: real cgroups with kubelet names
 * under the cgroup v2 hierarchy, real servers (python3 http.server) moved
 * into them, the real agent (real BPF) pointed at tests/k8s-mock, a node
 * server on 127.0.0.1 that answers LIST and WATCH of /api/v1/pods in the
 * API server's JSON shapes over TLS with a bearer token.
 *
 * The cgroups, as a kubelet and its runtime would name them:
 *   A  systemd driver, containerd, Burstable:
 *      kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/
 *      cri-containerd-<id>.scope
 *   B  systemd driver, CRI-O, Guaranteed: kubepods.slice/kubepods-pod<uid_>.slice/crio-<id>.scope
 *   C  cgroupfs driver: kubepods/besteffort/pod<uid>/<id>
 *   D, E, F, G  like A
 *
 * Groups, one agent and one mock each:
 *   pods         A: Deployment (from its ReplicaSet) names the segment; every
 *                annotation and aws.eks field. B: the xtap.io/segment-name
 *                annotation over its StatefulSet. C: a bare pod: the container
 *                name. D: a pod of another node is not mapped (field
 *                selector); added on this node, it is. A deleted: no longer
 *                mapped. E: a change the watch never told (then 410 Gone):
 *                the agent lists again and finds it, a CronJob's Job. F: the
 *                token rotated and watch connections cut: the agent
 *                reconnects with the new token and follows a new pod.
 *   resync       a change no event announces is found by --kube-resync
 *   unreachable  no API server: segments still flow (container id, node),
 *                one warning, retries with backoff
 *   usage        --kubernetes on without a node name or an API address
 *
 *   make build/tests/test_kubernetes && build/tests/test_kubernetes
 *   E2E_GROUPS=pods,usage build/tests/test_kubernetes
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOCK_DIR "tests/k8s-mock"
#define NODE "ip-10-0-1-2.ec2.internal"
#define OTHER_NODE "ip-10-0-9-9.ec2.internal"
#define CLUSTER "e2e-cluster"
#define DOC_WAIT 10.0
#define CHURN_WAIT 15.0

/* containers: 64 hex each, one per server */
#define ID_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define ID_B "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
#define ID_C "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
#define ID_D "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"
#define ID_E "e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5"
#define ID_F "f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6"
#define ID_G "0707070707070707070707070707070707070707070707070707070707070707"
#define UID_A "0a000000-1111-4222-8333-444444444441"
#define UID_B "0b000000-1111-4222-8333-444444444442"
#define UID_C "0c000000-1111-4222-8333-444444444443"
#define UID_D "0d000000-1111-4222-8333-444444444444"
#define UID_D_OTHER "0d000000-1111-4222-8333-999999999999"
#define UID_E "0e000000-1111-4222-8333-444444444445"
#define UID_F "0f000000-1111-4222-8333-444444444446"
#define UID_G "07000000-1111-4222-8333-444444444447"

/* ------------------------------------------------------------------------ */
/* The mock API server                                                      */
/* ------------------------------------------------------------------------ */

struct mock {
	struct e2e_proc *proc;
	int port;
	const char *dir;
	const char *cert;
	const char *token_file;
	const char *url;
};

/* Write a file whole, then rename it in place: a reader never sees half a
 * token (the kubelet swaps a symlink for the same reason). */
static void write_atomic(const char *path, const char *s)
{
	const char *tmp = e2e_fmt("%s.new", path);

	e2e_write_file(tmp, s, strlen(s));
	if (rename(tmp, path))
		fail_msg("rename %s: %s", tmp, strerror(errno));
}

/* A self-signed certificate for 127.0.0.1, the API server's TLS. */
static void make_cert(const char *dir)
{
	const char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
			       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
			       e2e_fmt("%s/key.pem", dir), "-out", e2e_fmt("%s/cert.pem", dir),
			       "-days", "1", "-subj", "/CN=xtap-e2e-apiserver", "-addext",
			       "subjectAltName=IP:127.0.0.1", NULL };
	struct e2e_spawn_opts o = { .argv = argv, .split_stderr = true };
	struct e2e_run r = e2e_run_cmd(&o, 30);

	if (r.status != 0)
		fail_msg("openssl req failed (%d):\n%s", r.status, r.err);
}

static struct mock *mock_start(void)
{
	static struct mock mocks[8]; /* one per group */
	static size_t n_mocks;
	struct mock *m;
	struct e2e_spawn_opts o = { .cwd = MOCK_DIR, .split_stderr = true };
	double end;

	if (n_mocks >= sizeof(mocks) / sizeof(mocks[0]))
		fail_msg("more mocks than groups");
	m = &mocks[n_mocks++];
	memset(m, 0, sizeof(*m));
	e2e_require_bin("node");
	e2e_require_bin("openssl");
	if (access(MOCK_DIR "/server.js", R_OK))
		fail_msg(MOCK_DIR "/server.js not found: run from the repository root");
	m->dir = e2e_tmpdir();
	make_cert(m->dir);
	m->cert = e2e_fmt("%s/cert.pem", m->dir);
	m->token_file = e2e_fmt("%s/token", m->dir);
	write_atomic(m->token_file, "e2e-token-1\n");
	{
		const char *argv[] = { "node", "server.js", "--node", NODE, "--token-file",
				       m->token_file, "--tls-cert", m->cert, "--tls-key",
				       e2e_fmt("%s/key.pem", m->dir), "--bookmark-ms", "500", NULL };

		o.argv = argv;
		m->proc = e2e_spawn(&o);
	}
	end = e2e_mono() + 15;
	for (int i = 0; i < 1000 && !m->port && e2e_mono() < end; i++) {
		if (!e2e_proc_alive(m->proc))
			fail_msg("k8s-mock exited:\n%s", e2e_proc_err(m->proc));
		if (sscanf(e2e_proc_out(m->proc), "port %d", &m->port) != 1) {
			m->port = 0;
			e2e_sleep(0.05);
		}
	}
	if (!m->port)
		fail_msg("k8s-mock printed no port in 15 s:\n%s", e2e_proc_err(m->proc));
	m->url = e2e_fmt("https://127.0.0.1:%d", m->port);
	return m;
}

/* GET (body NULL) or POST a control path with the curl CLI; the JSON
 * answer, scope-owned. Fails on any error. */
static json_t *mock_req(struct mock *m, const char *path, const char *body)
{
	const char *url = e2e_fmt("%s%s", m->url, path);
	const char *argv[] = { "curl", "-sS", "-f", "--max-time", "10", "--noproxy", "*", "--cacert",
			       m->cert, body ? "--data-binary" : url, body, body ? url : NULL, NULL };
	struct e2e_spawn_opts o = { .argv = argv, .split_stderr = true };
	struct e2e_run r = e2e_run_cmd(&o, 20);
	json_error_t je;
	json_t *j, *arr, *owned;

	if (r.status != 0)
		fail_msg("k8s-mock %s: curl exit %d: %s\n%s", path, r.status, r.err,
			 e2e_tail(e2e_proc_err(m->proc), 2000));
	j = json_loads(r.out, 0, &je);
	if (!j)
		fail_msg("k8s-mock %s: not JSON (%s): %s", path, je.text, e2e_tail(r.out, 500));
	/* a scope-owned reference, as the harness hands out */
	arr = json_pack("[o]", j);
	owned = e2e_docs_filter(arr, NULL);
	json_decref(arr);
	return json_array_get(owned, 0);
}

struct pod_spec {
	const char *uid, *name, *ns, *node;
	const char *owner_kind, *owner_name, *template_hash;
	const char *created; /* creationTimestamp, or NULL */
	const char *name_annotation; /* xtap.io/segment-name, or NULL */
	const char *container, *container_id; /* containerd:// */
	const char *runtime; /* "containerd" (default) or "cri-o" */
};

/* A Pod as the API server sends it (the fields xtap reads, and some it
 * does not). */
static char *pod_json(const struct pod_spec *p)
{
	json_t *labels = json_pack("{s:s}", "app", p->name);
	json_t *meta = json_pack("{s:s, s:s, s:s, s:o}", "uid", p->uid, "name", p->name, "namespace",
				 p->ns, "labels", labels);
	json_t *pod;
	char *s;

	if (p->template_hash)
		json_object_set_new(labels, "pod-template-hash", json_string(p->template_hash));
	if (p->created)
		json_object_set_new(meta, "creationTimestamp", json_string(p->created));
	if (p->name_annotation)
		json_object_set_new(meta, "annotations",
				    json_pack("{s:s}", "xtap.io/segment-name", p->name_annotation));
	if (p->owner_kind)
		json_object_set_new(meta, "ownerReferences",
				    json_pack("[{s:s, s:s, s:s, s:b}]", "apiVersion", "apps/v1", "kind",
					      p->owner_kind, "name", p->owner_name, "controller", 1));
	pod = json_pack("{s:s, s:s, s:o, s:{s:s, s:[{s:s, s:s}]}, s:{s:s, s:[{s:s, s:s, s:b, s:i}]}}",
			"apiVersion", "v1", "kind", "Pod", "metadata", meta, "spec", "nodeName", p->node,
			"containers", "name", p->container, "image", "python:3", "status", "phase",
			"Running", "containerStatuses", "name", p->container, "containerID",
			e2e_fmt("%s://%s", p->runtime ? p->runtime : "containerd", p->container_id),
			"ready", 1, "restartCount", 0);
	assert_non_null(pod);
	s = json_dumps(pod, JSON_COMPACT);
	json_decref(pod);
	return s;
}

static void mock_add_pod(struct mock *m, const struct pod_spec *p, bool quiet)
{
	char *s = pod_json(p);

	mock_req(m, quiet ? "/__pod?quiet=1" : "/__pod", s);
	free(s);
}

static void mock_delete_pod(struct mock *m, const char *uid)
{
	mock_req(m, "/__delete", e2e_fmt("{\"uid\":\"%s\"}", uid));
}

/* Requests in the mock's log (since index `from`) that are lists (not
 * watches), and those that were consistent (no resourceVersion=0). */
static void count_lists(struct mock *m, size_t from, int *lists, int *consistent, int *bad_auth)
{
	json_t *log = mock_req(m, "/__log", NULL), *e;
	size_t i;

	*lists = *consistent = *bad_auth = 0;
	json_array_foreach(log, i, e) {
		const char *rv = json_string_value(json_object_get(json_object_get(e, "query"),
								   "resourceVersion"));

		if (i < from)
			continue;
		if (strcmp(json_string_value(json_object_get(e, "auth")), "ok"))
			(*bad_auth)++;
		if (json_is_true(json_object_get(e, "watch")))
			continue;
		(*lists)++;
		if (!rv || strcmp(rv, "0"))
			(*consistent)++;
	}
}

static size_t log_len(struct mock *m)
{
	return json_array_size(mock_req(m, "/__log", NULL));
}

/* ------------------------------------------------------------------------ */
/* Servers in pod cgroups, the agent, traffic                               */
/* ------------------------------------------------------------------------ */

/* "4a5b…" → "4a5b…" with '_' for '-': the systemd driver's escaping. */
static const char *systemd_uid(const char *uid)
{
	char *s = (char *)e2e_fmt("%s", uid);

	for (char *p = s; *p; p++)
		if (*p == '-')
			*p = '_';
	return s;
}

static const char *cg_containerd(const char *uid, const char *id)
{
	return e2e_fmt("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
		       "cri-containerd-%s.scope",
		       systemd_uid(uid), id);
}

/* A python http.server moved into TREE/rel. */
static struct e2e_peer *server_in(const char *tree, const char *rel)
{
	struct e2e_peer *p = e2e_peer_python();

	e2e_cgroup_enter(e2e_cgroup_dir(tree, rel), p->server_pid);
	return p;
}

static const char *const agent_env[] = {
	"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "NODE_NAME",
	"OTEL_RESOURCE_ATTRIBUTES", "http_proxy", "HTTP_PROXY", "https_proxy",
	"HTTPS_PROXY", "all_proxy", "ALL_PROXY", NULL,
};

/* The agent, traced on the servers' ports, pointed at api. */
static struct e2e_agent *agent_start(struct mock *m, const char *api, struct e2e_peer *const *srv,
				     size_t n, const char *const *extra)
{
	const char *a[64];
	size_t k = 0;
	struct e2e_agent_opts o = { .args = a, .env = agent_env };

	for (size_t i = 0; i < n; i++) {
		a[k++] = "--port";
		a[k++] = e2e_fmt("%d", srv[i]->port);
	}
	a[k++] = "--kubernetes";
	a[k++] = "on";
	a[k++] = "--kube-api";
	a[k++] = api;
	a[k++] = "--node-name";
	a[k++] = NODE;
	a[k++] = "--eks-cluster";
	a[k++] = CLUSTER;
	if (m) {
		a[k++] = "--kube-ca-file";
		a[k++] = m->cert;
		a[k++] = "--kube-token-file";
		a[k++] = m->token_file;
	}
	for (; extra && *extra && k < 62; extra++)
		a[k++] = *extra;
	a[k] = NULL;
	return e2e_agent_start(&o);
}

/* Wait for a line of the agent's log that contains s. */
static void wait_log(struct e2e_agent *a, const char *s, double timeout)
{
	double end = e2e_mono() + timeout;

	for (int i = 0; i < 10000 && e2e_mono() < end; i++) {
		if (strstr(e2e_agent_log(a), s))
			return;
		e2e_sleep(0.05);
	}
	fail_msg("no \"%s\" in the agent log after %.0f s:\n%s", s, timeout,
		 e2e_tail(e2e_agent_log(a), 3000));
}

/* GET /hello.txt?k=TAG from the server; its one segment. */
static json_t *get_segment(struct e2e_agent *a, struct e2e_peer *srv, const char *tag)
{
	const char *q = e2e_fmt("/hello.txt?k=%s", tag);
	struct e2e_run r = e2e_curl(e2e_url(srv->port, q), NULL);
	struct e2e_filter f = { .type = "segment", .port = srv->port, .url_contains = q };
	json_t *docs;

	if (r.status != 0 || strncmp(r.out, "200", 3))
		fail_msg("curl %s: exit %d, %s\n%s", q, r.status, r.out, r.err);
	docs = e2e_agent_expect_docs(a, &f, 1, DOC_WAIT);
	return json_array_get(docs, 0);
}

static bool has_pod(json_t *d)
{
	return e2e_json_get(d, "annotations.pod") != NULL;
}

/* Ask again (a new request each time) until the segment has (or has not)
 * pod metadata: the watch delivers changes within a moment, not at once. */
static json_t *get_until(struct e2e_agent *a, struct e2e_peer *srv, const char *tag, bool want_pod)
{
	double end = e2e_mono() + CHURN_WAIT;
	json_t *d = NULL;

	for (int i = 0; i < 500 && e2e_mono() < end; i++) {
		d = get_segment(a, srv, e2e_fmt("%s-%d", tag, i));
		if (has_pod(d) == want_pod)
			return d;
		e2e_sleep(0.2);
	}
	fail_msg("%s: no segment %s pod metadata within %.0f s; last:\n%s\n--- agent log:\n%s", tag,
		 want_pod ? "with" : "without", CHURN_WAIT, e2e_json_dump(d),
		 e2e_tail(e2e_agent_log(a), 3000));
	return NULL;
}

/* Everything a segment of a known pod carries. */
static void assert_pod_segment(json_t *d, const char *name, const char *pod, const char *ns,
			       const char *container, const char *workload, const char *kind,
			       const char *uid, const char *id)
{
	assert_json_str(d, "name", name);
	assert_json_str(d, "annotations.pod", pod);
	assert_json_str(d, "annotations.namespace", ns);
	assert_json_str(d, "annotations.container", container);
	assert_json_str(d, "annotations.workload", workload);
	assert_json_str(d, "annotations.node", NODE);
	assert_json_str(d, "origin", "AWS::EKS::Container");
	assert_json_str(d, "aws.eks.cluster_name", CLUSTER);
	assert_json_str(d, "aws.eks.pod", pod);
	assert_json_str(d, "aws.eks.container_id", id);
	assert_json_str(d, "metadata.k8s.pod_uid", uid);
	assert_json_str(d, "metadata.k8s.workload_kind", kind);
	/* the existing annotations stay */
	assert_json_str(d, "annotations.http_method", "GET");
	assert_json_int(d, "annotations.http_status", 200);
}

/* A segment of a process whose pod is not known: the cgroup still says
 * which container, and the node is still the node. */
static void assert_podless_segment(json_t *d, struct e2e_peer *srv, const char *id)
{
	assert_json_str(d, "name", srv->comm);
	assert_json_absent(d, "annotations.pod");
	assert_json_absent(d, "annotations.namespace");
	assert_json_absent(d, "annotations.workload");
	assert_json_absent(d, "aws.eks.pod");
	assert_json_absent(d, "metadata.k8s");
	assert_json_str(d, "annotations.node", NODE);
	assert_json_str(d, "aws.eks.container_id", id);
	assert_json_int(d, "metadata.xtap.pid", srv->server_pid);
}

/* ------------------------------------------------------------------------ */
/* Group: pods                                                              */
/* ------------------------------------------------------------------------ */

static struct mock *pm;
static struct e2e_agent *pa;
static struct e2e_peer *sa, *sb, *sc, *sd, *se, *sf;

static const struct pod_spec pod_a = {
	.uid = UID_A, .name = "web-5d8f7c9b6-x2x4z", .ns = "shop", .node = NODE,
	.owner_kind = "ReplicaSet", .owner_name = "web-5d8f7c9b6", .template_hash = "5d8f7c9b6",
	.container = "app", .container_id = ID_A,
};
static const struct pod_spec pod_b = {
	.uid = UID_B, .name = "db-0", .ns = "payments", .node = NODE,
	.owner_kind = "StatefulSet", .owner_name = "db", .name_annotation = "checkout-api",
	.container = "server", .container_id = ID_B, .runtime = "cri-o",
};
static const struct pod_spec pod_c = {
	.uid = UID_C, .name = "scratch", .ns = "batch", .node = NODE,
	.container = "worker", .container_id = ID_C,
};
/* D's container, claimed by a pod of another node: never this node's */
static const struct pod_spec pod_d_other = {
	.uid = UID_D_OTHER, .name = "impostor", .ns = "shop", .node = OTHER_NODE,
	.container = "impostor", .container_id = ID_D,
};
static const struct pod_spec pod_d = {
	.uid = UID_D, .name = "agent-ds-7xk2p", .ns = "kube-system", .node = NODE,
	.owner_kind = "DaemonSet", .owner_name = "agent-ds", .container = "agent", .container_id = ID_D,
};
/* 2024-05-01T10:00:00Z is minute 28575960 */
static const struct pod_spec pod_e = {
	.uid = UID_E, .name = "nightly-28575960-q8z7m", .ns = "batch", .node = NODE,
	.owner_kind = "Job", .owner_name = "nightly-28575960", .created = "2024-05-01T10:00:07Z",
	.container = "report", .container_id = ID_E,
};
static const struct pod_spec pod_f = {
	.uid = UID_F, .name = "api-6c9d7f8b5-p4k2x", .ns = "shop", .node = NODE,
	.owner_kind = "ReplicaSet", .owner_name = "api-6c9d7f8b5", .template_hash = "6c9d7f8b5",
	.container = "api", .container_id = ID_F,
};

static int pods_setup(void **state)
{
	const char *tree;

	e2e_group_setup(state);
	e2e_require_bin("python3");
	pm = mock_start();
	tree = e2e_cgroup_tree();
	sa = server_in(tree, cg_containerd(UID_A, ID_A));
	sb = server_in(tree, e2e_fmt("kubepods.slice/kubepods-pod%s.slice/crio-%s.scope",
				     systemd_uid(UID_B), ID_B));
	sc = server_in(tree, e2e_fmt("kubepods/besteffort/pod%s/%s", UID_C, ID_C));
	sd = server_in(tree, cg_containerd(UID_D, ID_D));
	se = server_in(tree, cg_containerd(UID_E, ID_E));
	sf = server_in(tree, cg_containerd(UID_F, ID_F));
	mock_add_pod(pm, &pod_a, false);
	mock_add_pod(pm, &pod_b, false);
	mock_add_pod(pm, &pod_c, false);
	mock_add_pod(pm, &pod_d_other, false);
	{
		struct e2e_peer *all[] = { sa, sb, sc, sd, se, sf };

		pa = agent_start(pm, pm->url, all, 6, NULL);
	}
	wait_log(pa, "k8s: 3 pods on node " NODE, 15);
	return 0;
}

static void test_deployment(void **state)
{
	json_t *d;

	(void)state;
	d = get_segment(pa, sa, "deploy");
	/* a ReplicaSet "web-<pod-template-hash>" is Deployment web's */
	assert_pod_segment(d, "web", "web-5d8f7c9b6-x2x4z", "shop", "app", "web", "Deployment",
			   UID_A, ID_A);
	assert_json_int(d, "metadata.xtap.pid", sa->server_pid);
}

static void test_annotation_crio(void **state)
{
	json_t *d;

	(void)state;
	d = get_segment(pa, sb, "annotated");
	/* the annotation names it, over the StatefulSet */
	assert_pod_segment(d, "checkout-api", "db-0", "payments", "server", "db", "StatefulSet",
			   UID_B, ID_B);
}

static void test_cgroupfs_bare_pod(void **state)
{
	json_t *d;

	(void)state;
	d = get_segment(pa, sc, "bare");
	/* no owner: the container names it */
	assert_json_str(d, "name", "worker");
	assert_json_str(d, "annotations.pod", "scratch");
	assert_json_str(d, "annotations.namespace", "batch");
	assert_json_str(d, "annotations.container", "worker");
	assert_json_absent(d, "annotations.workload");
	assert_json_absent(d, "metadata.k8s.workload_kind");
	assert_json_str(d, "aws.eks.container_id", ID_C);
	assert_json_str(d, "metadata.k8s.pod_uid", UID_C);
}

/* xtap trace reads the pods as the agent does: --pod and --namespace pick
 * pod A's exchange out of A's and B's, and the line names it. */
static void test_trace_pod(void **state)
{
	const char *argv[] = { e2e_xtap_bin(), "trace", "--port", e2e_fmt("%d", sa->port),
			       "--port", e2e_fmt("%d", sb->port), "--kubernetes", "on",
			       "--kube-api", pm->url, "--node-name", NODE,
			       "--kube-ca-file", pm->cert, "--kube-token-file", pm->token_file,
			       "--pod", "web-5d8f7c9b6-x2x4z", "--namespace", "shop",
			       "-j", "-c", "1", NULL };
	struct e2e_spawn_opts o = { .argv = argv, .env = agent_env, .split_stderr = true };
	struct e2e_proc *tr;
	json_t *line;
	json_error_t jerr;
	int i;

	(void)state;
	tr = e2e_spawn(&o);
	for (i = 0; i < 600 && !strstr(e2e_proc_err(tr), "k8s: 3 pods on node " NODE); i++) {
		if (!e2e_proc_alive(tr))
			fail_msg("trace exited:\n%s", e2e_proc_err(tr));
		e2e_sleep(0.05);
	}
	for (i = 0; i < 600 && !strstr(e2e_proc_err(tr), "tracing:"); i++)
		e2e_sleep(0.05);
	if (!strstr(e2e_proc_err(tr), "tracing:") ||
	    !strstr(e2e_proc_err(tr), "k8s: 3 pods on node " NODE))
		fail_msg("trace did not start with the pods:\n%s", e2e_proc_err(tr));
	/* B first: another pod and namespace, never shown */
	get_segment(pa, sb, "trace-b");
	get_segment(pa, sa, "trace-a");
	assert_int_equal(e2e_proc_wait(tr, 20), 0);
	line = json_loads(e2e_proc_out(tr), JSON_DISABLE_EOF_CHECK, &jerr);
	if (!line)
		fail_msg("trace printed no JSON line: %s\n%s", jerr.text, e2e_proc_out(tr));
	assert_json_str(line, "pod", "web-5d8f7c9b6-x2x4z");
	assert_json_str(line, "namespace", "shop");
	assert_json_str(line, "direction", "in");
	assert_json_str_contains(line, "url", "k=trace-a");
	assert_json_int(line, "pid", sa->server_pid);
	json_decref(line);
}

static void test_pod_added(void **state)
{
	json_t *d;

	(void)state;
	/* only a pod of another node claims D's container: not this node's */
	d = get_segment(pa, sd, "unknown");
	assert_podless_segment(d, sd, ID_D);
	mock_add_pod(pm, &pod_d, false);
	d = get_until(pa, sd, "added", true);
	assert_pod_segment(d, "agent-ds", "agent-ds-7xk2p", "kube-system", "agent", "agent-ds",
			   "DaemonSet", UID_D, ID_D);
}

static void test_pod_deleted(void **state)
{
	json_t *d;

	(void)state;
	mock_delete_pod(pm, UID_A);
	d = get_until(pa, sa, "deleted", false);
	assert_podless_segment(d, sa, ID_A);
}

static void test_relist_after_gone(void **state)
{
	size_t from = log_len(pm);
	int lists, consistent, bad_auth;
	json_t *d;

	(void)state;
	/* a change no watcher hears of, then the history expires: only a
	 * new list (after the 410) can find pod E */
	mock_add_pod(pm, &pod_e, true);
	mock_req(pm, "/__compact", "{}");
	d = get_until(pa, se, "relisted", true);
	/* a CronJob's Job: "<cronjob>-<scheduled minute>" */
	assert_pod_segment(d, "nightly", "nightly-28575960-q8z7m", "batch", "report", "nightly",
			   "CronJob", UID_E, ID_E);
	count_lists(pm, from, &lists, &consistent, &bad_auth);
	assert_true(lists >= 1);
	/* after a 410 the list comes from etcd, not the watch cache */
	assert_true(consistent >= 1);
	assert_int_equal(bad_auth, 0);
}

static void test_token_rotation_reconnect(void **state)
{
	size_t from;
	int lists, consistent, bad_auth;
	json_t *log, *e, *d;
	size_t i, watches_after = 0;

	(void)state;
	/* the old token is refused from now on; cutting the watches makes
	 * the agent reconnect, and it must read the new one */
	write_atomic(pm->token_file, "e2e-token-2-rotated\n");
	from = log_len(pm);
	mock_req(pm, "/__drop", "{}");
	mock_add_pod(pm, &pod_f, false);
	d = get_until(pa, sf, "rotated", true);
	assert_pod_segment(d, "api", "api-6c9d7f8b5-p4k2x", "shop", "api", "api", "Deployment",
			   UID_F, ID_F);
	count_lists(pm, from, &lists, &consistent, &bad_auth);
	assert_int_equal(bad_auth, 0);
	log = mock_req(pm, "/__log", NULL);
	json_array_foreach(log, i, e) {
		if (i >= from && json_is_true(json_object_get(e, "watch")))
			watches_after++;
	}
	assert_true(watches_after >= 1);
	/* everything asked so far named this node and sent JSON */
	json_array_foreach(log, i, e) {
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(e, "query"), "fieldSelector")),
				    "spec.nodeName=" NODE);
		assert_string_equal(json_string_value(json_object_get(e, "accept")), "application/json");
	}
}

static void test_pods_zz_stop(void **state)
{
	(void)state;
	assert_int_equal(e2e_agent_stop(pa), 0);
	e2e_agent_check_final(pa);
	/* the 410 after the compaction */
	assert_true(e2e_agent_counter(pa, "k8s", "gone") >= 1);
	/* the first list, and the one after the 410 */
	assert_true(e2e_agent_counter(pa, "k8s", "lists") >= 2);
	assert_true(e2e_agent_counter(pa, "k8s", "watches") >= 3);
	/* D added, A deleted, F added: the rest came by lists */
	assert_true(e2e_agent_counter(pa, "k8s", "events") >= 3);
	assert_true(e2e_agent_counter(pa, "k8s", "bookmarks") >= 1);
	assert_int_equal(e2e_agent_counter(pa, "k8s", "bad"), 0);
	assert_int_equal(e2e_agent_counter(pa, "k8s", "pods_dropped"), 0);
	/* A, C, D, E, F: 5 pods left, as the mock has them on this node */
	assert_int_equal(e2e_agent_counter(pa, "k8s", "pods"), 5);
	assert_true(e2e_agent_counter(pa, "k8s", "with_pod") >= 6);
	assert_true(e2e_agent_counter(pa, "k8s", "without_pod") >= 2);
	assert_int_equal(e2e_agent_counter(pa, "counters", "incomplete"), 0);
}

/* ------------------------------------------------------------------------ */
/* Group: resync                                                            */
/* ------------------------------------------------------------------------ */

static void test_resync(void **state)
{
	struct mock *m;
	struct e2e_peer *s;
	struct e2e_agent *a;
	const char *extra[] = { "--kube-resync", "2", NULL };
	static const struct pod_spec pod_g = {
		.uid = UID_G, .name = "quiet-1", .ns = "shop", .node = NODE,
		.container = "quiet", .container_id = ID_G,
	};
	int lists, consistent, bad_auth;
	json_t *d;

	(void)state;
	m = mock_start();
	s = server_in(e2e_cgroup_tree(), cg_containerd(UID_G, ID_G));
	a = agent_start(m, m->url, &s, 1, extra);
	wait_log(a, "k8s: 0 pods on node " NODE, 15);
	/* no event announces it, nothing expires: only a resync finds it */
	mock_add_pod(m, &pod_g, true);
	d = get_until(a, s, "resynced", true);
	assert_json_str(d, "name", "quiet");
	assert_json_str(d, "annotations.pod", "quiet-1");
	count_lists(m, 0, &lists, &consistent, &bad_auth);
	assert_true(lists >= 2);
	assert_int_equal(consistent, 0); /* resyncs read the API server's cache */
	assert_int_equal(e2e_agent_stop(a), 0);
	assert_int_equal(e2e_agent_counter(a, "k8s", "gone"), 0);
	assert_int_equal(e2e_agent_counter(a, "k8s", "errors"), 0);
}

/* ------------------------------------------------------------------------ */
/* Group: unreachable                                                       */
/* ------------------------------------------------------------------------ */

static void test_unreachable(void **state)
{
	struct e2e_peer *s;
	struct e2e_agent *a;
	const char *log;
	json_t *d;

	(void)state;
	s = server_in(e2e_cgroup_tree(), cg_containerd(UID_A, ID_A));
	/* a port nothing listens on */
	a = agent_start(NULL, e2e_fmt("http://127.0.0.1:%d", e2e_free_port()), &s, 1, NULL);
	wait_log(a, "k8s: pod list from", 10);
	d = get_segment(a, s, "no-api-1");
	assert_podless_segment(d, s, ID_A);
	/* a few backoff rounds (0.25 s, 0.5 s, 1 s, …) */
	e2e_sleep(2.5);
	d = get_segment(a, s, "no-api-2");
	assert_podless_segment(d, s, ID_A);
	assert_int_equal(e2e_agent_stop(a), 0);
	log = e2e_agent_log(a);
	/* said once, not once per retry */
	assert_int_equal(e2e_count_str(log, "k8s: pod list from"), 1);
	assert_true(e2e_agent_counter(a, "k8s", "list_errors") >= 3);
	assert_int_equal(e2e_agent_counter(a, "k8s", "lists"),
			 e2e_agent_counter(a, "k8s", "list_errors"));
	assert_int_equal(e2e_agent_counter(a, "counters", "segments"), 2);
}

/* ------------------------------------------------------------------------ */
/* Group: usage                                                             */
/* ------------------------------------------------------------------------ */

static void expect_usage(const char *const *args, const char *msg)
{
	const char *argv[16] = { e2e_xtap_bin(), "run", "--no-daemon", "--no-stdout" };
	struct e2e_spawn_opts o = { .argv = argv, .env = agent_env, .split_stderr = true };
	struct e2e_run r;
	size_t n = 4;

	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	r = e2e_run_cmd(&o, 20);
	assert_int_equal(r.status, 2);
	if (!strstr(r.err, msg))
		fail_msg("expected \"%s\" in:\n%s", msg, r.err);
	assert_null(strstr(r.err, "ready:"));
}

static void test_usage(void **state)
{
	(void)state;
	expect_usage((const char *const[]){ "--kubernetes", "on", NULL },
		     "--kubernetes on: no API address");
	expect_usage((const char *const[]){ "--kubernetes", "on", "--kube-api", "http://127.0.0.1:1",
					    NULL },
		     "--kubernetes on: no node name");
	expect_usage((const char *const[]){ "--kubernetes", "maybe", NULL },
		     "--kubernetes 'maybe': expected auto, on or off");
	expect_usage((const char *const[]){ "--kube-resync", "0", NULL }, "--kube-resync '0'");
	expect_usage((const char *const[]){ "--kube-api", "ftp://x", "--node-name", NODE, NULL },
		     "--kube-api: expected an http(s) URL");
	expect_usage((const char *const[]){ "--kube-api", "http://127.0.0.1:1", "--node-name", NODE,
					    "--kube-token-file", "/nonexistent/token", NULL },
		     "--kube-token-file /nonexistent/token");
}

/* ------------------------------------------------------------------------ */

int main(void)
{
	const struct CMUnitTest pods[] = {
		cmocka_unit_test(test_deployment),
		cmocka_unit_test(test_annotation_crio),
		cmocka_unit_test(test_cgroupfs_bare_pod),
		cmocka_unit_test(test_trace_pod),
		cmocka_unit_test(test_pod_added),
		cmocka_unit_test(test_pod_deleted),
		cmocka_unit_test(test_relist_after_gone),
		cmocka_unit_test(test_token_rotation_reconnect),
		cmocka_unit_test(test_pods_zz_stop),
	};
	const struct CMUnitTest resync[] = {
		cmocka_unit_test_setup_teardown(test_resync, e2e_test_setup, e2e_test_teardown),
	};
	const struct CMUnitTest unreachable[] = {
		cmocka_unit_test_setup_teardown(test_unreachable, e2e_test_setup, e2e_test_teardown),
	};
	const struct CMUnitTest usage[] = {
		cmocka_unit_test_setup_teardown(test_usage, e2e_test_setup, e2e_test_teardown),
	};
	int failed = 0;

	if (e2e_group_wanted("pods"))
		failed += cmocka_run_group_tests_name("pods", pods, pods_setup, e2e_group_teardown);
	if (e2e_group_wanted("resync"))
		failed += cmocka_run_group_tests_name("resync", resync, e2e_group_setup,
						      e2e_group_teardown);
	if (e2e_group_wanted("unreachable"))
		failed += cmocka_run_group_tests_name("unreachable", unreachable, e2e_group_setup,
						      e2e_group_teardown);
	if (e2e_group_wanted("usage"))
		failed += cmocka_run_group_tests_name("usage", usage, e2e_group_setup,
						      e2e_group_teardown);
	return failed ? 1 : 0;
}
