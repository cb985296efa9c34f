/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The pod store and the process cache: container id → pod, the pod uid
 * and mirror-uid fallbacks, the naming precedence, updates, deletes and
 * list syncs, the bounds (pods, processes) and what overflows them, and
 * processes read from a fake /proc: pid reuse (start time), exit, cgroup
 * identities, unreadable processes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "k8s_meta.h"

#define ID1 "2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c"
#define ID2 "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"
#define ID3 "3333333333333333333333333333333333333333333333333333333333333333"
#define UID1 "4a5b3c1e-8f2d-4c3b-9a1e-2b7c6d5e4f30"
#define UID1_ "4a5b3c1e_8f2d_4c3b_9a1e_2b7c6d5e4f30"
#define UID2 "11111111-2222-3333-4444-555555555555"
#define HASH "6e0b2d6bd7c25fa6a4f3fa2d8a8b3b1c"
#define NODE "ip-10-0-1-2.ec2.internal"
#define SEC 1000000000ull

static char proc_root[64];

static struct k8s_pod pod(const char *uid, const char *name, const char *kind, const char *workload,
			  const char *seg_name)
{
	struct k8s_pod p;

	memset(&p, 0, sizeof(p));
	strcpy(p.uid, uid);
	strcpy(p.name, name);
	strcpy(p.ns, "shop");
	strcpy(p.workload_kind, kind);
	strcpy(p.workload, workload);
	strcpy(p.seg_name, seg_name);
	return p;
}

static void add_ctr(struct k8s_pod *p, const char *id, const char *name)
{
	strcpy(p->c[p->n_containers].id, id);
	strcpy(p->c[p->n_containers].name, name);
	p->n_containers++;
}

static struct cgroup_ident cg(const char *id, const char *uid)
{
	struct cgroup_ident c;

	memset(&c, 0, sizeof(c));
	strcpy(c.container_id, id);
	strcpy(c.pod_uid, uid);
	c.runtime = id[0] ? CGROUP_RT_CONTAINERD : CGROUP_RT_NONE;
	return c;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	strcpy(proc_root, "/tmp/xtap-k8s-proc-XXXXXX");
	if (!mkdtemp(proc_root))
		return -1;
	return k8s_meta_init(NODE, proc_root);
}

static int teardown(void **state)
{
	(void)state;
	k8s_meta_destroy();
	nftw(proc_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

/* PROC/pid/{stat,cgroup} as the kernel writes them. */
static void fake_proc(unsigned int pid, unsigned long long start, const char *cgroup)
{
	char path[128], stat[512];

	snprintf(path, sizeof(path), "%s/%u", proc_root, pid);
	mkdir(path, 0755);
	/* a comm with a space and a parenthesis, as processes may name themselves */
	snprintf(stat, sizeof(stat),
		 "%u (my (odd) proc) S 1 %u %u 0 -1 4194560 500 0 0 0 10 5 0 0 20 0 4 0 %llu "
		 "123456789 1234 18446744073709551615 1 1 0 0 0 0 0 4096 16384 0 0 0 17 1 0 0 0 0 0\n",
		 pid, pid, pid, start);
	snprintf(path, sizeof(path), "%s/%u/stat", proc_root, pid);
	write_file(path, stat);
	snprintf(path, sizeof(path), "%s/%u/cgroup", proc_root, pid);
	write_file(path, cgroup);
}

static void gone_proc(unsigned int pid)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%u/stat", proc_root, pid);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%u/cgroup", proc_root, pid);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%u", proc_root, pid);
	rmdir(path);
}

static struct xtap_txn *fill(unsigned int pid, uint64_t now)
{
	static struct xtap_txn t;

	memset(&t, 0x5a, sizeof(t)); /* everything in k8s must be written */
	memset(&t.k8s, 0, sizeof(t.k8s));
	t.pid = pid;
	k8s_meta_fill_at(&t, now);
	return &t;
}

#define CG_CONTAINERD(uid_, id) \
	"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" uid_ \
	".slice/cri-containerd-" id ".scope\n"

/* ------------------------------------------------------------------------ */

static void test_lookup_by_container(void **state)
{
	struct k8s_pod p = pod(UID1, "web-5d8f7c9b6-x2x4z", "Deployment", "web", "");
	struct cgroup_ident c = cg(ID2, UID1);
	struct txn_k8s k;

	(void)state;
	add_ctr(&p, ID1, "app");
	add_ctr(&p, ID2, "proxy");
	assert_int_equal(k8s_meta_upsert(&p, 0), 0);
	assert_true(k8s_meta_lookup(&c, &k));
	assert_string_equal(k.pod, "web-5d8f7c9b6-x2x4z");
	assert_string_equal(k.pod_uid, UID1);
	assert_string_equal(k.ns, "shop");
	assert_string_equal(k.container, "proxy");
	assert_string_equal(k.container_id, ID2);
	assert_string_equal(k.workload, "web");
	assert_string_equal(k.workload_kind, "Deployment");
	assert_string_equal(k.name, "web"); /* the workload names it */
	assert_string_equal(k.node, NODE);

	/* unknown container, unknown pod: only what the cgroup said */
	c = cg(ID3, UID2);
	assert_false(k8s_meta_lookup(&c, &k));
	assert_string_equal(k.pod, "");
	assert_string_equal(k.container_id, ID3);
	assert_string_equal(k.name, "");
}

static void test_naming_precedence(void **state)
{
	struct k8s_pod a = pod(UID1, "a", "StatefulSet", "db", "checkout");
	struct k8s_pod b = pod(UID2, "b", "", "", "");
	struct cgroup_ident c;
	struct txn_k8s k;

	(void)state;
	add_ctr(&a, ID1, "app");
	add_ctr(&b, ID2, "worker");
	assert_int_equal(k8s_meta_upsert(&a, 0), 0);
	assert_int_equal(k8s_meta_upsert(&b, 0), 0);
	/* the annotation (or label) first */
	c = cg(ID1, "");
	assert_true(k8s_meta_lookup(&c, &k));
	assert_string_equal(k.name, "checkout");
	assert_string_equal(k.workload, "db");
	/* a bare pod: the container name */
	c = cg(ID2, "");
	assert_true(k8s_meta_lookup(&c, &k));
	assert_string_equal(k.name, "worker");
	assert_string_equal(k.workload, "");
	/* the pod known by uid only (the container not in its status yet):
	 * no container name to fall back on */
	c = cg(ID3, UID2);
	assert_true(k8s_meta_lookup(&c, &k));
	assert_string_equal(k.pod, "b");
	assert_string_equal(k.container, "");
	assert_string_equal(k.container_id, ID3);
	assert_string_equal(k.name, "");
}

static void test_mirror_uid(void **state)
{
	struct k8s_pod p = pod(UID1, "kube-proxy-ip-10-0-1-2", "Node", "ip-10-0-1-2", "");
	struct cgroup_ident c = cg("", HASH);
	struct txn_k8s k;

	(void)state;
	strcpy(p.mirror_uid, HASH);
	assert_int_equal(k8s_meta_upsert(&p, 0), 0);
	/* a static pod's cgroup carries the config hash, not the API uid */
	assert_true(k8s_meta_lookup(&c, &k));
	assert_string_equal(k.pod, "kube-proxy-ip-10-0-1-2");
	assert_string_equal(k.pod_uid, UID1);
}

static void test_update_delete_sync(void **state)
{
	struct k8s_pod p = pod(UID1, "web-1", "Deployment", "web", "");
	struct k8s_pod q = pod(UID2, "api-1", "Deployment", "api", "");
	struct cgroup_ident c1 = cg(ID1, ""), c2 = cg(ID2, ""), c3 = cg(ID3, "");
	struct k8s_meta_stats s;
	struct txn_k8s k;

	(void)state;
	add_ctr(&p, ID1, "app");
	add_ctr(&q, ID3, "api");
	assert_int_equal(k8s_meta_upsert(&p, 0), 0);
	assert_int_equal(k8s_meta_upsert(&q, 0), 0);
	/* the container restarted: a new id replaces the old */
	p.c[0] = (struct k8s_container){ ID2, "app" };
	assert_int_equal(k8s_meta_upsert(&p, 2), 0);
	assert_false(k8s_meta_lookup(&c1, &k));
	assert_true(k8s_meta_lookup(&c2, &k));
	assert_string_equal(k.pod, "web-1");
	k8s_meta_get_stats(&s);
	assert_int_equal(s.pods, 2);
	assert_int_equal(s.containers, 2);
	assert_int_equal(s.containers_cut, 2);

	k8s_meta_delete(UID1);
	assert_false(k8s_meta_lookup(&c2, &k));
	k8s_meta_delete(UID1); /* twice: nothing */
	k8s_meta_delete("no-such-uid");
	k8s_meta_get_stats(&s);
	assert_int_equal(s.pods, 1);
	assert_int_equal(s.containers, 1);

	/* a list that no longer has q, but has p again */
	k8s_meta_sync_begin();
	assert_int_equal(k8s_meta_upsert(&p, 0), 0);
	k8s_meta_sync_end();
	assert_false(k8s_meta_lookup(&c3, &k));
	assert_true(k8s_meta_lookup(&c2, &k));
	/* an unchanged pod in a list survives it */
	k8s_meta_sync_begin();
	assert_int_equal(k8s_meta_upsert(&p, 0), 0);
	k8s_meta_sync_end();
	assert_true(k8s_meta_lookup(&c2, &k));
	/* an empty list empties the store */
	k8s_meta_sync_begin();
	k8s_meta_sync_end();
	k8s_meta_get_stats(&s);
	assert_int_equal(s.pods, 0);
	assert_int_equal(s.containers, 0);
}

static void test_pod_bound(void **state)
{
	struct k8s_pod p;
	struct k8s_meta_stats s;
	struct cgroup_ident c;
	struct txn_k8s k;
	char uid[40];

	(void)state;
	for (int i = 0; i < K8S_PODS_MAX; i++) {
		snprintf(uid, sizeof(uid), "uid-%d", i);
		p = pod(uid, "p", "", "", "");
		snprintf(p.c[0].id, sizeof(p.c[0].id), "%064x", i + 1);
		strcpy(p.c[0].name, "c");
		p.n_containers = 1;
		assert_int_equal(k8s_meta_upsert(&p, 0), 0);
	}
	p = pod("one-too-many", "p", "", "", "");
	assert_int_equal(k8s_meta_upsert(&p, 0), -ENOSPC);
	k8s_meta_get_stats(&s);
	assert_int_equal(s.pods, K8S_PODS_MAX);
	assert_int_equal(s.containers, K8S_PODS_MAX);
	assert_int_equal(s.pods_dropped, 1);
	/* updates of known pods still go through */
	p = pod("uid-7", "renamed", "", "", "");
	assert_int_equal(k8s_meta_upsert(&p, 0), 0);
	c = cg("", "uid-7");
	assert_true(k8s_meta_lookup(&c, &k));
	assert_string_equal(k.pod, "renamed");
	/* and room made by a delete is used */
	k8s_meta_delete("uid-0");
	p = pod("one-too-many", "p", "", "", "");
	assert_int_equal(k8s_meta_upsert(&p, 0), 0);
}

static void test_process_cache(void **state)
{
	struct k8s_pod p = pod(UID1, "web-1", "Deployment", "web", "");
	struct k8s_meta_stats s;
	struct xtap_txn *t;

	(void)state;
	fake_proc(4242, 1000, "12:pids:/\n" CG_CONTAINERD(UID1_, ID1));
	/* the process is seen before its pod is known */
	t = fill(4242, 1 * SEC);
	assert_string_equal(t->k8s.container_id, ID1);
	assert_string_equal(t->k8s.pod, "");
	assert_string_equal(t->k8s.node, NODE);

	/* the pod arrives: the next request sees it, from the same cache entry */
	add_ctr(&p, ID1, "app");
	assert_int_equal(k8s_meta_upsert(&p, 0), 0);
	t = fill(4242, 2 * SEC);
	assert_string_equal(t->k8s.pod, "web-1");
	assert_string_equal(t->k8s.container, "app");
	assert_string_equal(t->k8s.name, "web");

	/* the cgroup file changing is not looked at again within the recheck
	 * period: the cache answers */
	fake_proc(4242, 1000, CG_CONTAINERD(UID1_, ID2));
	t = fill(4242, 3 * SEC);
	assert_string_equal(t->k8s.container_id, ID1);
	/* nor after it while the start time holds: the same process */
	t = fill(4242, 3 * SEC + K8S_PID_RECHECK_NS);
	assert_string_equal(t->k8s.container_id, ID1);

	/* the pod is deleted: the cached entry follows the store */
	k8s_meta_delete(UID1);
	t = fill(4242, 4 * SEC + K8S_PID_RECHECK_NS);
	assert_string_equal(t->k8s.pod, "");
	assert_string_equal(t->k8s.container_id, ID1);

	k8s_meta_get_stats(&s);
	assert_int_equal(s.procs, 1);
	assert_int_equal(s.with_pod, 3); /* at 2 s, 3 s and 3 s + recheck */
	assert_int_equal(s.without_pod, 2); /* before the pod, after its delete */
}

static void test_pid_reuse_and_exit(void **state)
{
	struct k8s_pod a = pod(UID1, "a-1", "Deployment", "a", "");
	struct k8s_pod b = pod(UID2, "b-1", "Deployment", "b", "");
	struct k8s_meta_stats s;
	struct xtap_txn *t;

	(void)state;
	add_ctr(&a, ID1, "a");
	add_ctr(&b, ID2, "b");
	assert_int_equal(k8s_meta_upsert(&a, 0), 0);
	assert_int_equal(k8s_meta_upsert(&b, 0), 0);
	fake_proc(77, 500, CG_CONTAINERD(UID1_, ID1));
	t = fill(77, 1 * SEC);
	assert_string_equal(t->k8s.pod, "a-1");

	/* pid 77 exits unseen and comes back in another pod: within the
	 * recheck period the old answer stands (the exit record is what
	 * forgets it early), after it the new start time is noticed */
	fake_proc(77, 900, "0::/kubepods.slice/kubepods-pod11111111_2222_3333_4444_555555555555"
			   ".slice/cri-containerd-" ID2 ".scope\n");
	t = fill(77, 2 * SEC);
	assert_string_equal(t->k8s.pod, "a-1");
	t = fill(77, 1 * SEC + K8S_PID_RECHECK_NS);
	assert_string_equal(t->k8s.pod, "b-1");
	k8s_meta_get_stats(&s);
	assert_int_equal(s.procs_reused, 1);

	/* an exit record forgets the process at once */
	fake_proc(77, 1200, CG_CONTAINERD(UID1_, ID1));
	k8s_meta_pid_exit(77);
	t = fill(77, 1 * SEC + K8S_PID_RECHECK_NS + 1);
	assert_string_equal(t->k8s.pod, "a-1");
	k8s_meta_pid_exit(12345); /* never seen: nothing */

	/* a process that is gone before it is looked at: only the node */
	gone_proc(77);
	k8s_meta_pid_exit(77);
	t = fill(77, 5 * SEC + K8S_PID_RECHECK_NS);
	assert_string_equal(t->k8s.pod, "");
	assert_string_equal(t->k8s.container_id, "");
	assert_string_equal(t->k8s.node, NODE);
	k8s_meta_get_stats(&s);
	assert_int_equal(s.proc_unreadable, 1);
	assert_int_equal(s.procs, 0);

	/* gone after it was cached: it keeps what it had */
	fake_proc(78, 5, CG_CONTAINERD(UID1_, ID1));
	t = fill(78, 1 * SEC);
	gone_proc(78);
	t = fill(78, 2 * SEC + K8S_PID_RECHECK_NS);
	assert_string_equal(t->k8s.pod, "a-1");
}

static void test_host_process(void **state)
{
	struct xtap_txn *t;

	(void)state;
	fake_proc(10, 1, "0::/system.slice/nginx.service\n");
	t = fill(10, SEC);
	assert_string_equal(t->k8s.pod, "");
	assert_string_equal(t->k8s.container_id, "");
	assert_string_equal(t->k8s.name, "");
	assert_string_equal(t->k8s.node, NODE);
	/* a stat file without a start time: unreadable, not cached */
	{
		char path[128];

		fake_proc(11, 1, "0::/\n");
		snprintf(path, sizeof(path), "%s/11/stat", proc_root);
		write_file(path, "11 (x) S 1 2\n");
		t = fill(11, SEC);
		assert_string_equal(t->k8s.container_id, "");
	}
}

static void test_process_bound(void **state)
{
	struct k8s_meta_stats s;
	struct xtap_txn *t;

	(void)state;
	for (unsigned int pid = 1000; pid < 1000 + K8S_PID_CACHE_MAX + 5; pid++) {
		char id[65];
		char cgl[256];

		snprintf(id, sizeof(id), "%064x", pid);
		snprintf(cgl, sizeof(cgl), "0::/docker/%s\n", id);
		fake_proc(pid, pid, cgl);
		t = fill(pid, SEC + pid);
		assert_string_equal(t->k8s.container_id, id);
	}
	k8s_meta_get_stats(&s);
	assert_int_equal(s.procs, K8S_PID_CACHE_MAX);
	assert_int_equal(s.procs_evicted, 5);
	/* the oldest went; the newest answer from the cache even after
	 * their files changed */
	fake_proc(1000 + K8S_PID_CACHE_MAX + 4, 1, "0::/\n");
	fake_proc(1000 + K8S_PID_CACHE_MAX + 4, 1000 + K8S_PID_CACHE_MAX + 4, "0::/\n");
	t = fill(1000 + K8S_PID_CACHE_MAX + 4, 2 * SEC);
	assert_string_not_equal(t->k8s.container_id, "");
	fake_proc(1000, 1000, "0::/\n");
	t = fill(1000, 2 * SEC);
	assert_string_equal(t->k8s.container_id, ""); /* read afresh */
}

static void test_off(void **state)
{
	struct xtap_txn *t;

	(void)state;
	k8s_meta_destroy();
	assert_false(k8s_meta_enabled());
	fake_proc(5, 1, CG_CONTAINERD(UID1_, ID1));
	t = fill(5, SEC);
	assert_null(t->k8s.node);
	assert_string_equal(t->k8s.container_id, "");
	k8s_meta_pid_exit(5);
	assert_int_equal(k8s_meta_init("", proc_root), -EINVAL);
	assert_int_equal(k8s_meta_init(NODE, proc_root), 0);
	assert_true(k8s_meta_enabled());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lookup_by_container, setup, teardown),
		cmocka_unit_test_setup_teardown(test_naming_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mirror_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_delete_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pod_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pid_reuse_and_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
