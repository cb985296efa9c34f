// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The tracing headers (agent/trace_header.c): the input is one header
 * value, parsed both as X-Amzn-Trace-Id and as traceparent. Whatever the
 * parsers accept must be ids a document can carry as they are. */
#include "fuzz.h"
#include "ids.h"
#include "trace_header.h"

static void check_ctx(const struct trace_ctx *c)
{
	FUZZ_TERMINATED(c->trace_id);
	FUZZ_TERMINATED(c->parent_id);
	FUZZ_CHECK(!c->trace_id[0] || xid_valid_trace_id(c->trace_id));
	FUZZ_CHECK(!c->parent_id[0] || xid_valid_span_id(c->parent_id));
	FUZZ_CHECK(c->sampled >= TRACE_SAMPLED_UNKNOWN && c->sampled <= TRACE_SAMPLED_YES);
	/* a parse never makes ids of its own */
	FUZZ_CHECK(!c->id[0] && !c->traced && !c->own_segment);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *hdr = fuzz_strndup(data, size);
	struct trace_ctx c;

	if (!trace_parse_amzn(hdr, &c))
		FUZZ_CHECK(c.trace_id[0] || c.parent_id[0] || c.sampled != TRACE_SAMPLED_UNKNOWN);
	check_ctx(&c);
	if (!trace_parse_traceparent(hdr, &c)) {
		FUZZ_CHECK(c.trace_id[0] && c.parent_id[0]);
		FUZZ_CHECK(c.sampled != TRACE_SAMPLED_UNKNOWN);
	} else {
		FUZZ_CHECK(!c.trace_id[0] && !c.parent_id[0]);
	}
	check_ctx(&c);
	free(hdr);
	return 0;
}
