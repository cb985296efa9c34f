/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ids.h"

/* Trace ids end up in response headers, so AWS asks for a secure source
 * (the X-Ray segment document format). One getrandom() per 4 KiB serves ~200 trace ids or 512
 * span ids. */
#define POOL_SIZE 4096

static unsigned char pool[POOL_SIZE];
static size_t pool_pos = POOL_SIZE;

static int fill_getrandom(unsigned char *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = getrandom(buf + done, n - done, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)r;
	}
	return 0;
}

/* For kernels or seccomp profiles that refuse getrandom(). */
static int fill_urandom(unsigned char *buf, size_t n)
{
	size_t done = 0;
	int fd, err = 0;

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (done < n) {
		ssize_t r = read(fd, buf + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)r;
	}
	close(fd);
	return err;
}

static void pool_refill(void)
{
	int err = fill_getrandom(pool, sizeof(pool));

	if (err) {
		int err2 = fill_urandom(pool, sizeof(pool));

		if (err2) {
			/* Predictable ids would let anyone guess trace ids; there is
			 * no acceptable weaker fallback. */
			fprintf(stderr,
				"xtap: no secure random source: getrandom: %s, /dev/urandom: %s\n",
				strerror(-err), strerror(-err2));
			abort();
		}
	}
	pool_pos = 0;
}

static void random_bytes(unsigned char *out, size_t n)
{
	while (n) {
		size_t take;

		if (pool_pos == POOL_SIZE)
			pool_refill();
		take = POOL_SIZE - pool_pos;
		if (take > n)
			take = n;
		memcpy(out, pool + pool_pos, take);
		/* Bytes handed out must never be handed out again. */
		memset(pool + pool_pos, 0, take);
		pool_pos += take;
		out += take;
		n -= take;
	}
}

static void hex_encode(char *out, const unsigned char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0xf];
	}
}

void xid_trace_id(char *out, uint64_t epoch_s)
{
	unsigned char rnd[12];

	/* The field is 32 bits wide; past 2106 it wraps like everyone else's. */
	snprintf(out, 12, "1-%08x-", (unsigned int)(epoch_s & 0xffffffffu));
	random_bytes(rnd, sizeof(rnd));
	hex_encode(out + 11, rnd, sizeof(rnd));
	out[XID_TRACE_LEN] = '\0';
}

void xid_span_id(char *out)
{
	static const unsigned char zero[8];
	unsigned char rnd[8];

	do
		random_bytes(rnd, sizeof(rnd));
	while (!memcmp(rnd, zero, sizeof(rnd)));
	hex_encode(out, rnd, sizeof(rnd));
	out[XID_SPAN_LEN] = '\0';
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool all_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_hex(s[i]))
			return false;
	return true;
}

/* Either case is accepted: ids arrive in headers written by other tracers.
 * All zeros is rejected as W3C does for parent-id: it names no span. */
bool xid_valid_span_id(const char *s)
{
	size_t i;

	if (!s || strnlen(s, XID_SPAN_LEN + 1) != XID_SPAN_LEN || !all_hex(s, XID_SPAN_LEN))
		return false;
	for (i = 0; i < XID_SPAN_LEN; i++)
		if (s[i] != '0')
			return true;
	return false;
}

bool xid_valid_trace_id(const char *s)
{
	if (!s || strnlen(s, XID_TRACE_LEN + 1) != XID_TRACE_LEN)
		return false;
	return s[0] == '1' && s[1] == '-' && all_hex(s + 2, 8) && s[10] == '-' &&
	       all_hex(s + 11, 24);
}
