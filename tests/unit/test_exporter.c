/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Exporter: AWS_XRAY_DAEMON_ADDRESS parsing, and delivery through real
 * sinks: a UDP listener on loopback, files, stdout, and pipes that are made
 * to stall so the queue bounds and the stop deadline can be observed.
 * Every wait is bounded; all network traffic stays on 127.0.0.1 / ::1. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exporter.h"

#define HDR "{\"format\":\"json\",\"version\":1}\n"
#define HDR_LEN (sizeof(HDR) - 1)
#define WAIT_MS 5000

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum stat_field { ST_UDP_DONE, ST_LINES, ST_LINES_OR_ERR, ST_WRITE_ERR, ST_DEPTH_ZERO };

/* Poll the stats until the field reaches want, for at most WAIT_MS. */
static bool wait_stat(struct exporter *ex, enum stat_field f, uint64_t want)
{
	int64_t end = mono_ms() + WAIT_MS;
	struct exporter_stats st;

	do {
		uint64_t v = 0;

		exporter_get_stats(ex, &st);
		switch (f) {
		case ST_UDP_DONE:
			v = st.udp_sent + st.udp_errors + st.too_large;
			break;
		case ST_LINES:
			v = st.lines_written;
			break;
		case ST_LINES_OR_ERR:
			v = st.lines_written + st.write_errors;
			break;
		case ST_WRITE_ERR:
			v = st.write_errors;
			break;
		case ST_DEPTH_ZERO:
			v = st.queue_depth == 0;
			break;
		}
		if (v >= want)
			return true;
		usleep(1000);
	} while (mono_ms() < end);
	return false;
}

/* ---- daemon_addr_parse ---- */

static void assert_v4(const struct sockaddr_storage *ss, socklen_t len, const char *ip,
		      uint16_t port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	char buf[INET_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)));
	assert_string_equal(buf, ip);
	assert_int_equal(ntohs(sin->sin_port), port);
}

static void assert_v6(const struct sockaddr_storage *ss, socklen_t len, const char *ip,
		      uint16_t port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)));
	assert_string_equal(buf, ip);
	assert_int_equal(ntohs(sin6->sin6_port), port);
}

static void test_parse_single(void **state)
{
	struct daemon_addr a;
	char err[256] = "junk";

	(void)state;
	assert_int_equal(daemon_addr_parse("127.0.0.1:2000", &a, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_v4(&a.udp, a.udp_len, "127.0.0.1", 2000);
	assert_v4(&a.tcp, a.tcp_len, "127.0.0.1", 2000);

	assert_int_equal(daemon_addr_parse(DAEMON_DEFAULT_ADDR, &a, err, sizeof(err)), 0);
	assert_v4(&a.udp, a.udp_len, "127.0.0.1", 2000);

	assert_int_equal(daemon_addr_parse("10.1.2.3:65535", &a, err, sizeof(err)), 0);
	assert_v4(&a.udp, a.udp_len, "10.1.2.3", 65535);
	assert_v4(&a.tcp, a.tcp_len, "10.1.2.3", 65535);

	assert_int_equal(daemon_addr_parse("  127.0.0.1:1\n", &a, err, sizeof(err)), 0);
	assert_v4(&a.udp, a.udp_len, "127.0.0.1", 1);
}

static void test_parse_localhost(void **state)
{
	struct daemon_addr a;
	char err[256];

	(void)state;
	assert_int_equal(daemon_addr_parse("localhost:2000", &a, err, sizeof(err)), 0);
	assert_v4(&a.udp, a.udp_len, "127.0.0.1", 2000);
	assert_v4(&a.tcp, a.tcp_len, "127.0.0.1", 2000);
}

static void test_parse_split(void **state)
{
	struct daemon_addr a;
	char err[256];

	(void)state;
	assert_int_equal(daemon_addr_parse("tcp:127.0.0.1:2000 udp:127.0.0.2:3000", &a, err,
					   sizeof(err)),
			 0);
	assert_v4(&a.tcp, a.tcp_len, "127.0.0.1", 2000);
	assert_v4(&a.udp, a.udp_len, "127.0.0.2", 3000);

	/* Other order, odd whitespace. */
	assert_int_equal(daemon_addr_parse(" udp:127.0.0.3:4000 \t tcp:localhost:5000 ", &a, err,
					   sizeof(err)),
			 0);
	assert_v4(&a.udp, a.udp_len, "127.0.0.3", 4000);
	assert_v4(&a.tcp, a.tcp_len, "127.0.0.1", 5000);
}

static void test_parse_ipv6(void **state)
{
	struct daemon_addr a;
	char err[256];

	(void)state;
	assert_int_equal(daemon_addr_parse("[::1]:2000", &a, err, sizeof(err)), 0);
	assert_v6(&a.udp, a.udp_len, "::1", 2000);
	assert_v6(&a.tcp, a.tcp_len, "::1", 2000);

	assert_int_equal(daemon_addr_parse("udp:[fd00::1:2]:2001 tcp:127.0.0.1:2002", &a, err,
					   sizeof(err)),
			 0);
	assert_v6(&a.udp, a.udp_len, "fd00::1:2", 2001);
	assert_v4(&a.tcp, a.tcp_len, "127.0.0.1", 2002);
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"",
		"   ",
		"x",
		"127.0.0.1",
		"127.0.0.1:",
		":2000",
		"127.0.0.1:0",
		"127.0.0.1:65536",
		"127.0.0.1:99999999999999999999",
		"127.0.0.1:+200",
		"127.0.0.1:-1",
		"127.0.0.1:0x10",
		"127.0.0.1:20a",
		"udp:127.0.0.1:2000",
		"tcp:127.0.0.1:2000",
		"tcp:127.0.0.1:1 tcp:127.0.0.1:2",
		"udp:127.0.0.1:1 udp:127.0.0.1:2",
		"tcp:127.0.0.1:1 udp:127.0.0.1",
		"tcp:127.0.0.1:1 udp:",
		"tcp:127.0.0.1:1 udp:127.0.0.1:2 udp:127.0.0.1:3",
		"foo:127.0.0.1:1 udp:127.0.0.1:2",
		"127.0.0.1:1 127.0.0.1:2",
		"::1:2000",
		"[::1]",
		"[::1]2000",
		"[::1:2000",
		"[::1]:0",
		"[127.0.0.1]:2000",
		"[nothex]:2000",
		"[]:2000",
	};
	struct daemon_addr a, before;
	char err[256];

	(void)state;
	memset(&before, 0xa5, sizeof(before));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char prefix[300];

		a = before;
		err[0] = '\0';
		if (daemon_addr_parse(bad[i], &a, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		snprintf(prefix, sizeof(prefix), "AWS_XRAY_DAEMON_ADDRESS '%s': ", bad[i]);
		if (strncmp(err, prefix, strlen(prefix)) != 0 || strlen(err) <= strlen(prefix))
			fail_msg("'%s': bad reason '%s'", bad[i], err);
		assert_null(strchr(err, '\n'));
		/* out is left alone on failure */
		assert_memory_equal(&a, &before, sizeof(a));
	}

	assert_int_equal(daemon_addr_parse("x", &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "AWS_XRAY_DAEMON_ADDRESS 'x': expected host:port or "
				 "'tcp:host:port udp:host:port'");
	assert_int_equal(daemon_addr_parse("127.0.0.1:65536", &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "port"));
	assert_int_equal(daemon_addr_parse("tcp:127.0.0.1:1 tcp:127.0.0.1:2", &a, err,
					   sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(daemon_addr_parse("udp:127.0.0.1:2000", &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "required"));
	assert_int_equal(daemon_addr_parse(NULL, &a, err, sizeof(err)), -EINVAL);
}

static void test_parse_err_buffer(void **state)
{
	struct daemon_addr a;
	char err[16], big[256];

	(void)state;
	/* The reason stays one line even if the value holds control bytes. */
	assert_int_equal(daemon_addr_parse("a\x01:b\n", &a, big, sizeof(big)), -EINVAL);
	assert_null(strchr(big, '\n'));
	assert_null(strchr(big, '\x01'));

	/* Truncated, but terminated; and a NULL err is allowed. */
	memset(err, 'z', sizeof(err));
	assert_int_equal(daemon_addr_parse("x", &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(daemon_addr_parse("x", &a, NULL, 0), -EINVAL);
}

/* ---- UDP sink ---- */

static int udp_listener(int family, struct daemon_addr *da)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	char spec[96], err[256], ip[INET6_ADDRSTRLEN];
	int fd, rcvbuf = 4 << 20;

	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
		len = sizeof(struct sockaddr_in6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) || getsockname(fd, (struct sockaddr *)&ss, &len)) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
		snprintf(spec, sizeof(spec), "%s:%u", ip,
			 ntohs(((struct sockaddr_in *)&ss)->sin_port));
	} else {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
		snprintf(spec, sizeof(spec), "[%s]:%u", ip,
			 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	}
	if (daemon_addr_parse(spec, da, err, sizeof(err))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Receive one datagram within timeout_ms; returns its length or -1. */
static ssize_t recv_within(int fd, char *buf, size_t cap, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	return recv(fd, buf, cap, MSG_DONTWAIT);
}

static void check_udp_delivery(int family)
{
	struct exporter_config cfg = { .udp = true };
	struct exporter_stats st;
	struct exporter *ex;
	/* Sizes around the 65000-byte datagram limit (header included). */
	const size_t max_body = 65000 - HDR_LEN;
	size_t sizes[] = { 0, 0, 0, max_body, max_body + 1, 0 };
	const char *docs[] = { "{\"n\":1}", "{\"n\":2}", "{\"n\":3}", NULL, NULL, "{\"n\":6}" };
	char *bufs[6] = { 0 };
	char *rx;
	int fd;

	fd = udp_listener(family, &cfg.daemon);
	if (fd < 0 && family == AF_INET6)
		skip(); /* no IPv6 loopback here */
	assert_true(fd >= 0);
	rx = malloc(70000);
	assert_non_null(rx);

	ex = exporter_start(&cfg);
	assert_non_null(ex);
	for (size_t i = 0; i < 6; i++) {
		if (docs[i]) {
			sizes[i] = strlen(docs[i]);
			bufs[i] = strdup(docs[i]);
		} else {
			bufs[i] = malloc(sizes[i]);
			assert_non_null(bufs[i]);
			memset(bufs[i], 'a' + (int)i, sizes[i]);
		}
		assert_int_equal(exporter_submit(ex, bufs[i], sizes[i]), 0);
	}
	assert_true(wait_stat(ex, ST_UDP_DONE, 6));
	exporter_get_stats(ex, &st);
	assert_int_equal(st.submitted, 6);
	assert_int_equal(st.udp_sent, 5);
	assert_int_equal(st.too_large, 1);
	assert_int_equal(st.udp_errors, 0);
	assert_int_equal(st.dropped_full, 0);
	assert_int_equal(st.queue_depth, 0);
	exporter_stop(ex, 1000, NULL);

	/* Exactly the five sendable documents, in order, each behind the
	 * header in one datagram; the oversized one never arrives. */
	for (size_t i = 0; i < 6; i++) {
		ssize_t n;

		if (i == 4)
			continue;
		n = recv_within(fd, rx, 70000, WAIT_MS);
		assert_int_equal(n, (ssize_t)(HDR_LEN + sizes[i]));
		assert_memory_equal(rx, HDR, HDR_LEN);
		assert_memory_equal(rx + HDR_LEN, bufs[i], sizes[i]);
	}
	assert_int_equal(recv_within(fd, rx, 70000, 50), -1);

	for (size_t i = 0; i < 6; i++)
		free(bufs[i]);
	free(rx);
	close(fd);
}

static void test_udp_delivery_v4(void **state)
{
	(void)state;
	check_udp_delivery(AF_INET);
}

static void test_udp_delivery_v6(void **state)
{
	(void)state;
	check_udp_delivery(AF_INET6);
}

static void test_udp_nothing_listening(void **state)
{
	struct exporter_config cfg = { .udp = true };
	struct exporter_stats st;
	struct exporter *ex;
	int64_t t0;
	int fd;

	(void)state;
	/* Take a free port, then close it: nothing listens there. */
	fd = udp_listener(AF_INET, &cfg.daemon);
	assert_true(fd >= 0);
	close(fd);

	ex = exporter_start(&cfg);
	assert_non_null(ex);
	t0 = mono_ms();
	for (int i = 0; i < 200; i++)
		assert_int_equal(exporter_submit(ex, "{\"x\":1}", 7), 0);
	assert_true(wait_stat(ex, ST_UDP_DONE, 200));
	exporter_get_stats(ex, &st);
	/* Unconnected UDP mostly "succeeds"; a queued ICMP error may make
	 * some sends fail. Either way each document is accounted for. */
	assert_int_equal(st.udp_sent + st.udp_errors, 200);
	assert_int_equal(st.submitted, 200);
	exporter_stop(ex, 1000, NULL);
	assert_true(mono_ms() - t0 < 3000);
}

/* ---- file and stdout sinks ---- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

static void test_file_sink(void **state)
{
	char path[] = "/tmp/xtap-exporter-XXXXXX";
	struct exporter_config cfg = { 0 };
	struct exporter_stats st;
	struct exporter *ex;
	struct stat sb;
	mode_t old_umask;
	size_t len;
	char *got;
	int fd;

	(void)state;
	/* Existing content must survive: the sink appends. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old\n", 4), 4);
	close(fd);

	cfg.file = path;
	ex = exporter_start(&cfg);
	assert_non_null(ex);
	assert_int_equal(exporter_submit(ex, "{\"a\":1}", 7), 0);
	assert_int_equal(exporter_submit(ex, "{\"b\":\"x y\"}", 11), 0);
	assert_int_equal(exporter_submit(ex, "{\"c\":3}trailing-ignored", 7), 0);
	assert_true(wait_stat(ex, ST_LINES, 3));
	exporter_get_stats(ex, &st);
	assert_int_equal(st.lines_written, 3);
	assert_int_equal(st.write_errors, 0);
	assert_int_equal(st.udp_sent + st.udp_errors, 0);
	exporter_stop(ex, 1000, NULL);

	got = slurp(path, &len);
	assert_non_null(got);
	assert_string_equal(got, "old\n{\"a\":1}\n{\"b\":\"x y\"}\n{\"c\":3}\n");
	assert_int_equal(len, strlen(got));
	free(got);
	unlink(path);

	/* A new file is created 0644 (under the usual umask). */
	old_umask = umask(022);
	ex = exporter_start(&cfg);
	umask(old_umask);
	assert_non_null(ex);
	assert_int_equal(exporter_submit(ex, "{}", 2), 0);
	exporter_stop(ex, 1000, NULL);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	got = slurp(path, &len);
	assert_non_null(got);
	assert_string_equal(got, "{}\n");
	free(got);
	unlink(path);
}

static void test_file_open_failure(void **state)
{
	struct exporter_config cfg = { .file = "/nonexistent-xtap-dir/out.json" };

	(void)state;
	errno = 0;
	assert_null(exporter_start(&cfg));
	assert_int_equal(errno, ENOENT);
}

static void test_stdout_sink(void **state)
{
	char path[] = "/tmp/xtap-exporter-stdout-XXXXXX";
	struct exporter_config cfg = { .to_stdout = true };
	struct exporter_stats st = { 0 };
	struct exporter *ex;
	int fd, saved, r1 = -1, r2 = -1;
	bool waited = false;
	size_t len;
	char *got;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);

	/* Point fd 1 at the file; no asserts until it is restored so that
	 * cmocka's own output is not swallowed. */
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);

	ex = exporter_start(&cfg);
	if (ex) {
		r1 = exporter_submit(ex, "{\"o\":1}", 7);
		r2 = exporter_submit(ex, "{\"o\":2}", 7);
		waited = wait_stat(ex, ST_LINES, 2);
		exporter_get_stats(ex, &st);
		exporter_stop(ex, 1000, NULL);
	}
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);

	assert_non_null(ex);
	assert_int_equal(r1, 0);
	assert_int_equal(r2, 0);
	assert_true(waited);
	assert_int_equal(st.lines_written, 2);
	got = slurp(path, &len);
	assert_non_null(got);
	assert_string_equal(got, "{\"o\":1}\n{\"o\":2}\n");
	free(got);
	unlink(path);
}

/* A pipe whose write end the exporter opens as its "file" through
 * /proc/self/fd: with nobody reading, the drain thread blocks in write(),
 * which is how the tests hold the queue full. */
struct stall {
	int rd, wr;
	char path[64];
};

static void stall_open(struct stall *s)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	s->rd = p[0];
	s->wr = p[1];
	/* Smallest pipe: the thread blocks after a few KiB. */
	fcntl(s->wr, F_SETPIPE_SZ, 4096);
	assert_int_equal(fcntl(s->rd, F_SETFL, O_NONBLOCK), 0);
	snprintf(s->path, sizeof(s->path), "/proc/self/fd/%d", s->wr);
}

static void stall_close(struct stall *s)
{
	if (s->rd >= 0)
		close(s->rd);
	close(s->wr);
}

static void test_queue_full_docs(void **state)
{
	struct exporter_config cfg = { 0 };
	struct exporter_stats st;
	struct exporter *ex;
	struct stall s;
	char doc[128], *rx, *p;
	size_t rx_len = 0, lines = 0;
	uint64_t accepted = 0, refused = 0;
	int *seqs;
	int64_t end;

	(void)state;
	stall_open(&s);
	cfg.file = s.path;
	ex = exporter_start(&cfg);
	assert_non_null(ex);

	/* Far more than the queue can hold while the thread is stuck. */
	seqs = calloc(3 * EXPORTER_QUEUE_DOCS, sizeof(*seqs));
	assert_non_null(seqs);
	for (int i = 0; i < 3 * EXPORTER_QUEUE_DOCS; i++) {
		int n = snprintf(doc, sizeof(doc), "{\"seq\":%06d,\"pad\":\"%080d\"}", i, 0);
		int rc = exporter_submit(ex, doc, (size_t)n);

		if (rc == 0) {
			seqs[accepted++] = i;
		} else {
			assert_int_equal(rc, -ENOBUFS);
			refused++;
		}
	}
	/* Once stuck the thread frees nothing, so the queue stays full. */
	exporter_get_stats(ex, &st);
	assert_true(refused > 0);
	assert_int_equal(st.queue_depth, EXPORTER_QUEUE_DOCS);
	assert_int_equal(st.submitted, accepted + refused);
	assert_int_equal(st.dropped_full, refused);

	/* Now read everything: each accepted document arrives once, in
	 * submit order, and no refused one does. */
	rx = malloc(accepted * sizeof(doc) + 1);
	assert_non_null(rx);
	end = mono_ms() + WAIT_MS;
	while (lines < accepted && mono_ms() < end) {
		struct pollfd pf = { .fd = s.rd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 100) != 1)
			continue;
		n = read(s.rd, rx + rx_len, accepted * sizeof(doc) - rx_len);
		if (n <= 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			lines += rx[rx_len + (size_t)i] == '\n';
		rx_len += (size_t)n;
	}
	assert_int_equal(lines, accepted);
	assert_true(wait_stat(ex, ST_LINES, accepted));
	assert_true(wait_stat(ex, ST_DEPTH_ZERO, 1));
	exporter_get_stats(ex, &st);
	assert_int_equal(st.lines_written, accepted);
	assert_int_equal(st.submitted, st.lines_written + st.dropped_full);
	exporter_stop(ex, 1000, NULL);

	rx[rx_len] = '\0';
	p = rx;
	for (uint64_t i = 0; i < accepted; i++) {
		char want[32];

		snprintf(want, sizeof(want), "{\"seq\":%06d,", seqs[i]);
		assert_memory_equal(p, want, strlen(want));
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	assert_int_equal(*p, '\0');
	free(seqs);
	free(rx);
	stall_close(&s);
}

static void test_queue_full_bytes_and_deadline(void **state)
{
	struct exporter_config cfg = { 0 };
	struct exporter_stats st;
	struct exporter *ex;
	const size_t big = 64 * 1024;
	uint64_t accepted = 0;
	struct stall s;
	int64_t t0, took;
	char *doc;

	(void)state;
	stall_open(&s);
	cfg.file = s.path;
	ex = exporter_start(&cfg);
	assert_non_null(ex);
	doc = malloc(big);
	assert_non_null(doc);
	memset(doc, 'b', big);

	/* The first document already blocks the thread (64 KiB into a 4 KiB
	 * pipe), so the byte bound decides: exactly 16 MiB worth fit. */
	for (int i = 0; i < 2 * (int)(EXPORTER_QUEUE_BYTES / big); i++)
		accepted += exporter_submit(ex, doc, big) == 0;
	exporter_get_stats(ex, &st);
	assert_int_equal(accepted, EXPORTER_QUEUE_BYTES / big);
	assert_int_equal(st.queue_depth, accepted);
	assert_int_equal(st.dropped_full, accepted);
	assert_int_equal(exporter_submit(ex, doc, EXPORTER_QUEUE_BYTES + 1), -ENOBUFS);
	free(doc);

	/* The sink is stuck for good: stop must still come back, shortly
	 * after its deadline, instead of hanging. */
	t0 = mono_ms();
	exporter_stop(ex, 100, NULL);
	took = mono_ms() - t0;
	assert_true(took >= 100);
	assert_true(took < 3000);

	/* Unstick the left-behind thread: EPIPE (SIGPIPE is blocked in it and
	 * must not kill us), it drops the rest and frees itself. */
	close(s.rd);
	s.rd = -1;
	usleep(200 * 1000);
	stall_close(&s);
}

static void test_write_error_epipe(void **state)
{
	struct exporter_config cfg = { 0 };
	struct exporter_stats st;
	struct exporter *ex;
	struct stall s;

	(void)state;
	stall_open(&s);
	cfg.file = s.path;
	ex = exporter_start(&cfg);
	assert_non_null(ex);
	/* Reader gone: every write fails with EPIPE. */
	close(s.rd);
	s.rd = -1;
	for (int i = 0; i < 5; i++)
		assert_int_equal(exporter_submit(ex, "{\"e\":1}", 7), 0);
	assert_true(wait_stat(ex, ST_WRITE_ERR, 1));
	assert_true(wait_stat(ex, ST_DEPTH_ZERO, 1));
	exporter_get_stats(ex, &st);
	assert_int_equal(st.lines_written, 0);
	assert_true(st.write_errors >= 1);
	assert_int_equal(st.submitted, 5);
	exporter_stop(ex, 1000, NULL);
	stall_close(&s);
}

struct submitter {
	struct exporter *ex;
	int n;
};

static void *submit_many(void *arg)
{
	struct submitter *sb = arg;
	char doc[64];

	for (int i = 0; i < sb->n; i++) {
		int len = snprintf(doc, sizeof(doc), "{\"i\":%d}", i);

		exporter_submit(sb->ex, doc, (size_t)len);
	}
	return NULL;
}

static void test_concurrent_submits(void **state)
{
	struct exporter_config cfg = { .file = "/dev/null" };
	struct exporter_stats st;
	struct submitter sb;
	pthread_t th[4];
	struct exporter *ex;

	(void)state;
	ex = exporter_start(&cfg);
	assert_non_null(ex);
	sb.ex = ex;
	sb.n = 2 * EXPORTER_QUEUE_DOCS;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, submit_many, &sb), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_true(wait_stat(ex, ST_DEPTH_ZERO, 1));
	exporter_get_stats(ex, &st);
	/* Every submit is either written or counted as dropped. */
	assert_int_equal(st.submitted, 4 * (uint64_t)sb.n);
	assert_int_equal(st.submitted, st.lines_written + st.dropped_full);
	assert_int_equal(st.write_errors, 0);
	exporter_stop(ex, 1000, NULL);
}

static void test_submit_invalid_and_stop_empty(void **state)
{
	struct exporter_config cfg = { 0 };
	struct exporter_stats st;
	struct exporter *ex;
	int64_t t0;

	(void)state;
	ex = exporter_start(&cfg);
	assert_non_null(ex);
	assert_int_equal(exporter_submit(ex, NULL, 3), -EINVAL);
	assert_int_equal(exporter_submit(ex, "{}", 0), -EINVAL);
	assert_int_equal(exporter_submit(NULL, "{}", 2), -EINVAL);
	exporter_get_stats(ex, &st);
	assert_int_equal(st.submitted, 0);
	assert_int_equal(st.dropped_full, 0);
	/* No sink at all: documents are consumed and nothing else happens. */
	assert_int_equal(exporter_submit(ex, "{}", 2), 0);
	assert_true(wait_stat(ex, ST_DEPTH_ZERO, 1));
	/* An idle exporter stops at once, well before its deadline. */
	t0 = mono_ms();
	exporter_stop(ex, 5000, NULL);
	assert_true(mono_ms() - t0 < 1000);
	exporter_stop(NULL, 0, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_single),
		cmocka_unit_test(test_parse_localhost),
		cmocka_unit_test(test_parse_split),
		cmocka_unit_test(test_parse_ipv6),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_err_buffer),
		cmocka_unit_test(test_udp_delivery_v4),
		cmocka_unit_test(test_udp_delivery_v6),
		cmocka_unit_test(test_udp_nothing_listening),
		cmocka_unit_test(test_file_sink),
		cmocka_unit_test(test_file_open_failure),
		cmocka_unit_test(test_stdout_sink),
		cmocka_unit_test(test_queue_full_docs),
		cmocka_unit_test(test_queue_full_bytes_and_deadline),
		cmocka_unit_test(test_write_error_epipe),
		cmocka_unit_test(test_concurrent_submits),
		cmocka_unit_test(test_submit_invalid_and_stop_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
