/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* /proc/PID/cgroup → container id, runtime and pod uid, on lines as
 * kubelets and runtimes write them: containerd, CRI-O and docker; the
 * systemd and cgroupfs drivers; cgroup v1 (a line per hierarchy), v2 and
 * hybrid; cgroup namespaces; nested clusters (kind); and what must not
 * match. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cgroup_id.h"

#define ID1 "2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c"
#define ID2 "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"
#define UID "4a5b3c1e-8f2d-4c3b-9a1e-2b7c6d5e4f30"
#define UID_ "4a5b3c1e_8f2d_4c3b_9a1e_2b7c6d5e4f30"
#define HASH "6e0b2d6bd7c25fa6a4f3fa2d8a8b3b1c" /* a static pod's config hash */

static struct cgroup_ident parse(const char *text)
{
	struct cgroup_ident c;

	memset(&c, 0x5a, sizeof(c)); /* everything must be written */
	cgroup_ident_parse(text, strlen(text), &c);
	return c;
}

static void expect(const char *text, const char *id, const char *uid, enum cgroup_runtime rt)
{
	struct cgroup_ident c;
	bool found;

	memset(&c, 0x5a, sizeof(c));
	found = cgroup_ident_parse(text, strlen(text), &c);
	assert_int_equal(found, id[0] || uid[0]);
	assert_string_equal(c.container_id, id);
	assert_string_equal(c.pod_uid, uid);
	assert_int_equal(c.runtime, rt);
}

static void test_containerd_systemd_v2(void **state)
{
	(void)state;
	/* EKS AL2023, Bottlerocket: containerd, systemd driver, cgroup v2 */
	expect("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	       ".slice/cri-containerd-" ID1 ".scope\n",
	       ID1, UID, CGROUP_RT_CONTAINERD);
	/* Guaranteed QoS: no QoS slice */
	expect("0::/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID2 ".scope\n", ID2,
	       UID, CGROUP_RT_CONTAINERD);
	expect("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	       ".slice/cri-containerd-" ID1 ".scope\n",
	       ID1, UID, CGROUP_RT_CONTAINERD);
	/* no trailing newline */
	expect("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	       ".slice/cri-containerd-" ID1 ".scope",
	       ID1, UID, CGROUP_RT_CONTAINERD);
}

static void test_containerd_cgroupfs_v1(void **state)
{
	(void)state;
	/* EKS AL2: containerd, cgroupfs driver, cgroup v1: every hierarchy */
	expect("12:pids:/kubepods/burstable/pod" UID "/" ID1 "\n"
	       "11:hugetlb:/kubepods/burstable/pod" UID "/" ID1 "\n"
	       "10:memory:/kubepods/burstable/pod" UID "/" ID1 "\n"
	       "9:cpu,cpuacct:/kubepods/burstable/pod" UID "/" ID1 "\n"
	       "8:net_cls,net_prio:/kubepods/burstable/pod" UID "/" ID1 "\n"
	       "1:name=systemd:/kubepods/burstable/pod" UID "/" ID1 "\n"
	       "0::/\n",
	       ID1, UID, CGROUP_RT_UNKNOWN);
	/* Guaranteed: no QoS level */
	expect("4:memory:/kubepods/pod" UID "/" ID2 "\n", ID2, UID, CGROUP_RT_UNKNOWN);
}

static void test_crio(void **state)
{
	(void)state;
	/* OpenShift / CRI-O, systemd driver */
	expect("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	       ".slice/crio-" ID1 ".scope\n",
	       ID1, UID, CGROUP_RT_CRIO);
	/* conmon watches the container but is not in it: the pod, no container */
	expect("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	       ".slice/crio-conmon-" ID1 ".scope\n",
	       "", UID, CGROUP_RT_NONE);
	/* cgroupfs driver */
	expect("0::/kubepods/besteffort/pod" UID "/crio-" ID2 "\n", ID2, UID, CGROUP_RT_CRIO);
	/* a v1 file from CRI-O on cgroupfs */
	expect("11:devices:/kubepods/besteffort/pod" UID "/crio-" ID2 "\n"
	       "2:cpu,cpuacct:/kubepods/besteffort/pod" UID "/crio-" ID2 "\n",
	       ID2, UID, CGROUP_RT_CRIO);
}

static void test_docker(void **state)
{
	(void)state;
	/* plain docker, systemd driver */
	expect("0::/system.slice/docker-" ID1 ".scope\n", ID1, "", CGROUP_RT_DOCKER);
	/* plain docker, cgroupfs driver, v1 */
	expect("13:name=systemd:/docker/" ID2 "\n12:pids:/docker/" ID2 "\n", ID2, "",
	       CGROUP_RT_DOCKER);
	/* dockershim / cri-dockerd in Kubernetes, systemd driver */
	expect("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	       ".slice/docker-" ID1 ".scope\n",
	       ID1, UID, CGROUP_RT_DOCKER);
	/* podman */
	expect("0::/machine.slice/libpod-" ID2 ".scope\n", ID2, "", CGROUP_RT_PODMAN);
	expect("0::/machine.slice/libpod-conmon-" ID2 ".scope\n", "", "", CGROUP_RT_NONE);
}

static void test_namespaced_and_nested(void **state)
{
	(void)state;
	/* the agent in a pod with its own cgroup namespace: other pods'
	 * paths are relative to the agent's cgroup */
	expect("0::/../../kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" ID1 ".scope\n", ID1,
	       UID, CGROUP_RT_CONTAINERD);
	/* kind: a cluster inside a docker container; the innermost wins */
	expect("0::/system.slice/docker-" ID2 ".scope/kubelet.slice/kubelet-kubepods.slice/"
	       "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UID_
	       ".slice/cri-containerd-" ID1 ".scope\n",
	       ID1, UID, CGROUP_RT_CONTAINERD);
	/* k3s-in-docker on cgroupfs */
	expect("0::/docker/" ID2 "/kubepods/besteffort/pod" UID "/" ID1 "\n", ID1, UID,
	       CGROUP_RT_UNKNOWN);
	/* a container that made cgroups of its own (systemd inside) */
	expect("0::/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID1
	       ".scope/system.slice/nginx.service\n",
	       ID1, UID, CGROUP_RT_CONTAINERD);
	/* the cgroup was removed while the process lives on */
	expect("0::/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID1
	       ".scope (deleted)\n",
	       ID1, UID, CGROUP_RT_CONTAINERD);
}

static void test_static_pod_and_pod_only(void **state)
{
	(void)state;
	/* a static pod: its uid is the kubelet's config hash */
	expect("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" HASH
	       ".slice/cri-containerd-" ID1 ".scope\n",
	       ID1, HASH, CGROUP_RT_CONTAINERD);
	/* the pod's own cgroup (the sandbox's parent): the pod only */
	expect("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice\n",
	       "", UID, CGROUP_RT_NONE);
	expect("0::/kubepods/burstable/pod" UID "\n", "", UID, CGROUP_RT_NONE);
}

static void test_hybrid(void **state)
{
	(void)state;
	/* v1 controllers plus an empty v2 line: the v1 lines decide */
	expect("9:name=systemd:/\n8:pids:/kubepods/besteffort/pod" UID "/" ID1 "\n0::/\n", ID1, UID,
	       CGROUP_RT_UNKNOWN);
	/* the container found on a later line beats a pod-only earlier one */
	expect("3:cpuset:/kubepods/besteffort/pod" UID "\n2:memory:/kubepods/besteffort/pod" UID
	       "/" ID2 "\n",
	       ID2, UID, CGROUP_RT_UNKNOWN);
}

static void test_no_match(void **state)
{
	struct cgroup_ident c;

	(void)state;
	expect("", "", "", CGROUP_RT_NONE);
	expect("0::/\n", "", "", CGROUP_RT_NONE);
	expect("0::/system.slice/sshd.service\n", "", "", CGROUP_RT_NONE);
	expect("0::/user.slice/user-1000.slice/session-3.scope\n", "", "", CGROUP_RT_NONE);
	/* 32 hex under a service is not a container, nor a pod */
	expect("4:memory:/process_api/58dcb04fac84b08616432fbe5a448261\n0::/\n", "", "",
	       CGROUP_RT_NONE);
	/* uppercase, short, long, bad suffix */
	expect("0::/docker/2B4C6D8E0F1A3B5C7D9E1F2A4B6C8D0E2F4A6B8C0D2E4F6A8B0C2D4E6F8A0B2C\n", "", "",
	       CGROUP_RT_NONE);
	expect("0::/kubepods/besteffort/pod" UID "/" "2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2\n",
	       "", UID, CGROUP_RT_NONE);
	expect("0::/kubepods/besteffort/pod" UID "/" ID1 "0\n", "", UID, CGROUP_RT_NONE);
	expect("0::/cri-containerd-" ID1 ".scopex\n", "", "", CGROUP_RT_NONE);
	/* not pods: a slice that only ends like one, a uid of the wrong shape */
	expect("0::/podman.slice\n", "", "", CGROUP_RT_NONE);
	expect("0::/system.slice/foo-pod" UID_ ".slice\n", "", "", CGROUP_RT_NONE);
	expect("0::/kubepods/pod4a5b3c1e-8f2d-4c3b-9a1e2b7c6d5e4f30x\n", "", "", CGROUP_RT_NONE);
	/* lines that are not "id:controllers:path" */
	expect("garbage\nno colons here " ID1 "\n0:" ID1 "\n", "", "", CGROUP_RT_NONE);
	/* ':' inside the path is part of it */
	expect("0::/odd:name/docker-" ID1 ".scope\n", ID1, "", CGROUP_RT_DOCKER);

	c = parse("0::/system.slice/sshd.service");
	assert_string_equal(c.container_id, "");
	assert_string_equal(c.pod_uid, "");
}

static void test_from_path(void **state)
{
	struct cgroup_ident c;
	static const char path[] = "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID1
				   ".scope";

	(void)state;
	assert_true(cgroup_ident_from_path(path, strlen(path), &c));
	assert_string_equal(c.container_id, ID1);
	assert_string_equal(c.pod_uid, UID);
	/* a length that cuts the id short: no container */
	assert_true(cgroup_ident_from_path(path, strlen(path) - 10, &c));
	assert_string_equal(c.container_id, "");
	assert_string_equal(c.pod_uid, UID);
	assert_false(cgroup_ident_from_path(path, 0, &c));
}

static void test_runtime_names(void **state)
{
	(void)state;
	assert_string_equal(cgroup_runtime_name(CGROUP_RT_CONTAINERD), "containerd");
	assert_string_equal(cgroup_runtime_name(CGROUP_RT_CRIO), "cri-o");
	assert_string_equal(cgroup_runtime_name(CGROUP_RT_DOCKER), "docker");
	assert_string_equal(cgroup_runtime_name(CGROUP_RT_PODMAN), "podman");
	assert_string_equal(cgroup_runtime_name(CGROUP_RT_UNKNOWN), "unknown");
	assert_string_equal(cgroup_runtime_name(CGROUP_RT_NONE), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_containerd_systemd_v2),
		cmocka_unit_test(test_containerd_cgroupfs_v1),
		cmocka_unit_test(test_crio),
		cmocka_unit_test(test_docker),
		cmocka_unit_test(test_namespaced_and_nested),
		cmocka_unit_test(test_static_pod_and_pod_only),
		cmocka_unit_test(test_hybrid),
		cmocka_unit_test(test_no_match),
		cmocka_unit_test(test_from_path),
		cmocka_unit_test(test_runtime_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
