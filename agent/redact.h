/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What xtap shows of captured text, made safe to show: query values
 * (--redact-query) and the raw bytes `xtap trace --raw` previews. */
#ifndef XTAP_REDACT_H
#define XTAP_REDACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The query of a request-target without its values, in place: every
 * "key=value" of the part after the first '?' becomes "key=", a key
 * without '=' stays ("/search?q=shoes&page=2&debug" -> "/search?q=&page=&debug").
 * The path is kept: it names the route. */
void redact_query(char *target);

/* Mask (with '*') the bytes of p[0..n) that are not HTTP framing, in place:
 * of each line only a request or status line, and a header field's name
 * and, for the fields the parser itself reads (http_field_read: Host,
 * User-Agent, X-Forwarded-For, X-Amzn-Trace-Id, traceparent,
 * Content-Length, Transfer-Encoding, Connection, Expect), its value are
 * kept. Authorization, Cookie, Set-Cookie, API keys and body bytes are
 * masked, and so is a line that continues one from an earlier write. With
 * query, the values in a request line's query are masked too. */
void redact_head_bytes(uint8_t *p, size_t n, bool query);

#endif /* XTAP_REDACT_H */
