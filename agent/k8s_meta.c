// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* See k8s_meta.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clock.h"
#include "k8s_meta.h"

#define POD_BUCKETS 2048u
#define CTR_BUCKETS 8192u
#define PID_BUCKETS 8192u /* 2x K8S_PID_CACHE_MAX keeps chains short */
#define PROC_ROOT_MAX 256
/* /proc/PID/cgroup: one line per v1 hierarchy (about a dozen) and the v2
 * line; kubelet paths are ~200 bytes. What does not fit is not parsed. */
#define CGROUP_FILE_MAX 16384
/* /proc/PID/stat up to starttime: the comm is at most 15 bytes */
#define STAT_FILE_MAX 1024
#define STAT_STARTTIME_FIELD 22 /* proc(5) */

_Static_assert(sizeof(((struct k8s_container *)0)->id) == TXN_CONTAINER_ID_MAX,
	       "container ids fit the transaction");
_Static_assert(K8S_PID_CACHE_MAX <= PID_BUCKETS, "pid buckets");

struct kpod;

/* The container index: one entry per mapped container of a pod. */
struct kctr {
	struct kctr *next;
	struct kpod *pod;
	uint32_t idx;
};

struct kpod {
	struct k8s_pod p;
	struct kpod *uid_next;
	struct kpod *prev, *next; /* every pod, for list syncs and mirror uids */
	uint64_t seen; /* the sync mark of the last upsert */
	struct kctr ctr[K8S_CONTAINERS_MAX];
};

/* The store: the watch thread writes, the event loop reads, both under mu. */
static struct {
	pthread_mutex_t mu;
	struct kpod *by_uid[POD_BUCKETS];
	struct kctr *by_id[CTR_BUCKETS];
	struct kpod *all;
	uint64_t n_pods, n_ctrs;
	uint64_t sync_mark;
	uint64_t pods_dropped, containers_cut;
	/* bumped on every change, so cached lookups know they are stale;
	 * written under mu, read without it */
	_Atomic uint64_t gen;
} st = { .mu = PTHREAD_MUTEX_INITIALIZER, .gen = 1 };

/* A process as the event loop last resolved it. */
struct pent {
	uint32_t pid;
	uint64_t start; /* starttime from /proc/PID/stat: tells pid reuse apart */
	uint64_t checked_ns; /* monotonic: when start was last compared */
	uint64_t gen; /* the store generation meta reflects; 0: never resolved */
	struct cgroup_ident cg;
	struct txn_k8s meta;
	struct pent *hnext;
	struct pent *lru_prev, *lru_next; /* oldest at lru_head */
};

/* The process cache: the event loop's alone. */
static struct {
	bool on;
	char node[TXN_POD_MAX];
	char proc_root[PROC_ROOT_MAX];
	struct pent *buckets[PID_BUCKETS];
	struct pent *lru_head, *lru_tail;
	uint64_t n;
	uint64_t evicted, reused, unreadable, with_pod, without_pod;
} pc;

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static uint32_t pid_hash(uint32_t pid)
{
	return (pid * 2654435761u) >> 19; /* 13 bits: PID_BUCKETS */
}

_Static_assert(PID_BUCKETS == 1u << 13, "pid_hash yields 13 bits");

/* ------------------------------------------------------------------------ */
/* The store                                                                */
/* ------------------------------------------------------------------------ */

static void gen_bump(void)
{
	atomic_fetch_add_explicit(&st.gen, 1, memory_order_release);
}

static struct kpod *pod_find(const char *uid, struct kpod ***slot_out)
{
	struct kpod **slot = &st.by_uid[str_hash(uid) % POD_BUCKETS];

	while (*slot && strcmp((*slot)->p.uid, uid))
		slot = &(*slot)->uid_next;
	if (slot_out)
		*slot_out = slot;
	return *slot;
}

static void ctrs_index(struct kpod *k)
{
	for (uint32_t i = 0; i < k->p.n_containers; i++) {
		struct kctr *c = &k->ctr[i];
		struct kctr **b = &st.by_id[str_hash(k->p.c[i].id) % CTR_BUCKETS];

		c->pod = k;
		c->idx = i;
		c->next = *b;
		*b = c;
		st.n_ctrs++;
	}
}

static void ctrs_unindex(struct kpod *k)
{
	for (uint32_t i = 0; i < k->p.n_containers; i++) {
		struct kctr **b = &st.by_id[str_hash(k->p.c[i].id) % CTR_BUCKETS];

		while (*b && *b != &k->ctr[i])
			b = &(*b)->next;
		if (*b) {
			*b = k->ctr[i].next;
			st.n_ctrs--;
		}
	}
}

static void pod_remove(struct kpod *k)
{
	struct kpod **slot;

	ctrs_unindex(k);
	if (pod_find(k->p.uid, &slot) == k)
		*slot = k->uid_next;
	if (k->prev)
		k->prev->next = k->next;
	else
		st.all = k->next;
	if (k->next)
		k->next->prev = k->prev;
	st.n_pods--;
	free(k);
}

int k8s_meta_upsert(const struct k8s_pod *p, unsigned int containers_cut)
{
	struct kpod **slot, *k;
	int ret = 0;

	pthread_mutex_lock(&st.mu);
	st.containers_cut += containers_cut;
	k = pod_find(p->uid, &slot);
	if (k) {
		k->seen = st.sync_mark;
		/* most updates (conditions, probes) change nothing we keep:
		 * cached lookups stay valid */
		if (!memcmp(&k->p, p, sizeof(*p)))
			goto out;
		ctrs_unindex(k);
		k->p = *p;
		ctrs_index(k);
		gen_bump();
		goto out;
	}
	if (st.n_pods >= K8S_PODS_MAX) {
		st.pods_dropped++;
		ret = -ENOSPC;
		goto out;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		st.pods_dropped++;
		ret = -ENOMEM;
		goto out;
	}
	k->p = *p;
	k->seen = st.sync_mark;
	*slot = k;
	k->next = st.all;
	if (st.all)
		st.all->prev = k;
	st.all = k;
	st.n_pods++;
	ctrs_index(k);
	gen_bump();
out:
	pthread_mutex_unlock(&st.mu);
	return ret;
}

void k8s_meta_delete(const char *uid)
{
	struct kpod *k;

	pthread_mutex_lock(&st.mu);
	k = pod_find(uid, NULL);
	if (k) {
		pod_remove(k);
		gen_bump();
	}
	pthread_mutex_unlock(&st.mu);
}

void k8s_meta_sync_begin(void)
{
	pthread_mutex_lock(&st.mu);
	st.sync_mark++;
	pthread_mutex_unlock(&st.mu);
}

void k8s_meta_sync_end(void)
{
	struct kpod *k, *next;
	bool changed = false;

	pthread_mutex_lock(&st.mu);
	for (k = st.all; k; k = next) {
		next = k->next;
		if (k->seen != st.sync_mark) {
			pod_remove(k);
			changed = true;
		}
	}
	if (changed)
		gen_bump();
	pthread_mutex_unlock(&st.mu);
}

static void copy_field(char *dst, size_t cap, const char *src, size_t src_cap)
{
	size_t n = strnlen(src, (cap < src_cap ? cap : src_cap) - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* between fixed-size fields */
#define COPY_FIELD(dst, src) copy_field(dst, sizeof(dst), src, sizeof(src))

/* Under st.mu. The container's pod by its id; else the pod the cgroup
 * names (a container the status does not list yet, or a static pod by its
 * mirror uid). */
static bool lookup_locked(const struct cgroup_ident *cg, struct txn_k8s *out)
{
	const struct kpod *k = NULL;
	const struct k8s_container *c = NULL;

	if (cg->container_id[0]) {
		for (struct kctr *e = st.by_id[str_hash(cg->container_id) % CTR_BUCKETS]; e;
		     e = e->next) {
			if (!strcmp(e->pod->p.c[e->idx].id, cg->container_id)) {
				k = e->pod;
				c = &k->p.c[e->idx];
				break;
			}
		}
	}
	if (!k && cg->pod_uid[0]) {
		k = pod_find(cg->pod_uid, NULL);
		for (const struct kpod *m = st.all; !k && m; m = m->next)
			if (!strcmp(m->p.mirror_uid, cg->pod_uid))
				k = m;
	}
	if (!k)
		return false;
	COPY_FIELD(out->pod, k->p.name);
	COPY_FIELD(out->pod_uid, k->p.uid);
	COPY_FIELD(out->ns, k->p.ns);
	COPY_FIELD(out->workload, k->p.workload);
	COPY_FIELD(out->workload_kind, k->p.workload_kind);
	if (c)
		COPY_FIELD(out->container, c->name);
	/* the naming precedence of README "Kubernetes" */
	if (k->p.seg_name[0])
		COPY_FIELD(out->name, k->p.seg_name);
	else if (k->p.workload[0])
		COPY_FIELD(out->name, k->p.workload);
	else if (c)
		COPY_FIELD(out->name, c->name);
	return true;
}

/* The lookup, and the store generation it reflects. */
static bool lookup_gen(const struct cgroup_ident *cg, struct txn_k8s *out, uint64_t *gen)
{
	bool found;

	memset(out, 0, sizeof(*out));
	out->node = pc.on ? pc.node : NULL;
	COPY_FIELD(out->container_id, cg->container_id);
	pthread_mutex_lock(&st.mu);
	found = lookup_locked(cg, out);
	*gen = atomic_load_explicit(&st.gen, memory_order_relaxed);
	pthread_mutex_unlock(&st.mu);
	return found;
}

bool k8s_meta_lookup(const struct cgroup_ident *cg, struct txn_k8s *out)
{
	uint64_t gen;

	return lookup_gen(cg, out, &gen);
}

/* ------------------------------------------------------------------------ */
/* The process cache                                                        */
/* ------------------------------------------------------------------------ */

/* Up to cap - 1 bytes of PROC_ROOT/pid/name, NUL-terminated. */
static ssize_t read_proc(uint32_t pid, const char *name, char *buf, size_t cap)
{
	char path[PROC_ROOT_MAX + 48];
	ssize_t n, got = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%u/%s", pc.proc_root, pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((size_t)got < cap - 1) {
		n = read(fd, buf + got, cap - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

/* starttime, field 22 of /proc/PID/stat, counted after the comm's ')'
 * (the comm may hold spaces and parentheses). */
static int read_start(uint32_t pid, uint64_t *start)
{
	char buf[STAT_FILE_MAX], *p, *end;
	ssize_t n = read_proc(pid, "stat", buf, sizeof(buf));
	int field = 2;

	if (n <= 0)
		return n < 0 ? (int)n : -EINVAL;
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	for (p++; *p && field < STAT_STARTTIME_FIELD; p++)
		if (*p == ' ')
			field++;
	if (field != STAT_STARTTIME_FIELD || *p < '0' || *p > '9')
		return -EINVAL;
	*start = strtoull(p, &end, 10);
	return 0;
}

static int read_cgroup(uint32_t pid, struct cgroup_ident *cg)
{
	static char buf[CGROUP_FILE_MAX]; /* the event loop's */
	ssize_t n = read_proc(pid, "cgroup", buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	cgroup_ident_parse(buf, (size_t)n, cg);
	return 0;
}

static void lru_unlink(struct pent *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		pc.lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		pc.lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push(struct pent *e)
{
	e->lru_prev = pc.lru_tail;
	e->lru_next = NULL;
	if (pc.lru_tail)
		pc.lru_tail->lru_next = e;
	else
		pc.lru_head = e;
	pc.lru_tail = e;
}

static struct pent *pent_find(uint32_t pid, struct pent ***slot_out)
{
	struct pent **slot = &pc.buckets[pid_hash(pid)];

	while (*slot && (*slot)->pid != pid)
		slot = &(*slot)->hnext;
	if (slot_out)
		*slot_out = slot;
	return *slot;
}

static void pent_drop(struct pent *e)
{
	struct pent **slot;

	if (pent_find(e->pid, &slot) == e)
		*slot = e->hnext;
	lru_unlink(e);
	pc.n--;
	free(e);
}

/* (Re)read what the process is: start time and cgroup identity. */
static int pent_load(struct pent *e)
{
	int err = read_start(e->pid, &e->start);

	if (!err)
		err = read_cgroup(e->pid, &e->cg);
	e->gen = 0;
	return err;
}

static struct pent *pent_get(uint32_t pid, uint64_t now)
{
	struct pent **slot, *e = pent_find(pid, &slot);
	uint64_t start;

	if (e) {
		if (now - e->checked_ns >= K8S_PID_RECHECK_NS) {
			/* a process that is gone keeps what it had: the
			 * request at hand is still its own */
			if (!read_start(pid, &start) && start != e->start) {
				pc.reused++;
				if (pent_load(e)) {
					pc.unreadable++;
					pent_drop(e);
					return NULL;
				}
			}
			e->checked_ns = now;
		}
		lru_unlink(e);
		lru_push(e);
		return e;
	}
	if (pc.n >= K8S_PID_CACHE_MAX && pc.lru_head) {
		pc.evicted++;
		pent_drop(pc.lru_head);
		pent_find(pid, &slot); /* the chain may have changed */
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->pid = pid;
	if (pent_load(e)) {
		/* exited already (a short-lived client): nothing to learn */
		pc.unreadable++;
		free(e);
		return NULL;
	}
	e->checked_ns = now;
	*slot = e;
	lru_push(e);
	pc.n++;
	return e;
}

void k8s_meta_fill(struct xtap_txn *t)
{
	if (pc.on)
		k8s_meta_fill_at(t, clock_mono_now());
}

void k8s_meta_fill_at(struct xtap_txn *t, uint64_t now_ns)
{
	struct pent *e;
	uint64_t gen;

	if (!pc.on)
		return;
	t->k8s.node = pc.node;
	e = pent_get(t->pid, now_ns);
	if (!e)
		return;
	gen = atomic_load_explicit(&st.gen, memory_order_acquire);
	if (e->gen != gen) {
		if (e->cg.container_id[0] || e->cg.pod_uid[0]) {
			lookup_gen(&e->cg, &e->meta, &e->gen);
		} else {
			/* not in a container: nothing to ask the store */
			memset(&e->meta, 0, sizeof(e->meta));
			e->meta.node = pc.node;
			e->gen = gen;
		}
	}
	t->k8s = e->meta;
	if (e->meta.pod[0])
		pc.with_pod++;
	else if (e->cg.container_id[0])
		pc.without_pod++;
}

void k8s_meta_pid_exit(uint32_t pid)
{
	struct pent *e;

	if (!pc.on)
		return;
	e = pent_find(pid, NULL);
	if (e)
		pent_drop(e);
}

/* ------------------------------------------------------------------------ */
/* Life cycle, counters                                                     */
/* ------------------------------------------------------------------------ */

int k8s_meta_init(const char *node, const char *proc_root)
{
	k8s_meta_destroy();
	if (!node || !*node || strlen(node) >= sizeof(pc.node) || !proc_root ||
	    strlen(proc_root) >= sizeof(pc.proc_root))
		return -EINVAL;
	strcpy(pc.node, node);
	strcpy(pc.proc_root, proc_root);
	pc.on = true;
	return 0;
}

void k8s_meta_destroy(void)
{
	pthread_mutex_lock(&st.mu);
	while (st.all)
		pod_remove(st.all);
	st.pods_dropped = st.containers_cut = 0;
	gen_bump();
	pthread_mutex_unlock(&st.mu);
	while (pc.lru_head)
		pent_drop(pc.lru_head);
	memset(&pc, 0, sizeof(pc));
}

bool k8s_meta_enabled(void)
{
	return pc.on;
}

void k8s_meta_get_stats(struct k8s_meta_stats *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&st.mu);
	s->pods = st.n_pods;
	s->containers = st.n_ctrs;
	s->pods_dropped = st.pods_dropped;
	s->containers_cut = st.containers_cut;
	pthread_mutex_unlock(&st.mu);
	s->procs = pc.n;
	s->procs_evicted = pc.evicted;
	s->procs_reused = pc.reused;
	s->proc_unreadable = pc.unreadable;
	s->with_pod = pc.with_pod;
	s->without_pod = pc.without_pod;
}
