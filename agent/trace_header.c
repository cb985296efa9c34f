/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "trace_header.h"

static void ctx_reset(struct trace_ctx *out)
{
	out->trace_id[0] = '\0';
	out->parent_id[0] = '\0';
	out->sampled = TRACE_SAMPLED_UNKNOWN;
	out->id[0] = '\0';
	out->traced = false;
	out->own_segment = false;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim [*b, *e) of spaces and tabs. */
static void trim(const char **b, const char **e)
{
	while (*b < *e && is_ows(**b))
		(*b)++;
	while (*e > *b && is_ows((*e)[-1]))
		(*e)--;
}

static bool key_is(const char *k, size_t n, const char *want)
{
	return n == strlen(want) && !strncasecmp(k, want, n);
}

static void copy_lower(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = src[i];

		dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	dst[n] = '\0';
}

/* Copies [v, v + n) into dst (cap bytes) when it is exactly the size an id
 * has, so the validator sees a NUL-terminated candidate. */
static bool take(char *dst, size_t cap, const char *v, size_t n)
{
	if (n + 1 != cap)
		return false;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return true;
}

/* Node (lib/utils.js processTraceData) splits each part with split('=') and
 * keeps element [1], so the value ends at a second '=' too; a later
 * duplicate key overrides an earlier one. Self, Lineage and unknown keys are
 * not needed to build a document and are ignored. */
int trace_parse_amzn(const char *hdr, struct trace_ctx *out)
{
	const char *p, *end;
	bool found = false;

	ctx_reset(out);
	if (!hdr)
		return -EINVAL;
	p = hdr;
	end = hdr + strlen(hdr);
	while (p <= end) {
		const char *part_end = memchr(p, ';', (size_t)(end - p));
		const char *eq, *kb, *ke, *vb, *ve;
		char tmp[XID_TRACE_LEN + 1];
		size_t kn, vn;

		if (!part_end)
			part_end = end;
		eq = memchr(p, '=', (size_t)(part_end - p));
		if (!eq)
			goto next;
		kb = p;
		ke = eq;
		vb = eq + 1;
		ve = memchr(vb, '=', (size_t)(part_end - vb));
		if (!ve)
			ve = part_end;
		trim(&kb, &ke);
		trim(&vb, &ve);
		kn = (size_t)(ke - kb);
		vn = (size_t)(ve - vb);

		if (key_is(kb, kn, "root")) {
			out->trace_id[0] = '\0';
			if (take(tmp, sizeof(tmp), vb, vn) && xid_valid_trace_id(tmp))
				copy_lower(out->trace_id, tmp, vn);
		} else if (key_is(kb, kn, "parent")) {
			out->parent_id[0] = '\0';
			if (take(tmp, XID_SPAN_LEN + 1, vb, vn) && xid_valid_span_id(tmp))
				copy_lower(out->parent_id, tmp, vn);
		} else if (key_is(kb, kn, "sampled")) {
			if (vn == 1 && vb[0] == '1')
				out->sampled = TRACE_SAMPLED_YES;
			else if (vn == 1 && vb[0] == '0')
				out->sampled = TRACE_SAMPLED_NO;
			else
				out->sampled = TRACE_SAMPLED_UNKNOWN;
		}
next:
		p = part_end + 1;
	}
	found = out->trace_id[0] || out->parent_id[0] || out->sampled != TRACE_SAMPLED_UNKNOWN;
	return found ? 0 : -EINVAL;
}

/* W3C Trace Context: lowercase hex only. */
static bool lhex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool all_zero(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != '0')
			return false;
	return true;
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* version "-" trace-id(32) "-" parent-id(16) "-" flags(2) = 55 chars. A
 * later version may append "-..." fields, which W3C says to ignore; version
 * 00 may not, and ff is forbidden. */
#define TP_LEN 55

int trace_parse_traceparent(const char *hdr, struct trace_ctx *out)
{
	const char *b, *e;
	size_t n;

	ctx_reset(out);
	if (!hdr)
		return -EINVAL;
	b = hdr;
	e = hdr + strlen(hdr);
	trim(&b, &e);
	n = (size_t)(e - b);
	if (n < TP_LEN)
		return -EINVAL;
	if (!lhex(b, 2) || !memcmp(b, "ff", 2))
		return -EINVAL;
	if (!memcmp(b, "00", 2) ? n != TP_LEN : (n > TP_LEN && b[TP_LEN] != '-'))
		return -EINVAL;
	if (b[2] != '-' || b[35] != '-' || b[52] != '-')
		return -EINVAL;
	if (!lhex(b + 3, 32) || !lhex(b + 36, 16) || !lhex(b + 53, 2))
		return -EINVAL;
	if (all_zero(b + 3, 32) || all_zero(b + 36, 16))
		return -EINVAL;

	/* The first 8 hex of an X-Ray-compatible W3C id are the epoch (the
	 * OpenTelemetry AWS X-Ray propagator). */
	memcpy(out->trace_id, "1-", 2);
	memcpy(out->trace_id + 2, b + 3, 8);
	out->trace_id[10] = '-';
	memcpy(out->trace_id + 11, b + 11, 24);
	out->trace_id[XID_TRACE_LEN] = '\0';
	memcpy(out->parent_id, b + 36, XID_SPAN_LEN);
	out->parent_id[XID_SPAN_LEN] = '\0';
	out->sampled = (hexval(b[54]) & 1) ? TRACE_SAMPLED_YES : TRACE_SAMPLED_NO;
	return 0;
}
