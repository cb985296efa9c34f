// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "counters.h"
#include "k8s_meta.h"
#include "pipeline.h"
#include "redact.h"

void pipeline_head(struct xtap_txn *t, void *ctx)
{
	struct pipeline *pl = ctx;
	struct sampling_decision dec;
	int sampled;

	if (t->inherits) {
		/* the trace's decision comes from its first exchange */
		k8s_meta_fill(t);
		return;
	}
	sampled = segment_trace_sampled(t);
	if (sampled == TRACE_SAMPLED_NO) {
		t->drop = SPAN_DROP_HEADER;
		return;
	}
	/* before the sampler: the pod's metadata names the service */
	k8s_meta_fill(t);
	/* Sampled=1 is honoured as is; absent or '?' goes to the sampler */
	if (sampled != TRACE_SAMPLED_YES && pl->sampler) {
		const struct xtap_identity *idn = identity_get(pl->seg.identity);
		struct sampling_req q = {
			.service_name = segment_service_name(t, &pl->seg, NULL),
			.service_type = idn && idn->origin ? idn->origin : "",
			.host = t->has_host ? t->host : "",
			.method = t->method,
			.url_path = t->target,
		};

		sampler_decide(pl->sampler, &q, &dec);
		if (!dec.sampled) {
			t->drop = SPAN_DROP_SAMPLER;
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

	/* decided at the request head of the trace's first exchange
	 * (pipeline_head), inherited by the rest: counted here, once final */
	if (t->drop == SPAN_DROP_HEADER) {
		xtap_ctr.sampled_out++;
		return;
	}
	if (t->drop == SPAN_DROP_SAMPLER) {
		xtap_ctr.sampler_dropped++;
		return;
	}
	if (t->trace_id[0]) {
		memcpy(tc.trace_id, t->trace_id, sizeof(tc.trace_id));
		memcpy(tc.parent_id, t->parent_id, sizeof(tc.parent_id));
		memcpy(tc.id, t->span_id, sizeof(tc.id));
		tc.sampled = TRACE_SAMPLED_YES;
		tc.traced = t->callee_traced;
		tc.own_segment = t->own_segment;
	} else {
		segment_trace_ctx(t, &tc);
	}
	/* after sampling, which matched rules on the whole target */
	if (pl->redact_query)
		redact_query(t->target);
	seg = pl->seg;
	seg.rule_name = t->rule_name;
	n = segment_write(t, &tc, &seg, doc, sizeof(doc), id);
	if (n < 0) {
		xtap_ctr.segment_errors++;
		return;
	}
	if (t->role == XTAP_ROLE_CLIENT && !t->own_segment)
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
