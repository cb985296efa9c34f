// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "recent.h"
#include "segment.h"

struct slot {
	char *buf;
	size_t cap;
	size_t len;
};

struct recent {
	pthread_mutex_t mu;
	struct slot slots[RECENT_DOCS];
	uint64_t added; /* documents ever kept: the next slot is added % RECENT_DOCS */
	uint64_t skipped; /* atomic */
};

struct recent *recent_new(void)
{
	struct recent *r = calloc(1, sizeof(*r));

	if (r)
		pthread_mutex_init(&r->mu, NULL);
	return r;
}

void recent_free(struct recent *r)
{
	if (!r)
		return;
	for (int i = 0; i < RECENT_DOCS; i++)
		free(r->slots[i].buf);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void recent_add(struct recent *r, const char *doc, size_t len)
{
	struct slot *s;

	if (!len || len > SEGMENT_DOC_MAX)
		return;
	if (pthread_mutex_trylock(&r->mu)) {
		__atomic_fetch_add(&r->skipped, 1, __ATOMIC_RELAXED);
		return;
	}
	s = &r->slots[r->added % RECENT_DOCS];
	if (s->cap < len) {
		char *nb = realloc(s->buf, len);

		if (!nb) {
			__atomic_fetch_add(&r->skipped, 1, __ATOMIC_RELAXED);
			goto unlock;
		}
		s->buf = nb;
		s->cap = len;
	}
	memcpy(s->buf, doc, len);
	s->len = len;
	r->added++;
unlock:
	pthread_mutex_unlock(&r->mu);
}

char *recent_json(struct recent *r, size_t n, size_t *len_out)
{
	size_t total = 2, off = 0;
	uint64_t first;
	char *out;

	pthread_mutex_lock(&r->mu);
	if (n > RECENT_DOCS)
		n = RECENT_DOCS;
	if (n > r->added)
		n = r->added;
	first = r->added - n;
	for (uint64_t i = first; i < r->added; i++)
		total += r->slots[i % RECENT_DOCS].len + 1;
	out = malloc(total + 1);
	if (out) {
		out[off++] = '[';
		for (uint64_t i = first; i < r->added; i++) {
			const struct slot *s = &r->slots[i % RECENT_DOCS];

			if (i != first)
				out[off++] = ',';
			memcpy(out + off, s->buf, s->len);
			off += s->len;
		}
		out[off++] = ']';
		out[off] = '\0';
		*len_out = off;
	}
	pthread_mutex_unlock(&r->mu);
	if (!out)
		errno = ENOMEM;
	return out;
}

uint64_t recent_skipped(struct recent *r)
{
	return __atomic_load_n(&r->skipped, __ATOMIC_RELAXED);
}
