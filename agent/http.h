/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Incremental HTTP/1.x parser: one struct http_stream per connection and
 * direction, fed with what the BPF side captured of each syscall.
 *
 * A feed carries cap_len visible bytes that are the head of len bytes the
 * syscall moved; bytes [cap_len, len) were not copied (body bytes, or a head
 * longer than the capture). The parser consumes those unseen bytes by count
 * where it can (Content-Length, chunk sizes) and otherwise marks the message
 * and re-synchronises at the next feed that starts like a new message.
 *
 * Memory: an idle stream holds no heap. While a message head is in progress
 * its bytes are kept in a heap buffer of at most HTTP_HEAD_MAX bytes, and all
 * such buffers together are capped at HTTP_HEAD_BUDGET bytes; past either
 * bound the head is marked truncated instead of growing. */
#ifndef XTAP_HTTP_H
#define XTAP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX (16 * 1024)
#define HTTP_HEAD_BUDGET (32u * 1024 * 1024)

#define HTTP_METHOD_MAX 16
#define HTTP_TARGET_MAX 1024
#define HTTP_HOST_MAX 256
#define HTTP_UA_MAX 256
#define HTTP_XFF_MAX 256
#define HTTP_TRACE_MAX 256
#define HTTP_TRACEPARENT_MAX 64

enum http_kind {
	HTTP_KIND_ANY = 0, /* role unknown: the first message decides */
	HTTP_KIND_REQUEST = 1,
	HTTP_KIND_RESPONSE = 2,
};

enum http_err {
	HTTP_ERR_NOT_HTTP = 1, /* bytes at a message boundary that do not start HTTP/1.x */
	HTTP_ERR_MALFORMED, /* a head that started like HTTP but is not valid */
	HTTP_ERR_HEAD_TOO_LARGE, /* head over HTTP_HEAD_MAX or the budget */
	HTTP_ERR_LOST_SYNC, /* body framing unknown after a gap; re-synchronising */
};

/* A parsed message head. Strings are NUL-terminated and cut to their
 * limits (the *_cut flags say when). */
struct http_msg {
	bool is_request;
	char method[HTTP_METHOD_MAX]; /* requests */
	char target[HTTP_TARGET_MAX]; /* requests: request-target as sent (path?query) */
	int version; /* 10 or 11 */
	int status; /* responses */
	char host[HTTP_HOST_MAX];
	char user_agent[HTTP_UA_MAX];
	char xff[HTTP_XFF_MAX]; /* X-Forwarded-For */
	char amzn_trace[HTTP_TRACE_MAX]; /* X-Amzn-Trace-Id */
	char traceparent[HTTP_TRACEPARENT_MAX];
	bool has_host, has_user_agent, has_xff, has_amzn_trace, has_traceparent;
	bool target_cut;
	int64_t content_length; /* -1 when absent */
	bool chunked; /* Transfer-Encoding: chunked */
	bool conn_close; /* Connection: close, or HTTP/1.0 without keep-alive */
	bool expect_continue; /* Expect: 100-continue */
	bool head_truncated; /* part of the head was never seen: fields may be missing */
	uint64_t start_ts; /* ts of the feed that carried the first byte */
};

/* A finished message. */
struct http_done {
	bool is_request;
	int status; /* responses */
	uint64_t start_ts; /* ts of the feed with the first byte */
	uint64_t end_ts; /* ts of the feed with the last byte */
	uint64_t body_bytes; /* body bytes consumed (seen or counted) */
	bool framing_lost; /* end found by re-synchronisation, close or flush, not by framing */
};

struct http_stream_ops {
	/* A head is complete. Return true when this message has no body whatever
	 * its headers say (a response to HEAD, a 2xx answer to CONNECT). 1xx, 204
	 * and 304 responses never have one; the parser knows that itself. */
	bool (*on_head)(void *ctx, const struct http_msg *m);
	/* The message (head and body) is complete. */
	void (*on_done)(void *ctx, const struct http_done *d);
	/* Bytes dropped: nbytes of them (seen or unseen). The stream stays usable. */
	void (*on_error)(void *ctx, enum http_err err, uint64_t nbytes);
};

enum http_state {
	HTTP_S_IDLE = 0, /* between messages */
	HTTP_S_HEAD, /* in a head */
	HTTP_S_BODY_LENGTH, /* Content-Length body */
	HTTP_S_BODY_CHUNKED, /* chunked body */
	HTTP_S_BODY_CLOSE, /* response body delimited by close */
	HTTP_S_LOST, /* framing unknown: the message ends at the next message start, close or flush */
	HTTP_S_OPAQUE, /* after 101 Switching Protocols / CONNECT: no longer HTTP */
};

struct http_stream {
	uint8_t kind; /* enum http_kind; fixed once the first message is seen */
	uint8_t state; /* enum http_state */
	uint8_t chunk_state; /* private to the chunked-body machine */
	uint8_t eoh; /* private: progress through CRLFCRLF / LFLF */
	bool in_msg_is_request;
	bool head_truncated;
	bool body_seen_gap;
	bool lost_chunked; /* LOST came from a chunked body: its last-chunk ends it */
	int cur_status;
	uint8_t *head; /* heap, only while state == HTTP_S_HEAD */
	uint32_t head_len;
	uint32_t head_cap;
	uint64_t remaining; /* body bytes or chunk bytes left */
	uint64_t body_bytes;
	uint64_t start_ts;
	uint64_t last_ts; /* ts of the last feed that belonged to the current message */
	uint64_t chunk_size_acc; /* private: chunk-size being parsed */
};

void http_stream_init(struct http_stream *s, enum http_kind kind);
/* Release heap; the stream may be re-initialised. */
void http_stream_free(struct http_stream *s);
/* Feed one syscall's worth of bytes. Returns 0, or -EINVAL on bad arguments.
 * Parse problems go to ops->on_error, never to the return value. */
int http_stream_feed(struct http_stream *s, const uint8_t *data, size_t cap_len, uint64_t len,
		     uint64_t ts, const struct http_stream_ops *ops, void *ctx);
/* The same, with tail = the last tail_len bytes of the len (all past
 * cap_len), so a chunked body whose last-chunk lies past the head capture
 * still ends at the right syscall. */
int http_stream_feed_tail(struct http_stream *s, const uint8_t *data, size_t cap_len, uint64_t len,
			  const uint8_t *tail, size_t tail_len, uint64_t ts,
			  const struct http_stream_ops *ops, void *ctx);
/* The connection closed (or the peer direction began a new exchange while
 * this one's framing is unknown): complete a close-delimited or lost-sync
 * message with end_ts = the last ts seen. A message cut off in its head or
 * inside a length-delimited body is reported through on_done with
 * framing_lost set. Idle streams: no-op. */
void http_stream_finish(struct http_stream *s, const struct http_stream_ops *ops, void *ctx);
/* Bytes of this stream were lost (not seen at all): drop the message in
 * progress, unreported, and resume at the next feed that starts a message. */
void http_stream_resync(struct http_stream *s);
/* True when a message is in progress (head or body). */
bool http_stream_busy(const struct http_stream *s);
/* Is the header field name[0..n) (any case) one the parser reads: a field
 * of struct http_msg, or one that frames the message? Every other field,
 * Authorization and Cookie among them, is skipped unread. */
bool http_field_read(const char *name, size_t n);
/* Bytes of head buffers in use across all streams (for metrics). */
size_t http_head_bytes_in_use(void);

#endif /* XTAP_HTTP_H */
