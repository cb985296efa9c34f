/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `xtap trace`: which transactions to show, and how: one text line each or
 * one JSON object; --raw shows the capture records themselves. */
#ifndef XTAP_TRACE_FMT_H
#define XTAP_TRACE_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "txn.h"

struct trace_filter {
	const char *comm; /* process name equals; NULL: any */
	const char *pod; /* Kubernetes pod name equals; needs pod metadata */
	const char *ns; /* Kubernetes namespace equals; needs pod metadata */
	int status_lo, status_hi; /* response status in [lo, hi]; 0, 0: any */
	uint64_t min_duration_ns;
};

/* "5xx", "404" or "400-499": 0, or -EINVAL. */
int trace_parse_status(const char *s, int *lo, int *hi);
/* "250ms", "1.5s", "800us", "2m" or a bare number of milliseconds: 0, or
 * -EINVAL. At most an hour. */
int trace_parse_duration(const char *s, uint64_t *ns);
bool trace_match(const struct trace_filter *f, const struct xtap_txn *t);

/* Column titles for trace_line. */
const char *trace_header(void);
/* One line, no newline: time, pod or process, direction, method, url,
 * status, duration, trace id. */
void trace_line(const struct xtap_txn *t, char *buf, size_t cap);
struct json_t;
/* The same fields and a few more, as a new JSON object. */
struct json_t *trace_txn_json(const struct xtap_txn *t);
/* A capture record (include/xtap.h) as a new JSON object, or NULL for a
 * record too short for its type. A data record shows its first bytes with
 * all but HTTP framing masked (redact_head_bytes), query values too with
 * redact_query. */
struct json_t *trace_record_json(const void *rec, size_t size, bool redact_query);
#define TRACE_RAW_LINE_MAX 640
/* The same as one text line (at most TRACE_RAW_LINE_MAX); -EINVAL for a record too short for its type. */
int trace_record_line(const void *rec, size_t size, bool redact_query, char *buf, size_t cap);

#endif /* XTAP_TRACE_FMT_H */
