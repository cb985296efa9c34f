// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kubernetes JSON (agent/k8s_pod.c, agent/k8s_watch.c): the input is taken
 * as a Pod object, as a PodList page, and as watch stream bytes, fed in
 * chunks whose sizes the input's own bytes give (a stream splits
 * anywhere), all into a fresh pod store. */
#include <jansson.h>

#include "fuzz.h"
#include "k8s_meta.h"
#include "k8s_watch.h"

static void check_pod(const struct k8s_pod *p)
{
	FUZZ_TERMINATED(p->uid);
	FUZZ_TERMINATED(p->name);
	FUZZ_TERMINATED(p->ns);
	FUZZ_TERMINATED(p->mirror_uid);
	FUZZ_TERMINATED(p->seg_name);
	FUZZ_TERMINATED(p->workload);
	FUZZ_TERMINATED(p->workload_kind);
	FUZZ_CHECK(p->uid[0] && p->name[0] && p->ns[0]);
	FUZZ_CHECK(p->n_containers <= K8S_CONTAINERS_MAX);
	for (uint32_t i = 0; i < p->n_containers; i++) {
		FUZZ_TERMINATED(p->c[i].name);
		FUZZ_CHECK(strlen(p->c[i].id) == CGROUP_CONTAINER_ID_LEN);
		FUZZ_CHECK(strspn(p->c[i].id, "0123456789abcdef") == CGROUP_CONTAINER_ID_LEN);
	}
}

static void check_sync(const struct k8s_sync *s)
{
	FUZZ_TERMINATED(s->rv);
	FUZZ_TERMINATED(s->why);
	FUZZ_CHECK(s->len <= K8S_EVENT_MAX && s->len <= s->cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct k8s_sync s;
	struct k8s_pod p;
	char cont[64];
	unsigned int cut;
	json_t *pod;
	size_t off;

	FUZZ_CHECK(!k8s_meta_init("ip-10-0-1-23.ec2.internal", "/proc"));
	pod = json_loadb(text, size, 0, NULL);
	if (pod && !k8s_pod_parse(pod, &p, &cut)) {
		check_pod(&p);
		k8s_meta_upsert(&p, cut);
	}
	json_decref(pod);

	memset(&s, 0, sizeof(s));
	k8s_meta_sync_begin();
	k8s_sync_list_page(&s, text, size, cont, sizeof(cont));
	k8s_meta_sync_end();
	FUZZ_TERMINATED(cont);
	check_sync(&s);

	for (off = 0; off < size;) {
		size_t n = data[off] % 97 + 1;

		if (n > size - off)
			n = size - off;
		if (k8s_sync_feed(&s, text + off, n) != K8S_OK)
			break;
		check_sync(&s);
		off += n;
	}
	/* the last line, when the input does not end one */
	if (off == size)
		k8s_sync_feed(&s, "\n", 1);
	check_sync(&s);
	k8s_sync_reset_stream(&s);
	k8s_meta_destroy();
	return 0;
}
