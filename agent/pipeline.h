/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Finished transactions to documents to the exporter. */
#ifndef XTAP_PIPELINE_H
#define XTAP_PIPELINE_H

#include "exporter.h"
#include "segment.h"
#include "txn.h"

struct pipeline {
	struct segment_config seg;
	struct exporter *ex;
};

/* txn_sink_fn for conn_table_init; ctx is a struct pipeline. */
void pipeline_emit(struct xtap_txn *t, void *ctx);

#endif /* XTAP_PIPELINE_H */
