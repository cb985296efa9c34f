// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * An fd number the BPF side has classified as "not a socket" and that then
 * becomes a TCP socket without close(2) and without accept/connect: the
 * kernel side must not keep trusting its old verdict.
 *   dup2         a socket dup2'ed onto the fd
 *   close_range  the fd closed by close_range, a socket dup'ed into it
 *   pid reuse    a process exits; a new one with the same pid (clone3
 *                set_tid) inherits a socket on the same fd number
 * Each case makes an HTTP request on that fd to nginx and expects the
 * client-side subsegment from the right pid.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define DOC_WAIT 10.0
/* an fd number well above what the test process otherwise uses */
#define FD_N 150

static struct e2e_peer *nginx;
static struct e2e_agent *agent;

static int fdreuse_setup(void **state)
{
	int err = e2e_test_setup(state);

	if (err)
		return err;
	nginx = e2e_peer_nginx();
	agent = e2e_agent_startl("--port", e2e_fmt("%d", nginx->port), NULL);
	return 0;
}

static int connect_nginx(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(nginx->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		fail_msg("connect to nginx: %s", strerror(errno));
	return fd;
}

/* A pipe's read end on exactly fd n, read from once, so the BPF side has
 * classified (this process, n) as not a socket. The write end is closed. */
static void pipe_on(int n)
{
	int p[2];
	char c = 'x';

	if (pipe(p) || dup2(p[0], n) != n)
		fail_msg("pipe on fd %d: %s", n, strerror(errno));
	close(p[0]);
	if (write(p[1], &c, 1) != 1 || read(n, &c, 1) != 1)
		fail_msg("pipe i/o on fd %d: %s", n, strerror(errno));
	close(p[1]);
}

/* GET path on an already connected fd, read to the end (bounded: the
 * request says Connection: close). Returns the status line's code or -1. */
static int http_on_fd(int fd, const char *path)
{
	const char *req = e2e_fmt("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
				  "User-Agent: fdreuse\r\nConnection: close\r\n\r\n",
				  path, nginx->port);
	char buf[4096];
	size_t have = 0;
	int code = -1;
	struct timeval tv = { .tv_sec = 5 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return -1;
	for (int i = 0; i < 64 && have < sizeof(buf) - 1; i++) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (n <= 0)
			break;
		have += n;
	}
	buf[have] = '\0';
	sscanf(buf, "HTTP/1.%*d %d", &code);
	return code;
}

static void expect_client_doc(pid_t pid, const char *path)
{
	struct e2e_filter f = { .type = "subsegment", .url_contains = path, .pid = pid };
	json_t *d = json_array_get(e2e_agent_expect_docs(agent, &f, 1, DOC_WAIT), 0);

	assert_json_str(d, "http.request.method", "GET");
	assert_json_int(d, "http.response.status", 404);
	assert_json_str(d, "namespace", "remote");
}

static void test_dup2_onto_classified_fd(void **state)
{
	int s;

	(void)state;
	pipe_on(FD_N);
	s = connect_nginx();
	if (dup2(s, FD_N) != FD_N)
		fail_msg("dup2: %s", strerror(errno));
	close(s);
	assert_int_equal(http_on_fd(FD_N, "/fdreuse-dup2"), 404);
	close(FD_N);
	expect_client_doc(getpid(), "/fdreuse-dup2");
	assert_int_equal(e2e_agent_stop(agent), 0);
	e2e_agent_check_final(agent);
}

static void test_close_range_then_dup(void **state)
{
	int s;

	(void)state;
	s = connect_nginx();
	pipe_on(FD_N);
	/* no close(2): the kernel side sees only close_range */
	if (syscall(SYS_close_range, FD_N, FD_N, 0))
		fail_msg("close_range: %s", strerror(errno));
	/* F_DUPFD takes the lowest free fd >= FD_N: FD_N itself */
	if (fcntl(s, F_DUPFD, FD_N) != FD_N)
		fail_msg("F_DUPFD did not land on fd %d: %s", FD_N, strerror(errno));
	close(s);
	assert_int_equal(http_on_fd(FD_N, "/fdreuse-close-range"), 404);
	close(FD_N);
	expect_client_doc(getpid(), "/fdreuse-close-range");
	assert_int_equal(e2e_agent_stop(agent), 0);
	e2e_agent_check_final(agent);
}

static void test_pid_reuse(void **state)
{
	pid_t a, b;
	int st, s;

	(void)state;
	/* A: classifies (A, FD_N) as a pipe, then exits without close(2) */
	a = fork();
	if (a < 0)
		fail_msg("fork: %s", strerror(errno));
	if (a == 0) {
		pipe_on(FD_N);
		_exit(0);
	}
	if (waitpid(a, &st, 0) != a || !WIFEXITED(st) || WEXITSTATUS(st))
		fail_msg("first child failed");
	/* B: the same pid, a socket inherited on the same fd number */
	s = connect_nginx();
	if (fcntl(s, F_DUPFD, FD_N) != FD_N)
		fail_msg("F_DUPFD did not land on fd %d: %s", FD_N, strerror(errno));
	close(s);
	b = e2e_fork_with_pid(a);
	if (b < 0)
		fail_msg("clone3 with set_tid %d: %s (needs root, and the pid still free)", a,
			 strerror(errno));
	if (b == 0)
		_exit(http_on_fd(FD_N, "/fdreuse-pid") == 404 ? 0 : 1);
	close(FD_N);
	if (waitpid(b, &st, 0) != b || !WIFEXITED(st) || WEXITSTATUS(st))
		fail_msg("second child (pid %d) did not get its 404", b);
	assert_int_equal(b, a);
	expect_client_doc(b, "/fdreuse-pid");
	assert_int_equal(e2e_agent_stop(agent), 0);
	e2e_agent_check_final(agent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dup2_onto_classified_fd, fdreuse_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_close_range_then_dup, fdreuse_setup,
						e2e_test_teardown),
		cmocka_unit_test_setup_teardown(test_pid_reuse, fdreuse_setup, e2e_test_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("fdreuse", tests, e2e_group_setup, e2e_group_teardown)
		       ? 1
		       : 0;
}
