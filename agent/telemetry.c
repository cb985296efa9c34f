// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "telemetry.h"

enum { CONNS_IDLE, CONNS_WANTED, CONNS_READY };

struct telemetry {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a listing is ready */
	/* under mu */
	struct telemetry_snapshot snap;
	struct conn_info *conns;
	size_t n_conns;
	uint64_t conns_total;
	/* atomics: read by the loop every turn without the mutex */
	int conns_state;
	uint64_t last_turn;
	bool ready;
};

struct telemetry *telemetry_new(void)
{
	struct telemetry *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;

	if (!t)
		return NULL;
	t->conns = calloc(TELEMETRY_CONNS_MAX, sizeof(*t->conns));
	if (!t->conns) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	return t;
}

void telemetry_free(struct telemetry *t)
{
	if (!t)
		return;
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t->conns);
	free(t);
}

void telemetry_tick(struct telemetry *t, uint64_t now_ns)
{
	bool want = __atomic_load_n(&t->conns_state, __ATOMIC_ACQUIRE) == CONNS_WANTED;

	__atomic_store_n(&t->last_turn, now_ns, __ATOMIC_RELAXED);
	if (!want && now_ns - t->snap.published_ns < TELEMETRY_PUBLISH_NS)
		return; /* published_ns is written by this thread only */
	/* a reader holds the mutex only to copy: if it does now, the next
	 * turn publishes instead of this one waiting */
	if (pthread_mutex_trylock(&t->mu))
		return;
	t->snap.ctr = xtap_ctr;
	t->snap.conns = conn_table_size();
	t->snap.published_ns = now_ns;
	if (t->conns_state == CONNS_WANTED) {
		t->n_conns = conn_table_list(t->conns, TELEMETRY_CONNS_MAX);
		t->conns_total = conn_table_size();
		__atomic_store_n(&t->conns_state, CONNS_READY, __ATOMIC_RELEASE);
		pthread_cond_signal(&t->cv);
	}
	pthread_mutex_unlock(&t->mu);
}

void telemetry_set_ready(struct telemetry *t, bool ready)
{
	__atomic_store_n(&t->ready, ready, __ATOMIC_RELEASE);
}

void telemetry_get(struct telemetry *t, struct telemetry_snapshot *out)
{
	pthread_mutex_lock(&t->mu);
	*out = t->snap;
	pthread_mutex_unlock(&t->mu);
}

uint64_t telemetry_last_turn(struct telemetry *t)
{
	return __atomic_load_n(&t->last_turn, __ATOMIC_RELAXED);
}

bool telemetry_ready(struct telemetry *t)
{
	return __atomic_load_n(&t->ready, __ATOMIC_ACQUIRE);
}

int telemetry_conns(struct telemetry *t, struct conn_info *out, uint64_t *total, int timeout_ms)
{
	struct timespec dl;
	int n = -ETIMEDOUT;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&t->mu);
	__atomic_store_n(&t->conns_state, CONNS_WANTED, __ATOMIC_RELEASE);
	while (t->conns_state != CONNS_READY)
		if (pthread_cond_timedwait(&t->cv, &t->mu, &dl) == ETIMEDOUT)
			break;
	if (t->conns_state == CONNS_READY) {
		memcpy(out, t->conns, t->n_conns * sizeof(*out));
		*total = t->conns_total;
		n = (int)t->n_conns;
	}
	__atomic_store_n(&t->conns_state, CONNS_IDLE, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&t->mu);
	return n;
}
