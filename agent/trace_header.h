/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* X-Amzn-Trace-Id and W3C traceparent parsing (the X-Ray tracing header). */
#ifndef XTAP_TRACE_HEADER_H
#define XTAP_TRACE_HEADER_H

#include <stdbool.h>
#include "ids.h"

enum trace_sampled {
	TRACE_SAMPLED_UNKNOWN = -1, /* absent, "?" or unrecognised: the sampler decides */
	TRACE_SAMPLED_NO = 0,
	TRACE_SAMPLED_YES = 1,
};

struct trace_ctx {
	char trace_id[XID_TRACE_LEN + 1]; /* "" when none valid was given */
	char parent_id[XID_SPAN_LEN + 1]; /* "" when none */
	int sampled; /* enum trace_sampled */
	/* For the writer: the document's own id ("": a new one), and whether
	 * the callee of a client call is traced too. */
	char id[XID_SPAN_LEN + 1];
	bool traced;
	bool own_segment; /* a client call written as a segment of its own */
};

/* Parse X-Amzn-Trace-Id as the Node SDK does: ';'-separated key=value, keys
 * case-insensitive, values trimmed; an invalid Root or Parent is left empty.
 * Returns 0, or -EINVAL when nothing usable was found (out is still set). */
int trace_parse_amzn(const char *hdr, struct trace_ctx *out);
/* Parse traceparent 00-<32hex>-<16hex>-<2hex> into X-Ray form. 0 or -EINVAL. */
int trace_parse_traceparent(const char *hdr, struct trace_ctx *out);

#endif /* XTAP_TRACE_HEADER_H */
