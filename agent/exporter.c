/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Document delivery. Capture threads hand finished documents to
 * exporter_submit(), which only copies them into a bounded FIFO; one thread
 * drains the FIFO in batches into the sinks (daemon over UDP, stdout, file),
 * so a slow pipe or file never stalls capture: when the FIFO is full the
 * newest document is refused and counted instead.
 *
 * Memory bound: one malloc per document (header + bytes). A document stays
 * counted against EXPORTER_QUEUE_DOCS / EXPORTER_QUEUE_BYTES until the
 * drain thread has written it to every sink and freed it, so at most
 * EXPORTER_QUEUE_BYTES of document bytes (plus EXPORTER_QUEUE_DOCS small
 * headers) are held at any time, including the batch being drained.
 *
 * Accounting: every exporter_submit() of a non-empty document counts in
 * submitted; each such document ends up either processed by the sinks or
 * counted in dropped_full (refused at submit, or still queued when the stop
 * deadline passed). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "exporter.h"
#include "log.h"
#include "privs.h"

#define DAEMON_HEADER "{\"format\":\"json\",\"version\":1}\n"
#define DAEMON_HEADER_LEN (sizeof(DAEMON_HEADER) - 1)
/* The daemon reads 64 KiB per datagram and IPv4 caps UDP payloads at
 * 65507 bytes; stay under both with margin (the X-Ray daemon). */
#define UDP_DATAGRAM_MAX 65000

/* How long exporter_stop() waits past its deadline for a sink write that is
 * blocked (a pipe nobody reads) before it leaves the thread behind. */
#define STOP_GRACE_MS 500

#define ADDR_SYNTAX "expected host:port or 'tcp:host:port udp:host:port'"

struct qdoc {
	struct qdoc *next;
	size_t len;
	char data[];
};

struct exporter {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* work queued, or stopping */
	pthread_cond_t done; /* finished was set */
	pthread_t thread;

	/* Under lock. count/bytes include the batch being drained. */
	struct qdoc *head, *tail;
	size_t count;
	size_t bytes;
	bool finished; /* the thread has left its loop */
	bool orphaned; /* exporter_stop gave up waiting: the thread frees */

	/* Written under lock by exporter_stop, read by the drain thread
	 * between documents without it, hence atomics. */
	bool stopping;
	int64_t deadline_ns;

	/* Sinks; only the drain thread touches them after start. */
	int udp_fd;
	struct sockaddr_storage udp_addr;
	socklen_t udp_len;
	bool to_stdout;
	FILE *file;

	/* Counters: atomics so exporter_get_stats needs no lock for them. */
	uint64_t submitted;
	uint64_t dropped_full;
	uint64_t udp_sent;
	uint64_t udp_errors;
	uint64_t too_large;
	uint64_t lines_written;
	uint64_t write_errors;
};

static void stat_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static uint64_t stat_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- AWS_XRAY_DAEMON_ADDRESS ---- */

/* The value is echoed in error messages, which must stay on one line:
 * control characters become '?', and very long values are cut. */
static void sanitize(const char *s, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < outlen; i++)
		out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	out[i] = '\0';
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	/* Digits only: strtoul would take signs, spaces and "0x". */
	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* One "host:port" (n bytes at s) into ss. Returns 0, or -1 with a reason
 * (without the "AWS_XRAY_DAEMON_ADDRESS ..." prefix) in why. */
static int parse_hostport(const char *s, size_t n, struct sockaddr_storage *ss, socklen_t *len,
			  char *why, size_t whylen)
{
	char host[256], portstr[8];
	const char *colon, *h;
	size_t hlen;
	bool bracketed = false;
	uint16_t port;

	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (!rb || rb + 1 >= s + n || rb[1] != ':') {
			snprintf(why, whylen, "IPv6 host must be written [addr]:port");
			return -1;
		}
		h = s + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
		bracketed = true;
	} else {
		colon = memrchr(s, ':', n);
		if (!colon) {
			snprintf(why, whylen, ADDR_SYNTAX);
			return -1;
		}
		h = s;
		hlen = (size_t)(colon - s);
		if (memchr(h, ':', hlen)) {
			snprintf(why, whylen, "IPv6 host must be written [addr]:port");
			return -1;
		}
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(why, whylen, "missing or overlong host");
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	if (parse_port(colon + 1, (size_t)(s + n - colon - 1), &port)) {
		snprintf(why, whylen, "port must be a number 1..65535");
		return -1;
	}
	snprintf(portstr, sizeof(portstr), "%u", port);

	memset(ss, 0, sizeof(*ss));
	if (!bracketed) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		/* "localhost" is pinned to IPv4 like the SDKs' default
		 * 127.0.0.1; the resolver might prefer ::1 where no daemon
		 * listens. */
		if (strcmp(host, "localhost") == 0)
			strcpy(host, "127.0.0.1");
		if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons(port);
			*len = sizeof(*sin);
			return 0;
		}
	}

	/* A bracketed literal (getaddrinfo also handles "%scope") or a name. */
	struct addrinfo hints = {
		.ai_family = bracketed ? AF_INET6 : AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_flags = AI_NUMERICSERV | (bracketed ? AI_NUMERICHOST : 0),
	};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, portstr, &hints, &res);

	if (rc != 0 || !res) {
		char shost[64];

		sanitize(host, shost, sizeof(shost));
		if (bracketed)
			snprintf(why, whylen, "'%s' is not an IPv6 address", shost);
		else
			snprintf(why, whylen, "cannot resolve '%s': %s", shost,
				 rc ? gai_strerror(rc) : "no address");
		if (res)
			freeaddrinfo(res);
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int daemon_addr_parse(const char *s, struct daemon_addr *out, char *err, size_t errlen)
{
	static const char ws[] = " \t\r\n\v\f";
	struct daemon_addr a;
	char why[160] = "", shown[128];
	const char *tok[3];
	size_t toklen[3];
	size_t ntok = 0;
	const char *p = s;
	bool have_udp = false, have_tcp = false;

	if (!s)
		s = p = "";
	memset(&a, 0, sizeof(a));

	while (*p) {
		p += strspn(p, ws);
		if (!*p)
			break;
		if (ntok == 3)
			break; /* too many: reported below */
		tok[ntok] = p;
		toklen[ntok] = strcspn(p, ws);
		p += toklen[ntok];
		ntok++;
	}

	if (ntok == 1) {
		if (toklen[0] >= 4 &&
		    (strncmp(tok[0], "udp:", 4) == 0 || strncmp(tok[0], "tcp:", 4) == 0)) {
			snprintf(why, sizeof(why), "both 'tcp:' and 'udp:' parts are required");
			goto fail;
		}
		if (parse_hostport(tok[0], toklen[0], &a.udp, &a.udp_len, why, sizeof(why)))
			goto fail;
		a.tcp = a.udp;
		a.tcp_len = a.udp_len;
	} else if (ntok == 2) {
		for (size_t i = 0; i < 2; i++) {
			bool udp;

			if (toklen[i] > 4 && strncmp(tok[i], "udp:", 4) == 0) {
				udp = true;
			} else if (toklen[i] > 4 && strncmp(tok[i], "tcp:", 4) == 0) {
				udp = false;
			} else {
				snprintf(why, sizeof(why), ADDR_SYNTAX);
				goto fail;
			}
			if (udp ? have_udp : have_tcp) {
				snprintf(why, sizeof(why), "'%s:' part given twice",
					 udp ? "udp" : "tcp");
				goto fail;
			}
			if (parse_hostport(tok[i] + 4, toklen[i] - 4, udp ? &a.udp : &a.tcp,
					   udp ? &a.udp_len : &a.tcp_len, why, sizeof(why)))
				goto fail;
			if (udp)
				have_udp = true;
			else
				have_tcp = true;
		}
	} else {
		snprintf(why, sizeof(why), ADDR_SYNTAX);
		goto fail;
	}

	*out = a;
	if (err && errlen)
		err[0] = '\0';
	return 0;

fail:
	if (err && errlen) {
		sanitize(s, shown, sizeof(shown));
		snprintf(err, errlen, "AWS_XRAY_DAEMON_ADDRESS '%s': %s", shown, why);
	}
	return -EINVAL;
}

/* ---- sinks ---- */

/* Datagrams handed to one sendmmsg(): one syscall per this many documents. */
#define UDP_BATCH 64

/* Send docs[0..n) to the daemon, one datagram each. */
static void send_udp(struct exporter *ex, struct qdoc *const *docs, unsigned int n)
{
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH][2];
	unsigned int m = 0, i = 0;

	for (unsigned int k = 0; k < n; k++) {
		if (DAEMON_HEADER_LEN + docs[k]->len > UDP_DATAGRAM_MAX) {
			stat_add(&ex->too_large, 1);
			continue;
		}
		iov[m][0].iov_base = (void *)DAEMON_HEADER;
		iov[m][0].iov_len = DAEMON_HEADER_LEN;
		iov[m][1].iov_base = (void *)docs[k]->data;
		iov[m][1].iov_len = docs[k]->len;
		memset(&msgs[m], 0, sizeof(msgs[m]));
		msgs[m].msg_hdr.msg_name = &ex->udp_addr;
		msgs[m].msg_hdr.msg_namelen = ex->udp_len;
		msgs[m].msg_hdr.msg_iov = iov[m];
		msgs[m].msg_hdr.msg_iovlen = 2;
		m++;
	}
	/* The socket is non-blocking anyway; MSG_DONTWAIT documents that a
	 * full socket buffer drops the document rather than waiting.
	 * sendmmsg stops at the first failing datagram (ECONNREFUSED, a queued
	 * ICMP error on loopback, when nothing listens): count that one and
	 * go on with the next. */
	while (i < m) {
		int r = sendmmsg(ex->udp_fd, msgs + i, m - i, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r > 0) {
			for (int k = 0; k < r; k++) {
				if (msgs[i + k].msg_len == DAEMON_HEADER_LEN + iov[i + k][1].iov_len)
					stat_add(&ex->udp_sent, 1);
				else
					stat_add(&ex->udp_errors, 1);
			}
			i += r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else {
			stat_add(&ex->udp_errors, 1);
			i++;
		}
	}
}

/* Append one line to f; *pending counts lines waiting for the flush. */
static void line_put(struct exporter *ex, FILE *f, const struct qdoc *d, uint64_t *pending)
{
	if (fwrite(d->data, 1, d->len, f) != d->len || putc('\n', f) == EOF) {
		/* glibc drops its buffer on a failed write: this line and
		 * the ones buffered before it are lost. Clear the error so
		 * later lines get a fresh try (a reader may come back). */
		stat_add(&ex->write_errors, *pending + 1);
		*pending = 0;
		clearerr(f);
		return;
	}
	(*pending)++;
}

static void line_flush(struct exporter *ex, FILE *f, uint64_t *pending)
{
	if (fflush(f) == 0) {
		stat_add(&ex->lines_written, *pending);
	} else {
		/* EPIPE, ENOSPC, ...: the buffered lines are gone. */
		stat_add(&ex->write_errors, *pending ? *pending : 1);
		clearerr(f);
	}
	*pending = 0;
}

static bool past_deadline(struct exporter *ex)
{
	return __atomic_load_n(&ex->stopping, __ATOMIC_ACQUIRE) &&
	       now_ns() >= __atomic_load_n(&ex->deadline_ns, __ATOMIC_RELAXED);
}

/* Write a detached batch to every sink, in order udp, stdout, file, and
 * free it. Returns how many documents it held. */
static size_t drain_batch(struct exporter *ex, struct qdoc *d, size_t *bytes)
{
	uint64_t out_pending = 0, file_pending = 0;
	struct qdoc *win[UDP_BATCH];
	size_t n = 0;

	*bytes = 0;
	while (d) {
		unsigned int w = 0;

		/* a window of documents: one sendmmsg for all of them */
		while (d && w < UDP_BATCH) {
			if (past_deadline(ex)) {
				struct qdoc *next = d->next;

				stat_add(&ex->dropped_full, 1);
				n++;
				*bytes += d->len;
				free(d);
				d = next;
				continue;
			}
			win[w++] = d;
			d = d->next;
		}
		if (ex->udp_fd >= 0 && w)
			send_udp(ex, win, w);
		for (unsigned int k = 0; k < w; k++) {
			if (ex->to_stdout)
				line_put(ex, stdout, win[k], &out_pending);
			if (ex->file)
				line_put(ex, ex->file, win[k], &file_pending);
			n++;
			*bytes += win[k]->len;
			free(win[k]);
		}
	}
	/* One flush per batch, not per line: a pipe reader still sees every
	 * line as soon as the batch is done. */
	if (ex->to_stdout)
		line_flush(ex, stdout, &out_pending);
	if (ex->file)
		line_flush(ex, ex->file, &file_pending);
	return n;
}

static void exporter_free(struct exporter *ex)
{
	struct qdoc *d = ex->head;

	while (d) {
		struct qdoc *next = d->next;

		free(d);
		d = next;
	}
	if (ex->udp_fd >= 0)
		close(ex->udp_fd);
	if (ex->file)
		fclose(ex->file);
	pthread_cond_destroy(&ex->done);
	pthread_cond_destroy(&ex->wake);
	pthread_mutex_destroy(&ex->lock);
	free(ex);
}

static void *drain_thread(void *arg)
{
	struct exporter *ex = arg;
	bool orphaned;

	pthread_mutex_lock(&ex->lock);
	for (;;) {
		struct qdoc *batch;
		size_t n, bytes;

		/* Submitters do not signal each document (a wake-up per
		 * document cost more than writing it): the event loop kicks
		 * once per batch, a backlog of EXPORTER_KICK_DOCS kicks, and
		 * this timed wait bounds the delay for anything else. */
		while (!ex->head && !ex->stopping) {
			struct timespec t;

			clock_gettime(CLOCK_MONOTONIC, &t);
			t.tv_nsec += EXPORTER_IDLE_MS * 1000000L;
			if (t.tv_nsec >= 1000000000L) {
				t.tv_sec++;
				t.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&ex->wake, &ex->lock, &t);
		}
		if (!ex->head)
			break; /* stopping and drained */
		/* Take everything queued now; submitters go on appending to
		 * a fresh list while we write. */
		batch = ex->head;
		ex->head = ex->tail = NULL;
		pthread_mutex_unlock(&ex->lock);

		n = drain_batch(ex, batch, &bytes);

		pthread_mutex_lock(&ex->lock);
		ex->count -= n;
		ex->bytes -= bytes;
	}
	ex->finished = true;
	orphaned = ex->orphaned;
	pthread_cond_signal(&ex->done);
	pthread_mutex_unlock(&ex->lock);

	/* exporter_stop gave up on us (a sink write outlived its deadline)
	 * and returned; nobody else will free the exporter. */
	if (orphaned)
		exporter_free(ex);
	return NULL;
}

struct exporter *exporter_start(const struct exporter_config *cfg)
{
	struct exporter *ex;
	pthread_condattr_t ca;
	sigset_t all, old;
	int err;

	if (!cfg) {
		errno = EINVAL;
		return NULL;
	}
	ex = calloc(1, sizeof(*ex));
	if (!ex)
		return NULL;
	ex->udp_fd = -1;
	ex->to_stdout = cfg->to_stdout;

	if (cfg->udp) {
		if (cfg->daemon.udp_len == 0 || cfg->daemon.udp_len > sizeof(ex->udp_addr)) {
			free(ex);
			errno = EINVAL;
			return NULL;
		}
		ex->udp_addr = cfg->daemon.udp;
		ex->udp_len = cfg->daemon.udp_len;
		ex->udp_fd = socket(ex->udp_addr.ss_family,
				    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (ex->udp_fd < 0)
			goto fail_errno;
	}

	if (cfg->file) {
		int fd = open(cfg->file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0)
			goto fail_errno;
		ex->file = fdopen(fd, "a");
		if (!ex->file) {
			err = errno;
			close(fd);
			errno = err;
			goto fail_errno;
		}
		/* lines are flushed once per batch: a buffer that holds a
		 * batch makes that one write, not one per 4 KiB */
		setvbuf(ex->file, NULL, _IOFBF, 64 * 1024);
	}

	pthread_mutex_init(&ex->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ex->wake, &ca);
	pthread_cond_init(&ex->done, &ca);
	pthread_condattr_destroy(&ca);

	/* The drain thread must never take process signals: the agent may
	 * wait for them with sigwait/signalfd, which needs them blocked in
	 * every thread. It also means a write to a closed pipe leaves a
	 * SIGPIPE pending here and returns EPIPE instead of killing the
	 * process, even if nobody ignored SIGPIPE. The new thread inherits
	 * this mask, but for the signal on which each thread drops its
	 * capabilities (privs.h). */
	sigfillset(&all);
	sigdelset(&all, PRIVS_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&ex->thread, NULL, drain_thread, ex);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pthread_cond_destroy(&ex->done);
		pthread_cond_destroy(&ex->wake);
		pthread_mutex_destroy(&ex->lock);
		errno = err;
		goto fail_errno;
	}
	pthread_setname_np(ex->thread, "xtap-export");
	return ex;

fail_errno:
	err = errno;
	if (ex->udp_fd >= 0)
		close(ex->udp_fd);
	if (ex->file)
		fclose(ex->file);
	free(ex);
	errno = err;
	return NULL;
}

int exporter_submit(struct exporter *ex, const char *doc, size_t len)
{
	struct qdoc *d;

	if (!ex || !doc || len == 0)
		return -EINVAL;
	stat_add(&ex->submitted, 1);

	/* Cheap early refusal before malloc; rechecked under the lock. */
	if (len > EXPORTER_QUEUE_BYTES)
		goto full;
	d = malloc(sizeof(*d) + len);
	if (!d)
		goto full;
	d->next = NULL;
	d->len = len;
	memcpy(d->data, doc, len);

	pthread_mutex_lock(&ex->lock);
	if (ex->stopping || ex->count >= EXPORTER_QUEUE_DOCS ||
	    ex->bytes + len > EXPORTER_QUEUE_BYTES) {
		pthread_mutex_unlock(&ex->lock);
		free(d);
		goto full;
	}
	if (ex->tail)
		ex->tail->next = d;
	else
		ex->head = d;
	ex->tail = d;
	ex->count++;
	ex->bytes += len;
	if (ex->count == EXPORTER_KICK_DOCS)
		pthread_cond_signal(&ex->wake);
	pthread_mutex_unlock(&ex->lock);
	return 0;

full:
	stat_add(&ex->dropped_full, 1);
	return -ENOBUFS;
}

/* Caller holds ex->lock (for count; the rest are atomics). */
static void stats_locked(struct exporter *ex, struct exporter_stats *st)
{
	st->submitted = stat_get(&ex->submitted);
	st->dropped_full = stat_get(&ex->dropped_full);
	st->udp_sent = stat_get(&ex->udp_sent);
	st->udp_errors = stat_get(&ex->udp_errors);
	st->too_large = stat_get(&ex->too_large);
	st->lines_written = stat_get(&ex->lines_written);
	st->write_errors = stat_get(&ex->write_errors);
	st->queue_depth = ex->count;
}

void exporter_stop(struct exporter *ex, int deadline_ms, struct exporter_stats *final)
{
	struct timespec abs;
	pthread_t thread;
	int64_t deadline, wait_ms;
	uint64_t dropped_before, lost;
	bool finished;

	if (final)
		memset(final, 0, sizeof(*final));
	if (!ex)
		return;
	if (deadline_ms < 0)
		deadline_ms = 0;
	deadline = now_ns() + (int64_t)deadline_ms * 1000000;
	dropped_before = stat_get(&ex->dropped_full);

	pthread_mutex_lock(&ex->lock);
	__atomic_store_n(&ex->deadline_ns, deadline, __ATOMIC_RELAXED);
	__atomic_store_n(&ex->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_signal(&ex->wake);
	pthread_mutex_unlock(&ex->lock);

	/* The thread checks the deadline between documents, so it normally
	 * finishes in time; only a write blocked in the kernel (stdout piped
	 * to a reader that stopped reading) can hold it longer. Waiting for
	 * that could hang shutdown forever, so after a grace period the
	 * thread is left to free the exporter itself when the write ends.
	 * The wait is on a CLOCK_MONOTONIC condvar rather than a timed join:
	 * pthread_timedjoin_np counts in wall-clock time. */
	wait_ms = (int64_t)deadline_ms + STOP_GRACE_MS;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_sec += (time_t)(wait_ms / 1000);
	abs.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&ex->lock);
	while (!ex->finished)
		if (pthread_cond_timedwait(&ex->done, &ex->lock, &abs) == ETIMEDOUT)
			break;
	finished = ex->finished;
	if (final)
		stats_locked(ex, final);
	lost = stat_get(&ex->dropped_full) - dropped_before + ex->count;
	if (!finished) {
		ex->orphaned = true;
		/* The thread's write stays blocked, but the flush of every
		 * stream at exit must not block behind it on the same full
		 * pipe: from here on, a full pipe refuses instead. */
		if (ex->file)
			fcntl(fileno(ex->file), F_SETFL,
			      fcntl(fileno(ex->file), F_GETFL) | O_NONBLOCK);
		if (ex->to_stdout)
			fcntl(STDOUT_FILENO, F_SETFL, fcntl(STDOUT_FILENO, F_GETFL) | O_NONBLOCK);
	}
	/* Once orphaned is set and the lock dropped, the thread may free ex
	 * at any moment: keep its id in a local. */
	thread = ex->thread;
	pthread_mutex_unlock(&ex->lock);

	if (lost)
		p_warn("export: %" PRIu64 " document(s) not delivered by the %d ms drain deadline%s",
		       lost, deadline_ms, finished ? "" : " (a write to stdout or -o is blocked)");
	if (finished) {
		/* It is past its last use of ex: the join is immediate. */
		pthread_join(thread, NULL);
		exporter_free(ex);
	} else {
		pthread_detach(thread);
	}
}

void exporter_kick(struct exporter *ex)
{
	if (!ex)
		return;
	pthread_mutex_lock(&ex->lock);
	if (ex->head)
		pthread_cond_signal(&ex->wake);
	pthread_mutex_unlock(&ex->lock);
}

void exporter_get_stats(struct exporter *ex, struct exporter_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!ex)
		return;
	pthread_mutex_lock(&ex->lock);
	stats_locked(ex, st);
	pthread_mutex_unlock(&ex->lock);
}
