// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include "counters.h"
#include "pipeline.h"

void pipeline_emit(struct xtap_txn *t, void *ctx)
{
	/* one document at a time on the event loop: a static buffer, no
	 * allocation per transaction */
	static char doc[SEGMENT_DOC_MAX];
	struct pipeline *pl = ctx;
	char id[XID_SPAN_LEN + 1];
	struct trace_ctx tc;
	int n;

	segment_trace_ctx(t, &tc);
	if (tc.sampled == TRACE_SAMPLED_NO) {
		xtap_ctr.sampled_out++;
		return;
	}
	n = segment_write(t, &tc, &pl->seg, doc, sizeof(doc), id);
	if (n < 0) {
		xtap_ctr.segment_errors++;
		return;
	}
	if (t->role == XTAP_ROLE_CLIENT)
		xtap_ctr.subsegments++;
	else
		xtap_ctr.segments++;
	if (exporter_submit(pl->ex, doc, n) == -ENOBUFS)
		xtap_ctr.export_dropped++;
}
