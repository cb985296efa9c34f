/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `xtap run`'s self-observability endpoint (metrics_http.h), wired to the
 * capture loop, the pipeline and the BPF objects. */
#ifndef XTAP_ENDPOINT_H
#define XTAP_ENDPOINT_H

#include <stdbool.h>
#include "capture.h"
#include "exporter.h"
#include "loader.h"
#include "pipeline.h"

struct endpoint {
	const char *addr; /* NULL: off */
	bool explicit_addr; /* from --metrics-address or the environment */
	struct metrics_http *http;
	struct telemetry *tel;
	struct recent *recent;
	struct json_t *config;
	/* hooked while serving, unhooked by endpoint_stop */
	struct capture *cap;
	struct pipeline *pl;
};

/* Choose and check the address (--metrics-address, $XTAP_METRICS_ADDRESS,
 * the default): 0, or -EINVAL reported (a usage error). */
int endpoint_configure(struct endpoint *e, const char *opt);
/* After capture_open: serve. A configured address that cannot be bound
 * fails (-errno, reported); the default one only warns, so a second agent
 * or a busy port does not stop capture. */
int endpoint_start(struct endpoint *e, struct capture *cap, struct pipeline *pl,
		   const struct loader_opts *lo, const struct exporter_config *ec, bool use_api);
/* Before the pipeline and the capture are torn down. Idempotent. */
void endpoint_stop(struct endpoint *e);

#endif /* XTAP_ENDPOINT_H */
