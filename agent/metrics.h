/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The agent's numbers, named once: Prometheus text (the exposition format,
 * version 0.0.4) for /metrics and the same values as JSON for /status. */
#ifndef XTAP_METRICS_H
#define XTAP_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "exporter.h"
#include "telemetry.h"
#include "xray_api.h"

struct metrics_values {
	struct telemetry_snapshot snap;
	bool have_kernel; /* kernel[] was read */
	uint64_t kernel[XTAP_STAT_MAX];
	struct exporter_stats ex;
	bool have_xray; /* exporting to the X-Ray API */
	struct xray_api_stats xa;
	int programs_attached;
	uint64_t rss_bytes; /* 0: unknown */
	double start_time; /* epoch seconds */
	const char *version;
};

/* The short name of kernel counter i (enum xtap_stat), as logs and /status
 * give it. */
const char *metrics_kernel_name(int i);
/* Resident memory of this process (/proc/self/statm), 0 when unreadable. */
uint64_t metrics_rss_bytes(void);
/* Write every metric, with HELP and TYPE lines, to f. */
void metrics_write_prometheus(FILE *f, const struct metrics_values *v);

struct json_t;
/* {"counters":{...},"kernel":{...},"drops":{reason:n},"export":{...},
 * "xray":{...} (when exporting there)} as new members of o. */
void metrics_status_json(struct json_t *o, const struct metrics_values *v);

#endif /* XTAP_METRICS_H */
