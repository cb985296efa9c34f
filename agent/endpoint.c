// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include <jansson.h>
#include "clock.h"
#include "endpoint.h"
#include "log.h"
#include "metrics_http.h"
#include "recent.h"
#include "sampling.h"
#include "telemetry.h"

int endpoint_configure(struct endpoint *e, const char *opt)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char why[160];

	memset(e, 0, sizeof(*e));
	e->addr = metrics_address(opt, &e->explicit_addr);
	if (e->addr && metrics_addr_parse(e->addr, &ss, &len, why, sizeof(why))) {
		p_err("--metrics-address %s (or 'off')", why);
		return -EINVAL;
	}
	return 0;
}

static int kernel_stats(void *ctx, uint64_t out[XTAP_STAT_MAX])
{
	return loader_read_stats(ctx, out);
}

static json_t *bpf_status(void *ctx)
{
	return loader_status_json(ctx);
}

static json_t *config_json(const struct loader_opts *lo, const struct exporter_config *ec,
			   const struct pipeline *pl, bool use_api)
{
	json_t *o = json_object(), *pids = json_array(), *ports = json_array(),
	       *cgroups = json_array();

	for (int i = 0; i < lo->n_pids; i++)
		json_array_append_new(pids, json_integer(lo->pids[i]));
	for (int i = 0; i < lo->n_ports; i++)
		json_array_append_new(ports, json_integer(lo->ports[i]));
	for (int i = 0; i < lo->n_cgroups; i++)
		json_array_append_new(cgroups, json_string(lo->cgroups[i]));
	json_object_set_new(o, "pids", pids);
	json_object_set_new(o, "ports", ports);
	json_object_set_new(o, "cgroups", cgroups);
	json_object_set_new(o, "capture_bytes", json_integer(lo->cap_bytes));
	json_object_set_new(o, "ring_buffer_mb", json_integer(lo->ringbuf_mb));
	json_object_set_new(o, "daemon", json_boolean(ec->udp));
	json_object_set_new(o, "xray_api", json_boolean(use_api));
	json_object_set_new(o, "stdout", json_boolean(ec->to_stdout));
	json_object_set_new(o, "output_file", ec->file ? json_string(ec->file) : json_null());
	json_object_set_new(o, "name", pl->seg.name ? json_string(pl->seg.name) : json_null());
	return o;
}

int endpoint_start(struct endpoint *e, struct capture *cap, struct pipeline *pl,
		   const struct loader_opts *lo, const struct exporter_config *ec, bool use_api)
{
	struct metrics_source src = {
		.ex = pl->ex,
		.xa = pl->xa,
		.sampler = pl->sampler,
		.programs_attached = loader_links(cap->l),
		.kernel_stats = kernel_stats,
		.bpf_status = bpf_status,
		.bpf_ctx = cap->l,
		.version = XTAP_VERSION,
	};
	char why[256];
	int err;

	if (!e->addr)
		return 0;
	e->tel = telemetry_new();
	e->recent = recent_new();
	e->config = config_json(lo, ec, pl, use_api);
	if (!e->tel || !e->recent || !e->config) {
		p_err("metrics endpoint: out of memory");
		endpoint_stop(e);
		return -ENOMEM;
	}
	src.tel = e->tel;
	src.recent = e->recent;
	src.config = e->config;
	e->http = metrics_http_start(e->addr, &src, why, sizeof(why));
	if (!e->http) {
		err = -errno;
		endpoint_stop(e);
		if (!e->explicit_addr) {
			p_warn("metrics endpoint %s; running without it (choose another with --metrics-address, or 'off')",
			       why);
			return 0;
		}
		p_err("metrics endpoint %s (choose another with --metrics-address, or 'off')", why);
		return err;
	}
	/* the loop feeds them from now on */
	e->cap = cap;
	e->pl = pl;
	cap->tel = e->tel;
	pl->recent = e->recent;
	/* the loop starts turning now: count this as its first turn */
	telemetry_tick(e->tel, clock_mono_now());
	telemetry_set_ready(e->tel, true);
	p_info("metrics endpoint on %s (port %d): /metrics /healthz /status", e->addr,
	       metrics_http_port(e->http));
	return 0;
}

void endpoint_stop(struct endpoint *e)
{
	/* the server first: nothing reads what follows once it is gone */
	metrics_http_stop(e->http);
	e->http = NULL;
	if (e->cap)
		e->cap->tel = NULL;
	if (e->pl)
		e->pl->recent = NULL;
	e->cap = NULL;
	e->pl = NULL;
	telemetry_free(e->tel);
	e->tel = NULL;
	recent_free(e->recent);
	e->recent = NULL;
	json_decref(e->config);
	e->config = NULL;
}
