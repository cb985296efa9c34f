// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* See cgroup_id.h. The names follow the kubelet's cgroup managers
 * (pkg/kubelet/cm, "cgroup drivers" in the Kubernetes documentation) and
 * the runtimes' own scope names (containerd's "cri-containerd", CRI-O's
 * "crio", docker's "docker", podman's "libpod"). */
#include <string.h>
#include "cgroup_id.h"

#define UUID_LEN 36
#define CONFIG_HASH_LEN 32 /* a static pod's uid: the kubelet's config hash */

static const char deleted_suffix[] = " (deleted)"; /* v2: the cgroup was removed */

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool has_prefix(const char *s, size_t n, const char *p, size_t pn)
{
	return n >= pn && !memcmp(s, p, pn);
}

static bool has_suffix(const char *s, size_t n, const char *x, size_t xn)
{
	return n >= xn && !memcmp(s + n - xn, x, xn);
}

/* A container's own cgroup: the runtime, and the id at *id; NONE if c is
 * not one. The monitors (crio-conmon-<id>, libpod-conmon-<id>) are not the
 * container and do not match. */
static enum cgroup_runtime comp_container(const char *c, size_t n, const char *parent, size_t pn,
					  const char **id)
{
	static const struct {
		const char *prefix, *suffix;
		enum cgroup_runtime rt;
	} forms[] = {
		{ "cri-containerd-", ".scope", CGROUP_RT_CONTAINERD },
		{ "crio-", ".scope", CGROUP_RT_CRIO },
		{ "crio-", "", CGROUP_RT_CRIO }, /* cgroupfs driver */
		{ "docker-", ".scope", CGROUP_RT_DOCKER },
		{ "libpod-", ".scope", CGROUP_RT_PODMAN },
		{ "", "", CGROUP_RT_UNKNOWN }, /* cgroupfs driver, or /docker/<id> */
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		size_t p = strlen(forms[i].prefix), x = strlen(forms[i].suffix);

		if (n != p + CGROUP_CONTAINER_ID_LEN + x || !has_prefix(c, n, forms[i].prefix, p) ||
		    !has_suffix(c, n, forms[i].suffix, x) || !is_hex(c + p, CGROUP_CONTAINER_ID_LEN))
			continue;
		*id = c + p;
		if (forms[i].rt == CGROUP_RT_UNKNOWN && pn == 6 && !memcmp(parent, "docker", 6))
			return CGROUP_RT_DOCKER;
		return forms[i].rt;
	}
	return CGROUP_RT_NONE;
}

/* A pod uid as the cgroup spells it (the systemd driver escapes '-' as
 * '_'), into out with dashes. */
static bool pod_uid(const char *s, size_t n, char *out)
{
	if (n == CONFIG_HASH_LEN && is_hex(s, n)) {
		memcpy(out, s, n);
		out[n] = '\0';
		return true;
	}
	if (n != UUID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash_at = i == 8 || i == 13 || i == 18 || i == 23;
		char ch = s[i] == '_' ? '-' : s[i];

		if (dash_at ? ch != '-' : !is_hex(&ch, 1))
			return false;
		out[i] = ch;
	}
	out[n] = '\0';
	return true;
}

/* "pod<uid>" (cgroupfs) or "kubepods[-<qos>]-pod<uid>.slice" (systemd;
 * "kubelet-kubepods-…" under kind and other nested setups). */
static bool comp_pod(const char *c, size_t n, char *out)
{
	static const char slice[] = ".slice";
	const char *p;

	if (has_prefix(c, n, "pod", 3))
		return pod_uid(c + 3, n - 3, out);
	if (!has_suffix(c, n, slice, sizeof(slice) - 1))
		return false;
	n -= sizeof(slice) - 1;
	for (p = c + n; p - c >= 4; p--) {
		if (!memcmp(p - 4, "-pod", 4))
			return memmem(c, n, "kubepods", 8) && pod_uid(p, (size_t)(c + n - p), out);
	}
	return false;
}

bool cgroup_ident_from_path(const char *path, size_t n, struct cgroup_ident *out)
{
	char cur_pod[CGROUP_POD_UID_MAX + 1] = "", uid[CGROUP_POD_UID_MAX + 1];
	const char *c = path, *end, *parent = "";
	size_t pn = 0;

	memset(out, 0, sizeof(*out));
	if (has_suffix(path, n, deleted_suffix, sizeof(deleted_suffix) - 1))
		n -= sizeof(deleted_suffix) - 1;
	for (; c < path + n; c = end + 1) {
		const char *id = NULL;
		enum cgroup_runtime rt;
		size_t cn;

		end = memchr(c, '/', (size_t)(path + n - c));
		if (!end)
			end = path + n;
		cn = (size_t)(end - c);
		if (!cn)
			continue;
		if (comp_pod(c, cn, uid)) {
			strcpy(cur_pod, uid);
		} else {
			rt = comp_container(c, cn, parent, pn, &id);
			if (rt != CGROUP_RT_NONE) {
				/* innermost wins: a later match replaces this */
				memcpy(out->container_id, id, CGROUP_CONTAINER_ID_LEN);
				out->container_id[CGROUP_CONTAINER_ID_LEN] = '\0';
				out->runtime = rt;
				strcpy(out->pod_uid, cur_pod);
			}
		}
		parent = c;
		pn = cn;
	}
	if (!out->container_id[0])
		strcpy(out->pod_uid, cur_pod);
	return out->container_id[0] || out->pod_uid[0];
}

bool cgroup_ident_parse(const char *text, size_t n, struct cgroup_ident *out)
{
	struct cgroup_ident cur, pod_only = {};
	const char *line = text, *eol;

	memset(out, 0, sizeof(*out));
	for (; line < text + n; line = eol + 1) {
		const char *c1, *c2;

		eol = memchr(line, '\n', (size_t)(text + n - line));
		if (!eol)
			eol = text + n;
		/* hierarchy-id:controllers:path; the path may hold ':' itself */
		c1 = memchr(line, ':', (size_t)(eol - line));
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (!c2)
			continue;
		if (!cgroup_ident_from_path(c2 + 1, (size_t)(eol - c2 - 1), &cur))
			continue;
		if (cur.container_id[0]) {
			*out = cur;
			return true;
		}
		if (!pod_only.pod_uid[0])
			pod_only = cur;
	}
	*out = pod_only;
	return out->pod_uid[0] != '\0';
}

const char *cgroup_runtime_name(enum cgroup_runtime rt)
{
	switch (rt) {
	case CGROUP_RT_CONTAINERD:
		return "containerd";
	case CGROUP_RT_CRIO:
		return "cri-o";
	case CGROUP_RT_DOCKER:
		return "docker";
	case CGROUP_RT_PODMAN:
		return "podman";
	case CGROUP_RT_UNKNOWN:
		return "unknown";
	default:
		return "";
	}
}
