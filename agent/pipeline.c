// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include "counters.h"
#include "pipeline.h"

void pipeline_head(struct xtap_txn *t, void *ctx)
{
	struct pipeline *pl = ctx;
	struct sampling_decision dec;
	int sampled = segment_trace_sampled(t);

	if (sampled == TRACE_SAMPLED_NO) {
		t->unsampled = true;
		xtap_ctr.sampled_out++;
		return;
	}
	/* Sampled=1 is honoured as is; absent or '?' goes to the sampler */
	if (sampled != TRACE_SAMPLED_YES && pl->sampler) {
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
			t->unsampled = true;
			xtap_ctr.sampler_dropped++;
			return;
		}
		snprintf(t->rule_name, sizeof(t->rule_name), "%s", dec.rule_name);
	}
}

void pipeline_emit(struct xtap_txn *t, void *ctx)
{
	/* one document at a time on the event loop: a static buffer, no
	 * allocation per transaction */
	static char doc[SEGMENT_DOC_MAX];
	struct pipeline *pl = ctx;
	char id[XID_SPAN_LEN + 1];
	struct segment_config seg;
	struct trace_ctx tc;
	int n;

	/* decided at the request head (pipeline_head), counted there */
	if (t->unsampled)
		return;
	segment_trace_ctx(t, &tc);
	seg = pl->seg;
	seg.rule_name = t->rule_name;
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
	if (pl->recent)
		recent_add(pl->recent, doc, n);
}
