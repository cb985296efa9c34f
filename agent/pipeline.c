// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "xtap.h"
#include "counters.h"
#include "k8s_meta.h"
#include "pipeline.h"
#include "redact.h"

/* What the agent last planned in each of the kernel's plans: a plan is
 * made again when the process, the rules' generation or the service's
 * name (its pod's metadata may come later) changed. One pipeline per
 * process; XTAP_SAMPLE_PLANS entries of 56 bytes. */
static struct {
	uint32_t tgid;
	uint32_t gen;
	uint64_t name_hash;
	char rule_name[SAMPLING_NAME_MAX + 1];
} planned[XTAP_SAMPLE_PLANS];

static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3ull;
	return h;
}

/* A trace starts at t's request, and the kernel could decide the next
 * ones of its process (kernel_sample): the plan for it, if its service's
 * rules allow one. The kernel reads plans with no lock: the entry is
 * cleared before the slot and generation change, then its tgid set. */
static void plan_kernel(struct pipeline *pl, const struct xtap_txn *t, const char *service,
			const char *origin)
{
	unsigned idx = t->pid & (XTAP_SAMPLE_PLANS - 1);
	struct xtap_sample_plan *kp = &pl->kplans[idx];
	struct sampling_decision rule = { 0 };
	uint64_t h = name_hash(service);
	uint32_t gen = sampler_generation(pl->sampler);
	int slot;

	if (planned[idx].tgid == t->pid && planned[idx].gen == gen && planned[idx].name_hash == h)
		return; /* the common case: no lock, no rule matched */
	slot = sampler_service_slot(pl->sampler, service, origin, &rule, &gen);
	__atomic_store_n(&kp->tgid, 0, __ATOMIC_RELEASE);
	planned[idx].tgid = t->pid;
	planned[idx].gen = gen;
	planned[idx].name_hash = h;
	memcpy(planned[idx].rule_name, rule.rule_name, sizeof(rule.rule_name));
	if (slot < 0)
		return; /* its requests may fall to different rules: the agent decides */
	kp->slot = (uint16_t)slot;
	kp->gen = (uint16_t)gen;
	__atomic_store_n(&kp->tgid, t->pid, __ATOMIC_RELEASE);
}

void pipeline_head(struct xtap_txn *t, void *ctx)
{
	struct pipeline *pl = ctx;
	const struct xtap_identity *idn = identity_get(pl->seg.identity);
	const char *origin = idn && idn->origin ? idn->origin : "";
	struct sampling_decision dec;
	int sampled;

	/* the pod's metadata names the service: before plans and rules */
	k8s_meta_fill(t);
	/* the kernel started a trace here: it may decide the process's next */
	if (pl->kplans && pl->sampler &&
	    (t->kctx.source == XTAP_CTX_NEW || t->kctx.source == XTAP_CTX_ROOT))
		plan_kernel(pl, t, segment_service_name(t, &pl->seg, NULL), origin);
	if (t->inherits) {
		/* the trace's decision comes from its first exchange, or from
		 * this one's kernel (span_seed_caller) */
		if (txn_kernel_decided(t))
			xtap_ctr.sampled_in_kernel++;
		return;
	}
	sampled = segment_trace_sampled(t);
	if (sampled == TRACE_SAMPLED_NO) {
		t->drop = SPAN_DROP_HEADER;
		return;
	}
	/* Sampled=1 is honoured as is; absent or '?' goes to the sampler */
	if (sampled != TRACE_SAMPLED_YES && pl->sampler) {
		struct sampling_req q = {
			.service_name = segment_service_name(t, &pl->seg, NULL),
			.service_type = origin,
			.host = t->has_host ? t->host : "",
			.method = t->method,
			.url_path = t->target,
		};

		if (txn_kernel_decided(t)) {
			unsigned idx = t->pid & (XTAP_SAMPLE_PLANS - 1);

			xtap_ctr.sampled_in_kernel++;
			dec.sampled = t->kctx.sampled == XTAP_SAMPLED_YES;
			snprintf(dec.rule_name, sizeof(dec.rule_name), "%s",
				 planned[idx].tgid == t->pid ? planned[idx].rule_name : "");
		} else {
			sampler_decide(pl->sampler, &q, &dec);
		}
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
