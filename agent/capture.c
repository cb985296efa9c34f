// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "capture.h"
#include "clock.h"
#include "conn.h"
#include "log.h"
#include "telemetry.h"
#include "tls_probes.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

void capture_handle_signals(void)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
}

bool capture_stopping(void)
{
	return stopping;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;
	const struct xtap_ev_hdr *h = data;

	if (c->raw) {
		c->raw(data, size, c->raw_ctx);
		return 0;
	}
	if (c->tls && size >= sizeof(*h) && h->type >= XTAP_EV_EXIT &&
	    tls_probes_record(data, size, clock_mono_now()))
		return 0;
	if (conn_handle_record(data, size))
		p_dbg("bad record of %zu bytes", size);
	return 0;
}

int capture_open(struct capture *c, const struct loader_opts *lo)
{
	int err;

	err = tracefs_ensure();
	if (err)
		return err;
	err = loader_open(lo, &c->l);
	if (err)
		return err;
	c->rb = ring_buffer__new(loader_ringbuf_fd(c->l), on_record, c, NULL);
	if (!c->rb) {
		err = -errno;
		p_err("ring buffer: %s", strerror(-err));
		return err;
	}
	c->last_sweep = clock_mono_now();
	c->poll_ms = CAPTURE_POLL_MS;
	return 0;
}

int capture_turn(struct capture *c, uint64_t *now_out)
{
	uint64_t now;
	int err, read = 0;

	/* poll returns early only on a forced wake-up (a backlog); records
	 * submitted without one are read by the consume */
	err = ring_buffer__poll(c->rb, c->poll_ms);
	if (err > 0)
		read = err;
	if (err >= 0 || err == -EINTR)
		err = ring_buffer__consume(c->rb);
	if (err < 0 && err != -EINTR) {
		p_err("ring buffer: %s", strerror(-err));
		return err;
	}
	if (err > 0)
		read += err;
	c->poll_ms = read >= CAPTURE_BUSY_RECORDS ? CAPTURE_BUSY_POLL_MS : CAPTURE_POLL_MS;
	now = clock_mono_now();
	if (!c->raw)
		conn_tick(now);
	if (c->tls)
		tls_probes_tick(now);
	if (now - c->last_sweep >= CAPTURE_SWEEP_NS) {
		conn_sweep(now);
		clock_sync();
		loader_sync_clock(c->l);
		c->last_sweep = now;
	}
	if (c->tel)
		telemetry_tick(c->tel, now);
	if (now_out)
		*now_out = now;
	return 0;
}

void capture_drain(struct capture *c)
{
	if (c->rb)
		ring_buffer__consume(c->rb);
	if (!c->raw)
		conn_table_flush();
}

void capture_close(struct capture *c)
{
	ring_buffer__free(c->rb);
	c->rb = NULL;
	loader_close(c->l);
	c->l = NULL;
}
