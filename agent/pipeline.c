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
	struct sampling_decision dec;
	struct segment_config seg;
	struct trace_ctx tc;
	int n;

	segment_trace_ctx(t, &tc);
	if (tc.sampled == TRACE_SAMPLED_NO) {
		xtap_ctr.sampled_out++;
		return;
	}
	seg = pl->seg;
	/* Sampled=1 is honoured as is; absent or '?' goes to the sampler,
	 * before any JSON is written. conn.c hands over transactions only
	 * when they complete: deciding at the request head instead (so the
	 * capture of an unsampled exchange can stop early) is the next step. */
	if (tc.sampled != TRACE_SAMPLED_YES && pl->sampler) {
		const struct xtap_identity *idn = identity_get(pl->seg.identity);
		struct sampling_req q = {
			.service_name = pl->seg.name ? pl->seg.name : t->comm,
			.service_type = idn && idn->origin ? idn->origin : "",
			.host = t->has_host ? t->host : "",
			.method = t->method,
			.url_path = t->target,
		};

		sampler_decide(pl->sampler, &q, &dec);
		if (!dec.sampled) {
			xtap_ctr.sampler_dropped++;
			return;
		}
		seg.rule_name = dec.rule_name;
	}
	n = segment_write(t, &tc, &seg, doc, sizeof(doc), id);
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
	if (pl->xa && xray_api_submit(pl->xa, doc, n))
		xtap_ctr.xray_dropped++;
}
