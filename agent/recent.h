/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The last documents the agent wrote, for `xtap dump segments`: a ring of
 * RECENT_DOCS slots. Each slot keeps its buffer and grows it only for a
 * larger document, so the steady state allocates nothing; the bound is
 * RECENT_DOCS * SEGMENT_DOC_MAX bytes (about 4 MiB), in practice
 * RECENT_DOCS times the largest document seen. */
#ifndef XTAP_RECENT_H
#define XTAP_RECENT_H

#include <stddef.h>
#include <stdint.h>

#define RECENT_DOCS 64

struct recent;

/* NULL with errno set. */
struct recent *recent_new(void);
void recent_free(struct recent *r);
/* The event loop: keep a copy of doc. Never waits: while a reader copies
 * the ring, the document is not kept (counted in recent_skipped). */
void recent_add(struct recent *r, const char *doc, size_t len);
/* Any thread: the last n documents (at most RECENT_DOCS), oldest first, as
 * a JSON array text "[doc,doc]". malloc'd, NUL-terminated, length in *len;
 * NULL with errno set. */
char *recent_json(struct recent *r, size_t n, size_t *len);
uint64_t recent_skipped(struct recent *r);

#endif /* XTAP_RECENT_H */
