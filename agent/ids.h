/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* X-Ray ids from a secure random source (getrandom), drawn from a buffered
 * pool so the hot path makes no syscall per id. Not thread-safe: the event
 * loop owns it. */
#ifndef XTAP_IDS_H
#define XTAP_IDS_H

#include <stdbool.h>
#include <stdint.h>

#define XID_TRACE_LEN 35 /* 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx */
#define XID_SPAN_LEN 16

/* out: XID_TRACE_LEN + 1 bytes; epoch_s: the request's epoch seconds */
void xid_trace_id(char *out, uint64_t epoch_s);
/* out: XID_SPAN_LEN + 1 bytes; never all zeros */
void xid_span_id(char *out);
bool xid_valid_span_id(const char *s);
/* A trace id X-Ray accepts: "1-" + 8 hex + "-" + 24 hex */
bool xid_valid_trace_id(const char *s);

#endif /* XTAP_IDS_H */
