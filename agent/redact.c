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

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* "HTTP/1.1 200": the line is shown, so it must be one, not body text that
 * starts alike. */
static bool is_status_line(const uint8_t *l, size_t n)
{
	return n >= 12 && !memcmp(l, "HTTP/1.", 7) && is_digit(l[7]) && l[8] == ' ' &&
	       is_digit(l[9]) && is_digit(l[10]) && is_digit(l[11]) && (n == 12 || l[12] == ' ');
}

/* "METHOD target HTTP/1.1", the method in capitals as http.c takes it, the
 * target a path, "*", an absolute URL or CONNECT's authority; complete:
 * the line's end was seen, so its version must be there too. */
static bool is_request_line(const uint8_t *l, size_t n, bool complete)
{
	const uint8_t *t;
	size_t i = 0, tn;

	while (i < n && i < HTTP_METHOD_MAX - 1 && l[i] >= 'A' && l[i] <= 'Z')
		i++;
	if (!i || i >= n || l[i] != ' ')
		return false;
	t = l + i + 1;
	tn = n - i - 1;
	if (!tn || !(t[0] == '/' || t[0] == '*' || (tn >= 4 && !memcmp(t, "http", 4)) ||
		     (i == 7 && !memcmp(l, "CONNECT", 7))))
		return false;
	return !complete || (tn >= 10 && !memcmp(l + n - 9, " HTTP/1.", 8) && is_digit(l[n - 1]));
}

static void mask_line(uint8_t *l, size_t n, bool complete, bool query)
{
	const uint8_t *colon = memchr(l, ':', n);
	size_t name = colon ? (size_t)(colon - l) : 0, i;

	if (!n || is_status_line(l, n))
		return;
	if (is_request_line(l, n, complete)) {
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
		mask_line(p + i, le - i, lf != NULL, query);
		i = e + 1;
	}
}
