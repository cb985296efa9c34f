// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* See k8s_pod.h. Field names follow the core/v1 Pod reference of the
 * Kubernetes API. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "aws_creds.h"
#include "k8s_pod.h"

/* A CronJob's Job is "<cronjob>-<scheduled minute since the epoch>"; its
 * pods are created at or after that minute, retries included within a
 * week in any sane schedule. A little slack for clock skew. */
#define CRONJOB_WINDOW_S (7 * 24 * 3600)
#define CLOCK_SKEW_S 3600
#define RUNTIME_SEP "://" /* containerID: "containerd://<id>", "cri-o://<id>", "docker://<id>" */

/* Copy a JSON string of at most cap - 1 bytes; -EINVAL if longer or not a
 * string (a missing optional field is the caller's business). */
static int copy_json_str(json_t *v, char *dst, size_t cap)
{
	size_t n;

	if (!json_is_string(v))
		return -EINVAL;
	n = json_string_length(v);
	if (n >= cap)
		return -EINVAL;
	memcpy(dst, json_string_value(v), n);
	dst[n] = '\0';
	return 0;
}

/* The same, cutting a longer value at a UTF-8 character boundary: a
 * segment name from an annotation has no length limit of its own. */
static void copy_json_str_cut(json_t *v, char *dst, size_t cap)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (n >= cap) {
		n = cap - 1;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static bool has_suffix_dash(const char *name, const char *suffix, size_t *base_len)
{
	size_t n = strlen(name), sn = strlen(suffix);

	if (!sn || n < sn + 2 || name[n - sn - 1] != '-' || strcmp(name + n - sn, suffix))
		return false;
	*base_len = n - sn - 1;
	return true;
}

static void set_workload(struct k8s_pod *p, const char *kind, const char *name, size_t name_len)
{
	size_t kn = strnlen(kind, sizeof(p->workload_kind) - 1);

	if (name_len > sizeof(p->workload) - 1)
		name_len = sizeof(p->workload) - 1;
	memcpy(p->workload_kind, kind, kn);
	p->workload_kind[kn] = '\0';
	memcpy(p->workload, name, name_len);
	p->workload[name_len] = '\0';
}

/* "<base>-<minutes>" with minutes a plausible schedule for created. */
static bool cronjob_job(const char *job, int64_t created, size_t *base_len)
{
	const char *dash = strrchr(job, '-');
	char *end;
	long long minutes;

	if (!dash || dash == job || !dash[1] || created <= 0)
		return false;
	for (const char *d = dash + 1; *d; d++)
		if (*d < '0' || *d > '9')
			return false;
	errno = 0;
	minutes = strtoll(dash + 1, &end, 10);
	if (errno || *end || minutes <= 0 || minutes > INT64_MAX / 60)
		return false;
	if (minutes * 60 > created + CLOCK_SKEW_S || created - minutes * 60 > CRONJOB_WINDOW_S)
		return false;
	*base_len = (size_t)(dash - job);
	return true;
}

void k8s_pod_workload(struct k8s_pod *p, const char *owner_kind, const char *owner_name,
		      const char *template_hash, int64_t created_epoch)
{
	size_t base;

	p->workload[0] = p->workload_kind[0] = '\0';
	if (!owner_kind || !owner_name || !*owner_kind || !*owner_name)
		return;
	if (!strcmp(owner_kind, "ReplicaSet") && template_hash &&
	    has_suffix_dash(owner_name, template_hash, &base))
		set_workload(p, "Deployment", owner_name, base);
	else if (!strcmp(owner_kind, "Job") && cronjob_job(owner_name, created_epoch, &base))
		set_workload(p, "CronJob", owner_name, base);
	else
		set_workload(p, owner_kind, owner_name, strlen(owner_name));
}

/* The controller reference if there is one, else the first. */
static json_t *controller_ref(json_t *meta)
{
	json_t *refs = json_object_get(meta, "ownerReferences"), *r;
	size_t i;

	if (!json_is_array(refs))
		return NULL;
	json_array_foreach(refs, i, r) {
		if (json_is_true(json_object_get(r, "controller")))
			return r;
	}
	return json_array_get(refs, 0);
}

static int parse_owner(json_t *meta, struct k8s_pod *p)
{
	char kind[TXN_K8S_LABEL_MAX] = "", name[TXN_POD_MAX] = "", hash[TXN_K8S_LABEL_MAX] = "";
	json_t *ref = controller_ref(meta);
	json_t *hv = json_object_get(json_object_get(meta, "labels"), "pod-template-hash");
	json_t *ct = json_object_get(meta, "creationTimestamp");
	int64_t created = 0;

	if (!ref)
		return 0;
	if (copy_json_str(json_object_get(ref, "kind"), kind, sizeof(kind)) ||
	    copy_json_str(json_object_get(ref, "name"), name, sizeof(name)))
		return -EINVAL;
	if (hv && copy_json_str(hv, hash, sizeof(hash)))
		return -EINVAL;
	if (json_is_string(ct) && aws_parse_iso8601(json_string_value(ct), &created))
		created = 0;
	k8s_pod_workload(p, kind, name, hash[0] ? hash : NULL, created);
	return 0;
}

/* One status list (containerStatuses, initContainerStatuses, …). */
static int parse_statuses(json_t *list, struct k8s_pod *p, unsigned int *cut)
{
	json_t *cs;
	size_t i;

	if (!list)
		return 0;
	if (!json_is_array(list))
		return -EINVAL;
	json_array_foreach(list, i, cs) {
		json_t *idv = json_object_get(cs, "containerID");
		const char *id, *sep;
		struct k8s_container *c;

		/* not started yet: no id */
		if (!json_is_string(idv) || !json_string_length(idv))
			continue;
		id = json_string_value(idv);
		sep = strstr(id, RUNTIME_SEP);
		id = sep ? sep + strlen(RUNTIME_SEP) : id;
		/* an id that no cgroup can carry maps to nothing: skip it */
		if (strlen(id) != CGROUP_CONTAINER_ID_LEN ||
		    strspn(id, "0123456789abcdef") != CGROUP_CONTAINER_ID_LEN)
			continue;
		if (p->n_containers >= K8S_CONTAINERS_MAX) {
			(*cut)++;
			continue;
		}
		c = &p->c[p->n_containers];
		if (copy_json_str(json_object_get(cs, "name"), c->name, sizeof(c->name)))
			return -EINVAL;
		memcpy(c->id, id, CGROUP_CONTAINER_ID_LEN + 1);
		p->n_containers++;
	}
	return 0;
}

int k8s_pod_parse(json_t *pod, struct k8s_pod *out, unsigned int *cut)
{
	json_t *meta = json_object_get(pod, "metadata"), *status, *v;
	unsigned int cut_local = 0;
	int err;

	memset(out, 0, sizeof(*out));
	if (!cut)
		cut = &cut_local;
	*cut = 0;
	if (!json_is_object(meta))
		return -EINVAL;
	if (copy_json_str(json_object_get(meta, "uid"), out->uid, sizeof(out->uid)) ||
	    copy_json_str(json_object_get(meta, "name"), out->name, sizeof(out->name)) ||
	    copy_json_str(json_object_get(meta, "namespace"), out->ns, sizeof(out->ns)) ||
	    !out->uid[0] || !out->name[0] || !out->ns[0])
		goto bad;
	v = json_object_get(json_object_get(meta, "annotations"), "kubernetes.io/config.mirror");
	if (v && copy_json_str(v, out->mirror_uid, sizeof(out->mirror_uid)))
		out->mirror_uid[0] = '\0'; /* not a uid: nothing maps by it */
	v = json_object_get(json_object_get(meta, "annotations"), K8S_NAME_KEY);
	if (!json_is_string(v) || !json_string_length(v))
		v = json_object_get(json_object_get(meta, "labels"), K8S_NAME_KEY);
	if (json_is_string(v))
		copy_json_str_cut(v, out->seg_name, sizeof(out->seg_name));
	if (parse_owner(meta, out))
		goto bad;
	status = json_object_get(pod, "status");
	err = parse_statuses(json_object_get(status, "containerStatuses"), out, cut);
	if (!err)
		err = parse_statuses(json_object_get(status, "initContainerStatuses"), out, cut);
	if (!err)
		err = parse_statuses(json_object_get(status, "ephemeralContainerStatuses"), out, cut);
	if (err)
		goto bad;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}
