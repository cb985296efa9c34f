/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Finished transactions to documents to the exporter. */
#ifndef XTAP_PIPELINE_H
#define XTAP_PIPELINE_H

#include <stdbool.h>
#include "exporter.h"
#include "recent.h"
#include "sampling.h"
#include "segment.h"
#include "txn.h"
#include "xray_api.h"

struct pipeline {
	struct segment_config seg;
	struct exporter *ex;
	/* Direct PutTraceSegments export (--export api/both); NULL: off. */
	struct xray_api *xa;
	/* Decides requests whose trace header left sampling open; NULL:
	 * every such request is emitted. */
	struct sampler *sampler;
	/* The last documents, for the metrics endpoint; NULL: none kept. */
	struct recent *recent;
	/* --redact-query: documents carry query keys, not values (redact.h). */
	bool redact_query;
	/* The kernel's sampling plans (loader_sampling), NULL: the kernel
	 * does not sample, and the sampler decides every trace start. */
	struct xtap_sample_plan *kplans;
};

/* txn_head_fn for conn_table_init: the trace header's Sampled=1/0, else
 * the sampler. ctx is a struct pipeline. */
void pipeline_head(struct xtap_txn *t, void *ctx);
/* txn_sink_fn for conn_table_init; ctx is a struct pipeline. */
void pipeline_emit(struct xtap_txn *t, void *ctx);

#endif /* XTAP_PIPELINE_H */
