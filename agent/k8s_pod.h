/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A pod as xtap keeps it: the few fields segments need, parsed from a Pod
 * object of the Kubernetes API (core/v1), with its owning workload
 * resolved. Pure functions: no I/O, no shared state. */
#ifndef XTAP_K8S_POD_H
#define XTAP_K8S_POD_H

#include <stdint.h>
#include <jansson.h>
#include "cgroup_id.h"
#include "txn.h"

/* Containers kept per pod (containers, init containers and ephemeral ones
 * together); the rest are counted and not mapped. */
#define K8S_CONTAINERS_MAX 32
/* The annotation, or else label, that names a pod's segments. */
#define K8S_NAME_KEY "xtap.io/segment-name"

struct k8s_container {
	char id[CGROUP_CONTAINER_ID_LEN + 1];
	char name[TXN_K8S_LABEL_MAX];
};

/* Zeroed before it is filled, so two parses of the same object compare
 * equal with memcmp. */
struct k8s_pod {
	char uid[TXN_K8S_UID_MAX];
	char name[TXN_POD_MAX];
	char ns[TXN_K8S_LABEL_MAX];
	/* A static pod's kubernetes.io/config.mirror annotation: the uid its
	 * cgroups carry, which is not the mirror pod's uid. "" otherwise. */
	char mirror_uid[TXN_K8S_UID_MAX];
	char seg_name[TXN_POD_MAX]; /* K8S_NAME_KEY's value, cut to fit; "" if unset */
	char workload[TXN_POD_MAX];
	char workload_kind[TXN_K8S_LABEL_MAX];
	uint32_t n_containers; /* with a container id: started at least once */
	struct k8s_container c[K8S_CONTAINERS_MAX];
};

/* Parse a Pod object. 0, or -EINVAL when it lacks metadata.uid, name or
 * namespace, or a field is longer than Kubernetes allows. *cut (may be
 * NULL) gets the number of containers past K8S_CONTAINERS_MAX. */
int k8s_pod_parse(json_t *pod, struct k8s_pod *out, unsigned int *cut);

/* The workload that owns a pod, from its controller owner reference, into
 * p->workload_kind and p->workload ("" when there is no owner):
 *  - a ReplicaSet named "<name>-<pod-template-hash>" belongs to Deployment
 *    <name> (the Deployment controller names its ReplicaSets so and puts
 *    the hash in the pod's pod-template-hash label);
 *  - a Job named "<name>-<N>", where N is the scheduled time in minutes
 *    since the epoch and the pod was created within a week after it,
 *    belongs to CronJob <name> (the CronJob controller's job names);
 *  - any other owner (StatefulSet, DaemonSet, Job, …) is the workload.
 * template_hash and created_epoch (0: unknown) come from the pod. */
void k8s_pod_workload(struct k8s_pod *p, const char *owner_kind, const char *owner_name,
		      const char *template_hash, int64_t created_epoch);

#endif /* XTAP_K8S_POD_H */
