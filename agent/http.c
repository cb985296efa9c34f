/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Incremental HTTP/1.x parser. The contract is in http.h; the notes here
 * explain the choices that the contract leaves open.
 *
 * Cost is linear in the bytes fed: a head is scanned once for its end (the
 * scanner's position is kept in s->eoh between feeds), its start line is
 * checked once, and it is parsed once when complete. A head that arrives
 * whole in one feed is parsed in place and never copied. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

/* s->eoh while in a head: progress towards the empty line that ends it. */
enum {
	EOH_MID = 0, /* inside a line */
	EOH_BOL, /* just after LF */
	EOH_BOL_CR, /* just after LF CR */
};

/* While a head is in progress the chunked machine is idle, so s->chunk_state
 * carries this flag instead of a private field of its own. */
#define HEADF_START_OK 0x01 /* the start line is complete and valid */

/* s->chunk_state in a chunked body */
enum {
	CS_SIZE0 = 0, /* at the start of a chunk-size line */
	CS_SIZE, /* inside the hex digits */
	CS_EXT, /* after the digits: extensions, BWS, CR up to LF */
	CS_DATA, /* s->remaining bytes of chunk data */
	CS_DATA_CR, /* the CRLF after chunk data */
	CS_DATA_LF,
	CS_TR_BOL, /* trailer section, at the start of a line */
	CS_TR_CR, /* trailer section, CR at the start of a line */
	CS_TR_LINE, /* inside a trailer field line */
};

enum start_kind {
	START_NO, /* not a message start */
	START_PREFIX, /* too short to tell, but could still become one */
	START_REQ,
	START_RESP,
};

/* What a classify() needs to see to decide: "HTTP/1." or a 15-letter
 * method and its SP. */
#define START_PEEK HTTP_METHOD_MAX

static size_t head_in_use;

struct feed {
	struct http_stream *s;
	const uint8_t *data;
	size_t cap;
	size_t pos;
	uint64_t gap; /* bytes after data[cap - 1] that were not captured */
	const uint8_t *tail; /* the last tail_len bytes of those gap bytes */
	size_t tail_len;
	uint64_t ts;
	const struct http_stream_ops *ops;
	void *ctx;
};

static void emit_error(const struct http_stream_ops *ops, void *ctx, enum http_err err,
		       uint64_t nbytes)
{
	if (ops && ops->on_error)
		ops->on_error(ctx, err, nbytes);
}

static bool is_upper(uint8_t c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int hex_val(uint8_t c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_tchar(uint8_t c)
{
	if (is_digit(c) || is_upper(c) || (c >= 'a' && c <= 'z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Does p[0..n) start a message this stream accepts? n need not exceed
 * START_PEEK. */
static enum start_kind classify(const uint8_t *p, size_t n, uint8_t kind)
{
	bool prefix = false;
	size_t i;

	if (kind != HTTP_KIND_REQUEST && !memcmp(p, "HTTP/1.", min_sz(n, 7))) {
		if (n >= 7)
			return START_RESP;
		prefix = true;
	}
	if (kind != HTTP_KIND_RESPONSE) {
		for (i = 0; i < n && i < HTTP_METHOD_MAX - 1 && is_upper(p[i]); i++)
			;
		if (i == n)
			prefix = true;
		/* PRI is the HTTP/2 connection preface, not a method */
		else if (i && p[i] == ' ' && !(i == 3 && !memcmp(p, "PRI", 3)))
			return START_REQ;
	}
	return prefix ? START_PREFIX : START_NO;
}

/* ---- head buffer ---- */

static void head_free(struct http_stream *s)
{
	if (s->head) {
		free(s->head);
		__atomic_fetch_sub(&head_in_use, s->head_cap, __ATOMIC_RELAXED);
	}
	s->head = NULL;
	s->head_cap = 0;
	s->head_len = 0;
}

static bool head_append(struct http_stream *s, const uint8_t *p, size_t n)
{
	size_t need = (size_t)s->head_len + n, ncap, grow;
	uint8_t *nb;

	if (need > HTTP_HEAD_MAX)
		return false;
	if (need > s->head_cap) {
		for (ncap = s->head_cap ? s->head_cap : 256; ncap < need; ncap *= 2)
			;
		if (ncap > HTTP_HEAD_MAX)
			ncap = HTTP_HEAD_MAX;
		grow = ncap - s->head_cap;
		if (__atomic_add_fetch(&head_in_use, grow, __ATOMIC_RELAXED) > HTTP_HEAD_BUDGET) {
			__atomic_fetch_sub(&head_in_use, grow, __ATOMIC_RELAXED);
			return false;
		}
		nb = realloc(s->head, ncap);
		if (!nb) {
			__atomic_fetch_sub(&head_in_use, grow, __ATOMIC_RELAXED);
			return false;
		}
		s->head = nb;
		s->head_cap = ncap;
	}
	if (n)
		memcpy(s->head + s->head_len, p, n);
	s->head_len = need;
	return true;
}

/* Advance the end-of-head scanner over p[0..n). Returns the count of bytes
 * up to and including the final LF, or 0 when the head goes on. *first_lf is
 * the offset of the first LF in p, or SIZE_MAX. */
static size_t scan_eoh(uint8_t *eoh, const uint8_t *p, size_t n, size_t *first_lf)
{
	size_t i = 0;

	*first_lf = SIZE_MAX;
	while (i < n) {
		const uint8_t *lf;
		uint8_t c;

		if (*eoh == EOH_MID) {
			/* only LF matters inside a line: skip to it */
			lf = memchr(p + i, '\n', n - i);
			if (!lf)
				return 0;
			i = lf - p;
			if (*first_lf == SIZE_MAX)
				*first_lf = i;
			*eoh = EOH_BOL;
			i++;
			continue;
		}
		c = p[i++];
		if (c == '\n')
			return i;
		*eoh = (c == '\r' && *eoh == EOH_BOL) ? EOH_BOL_CR : EOH_MID;
	}
	return 0;
}

/* ---- head parsing ---- */

struct hdr_state {
	bool has_te;
	bool close;
	bool keep_alive;
};

static void trim_ows(const uint8_t **p, size_t *n)
{
	while (*n && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

static inline bool ieq_n(const uint8_t *p, size_t n, const char *lit, size_t ln)
{
	return n == ln && !strncasecmp((const char *)p, lit, n);
}

/* a literal's length is known at compile time */
#define ieq(p, n, lit) ieq_n((p), (n), (lit), __builtin_strlen(lit))

/* Returns true when the value had to be cut. */
static bool copy_str(char *dst, size_t size, const uint8_t *src, size_t n)
{
	bool cut = n >= size;

	if (cut)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return cut;
}

/* Split a list value at commas: the next trimmed element in *e / *en.
 * *off walks the value; false when it is used up. */
static bool next_elem(const uint8_t *v, size_t vl, size_t *off, const uint8_t **e, size_t *en)
{
	const uint8_t *comma;
	size_t end;

	if (*off > vl)
		return false;
	comma = *off < vl ? memchr(v + *off, ',', vl - *off) : NULL;
	end = comma ? (size_t)(comma - v) : vl;
	*e = v + *off;
	*en = end - *off;
	trim_ows(e, en);
	*off = end + 1;
	return true;
}

/* "42" or the identical list "42, 42" (RFC 9110 8.6); anything else makes
 * the framing ambiguous. */
static int parse_content_length(const uint8_t *v, size_t vl, int64_t *out)
{
	int64_t val = -1;
	const uint8_t *e;
	size_t off = 0, en, i;

	while (next_elem(v, vl, &off, &e, &en)) {
		int64_t x = 0;

		if (!en)
			return -1;
		for (i = 0; i < en; i++) {
			if (!is_digit(e[i]) || x > (INT64_MAX - 9) / 10)
				return -1;
			x = x * 10 + (e[i] - '0');
		}
		if (val >= 0 && x != val)
			return -1;
		val = x;
	}
	*out = val;
	return 0;
}

/* Headers kept as strings in struct http_msg: name, field, its size, flag. */
#define KEPT(name, field) { name, sizeof(name) - 1, offsetof(struct http_msg, field), \
			    sizeof(((struct http_msg *)0)->field), offsetof(struct http_msg, has_##field) }
static const struct {
	const char *name;
	size_t len, off, size, has;
} kept[] = {
	KEPT("host", host),
	KEPT("user-agent", user_agent),
	KEPT("x-forwarded-for", xff),
	KEPT("x-amzn-trace-id", amzn_trace),
	KEPT("traceparent", traceparent),
};
#undef KEPT

/* Fields parse_header reads besides the kept ones: they frame the message. */
static const char *const framing[] = { "content-length", "transfer-encoding", "connection",
				       "expect" };

bool http_field_read(const char *name, size_t n)
{
	const uint8_t *u = (const uint8_t *)name;

	for (size_t k = 0; k < sizeof(kept) / sizeof(kept[0]); k++)
		if (ieq_n(u, n, kept[k].name, kept[k].len))
			return true;
	for (size_t k = 0; k < sizeof(framing) / sizeof(framing[0]); k++)
		if (ieq(u, n, framing[k]))
			return true;
	return false;
}

static int parse_header(const uint8_t *l, size_t ll, struct http_msg *m, struct hdr_state *st)
{
	const uint8_t *colon, *v, *e;
	size_t nl, vl, off = 0, en, i;
	int64_t cl;

	/* obs-fold continues a field we either ignore or keep the first line of */
	if (l[0] == ' ' || l[0] == '\t')
		return 0;
	colon = memchr(l, ':', ll);
	if (!colon || colon == l)
		return HTTP_ERR_MALFORMED;
	nl = colon - l;
	for (i = 0; i < nl; i++)
		if (!is_tchar(l[i]))
			return HTTP_ERR_MALFORMED; /* includes SP before the colon */
	v = colon + 1;
	vl = ll - nl - 1;
	trim_ows(&v, &vl);
	if (vl && memchr(v, '\0', vl))
		return HTTP_ERR_MALFORMED;

	for (size_t k = 0; k < sizeof(kept) / sizeof(kept[0]); k++) {
		bool *has = (bool *)((char *)m + kept[k].has);

		if (!ieq_n(l, nl, kept[k].name, kept[k].len))
			continue;
		/* the first occurrence wins (for X-Forwarded-For, its first
		 * field holds the client, the one X-Ray wants) */
		if (!*has) {
			copy_str((char *)m + kept[k].off, kept[k].size, v, vl);
			*has = true;
		}
		return 0;
	}
	if (ieq(l, nl, "content-length")) {
		if (parse_content_length(v, vl, &cl) ||
		    (m->content_length >= 0 && cl != m->content_length))
			return HTTP_ERR_MALFORMED;
		m->content_length = cl;
	} else if (ieq(l, nl, "transfer-encoding")) {
		/* the final coding of the final field decides */
		st->has_te = true;
		while (next_elem(v, vl, &off, &e, &en))
			if (en)
				m->chunked = ieq(e, en, "chunked");
	} else if (ieq(l, nl, "connection")) {
		while (next_elem(v, vl, &off, &e, &en)) {
			if (ieq(e, en, "close"))
				st->close = true;
			else if (ieq(e, en, "keep-alive"))
				st->keep_alive = true;
		}
	} else if (ieq(l, nl, "expect")) {
		m->expect_continue = ieq(v, vl, "100-continue");
	}
	return 0;
}

/* l[0..n) is the start line without its LF; complete is false when the rest
 * of it was never seen. Returns 0 or an enum http_err. */
static int parse_start_line(const uint8_t *l, size_t n, bool complete, uint8_t kind,
			    struct http_msg *m)
{
	const uint8_t *t, *sp, *v;
	size_t i, tn, vn;

	if (complete && n && l[n - 1] == '\r')
		n--;
	if (kind != HTTP_KIND_REQUEST && n >= 7 && !memcmp(l, "HTTP/1.", 7)) {
		if (n < 12 || !is_digit(l[7]) || l[8] != ' ' || l[9] < '1' || l[9] > '5' ||
		    !is_digit(l[10]) || !is_digit(l[11]) || (n > 12 && l[12] != ' '))
			return HTTP_ERR_MALFORMED;
		m->is_request = false;
		m->version = l[7] == '0' ? 10 : 11;
		m->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
		return 0;
	}
	if (kind == HTTP_KIND_RESPONSE)
		return HTTP_ERR_NOT_HTTP;

	for (i = 0; i < n && i < HTTP_METHOD_MAX - 1 && is_upper(l[i]); i++)
		;
	if (!i || i >= n || l[i] != ' ' || (i == 3 && !memcmp(l, "PRI", 3)))
		return HTTP_ERR_NOT_HTTP;
	m->is_request = true;
	memcpy(m->method, l, i);
	m->method[i] = '\0';
	m->version = 11;
	t = l + i + 1;
	tn = n - i - 1;
	if (complete) {
		/* the last SP: a target with a stray SP is malformed, not foreign */
		sp = tn ? memrchr(t, ' ', tn) : NULL;
		if (!sp)
			return HTTP_ERR_NOT_HTTP; /* HTTP/0.9, or a line protocol */
		v = sp + 1;
		vn = tn - (v - t);
		if (vn < 7 || memcmp(v, "HTTP/1.", 7))
			return HTTP_ERR_NOT_HTTP;
		if (vn != 8 || !is_digit(v[7]))
			return HTTP_ERR_MALFORMED;
		m->version = v[7] == '0' ? 10 : 11;
		tn = sp - t;
	} else {
		sp = tn ? memchr(t, ' ', tn) : NULL;
		if (sp) {
			v = sp + 1;
			vn = tn - (v - t);
			if (vn >= 8 && !memcmp(v, "HTTP/1.", 7) && is_digit(v[7]))
				m->version = v[7] == '0' ? 10 : 11;
			tn = sp - t;
		} else {
			m->target_cut = true; /* it may go on in the unseen bytes */
		}
	}
	if (!tn)
		return HTTP_ERR_MALFORMED;
	for (i = 0; i < tn; i++)
		if (t[i] <= ' ' || t[i] == 0x7f)
			return HTTP_ERR_MALFORMED;
	if (copy_str(m->target, sizeof(m->target), t, tn))
		m->target_cut = true;
	return 0;
}

/* Parse buf[0..n). A truncated head may end anywhere: a start line without
 * its LF is used as far as it goes, a field line without its LF is dropped
 * (its value may be cut). */
static int parse_head(const uint8_t *buf, size_t n, bool truncated, uint8_t kind,
		      struct http_msg *m, bool *has_te)
{
	const uint8_t *p = buf, *end = buf + n, *lf;
	struct hdr_state st = { 0 };
	int err;

	memset(m, 0, sizeof(*m));
	m->content_length = -1;
	lf = memchr(buf, '\n', n);
	if (!lf && !truncated)
		return HTTP_ERR_MALFORMED;
	err = parse_start_line(buf, lf ? (size_t)(lf - buf) : n, lf != NULL, kind, m);
	if (err)
		return err;
	p = lf ? lf + 1 : end;
	while (p < end) {
		const uint8_t *l = p;
		size_t ll;

		lf = memchr(p, '\n', end - p);
		if (!lf)
			break;
		ll = lf - l;
		p = lf + 1;
		if (ll && l[ll - 1] == '\r')
			ll--;
		if (!ll)
			break;
		err = parse_header(l, ll, m, &st);
		if (err)
			return err;
	}
	m->conn_close = st.close || (m->version == 10 && !st.keep_alive);
	m->head_truncated = truncated;
	*has_te = st.has_te;
	return 0;
}

/* ---- message life cycle ---- */

static void to_idle(struct http_stream *s)
{
	head_free(s);
	s->state = HTTP_S_IDLE;
	s->chunk_state = 0;
	s->eoh = EOH_MID;
	s->head_truncated = false;
	s->body_seen_gap = false;
	s->lost_chunked = false;
	s->cur_status = 0;
	s->remaining = 0;
	s->body_bytes = 0;
	s->chunk_size_acc = 0;
}

static void msg_done(struct http_stream *s, uint64_t end_ts, bool lost,
		     const struct http_stream_ops *ops, void *ctx)
{
	struct http_done d = {
		.is_request = s->in_msg_is_request,
		.status = s->in_msg_is_request ? 0 : s->cur_status,
		.start_ts = s->start_ts,
		.end_ts = end_ts,
		.body_bytes = s->body_bytes,
		.framing_lost = lost,
	};

	to_idle(s);
	if (!d.is_request && d.status == 101)
		s->state = HTTP_S_OPAQUE;
	/* the stream is consistent before the callback: it may look at it */
	if (ops && ops->on_done)
		ops->on_done(ctx, &d);
}

/* Body framing once a complete head has been handed to on_head. */
static void start_body(struct feed *f, const struct http_msg *m, bool has_te, bool no_body)
{
	struct http_stream *s = f->s;

	if (!m->is_request && (m->status < 200 || m->status == 204 || m->status == 304))
		no_body = true;
	if (no_body) {
		msg_done(s, f->ts, false, f->ops, f->ctx);
	} else if (m->chunked) {
		s->state = HTTP_S_BODY_CHUNKED;
		s->chunk_state = CS_SIZE0;
		s->chunk_size_acc = 0;
	} else if (has_te) {
		/* another final coding: a response runs to the close; a request
		 * cannot be framed at all (RFC 9112 6.3) */
		if (m->is_request) {
			s->state = HTTP_S_LOST;
			emit_error(f->ops, f->ctx, HTTP_ERR_LOST_SYNC, 0);
		} else {
			s->state = HTTP_S_BODY_CLOSE;
		}
	} else if (m->content_length > 0) {
		s->state = HTTP_S_BODY_LENGTH;
		s->remaining = m->content_length;
	} else if (m->content_length == 0 || m->is_request) {
		msg_done(s, f->ts, false, f->ops, f->ctx);
	} else {
		s->state = HTTP_S_BODY_CLOSE;
	}
}

/* The head is complete, or can be seen no further (truncated: then why and
 * why_n are reported once on_head has seen it). drop is what a failed parse
 * throws away. Returns false when the rest of the feed is not to be parsed. */
static bool head_complete(struct feed *f, const uint8_t *buf, size_t n, bool truncated,
			  enum http_err why, uint64_t why_n, uint64_t drop)
{
	struct http_stream *s = f->s;
	struct http_msg m;
	bool has_te = false, no_body = false;
	int err;

	err = parse_head(buf, n, truncated, s->kind, &m, &has_te);
	head_free(s); /* buf may be s->head; m holds copies */
	s->eoh = EOH_MID;
	s->chunk_state = 0;
	if (err) {
		to_idle(s);
		emit_error(f->ops, f->ctx, err, drop);
		return false;
	}
	if (s->kind == HTTP_KIND_ANY)
		s->kind = m.is_request ? HTTP_KIND_REQUEST : HTTP_KIND_RESPONSE;
	s->in_msg_is_request = m.is_request;
	s->cur_status = m.status;
	s->head_truncated = truncated;
	m.start_ts = s->start_ts;
	if (f->ops->on_head)
		no_body = f->ops->on_head(f->ctx, &m);
	if (!truncated) {
		start_body(f, &m, has_te, no_body);
		return true;
	}
	emit_error(f->ops, f->ctx, why, why_n);
	if (!m.is_request && m.status == 101) {
		/* whatever follows is the new protocol: nothing to resync on */
		msg_done(s, f->ts, true, f->ops, f->ctx);
		return false;
	}
	s->state = HTTP_S_LOST;
	return true;
}

/* Check the start of a head that is still incomplete, so that a line
 * protocol which happens to begin with a capital word is dropped at its
 * first LF rather than buffered up to HTTP_HEAD_MAX. */
static int check_start(struct http_stream *s, size_t chunk, size_t first_lf)
{
	struct http_msg tmp;
	int err;

	if (s->chunk_state & HEADF_START_OK)
		return 0;
	if (first_lf == SIZE_MAX)
		return classify(s->head, min_sz(s->head_len, START_PEEK), s->kind) == START_NO ?
			       HTTP_ERR_NOT_HTTP :
			       0;
	err = parse_start_line(s->head, s->head_len - chunk + first_lf, true, s->kind, &tmp);
	if (!err)
		s->chunk_state |= HEADF_START_OK;
	return err;
}

static bool head_feed(struct feed *f)
{
	struct http_stream *s = f->s;
	const uint8_t *p = f->data + f->pos;
	size_t avail = f->cap - f->pos;
	size_t m = min_sz(avail, HTTP_HEAD_MAX - s->head_len);
	uint64_t drop = s->head_len + avail + f->gap;
	size_t first_lf, k, take;
	int err;

	s->last_ts = f->ts;
	k = scan_eoh(&s->eoh, p, m, &first_lf);
	if (k && !s->head_len) {
		/* the whole head is in this feed: parse it where it is */
		f->pos += k;
		return head_complete(f, p, k, false, 0, 0, drop);
	}
	take = k ? k : m;
	if (!head_append(s, p, take)) {
		/* out of budget: what is held is all this head will have */
		bool held = s->head_len != 0;

		f->pos += take;
		if (!head_complete(f, held ? s->head : p, held ? s->head_len : take, true,
				   HTTP_ERR_HEAD_TOO_LARGE, avail - take + f->gap, drop))
			return false;
		/* past the end of the head the feed is body; before it, more head */
		return k != 0;
	}
	f->pos += take;
	if (k)
		return head_complete(f, s->head, s->head_len, false, 0, 0, drop);
	err = check_start(s, take, first_lf);
	if (err) {
		to_idle(s);
		emit_error(f->ops, f->ctx, err, drop);
		return false;
	}
	if (m < avail) {
		/* HTTP_HEAD_MAX reached and the head goes on: the rest of it,
		 * here and in later feeds, is skipped as part of a lost message */
		head_complete(f, s->head, s->head_len, true, HTTP_ERR_HEAD_TOO_LARGE,
			      avail - m + f->gap, drop);
		return false;
	}
	return true;
}

static bool idle_feed(struct feed *f)
{
	struct http_stream *s = f->s;
	size_t pos0 = f->pos;
	enum start_kind k;

	/* RFC 9112 2.2: empty lines before a request line are ignored (some
	 * clients send a CRLF after a body) */
	while (f->pos < f->cap && (f->data[f->pos] == '\r' || f->data[f->pos] == '\n'))
		f->pos++;
	if (f->pos == f->cap)
		return true;
	k = classify(f->data + f->pos, min_sz(f->cap - f->pos, START_PEEK), s->kind);
	if (k == START_NO) {
		emit_error(f->ops, f->ctx, HTTP_ERR_NOT_HTTP, f->cap - pos0 + f->gap);
		return false;
	}
	to_idle(s);
	s->state = HTTP_S_HEAD;
	s->in_msg_is_request = k == START_REQ || (k == START_PREFIX && s->kind == HTTP_KIND_REQUEST);
	s->start_ts = s->last_ts = f->ts;
	return true;
}

static void length_feed(struct feed *f)
{
	struct http_stream *s = f->s;
	size_t take = f->cap - f->pos;

	if (take > s->remaining)
		take = s->remaining;
	f->pos += take;
	s->body_bytes += take;
	s->remaining -= take;
	s->last_ts = f->ts;
	if (!s->remaining)
		msg_done(s, f->ts, false, f->ops, f->ctx);
}

static void chunked_feed(struct feed *f)
{
	struct http_stream *s = f->s;
	int d;

	s->last_ts = f->ts;
	while (f->pos < f->cap) {
		uint8_t c;

		if (s->chunk_state == CS_DATA) {
			size_t take = f->cap - f->pos;

			if (take > s->remaining)
				take = s->remaining;
			f->pos += take;
			s->body_bytes += take;
			s->remaining -= take;
			if (!s->remaining)
				s->chunk_state = CS_DATA_CR;
			continue;
		}
		c = f->data[f->pos++];
		switch (s->chunk_state) {
		case CS_SIZE0:
		case CS_SIZE:
			d = hex_val(c);
			if (d >= 0) {
				/* bound it well below overflow; no real chunk is that big */
				if (s->chunk_size_acc >> 58)
					goto bad;
				s->chunk_size_acc = s->chunk_size_acc << 4 | (uint64_t)d;
				s->chunk_state = CS_SIZE;
			} else if (s->chunk_state == CS_SIZE0) {
				goto bad;
			} else if (c == '\n') {
				goto size_done;
			} else if (c == ';' || c == ' ' || c == '\t' || c == '\r') {
				s->chunk_state = CS_EXT;
			} else {
				goto bad;
			}
			break;
		case CS_EXT:
			if (c == '\n')
				goto size_done;
			break;
		case CS_DATA_CR:
			if (c == '\r')
				s->chunk_state = CS_DATA_LF;
			else if (c == '\n')
				s->chunk_state = CS_SIZE0;
			else
				goto bad;
			break;
		case CS_DATA_LF:
			if (c != '\n')
				goto bad;
			s->chunk_state = CS_SIZE0;
			break;
		case CS_TR_BOL:
			if (c == '\n')
				goto end;
			s->chunk_state = c == '\r' ? CS_TR_CR : CS_TR_LINE;
			break;
		case CS_TR_CR:
			if (c == '\n')
				goto end;
			s->chunk_state = CS_TR_LINE;
			break;
		case CS_TR_LINE:
			if (c == '\n')
				s->chunk_state = CS_TR_BOL;
			break;
		default:
			goto bad;
		}
		continue;
size_done:
		if (s->chunk_size_acc) {
			s->remaining = s->chunk_size_acc;
			s->chunk_state = CS_DATA;
		} else {
			s->chunk_state = CS_TR_BOL;
		}
		s->chunk_size_acc = 0;
	}
	return;
end:
	msg_done(s, f->ts, false, f->ops, f->ctx);
	return;
bad:
	/* the rest of the feed is counted by the LOST state */
	s->state = HTTP_S_LOST;
	s->lost_chunked = true;
	emit_error(f->ops, f->ctx, HTTP_ERR_LOST_SYNC, 0);
}

/* Does the syscall's data end with a chunked body's last-chunk? Seen in the
 * tail when part was not captured, else at the end of the visible bytes.
 * "\r\n0\r\n\r\n" when the CRLF closing the previous chunk is in view; a
 * body that happened to end so at a syscall boundary, mid-message, is the
 * (accepted) false positive. Trailers are not recognised. */
static bool ends_with_last_chunk(const struct feed *f)
{
	static const char last[] = "\r\n0\r\n\r\n";
	const uint8_t *p = f->gap ? f->tail : f->data;
	size_t n = f->gap ? f->tail_len : f->cap;

	if (f->gap && f->tail_len < f->gap && f->tail_len < 7)
		return false;
	if (n >= 7)
		return !memcmp(p + n - 7, last, 7);
	return n >= 5 && !memcmp(p + n - 5, last + 2, 5);
}

/* The uncaptured bytes at the end of a feed, once the visible ones are
 * consumed. */
static void gap_feed(struct feed *f)
{
	struct http_stream *s = f->s;
	uint64_t extra;

	switch (s->state) {
	case HTTP_S_IDLE:
		/* a message may begin in there, but nothing of it can be parsed */
		emit_error(f->ops, f->ctx, HTTP_ERR_LOST_SYNC, f->gap);
		break;
	case HTTP_S_HEAD:
		if (!s->head_len) {
			to_idle(s);
			emit_error(f->ops, f->ctx, HTTP_ERR_LOST_SYNC, f->gap);
			break;
		}
		head_complete(f, s->head, s->head_len, true, HTTP_ERR_LOST_SYNC, 0,
			      s->head_len + f->gap);
		break;
	case HTTP_S_BODY_LENGTH:
		s->last_ts = f->ts;
		s->body_seen_gap = true;
		if (f->gap < s->remaining) {
			s->remaining -= f->gap;
			s->body_bytes += f->gap;
			break;
		}
		extra = f->gap - s->remaining;
		s->body_bytes += s->remaining;
		s->remaining = 0;
		msg_done(s, f->ts, false, f->ops, f->ctx);
		if (extra)
			emit_error(f->ops, f->ctx, HTTP_ERR_LOST_SYNC, extra);
		break;
	case HTTP_S_BODY_CHUNKED:
		s->last_ts = f->ts;
		s->body_seen_gap = true;
		s->body_bytes += f->gap;
		if (s->chunk_state == CS_DATA && f->gap <= s->remaining) {
			s->remaining -= f->gap;
			if (!s->remaining)
				s->chunk_state = CS_DATA_CR;
			break;
		}
		/* the gap hides chunk framing: the tail may show the end */
		if (ends_with_last_chunk(f)) {
			msg_done(s, f->ts, false, f->ops, f->ctx);
			break;
		}
		s->state = HTTP_S_LOST;
		s->lost_chunked = true;
		emit_error(f->ops, f->ctx, HTTP_ERR_LOST_SYNC, 0);
		break;
	case HTTP_S_BODY_CLOSE:
	case HTTP_S_LOST:
		s->body_bytes += f->gap;
		s->last_ts = f->ts;
		break;
	default:
		break;
	}
}

static bool known_method(const uint8_t *p, size_t n)
{
	static const char *const methods[] = {
		"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "CONNECT ", "OPTIONS ", "TRACE ", "PATCH ",
	};
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t l = strlen(methods[i]);

		if (n >= l && !memcmp(p, methods[i], l))
			return true;
	}
	return false;
}

/* Does a feed that arrives while the end of the current message is unknown
 * begin the next one? Body bytes can look like anything, so ask for more
 * than at a boundary: a whole valid request line when its LF is in sight,
 * or else a well-known method. */
static bool resync_start(const struct http_stream *s, const uint8_t *p, size_t n)
{
	enum start_kind k = classify(p, min_sz(n, START_PEEK), s->kind);
	const uint8_t *lf;
	struct http_msg tmp;

	if (k == START_RESP)
		return true;
	if (k != START_REQ)
		return false;
	lf = memchr(p, '\n', min_sz(n, HTTP_HEAD_MAX));
	if (lf)
		return !parse_start_line(p, lf - p, true, s->kind, &tmp);
	return known_method(p, n);
}

/* ---- public ---- */

void http_stream_init(struct http_stream *s, enum http_kind kind)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->state = HTTP_S_IDLE;
}

void http_stream_free(struct http_stream *s)
{
	if (!s)
		return;
	to_idle(s);
}

int http_stream_feed(struct http_stream *s, const uint8_t *data, size_t cap_len, uint64_t len,
		     uint64_t ts, const struct http_stream_ops *ops, void *ctx)
{
	return http_stream_feed_tail(s, data, cap_len, len, NULL, 0, ts, ops, ctx);
}

int http_stream_feed_tail(struct http_stream *s, const uint8_t *data, size_t cap_len, uint64_t len,
			  const uint8_t *tail, size_t tail_len, uint64_t ts,
			  const struct http_stream_ops *ops, void *ctx)
{
	struct feed f = {
		.s = s,
		.data = data,
		.cap = cap_len,
		.tail = tail,
		.tail_len = tail_len,
		.ts = ts,
		.ops = ops,
		.ctx = ctx,
	};

	if (!s || !ops || (cap_len && !data) || len < cap_len || (tail_len && !tail) ||
	    tail_len > len - cap_len)
		return -EINVAL;
	f.gap = len - cap_len;
	if (s->state == HTTP_S_OPAQUE)
		return 0;
	if ((s->state == HTTP_S_LOST || s->state == HTTP_S_BODY_CLOSE) && cap_len &&
	    resync_start(s, data, cap_len))
		msg_done(s, s->last_ts, s->state == HTTP_S_LOST, ops, ctx);

	while (f.pos < f.cap) {
		switch (s->state) {
		case HTTP_S_IDLE:
			if (!idle_feed(&f))
				return 0;
			break;
		case HTTP_S_HEAD:
			if (!head_feed(&f))
				return 0;
			break;
		case HTTP_S_BODY_LENGTH:
			length_feed(&f);
			break;
		case HTTP_S_BODY_CHUNKED:
			chunked_feed(&f);
			break;
		case HTTP_S_BODY_CLOSE:
		case HTTP_S_LOST:
			s->body_bytes += f.cap - f.pos;
			s->last_ts = ts;
			f.pos = f.cap;
			break;
		default:
			return 0; /* opaque */
		}
	}
	if (f.gap)
		gap_feed(&f);
	/* a chunked message whose framing was lost earlier ends at its
	 * last-chunk, if a syscall boundary shows it */
	if (s->state == HTTP_S_LOST && s->lost_chunked && ends_with_last_chunk(&f))
		msg_done(s, ts, true, ops, ctx);
	return 0;
}

void http_stream_finish(struct http_stream *s, const struct http_stream_ops *ops, void *ctx)
{
	uint32_t n;

	if (!s)
		return;
	switch (s->state) {
	case HTTP_S_HEAD:
		n = s->head_len;
		to_idle(s);
		emit_error(ops, ctx, HTTP_ERR_MALFORMED, n);
		break;
	case HTTP_S_BODY_LENGTH:
	case HTTP_S_BODY_CHUNKED:
	case HTTP_S_LOST:
		msg_done(s, s->last_ts, true, ops, ctx);
		break;
	case HTTP_S_BODY_CLOSE:
		msg_done(s, s->last_ts, false, ops, ctx);
		break;
	case HTTP_S_OPAQUE:
		to_idle(s);
		break;
	default:
		break;
	}
}

void http_stream_resync(struct http_stream *s)
{
	if (!s || s->state == HTTP_S_OPAQUE)
		return;
	to_idle(s);
	/* LOST ends at the next message start; the message it then
	 * reports, with status 0, is one the caller has forgotten */
	s->state = HTTP_S_LOST;
	s->in_msg_is_request = s->kind == HTTP_KIND_REQUEST;
}

bool http_stream_busy(const struct http_stream *s)
{
	if (!s)
		return false;
	switch (s->state) {
	case HTTP_S_HEAD:
	case HTTP_S_BODY_LENGTH:
	case HTTP_S_BODY_CHUNKED:
	case HTTP_S_BODY_CLOSE:
	case HTTP_S_LOST:
		return true;
	default:
		return false;
	}
}

size_t http_head_bytes_in_use(void)
{
	return __atomic_load_n(&head_in_use, __ATOMIC_RELAXED);
}
