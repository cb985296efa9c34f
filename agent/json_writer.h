/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A small streaming JSON writer into a caller's fixed buffer: commas and
 * escaping are right by construction. Strings are written as valid UTF-8:
 * control characters are escaped and invalid UTF-8 bytes become U+FFFD.
 * On overflow the writer stops writing and jw_finish() reports -ENOSPC. */
#ifndef XTAP_JSON_WRITER_H
#define XTAP_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JW_DEPTH_MAX 16

struct jw {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;
	bool bad_nesting;
	int depth;
	bool need_comma[JW_DEPTH_MAX];
};

void jw_init(struct jw *w, char *buf, size_t cap);
void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);
/* key: NUL-terminated; a literal's length is known at compile time */
void jw_key_n(struct jw *w, const char *key, size_t n);
#define jw_key(w, key) jw_key_n((w), (key), __builtin_strlen(key))
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_u64(struct jw *w, uint64_t v);
void jw_i64(struct jw *w, int64_t v);
void jw_bool(struct jw *w, bool v);
/* epoch nanoseconds as seconds with six decimals (microseconds), no float rounding */
void jw_epoch_us(struct jw *w, uint64_t epoch_ns);
/* key + value shorthands, inline so that a literal key's length is known */
static inline void jw_kv_str(struct jw *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_str(w, s);
}

static inline void jw_kv_u64(struct jw *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	jw_u64(w, v);
}

static inline void jw_kv_i64(struct jw *w, const char *key, int64_t v)
{
	jw_key(w, key);
	jw_i64(w, v);
}

static inline void jw_kv_bool(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	jw_bool(w, v);
}
/* Decode the UTF-8 sequence at s (at most n bytes): its length, with the
 * code point in *cp, or 0 when s[0] does not start a valid sequence (it is
 * written as one U+FFFD). Overlong forms, UTF-16 surrogates and code points
 * past U+10FFFF are invalid (RFC 3629). */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* NUL-terminates; returns the length written, or -ENOSPC / -EINVAL (unbalanced). */
int jw_finish(struct jw *w);

#endif /* XTAP_JSON_WRITER_H */
