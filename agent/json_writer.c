/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "json_writer.h"

void jw_init(struct jw *w, char *buf, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	/* With no room even for the NUL nothing can be written at all. */
	if (!buf || !cap)
		w->overflow = true;
	else
		buf[0] = '\0';
}

/* One byte is always kept back for the NUL that jw_finish() writes, so a
 * writer that never overflowed can always terminate its output. Once a
 * write does not fit, nothing more is written: a cut document must never
 * look complete. */
static void put(struct jw *w, const char *s, size_t n)
{
	if (w->overflow)
		return;
	if (n >= w->cap - w->len) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void put_char(struct jw *w, char c)
{
	if (w->overflow)
		return;
	if (w->cap - w->len < 2) {
		w->overflow = true;
		return;
	}
	w->buf[w->len++] = c;
}

/* Called before any value, key or container opener: writes the comma that
 * separates it from its predecessor in the enclosing container. After a
 * key, need_comma is false, so the value that follows gets none. */
static void pre_value(struct jw *w)
{
	if (w->depth <= 0 || w->depth >= JW_DEPTH_MAX)
		return;
	if (w->need_comma[w->depth])
		put_char(w, ',');
	w->need_comma[w->depth] = true;
}

static void open_container(struct jw *w, char c)
{
	pre_value(w);
	put_char(w, c);
	w->depth++;
	if (w->depth >= JW_DEPTH_MAX)
		w->bad_nesting = true;
	else
		w->need_comma[w->depth] = false;
}

static void close_container(struct jw *w, char c)
{
	if (w->depth <= 0) {
		w->bad_nesting = true;
		return;
	}
	put_char(w, c);
	w->depth--;
}

void jw_obj_begin(struct jw *w)
{
	open_container(w, '{');
}

void jw_obj_end(struct jw *w)
{
	close_container(w, '}');
}

void jw_arr_begin(struct jw *w)
{
	open_container(w, '[');
}

void jw_arr_end(struct jw *w)
{
	close_container(w, ']');
}

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 1; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	*cp = v;
	return len;
}

/* Bytes written as they are: ASCII from 0x20 but '"' and '\\'. */
static const bool plain[256] = {
	[0x20 ... 0x21] = true, /* '"' is 0x22 */
	[0x23 ... 0x5b] = true, /* '\\' is 0x5c */
	[0x5d ... 0x7f] = true, /* DEL needs no escape */
};

/* Decimal digits of v ending at end (exclusive); returns the first. */
static char *u64_digits(uint64_t v, char *end)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static void put_escaped(struct jw *w, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;
	char esc[6];

	put_char(w, '"');
	while (i < n && !w->overflow) {
		unsigned char c = s[i];
		size_t l;

		if (plain[c]) {
			/* the common case: a run of printable ASCII */
			size_t j = i + 1;

			while (j < n && plain[s[j]])
				j++;
			run += j - i;
			i = j;
			continue;
		}
		if (c >= 0x80) {
			uint32_t cp;

			l = utf8_decode(s + i, n - i, &cp);
			if (l) {
				run += l;
				i += l;
				continue;
			}
		}
		/* Flush the plain bytes before writing an escape. */
		put(w, (const char *)s + i - run, run);
		run = 0;
		switch (c) {
		case '"':
			put(w, "\\\"", 2);
			break;
		case '\\':
			put(w, "\\\\", 2);
			break;
		case '\n':
			put(w, "\\n", 2);
			break;
		case '\r':
			put(w, "\\r", 2);
			break;
		case '\t':
			put(w, "\\t", 2);
			break;
		case '\b':
			put(w, "\\b", 2);
			break;
		case '\f':
			put(w, "\\f", 2);
			break;
		default:
			if (c >= 0x80) {
				/* One replacement per bad byte: the rest of a broken
				 * sequence is judged on its own. */
				put(w, "\\ufffd", 6);
			} else {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 0xf];
				put(w, esc, 6);
			}
			break;
		}
		i++;
	}
	put(w, (const char *)s + i - run, run);
	put_char(w, '"');
}

void jw_key_n(struct jw *w, const char *key, size_t n)
{
	unsigned int bad = 0;

	pre_value(w);
	/* keys are the program's own names: plain, written in one copy (the
	 * check has no early exit: it runs over a dozen bytes, and a branch
	 * per byte costs more than the bytes) */
	for (size_t i = 0; i < n; i++)
		bad |= !plain[(unsigned char)key[i]];
	if (!bad && !w->overflow && n + 3 < w->cap - w->len) {
		char *d = w->buf + w->len;

		d[0] = '"';
		memcpy(d + 1, key, n);
		d[n + 1] = '"';
		d[n + 2] = ':';
		w->len += n + 3;
	} else {
		put_escaped(w, key, n);
		put_char(w, ':');
	}
	if (w->depth > 0 && w->depth < JW_DEPTH_MAX)
		w->need_comma[w->depth] = false;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	pre_value(w);
	put_escaped(w, s ? s : "", s ? n : 0);
}

void jw_str(struct jw *w, const char *s)
{
	jw_strn(w, s, s ? strlen(s) : 0);
}

void jw_u64(struct jw *w, uint64_t v)
{
	char tmp[24], *p = u64_digits(v, tmp + sizeof(tmp));

	pre_value(w);
	put(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

void jw_i64(struct jw *w, int64_t v)
{
	char tmp[24], *p;

	/* the magnitude as unsigned: -INT64_MIN does not fit an int64_t */
	p = u64_digits(v < 0 ? -(uint64_t)v : (uint64_t)v, tmp + sizeof(tmp));
	if (v < 0)
		*--p = '-';
	pre_value(w);
	put(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

void jw_bool(struct jw *w, bool v)
{
	pre_value(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void jw_epoch_us(struct jw *w, uint64_t epoch_ns)
{
	char tmp[32], *end = tmp + sizeof(tmp), *p;
	uint64_t us = (epoch_ns % 1000000000u) / 1000u;

	/* <seconds>.<6 digits>, written backwards */
	for (int i = 0; i < 6; i++) {
		*--end = (char)('0' + us % 10);
		us /= 10;
	}
	*--end = '.';
	p = u64_digits(epoch_ns / 1000000000u, end);
	pre_value(w);
	put(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

int jw_finish(struct jw *w)
{
	if (w->buf && w->cap)
		w->buf[w->len] = '\0';
	if (w->bad_nesting || w->depth != 0)
		return -EINVAL;
	if (w->overflow || w->len > INT_MAX)
		return -ENOSPC;
	return (int)w->len;
}
