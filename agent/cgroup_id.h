/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which container (and pod) a process belongs to, from the cgroup paths in
 * /proc/PID/cgroup. Pure text parsing: the kubelet and the container
 * runtimes name cgroups by convention, and these conventions are all there
 * is to go on (the kubelet's cgroup drivers, "systemd" and "cgroupfs"):
 *
 *   systemd driver  kubepods.slice/kubepods-burstable.slice/
 *                     kubepods-burstable-pod<uid with _>.slice/cri-containerd-<id>.scope
 *                   (crio-<id>.scope for CRI-O, docker-<id>.scope for dockershim/cri-dockerd)
 *   cgroupfs driver kubepods/burstable/pod<uid>/<id>   (crio-<id> for CRI-O)
 *   plain docker    /docker/<id>, system.slice/docker-<id>.scope
 *
 * The same names appear on cgroup v1 (one line per hierarchy) and v2 (the
 * single "0::" line), under a cgroup namespace (paths relative to the
 * agent's own cgroup, "/../..") or not. */
#ifndef XTAP_CGROUP_ID_H
#define XTAP_CGROUP_ID_H

#include <stdbool.h>
#include <stddef.h>

#define CGROUP_CONTAINER_ID_LEN 64 /* containerd, CRI-O and docker ids: 64 hex digits */
/* Pod uids: a UUID (36 characters with dashes) for API pods; a static
 * pod's is the kubelet's 32-hex config hash. */
#define CGROUP_POD_UID_MAX 36

enum cgroup_runtime {
	CGROUP_RT_NONE = 0, /* no container id found */
	CGROUP_RT_CONTAINERD,
	CGROUP_RT_CRIO,
	CGROUP_RT_DOCKER,
	CGROUP_RT_PODMAN,
	CGROUP_RT_UNKNOWN, /* a bare id (cgroupfs driver): containerd or CRI-O */
};

struct cgroup_ident {
	char container_id[CGROUP_CONTAINER_ID_LEN + 1]; /* lowercase hex, "" if none */
	char pod_uid[CGROUP_POD_UID_MAX + 1]; /* with dashes, "" if none */
	enum cgroup_runtime runtime;
};

/* One cgroup path ("/kubepods.slice/…/cri-containerd-<id>.scope"), n bytes.
 * The innermost component naming a container wins (a container that made
 * cgroups of its own still maps to itself); the pod uid comes from a
 * component above it. True when a container id or a pod uid was found. */
bool cgroup_ident_from_path(const char *path, size_t n, struct cgroup_ident *out);
/* The text of /proc/PID/cgroup (n bytes; "hierarchy:controllers:path"
 * lines). The first line that names a container decides; failing that,
 * the first that names a pod. True when either was found. */
bool cgroup_ident_parse(const char *text, size_t n, struct cgroup_ident *out);
/* "containerd", "cri-o", "docker", "podman", "unknown", or "" for none. */
const char *cgroup_runtime_name(enum cgroup_runtime rt);

#endif /* XTAP_CGROUP_ID_H */
