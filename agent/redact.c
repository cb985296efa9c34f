// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* See redact.h. Field and start-line syntax: RFC 9112 sections 3 and 5,
 * RFC 9110 section 5.6.2 (token). */
#include <string.h>

#include "http.h"
#include "redact.h"

void redact_query(char *target)
{
	char *q = strchr(target, '?'), *w;
	bool in_value = false;

	if (!q)
		return;
	for (w = ++q; *q; q++) {
		if (*q == '&')
			in_value = false;
		else if (in_value)
			continue;
		else if (*q == '=')
			in_value = true;
		*w++ = *q;
	}
	*w = '\0';
}

/* The same on a request line, masking instead of dropping: up to the SP
 * that ends the target. */
static void mask_query(uint8_t *l, size_t n)
{
	uint8_t *q = memchr(l, '?', n), *end = l + n;
	bool in_value = false;

	for (q = q ? q + 1 : end; q < end && *q != ' '; q++) {
		if (*q == '&')
			in_value = false;
		else if (in_value)
			*q = '*';
		else if (*q == '=')
			in_value = true;
	}
}

static bool is_tchar(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "HTTP/1." */
static bool is_status_line(const uint8_t *l, size_t n)
{
	return n >= 7 && !memcmp(l, "HTTP/1.", 7);
}

/* "METHOD " (capitals, as http.c takes them) */
static bool is_request_line(const uint8_t *l, size_t n)
{
	size_t i = 0;

	while (i < n && i < HTTP_METHOD_MAX - 1 && l[i] >= 'A' && l[i] <= 'Z')
		i++;
	return i && i < n && l[i] == ' ';
}

static void mask_line(uint8_t *l, size_t n, bool query)
{
	const uint8_t *colon = memchr(l, ':', n);
	size_t name = colon ? (size_t)(colon - l) : 0, i;

	if (!n || is_status_line(l, n))
		return;
	if (is_request_line(l, n)) {
		if (query)
			mask_query(l, n);
		return;
	}
	for (i = 0; i < name && is_tchar(l[i]); i++)
		;
	if (!name || i < name) {
		/* not a field line: body bytes, or the rest of a line begun
		 * in an earlier write, whose field cannot be told */
		memset(l, '*', n);
		return;
	}
	if (!http_field_read((const char *)l, name))
		memset(l + name + 1, '*', n - name - 1);
}

void redact_head_bytes(uint8_t *p, size_t n, bool query)
{
	size_t i = 0;

	while (i < n) {
		uint8_t *lf = memchr(p + i, '\n', n - i);
		size_t e = lf ? (size_t)(lf - p) : n, le = e;

		if (le > i && p[le - 1] == '\r')
			le--;
		mask_line(p + i, le - i, query);
		i = e + 1;
	}
}
