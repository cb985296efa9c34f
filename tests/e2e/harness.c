// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* End-to-end test harness; see harness.h for the contract. */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/sched.h>

#define READY_TIMEOUT 30.0
#define STOP_TIMEOUT 20.0
#define DOCS_TIMEOUT 10.0
#define POLL_STEP 0.05
#define SCOPES_MAX 32
#define MSG_TAIL 6000

extern char **environ;

/* ------------------------------------------------------------------------ */
/* failing                                                                  */

static void die_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

static void die_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fflush(stdout);
	fprintf(stderr, "E2E FAILURE: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	va_end(ap);
	_fail(file, line);
	abort(); /* _fail longjmps out of the test */
}

#define die(...) die_at(__FILE__, __LINE__, __VA_ARGS__)

/* ------------------------------------------------------------------------ */
/* scopes                                                                   */

enum res_kind { RES_MEM, RES_JSON, RES_PROC, RES_DIR, RES_AGENT, RES_CGROUP, RES_NETNS };

struct res {
	enum res_kind kind;
	void *p;
	struct res *next;
};

static struct res *scopes[SCOPES_MAX]; /* scopes[0]: process lifetime */
static int depth;                     /* innermost open scope */
static int test_depth = -1;           /* depth before e2e_test_setup pushed */
static int group_depth = -1;
static bool atexit_done;

static void release(struct res *r);
static void cleanup_at_exit(void);

/* SIGINT/SIGTERM/SIGHUP (e.g. a CI timeout): kill every process group we
 * started, then die. Only async-signal-safe calls: kill(), _exit(). Children
 * have PDEATHSIG, but their own children (nginx workers) do not. */
static void on_fatal_signal(int sig)
{
	for (int level = 0; level < SCOPES_MAX; level++)
		for (struct res *r = scopes[level]; r; r = r->next)
			if (r->kind == RES_PROC && !((struct e2e_proc *)r->p)->exited)
				kill(-((struct e2e_proc *)r->p)->pid, SIGKILL);
	_exit(128 + sig);
}

static void install_basics(void)
{
	struct sigaction sa = { .sa_handler = on_fatal_signal };

	if (atexit_done)
		return;
	atexit_done = true;
	atexit(cleanup_at_exit);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void reg_in(int level, enum res_kind kind, void *p)
{
	struct res *r = calloc(1, sizeof(*r));

	install_basics();
	if (!r)
		abort();
	r->kind = kind;
	r->p = p;
	r->next = scopes[level];
	scopes[level] = r;
}

static void reg(enum res_kind kind, void *p)
{
	reg_in(depth, kind, p);
}

static void *xalloc_in(int level, size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p)
		abort();
	reg_in(level, RES_MEM, p);
	return p;
}

static void *xalloc(size_t n)
{
	return xalloc_in(depth, n);
}

void *e2e_alloc(size_t n)
{
	return xalloc(n);
}

static char *xstrdup_in(int level, const char *s)
{
	size_t n = strlen(s);
	char *p = xalloc_in(level, n + 1);

	memcpy(p, s, n + 1);
	return p;
}

static char *xstrdup(const char *s)
{
	return xstrdup_in(depth, s);
}

static json_t *own_json(json_t *j)
{
	if (j)
		reg(RES_JSON, j);
	return j;
}

void e2e_scope_push(void)
{
	install_basics();
	if (depth + 1 >= SCOPES_MAX)
		die("e2e scopes nested too deep (%d)", depth);
	scopes[++depth] = NULL;
}

static void scope_release(int level)
{
	struct res *r = scopes[level], *next;

	scopes[level] = NULL;
	for (; r; r = next) {
		next = r->next;
		release(r);
		free(r);
	}
}

void e2e_scope_pop(void)
{
	if (depth == 0)
		return;
	scope_release(depth);
	depth--;
}

static void pop_to(int level)
{
	while (depth > level && depth > 0)
		e2e_scope_pop();
}

int e2e_group_setup(void **state)
{
	(void)state;
	install_basics();
	/* groups do not nest: whatever a failed group left behind goes now */
	pop_to(0);
	group_depth = depth;
	test_depth = -1;
	e2e_scope_push();
	e2e_require_root_bpf();
	return 0;
}

int e2e_group_teardown(void **state)
{
	(void)state;
	pop_to(group_depth >= 0 ? group_depth : 0);
	group_depth = -1;
	return 0;
}

bool e2e_group_wanted(const char *name)
{
	const char *g = getenv("E2E_GROUPS");
	size_t n = strlen(name);

	if (!g || !*g)
		return true;
	for (const char *p = g; *p;) {
		const char *e = strchrnul(p, ',');

		if ((size_t)(e - p) == n && !strncmp(p, name, n))
			return true;
		p = *e ? e + 1 : e;
	}
	return false;
}

int e2e_test_setup(void **state)
{
	(void)state;
	/* a test whose teardown did not run leaves scopes open: close them */
	if (test_depth >= 0)
		pop_to(test_depth);
	test_depth = depth;
	e2e_scope_push();
	return 0;
}

int e2e_test_teardown(void **state)
{
	(void)state;
	pop_to(test_depth >= 0 ? test_depth : 0);
	test_depth = -1;
	return 0;
}

static void cleanup_at_exit(void)
{
	while (depth > 0)
		e2e_scope_pop();
	scope_release(0);
}

/* ------------------------------------------------------------------------ */
/* small utilities                                                          */

const char *e2e_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	reg(RES_MEM, s);
	return s;
}

const char *e2e_url(int port, const char *path)
{
	return e2e_fmt("http://127.0.0.1:%d%s", port, path);
}

double e2e_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double e2e_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void e2e_sleep(double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static const char *tmpdir_in(int level)
{
	char tmpl[] = "/tmp/xtap-e2e-XXXXXX";
	char *d;

	if (!mkdtemp(tmpl))
		die("mkdtemp: %s", strerror(errno));
	/* peers may drop privileges (nginx workers): let them in */
	chmod(tmpl, 0755);
	d = xstrdup_in(level, tmpl);
	reg_in(level, RES_DIR, xstrdup_in(level, tmpl));
	return d;
}

const char *e2e_tmpdir(void)
{
	return tmpdir_in(depth);
}

void e2e_write_file(const char *path, const void *data, size_t len)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			die("write %s: %s", path, strerror(errno));
		}
		p += n;
		len -= n;
	}
	close(fd);
}

/* malloc'd (not scope-owned) file contents, NULL if missing */
static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 65536, n = 0;
	char *buf;

	if (len)
		*len = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return NULL;
		die("open %s: %s", path, strerror(errno));
	}
	buf = malloc(cap);
	if (!buf)
		abort();
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			close(fd);
			free(buf);
			die("read %s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

char *e2e_read_file(const char *path, size_t *len)
{
	char *s = slurp(path, len);

	if (s)
		reg(RES_MEM, s);
	return s;
}

const char *e2e_tail(const char *s, size_t max)
{
	size_t n;

	if (!s)
		return "";
	n = strlen(s);
	return n > max ? s + n - max : s;
}

const char *e2e_proc_comm(pid_t pid)
{
	char path[64], *s, *nl;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	s = e2e_read_file(path, NULL);
	if (!s)
		die("cannot read %s: process gone?", path);
	nl = strchr(s, '\n');
	if (nl)
		*nl = '\0';
	return s;
}

const char *e2e_proc_exe(pid_t pid)
{
	char path[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		die("readlink %s: %s", path, strerror(errno));
	buf[n] = '\0';
	return xstrdup(buf);
}

pid_t e2e_child_pid(pid_t pid, double timeout)
{
	char path[96];
	double end = e2e_mono() + timeout;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	for (i = 0; i < 100000; i++) {
		char *s = slurp(path, NULL);
		long c = s ? strtol(s, NULL, 10) : 0;

		free(s);
		if (c > 0)
			return (pid_t)c;
		if (e2e_mono() > end)
			break;
		e2e_sleep(POLL_STEP);
	}
	die("process %d has no child after %.1f s", (int)pid, timeout);
}

void e2e_require_root_bpf(void)
{
	union bpf_attr attr;
	int fd;

	if (geteuid() != 0)
		die("end-to-end tests load BPF programs and must run as root (euid %d)",
		    (int)geteuid());
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
		die("no kernel BTF (/sys/kernel/btf/vmlinux): the agent cannot load here");
	/* a tiny array map proves bpf(2) works for us */
	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
	if (fd < 0)
		die("bpf(BPF_MAP_CREATE) failed: %s: no BPF here, end-to-end tests cannot run",
		    strerror(errno));
	close(fd);
}

static char *which(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	const char *p, *e;

	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? strdup(name) : NULL;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
	for (p = path; *p; p = *e ? e + 1 : e) {
		e = strchrnul(p, ':');
		if (e == p)
			continue;
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)(e - p), p, name);
		if (access(buf, X_OK) == 0)
			return strdup(buf);
	}
	/* nginx lives in sbin, which a user's PATH may lack */
	for (p = "/usr/sbin:/sbin:/usr/local/sbin"; *p; p = *e ? e + 1 : e) {
		e = strchrnul(p, ':');
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)(e - p), p, name);
		if (access(buf, X_OK) == 0)
			return strdup(buf);
	}
	return NULL;
}

const char *e2e_require_bin(const char *name)
{
	char *p = which(name);

	if (!p)
		die("%s not found in PATH: install it (the end-to-end tests need it)", name);
	reg(RES_MEM, p);
	return p;
}

/* ------------------------------------------------------------------------ */
/* processes                                                                */

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void apply_env(const char *const *env)
{
	for (; env && *env; env++) {
		const char *eq = strchr(*env, '=');

		if (!eq) {
			unsetenv(*env);
		} else {
			char key[256];
			size_t n = (size_t)(eq - *env);

			if (n >= sizeof(key))
				continue;
			memcpy(key, *env, n);
			key[n] = '\0';
			setenv(key, eq + 1, 1);
		}
	}
}

struct e2e_proc *e2e_spawn(const struct e2e_spawn_opts *o)
{
	struct e2e_proc *p;
	const char *dir;
	int pfd[2], out, err, in, e = 0;
	pid_t ppid = getpid();
	char *exe;
	ssize_t n;

	if (!o || !o->argv || !o->argv[0])
		die("e2e_spawn: empty argv");
	exe = which(o->argv[0]);
	if (!exe)
		die("%s not found in PATH: install it (the end-to-end tests need it)", o->argv[0]);
	reg(RES_MEM, exe);
	dir = e2e_tmpdir();
	p = xalloc(sizeof(*p));
	p->name = xstrdup(base_name(o->argv[0]));
	p->out_path = xstrdup(e2e_fmt("%s/%s.out", dir, p->name));
	p->err_path = o->split_stderr ? xstrdup(e2e_fmt("%s/%s.err", dir, p->name)) : p->out_path;
	out = open(p->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	err = o->split_stderr ? open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
			      : out;
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (out < 0 || err < 0 || in < 0)
		die("cannot open logs for %s: %s", p->name, strerror(errno));
	if (pipe2(pfd, O_CLOEXEC) < 0)
		die("pipe2: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	p->t_spawn = e2e_now();
	p->pid = fork();
	if (p->pid < 0)
		die("fork: %s", strerror(errno));
	if (p->pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != ppid)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		if (o->cwd && chdir(o->cwd) < 0)
			goto fail;
		apply_env(o->env);
		execv(exe, (char *const *)o->argv);
fail:
		e = errno;
		if (write(pfd[1], &e, sizeof(e)) < 0)
			_exit(126);
		_exit(127);
	}
	setpgid(p->pid, p->pid); /* no race with the child's own setpgid */
	close(pfd[1]);
	close(in);
	if (err != out)
		close(err);
	close(out);
	do {
		n = read(pfd[0], &e, sizeof(e));
	} while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(e)) {
		int st;

		waitpid(p->pid, &st, 0);
		p->exited = true;
		p->status = st;
		die("cannot exec %s (cwd %s): %s", exe, o->cwd ? o->cwd : ".", strerror(e));
	}
	reg(RES_PROC, p);
	return p;
}

struct e2e_proc *e2e_spawnv(const char *const *argv)
{
	struct e2e_spawn_opts o = { .argv = argv };

	return e2e_spawn(&o);
}

static int decode_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

pid_t e2e_fork_with_pid(pid_t want)
{
	struct clone_args ca = { .exit_signal = SIGCHLD };
	pid_t tid = want;

	ca.set_tid = (__u64)(uintptr_t)&tid;
	ca.set_tid_size = 1;
	return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}

bool e2e_proc_alive(struct e2e_proc *p)
{
	int st;
	pid_t r;

	if (p->exited)
		return false;
	r = waitpid(p->pid, &st, WNOHANG);
	if (r == p->pid) {
		p->exited = true;
		p->status = st;
		return false;
	}
	if (r < 0 && errno == ECHILD) {
		p->exited = true;
		p->status = 0;
		return false;
	}
	return true;
}

/* wait up to timeout; true if it exited */
static bool wait_exit(struct e2e_proc *p, double timeout)
{
	double end = e2e_mono() + timeout;
	int i;

	for (i = 0; i < 1000000; i++) {
		if (!e2e_proc_alive(p))
			return true;
		if (e2e_mono() > end)
			return false;
		e2e_sleep(0.01);
	}
	return !e2e_proc_alive(p);
}

static void kill_hard(struct e2e_proc *p)
{
	if (p->exited)
		return;
	kill(-p->pid, SIGKILL);
	kill(p->pid, SIGKILL);
	wait_exit(p, 5.0);
}

int e2e_proc_wait(struct e2e_proc *p, double timeout)
{
	bool was_running = !p->exited;

	if (!wait_exit(p, timeout)) {
		kill_hard(p);
		die("%s (pid %d) still running after %.1f s: killed\n--- output:\n%s", p->name,
		    (int)p->pid, timeout, e2e_tail(e2e_proc_out(p), MSG_TAIL));
	}
	/* a process-group leader may leave children: they go too */
	if (was_running)
		kill(-p->pid, SIGKILL);
	return decode_status(p->status);
}

int e2e_proc_stop(struct e2e_proc *p, double timeout)
{
	if (!p->exited) {
		kill(-p->pid, SIGTERM);
		if (!wait_exit(p, timeout))
			kill_hard(p);
		kill(-p->pid, SIGKILL); /* stragglers in its group */
	}
	return decode_status(p->status);
}

const char *e2e_proc_out(struct e2e_proc *p)
{
	char *s = e2e_read_file(p->out_path, NULL);

	return s ? s : "";
}

const char *e2e_proc_err(struct e2e_proc *p)
{
	char *s = e2e_read_file(p->err_path, NULL);

	return s ? s : "";
}

struct e2e_run e2e_run_cmd(const struct e2e_spawn_opts *o, double timeout)
{
	struct e2e_spawn_opts so = *o;
	struct e2e_run r = { 0 };
	struct e2e_proc *p;

	so.split_stderr = true;
	r.t0 = e2e_now();
	p = e2e_spawn(&so);
	r.pid = p->pid;
	r.status = e2e_proc_wait(p, timeout);
	r.t1 = e2e_now();
	r.out = e2e_proc_out(p);
	r.err = e2e_proc_err(p);
	return r;
}

struct e2e_run e2e_curlv(const char *const *args)
{
	const char *pre[] = { "curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w",
			      "%{http_code} %{local_port}\\n" };
	size_t npre = sizeof(pre) / sizeof(pre[0]), n = 0, i;
	struct e2e_spawn_opts o = { 0 };
	const char **argv;

	while (args && args[n])
		n++;
	argv = xalloc((npre + n + 1) * sizeof(*argv));
	for (i = 0; i < npre; i++)
		argv[i] = pre[i];
	for (i = 0; i < n; i++)
		argv[npre + i] = args[i];
	argv[npre + n] = NULL;
	o.argv = argv;
	return e2e_run_cmd(&o, 20.0);
}

size_t e2e_args_from(const char **args, size_t cap, size_t n, const char *first, va_list ap)
{
	for (const char *a = first; a && n + 1 < cap; a = va_arg(ap, const char *))
		args[n++] = a;
	args[n] = NULL;
	return n;
}

struct e2e_run e2e_curl(const char *arg, ...)
{
	const char *args[64];
	va_list ap;

	va_start(ap, arg);
	e2e_args_from(args, sizeof(args) / sizeof(args[0]), 0, arg, ap);
	va_end(ap);
	return e2e_curlv(args);
}

static bool try_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

void e2e_wait_port(int port, struct e2e_proc *p, double timeout)
{
	double end = e2e_mono() + timeout;
	int i;

	for (i = 0; i < 100000; i++) {
		if (try_connect(port))
			return;
		if (p && !e2e_proc_alive(p))
			die("%s (pid %d) exited (status %d) before listening on 127.0.0.1:%d\n"
			    "--- output:\n%s",
			    p->name, (int)p->pid, decode_status(p->status), port,
			    e2e_tail(e2e_proc_out(p), MSG_TAIL));
		if (e2e_mono() > end)
			break;
		e2e_sleep(POLL_STEP);
	}
	die("nothing accepts on 127.0.0.1:%d after %.1f s%s%s", port, timeout,
	    p ? "\n--- output:\n" : "", p ? e2e_tail(e2e_proc_out(p), MSG_TAIL) : "");
}

int e2e_free_port(void)
{
	static int given[256];
	static int n_given;
	int tries;

	for (tries = 0; tries < 100; tries++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t len = sizeof(sa);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port, i;
		bool dup = false;

		if (fd < 0)
			die("socket: %s", strerror(errno));
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
			close(fd);
			die("bind 127.0.0.1:0: %s", strerror(errno));
		}
		close(fd);
		port = ntohs(sa.sin_port);
		for (i = 0; i < n_given; i++)
			dup |= given[i] == port;
		if (dup)
			continue;
		if (n_given < (int)(sizeof(given) / sizeof(given[0])))
			given[n_given++] = port;
		return port;
	}
	die("no free port after 100 tries");
}

/* ------------------------------------------------------------------------ */
/* UDP daemon listener                                                      */

struct e2e_udp {
	int fd;
	int port;
	json_t *docs; /* parsed documents */
};

static struct e2e_udp *udp_open(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct e2e_udp *u = xalloc(sizeof(*u));
	int sz = 16 << 20;

	u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (u->fd < 0)
		die("udp socket: %s", strerror(errno));
	if (setsockopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(u->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(u->fd, (struct sockaddr *)&sa, &len) < 0)
		die("udp bind 127.0.0.1:0: %s", strerror(errno));
	u->port = ntohs(sa.sin_port);
	u->docs = json_array();
	return u;
}

static void udp_drain(struct e2e_udp *u)
{
	static char buf[70000];
	int i;

	for (i = 0; i < 1000000; i++) {
		ssize_t n = recv(u->fd, buf, sizeof(buf) - 1, MSG_TRUNC);
		json_error_t jerr;
		json_t *hdr, *doc, *fmt, *ver;
		char *nl;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if ((size_t)n >= sizeof(buf) - 1)
			die("UDP datagram of %zd bytes: larger than 64 KiB", n);
		buf[n] = '\0';
		nl = memchr(buf, '\n', n);
		if (!nl)
			die("UDP datagram without a header line: %s", buf);
		hdr = json_loadb(buf, nl - buf, 0, &jerr);
		fmt = hdr ? json_object_get(hdr, "format") : NULL;
		ver = hdr ? json_object_get(hdr, "version") : NULL;
		if (!hdr || !json_is_string(fmt) || strcmp(json_string_value(fmt), "json") ||
		    !json_is_integer(ver) || json_integer_value(ver) != 1) {
			json_decref(hdr);
			die("UDP datagram header is not {\"format\":\"json\",\"version\":1}: %.*s",
			    (int)(nl - buf), buf);
		}
		json_decref(hdr);
		doc = json_loadb(nl + 1, n - (nl + 1 - buf), 0, &jerr);
		if (!doc || !json_is_object(doc)) {
			json_decref(doc);
			die("UDP datagram body is not one JSON object (%s): %s", jerr.text, nl + 1);
		}
		json_array_append_new(u->docs, doc);
	}
}

/* ------------------------------------------------------------------------ */
/* agent                                                                    */

struct final_exp {
	struct e2e_filter f;
	size_t n;
	struct final_exp *next;
};

const char *e2e_xtap_bin(void)
{
	const char *b = getenv("XTAP_BIN");

	if (!b || !*b)
		b = "build/xtap";
	if (access(b, X_OK) != 0)
		die("agent binary %s is not executable (%s): run 'make' first, or set XTAP_BIN "
		    "(cwd must be the repo root)",
		    b, strerror(errno));
	return b;
}

struct e2e_proc *e2e_trace_start(const char *const *args)
{
	const char *argv[64];
	struct e2e_spawn_opts so = { .argv = argv, .split_stderr = true };
	struct e2e_proc *p;
	size_t n = 0;
	double end = e2e_mono() + 30;

	argv[n++] = e2e_xtap_bin();
	argv[n++] = "trace";
	for (; *args && n < 63; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	p = e2e_spawn(&so);
	for (int i = 0; i < 3000; i++) {
		if (strstr(e2e_proc_err(p), "xtap: tracing: "))
			return p;
		if (!e2e_proc_alive(p))
			fail_msg("xtap trace exited (%d) before attaching:\n%s", p->status,
				 e2e_proc_err(p));
		if (e2e_mono() > end)
			break;
		e2e_sleep(0.05);
	}
	fail_msg("xtap trace not attached after 30 s:\n%s", e2e_proc_err(p));
	return NULL;
}

static bool has_arg(const char *const *args, const char *a)
{
	for (; args && *args; args++)
		if (!strcmp(*args, a))
			return true;
	return false;
}

static const char *arg_after(const char *const *args, const char *a1, const char *a2)
{
	for (; args && *args; args++)
		if ((!strcmp(*args, a1) || (a2 && !strcmp(*args, a2))) && args[1])
			return args[1];
	return NULL;
}

static void agent_release(struct e2e_agent *a)
{
	struct final_exp *e, *next;

	if (a->proc && !a->proc->exited) {
		kill(a->proc->pid, SIGTERM);
		if (!wait_exit(a->proc, STOP_TIMEOUT))
			kill_hard(a->proc);
	}
	if (a->udp) {
		close(a->udp->fd);
		json_decref(a->udp->docs);
		a->udp->docs = NULL;
	}
	for (e = a->final_; e; e = next) {
		next = e->next;
		free((void *)e->f.type);
		free((void *)e->f.url_contains);
		free((void *)e->f.name);
		free((void *)e->f.method);
		free(e);
	}
	a->final_ = NULL;
}

struct e2e_agent *e2e_agent_start(const struct e2e_agent_opts *o)
{
	const char *const *args = o ? o->args : NULL;
	const char *argv[256], *env[64];
	struct e2e_spawn_opts so = { 0 };
	struct e2e_agent *a;
	const char *bin = e2e_xtap_bin(), *out;
	double timeout = o && o->ready_timeout > 0 ? o->ready_timeout : READY_TIMEOUT;
	double end;
	size_t n = 0, ne = 0;
	int i;

	a = xalloc(sizeof(*a));
	a->dir = e2e_tmpdir();
	argv[n++] = bin;
	argv[n++] = "run";
	out = arg_after(args, "-o", "--output");
	if (out) {
		a->out_path = xstrdup(out);
	} else {
		a->out_path = e2e_fmt("%s/out.jsonl", a->dir);
		argv[n++] = "-o";
		argv[n++] = a->out_path;
	}
	if (!(o && o->keep_stdout) && !has_arg(args, "--no-stdout"))
		argv[n++] = "--no-stdout";
	if (!has_arg(args, "--daemon-address") && !has_arg(args, "--no-daemon")) {
		a->udp = udp_open();
		argv[n++] = "--daemon-address";
		argv[n++] = e2e_fmt("127.0.0.1:%d", a->udp->port);
	}
	/* the endpoint's default port is fixed: agents running at once each
	 * get a free one */
	if (!has_arg(args, "--metrics-address")) {
		a->metrics_port = e2e_free_port();
		argv[n++] = "--metrics-address";
		argv[n++] = e2e_fmt("127.0.0.1:%d", a->metrics_port);
	}
	for (; args && *args; args++) {
		if (n + 2 >= sizeof(argv) / sizeof(argv[0]))
			die("too many agent arguments");
		argv[n++] = *args;
	}
	argv[n] = NULL;
	/* determinism: the caller's environment must not rename or redirect */
	env[ne++] = "AWS_XRAY_TRACING_NAME";
	env[ne++] = "AWS_XRAY_DAEMON_ADDRESS";
	env[ne++] = "XTAP_METRICS_ADDRESS";
	for (const char *const *e = o ? o->env : NULL; e && *e; e++) {
		if (ne + 2 >= sizeof(env) / sizeof(env[0]))
			die("too many agent env entries");
		env[ne++] = *e;
	}
	env[ne] = NULL;
	so.argv = argv;
	so.env = env;
	so.split_stderr = true;
	a->proc = e2e_spawn(&so);
	reg(RES_AGENT, a);

	end = e2e_mono() + timeout;
	for (i = 0; i < 100000; i++) {
		char *log = slurp(a->proc->err_path, NULL);
		bool ready = log && strstr(log, "xtap: ready:");

		free(log);
		if (ready) {
			a->t_ready = e2e_now();
			return a;
		}
		if (!e2e_proc_alive(a->proc))
			die("agent exited (status %d) before \"xtap: ready:\"\n--- command: %s run ...\n"
			    "--- agent log:\n%s",
			    decode_status(a->proc->status), bin,
			    e2e_tail(e2e_proc_err(a->proc), MSG_TAIL));
		if (e2e_mono() > end)
			break;
		e2e_sleep(POLL_STEP);
	}
	kill_hard(a->proc);
	die("agent not ready after %.0f s: killed\n--- agent log:\n%s", timeout,
	    e2e_tail(e2e_proc_err(a->proc), MSG_TAIL));
}

struct e2e_agent *e2e_agent_startl(const char *arg, ...)
{
	const char *args[128];
	struct e2e_agent_opts o = { .args = args };
	va_list ap;

	va_start(ap, arg);
	e2e_args_from(args, sizeof(args) / sizeof(args[0]), 0, arg, ap);
	va_end(ap);
	return e2e_agent_start(&o);
}

int e2e_agent_stop(struct e2e_agent *a)
{
	if (a->stopped)
		return a->exit_code;
	if (!a->proc->exited) {
		kill(a->proc->pid, SIGTERM);
		if (!wait_exit(a->proc, STOP_TIMEOUT)) {
			kill_hard(a->proc);
			a->stopped = true;
			a->exit_code = decode_status(a->proc->status);
			die("agent did not exit within %.0f s of SIGTERM: killed\n--- agent log:\n%s",
			    STOP_TIMEOUT, e2e_tail(e2e_proc_err(a->proc), MSG_TAIL));
		}
	}
	a->stopped = true;
	a->exit_code = decode_status(a->proc->status);
	if (a->udp)
		udp_drain(a->udp);
	return a->exit_code;
}

const char *e2e_agent_log(struct e2e_agent *a)
{
	return e2e_proc_err(a->proc);
}

long long e2e_agent_counter(struct e2e_agent *a, const char *line, const char *key)
{
	const char *log = e2e_agent_log(a), *p, *last = NULL, *q, *eol;
	char tag[64];
	size_t klen = strlen(key);

	snprintf(tag, sizeof(tag), "xtap: %s:", line);
	for (p = log; (p = strstr(p, tag)); p++)
		last = p;
	if (!last)
		die("agent log has no \"%s\" line (stopped yet?)\n--- agent log:\n%s", tag,
		    e2e_tail(log, MSG_TAIL));
	eol = strchrnul(last, '\n');
	for (q = last + strlen(tag); q < eol; q++) {
		if ((q[-1] == ' ' || q[-1] == ':') && !strncmp(q, key, klen) && q[klen] == '=')
			return strtoll(q + klen + 1, NULL, 10);
	}
	die("agent log line \"%.*s\" has no %s=", (int)(eol - last), last, key);
}

long long e2e_agent_unsampled(struct e2e_agent *a)
{
	return e2e_agent_counter(a, "counters", "sampled_out") +
	       e2e_agent_counter(a, "counters", "sampler_dropped") +
	       e2e_agent_counter(a, "counters", "muted_here") +
	       e2e_agent_counter(a, "kernel", "muted");
}

/* Parse the output file: new (not scope-owned) array. */
static json_t *read_docs(struct e2e_agent *a)
{
	size_t len, lineno = 0;
	char *s = slurp(a->out_path, &len), *p, *nl;
	json_t *arr = json_array();

	if (!s)
		return arr;
	for (p = s; p < s + len; p = nl + 1) {
		json_error_t jerr;
		json_t *doc;

		lineno++;
		nl = memchr(p, '\n', s + len - p);
		if (!nl) {
			if (!a->stopped)
				break; /* being written */
			nl = s + len;
		}
		if (nl == p)
			continue;
		doc = json_loadb(p, nl - p, 0, &jerr);
		if (!doc || !json_is_object(doc)) {
			char *line = strndup(p, nl - p > 4000 ? 4000 : nl - p);
			bool no_nl = nl == s + len;

			json_decref(doc);
			json_decref(arr);
			free(s);
			reg(RES_MEM, line);
			die("%s line %zu is not a JSON object (%s%s): %s", a->out_path, lineno,
			    jerr.text, no_nl ? ", no newline at the end" : "", line);
		}
		json_array_append_new(arr, doc);
	}
	free(s);
	return arr;
}

json_t *e2e_agent_docs(struct e2e_agent *a)
{
	return own_json(read_docs(a));
}

json_t *e2e_agent_udp_docs(struct e2e_agent *a)
{
	if (!a->udp)
		die("the agent was started with its own daemon address: no harness listener");
	udp_drain(a->udp);
	return own_json(json_copy(a->udp->docs));
}

int e2e_agent_udp_port(struct e2e_agent *a)
{
	return a->udp ? a->udp->port : 0;
}

/* ------------------------------------------------------------------------ */
/* filters                                                                  */

bool e2e_doc_match(json_t *doc, const struct e2e_filter *f)
{
	const char *type, *url, *s;

	if (!f)
		return true;
	type = e2e_json_str(doc, "type");
	if (f->type) {
		if (!strcmp(f->type, "segment")) {
			if (type && strcmp(type, "segment"))
				return false;
		} else if (!type || strcmp(type, f->type)) {
			return false;
		}
	}
	url = e2e_json_str(doc, "http.request.url");
	if (f->url_contains && (!url || !strstr(url, f->url_contains)))
		return false;
	if (f->port > 0) {
		char a[16];
		const char *hit;
		size_t n;

		if (!url)
			return false;
		n = (size_t)snprintf(a, sizeof(a), ":%d", f->port);
		for (hit = strstr(url, a); hit; hit = strstr(hit + 1, a))
			if (hit[n] == '/' || hit[n] == '\0' || hit[n] == '?')
				break;
		if (!hit)
			return false;
	}
	if (f->name && (!(s = e2e_json_str(doc, "name")) || strcmp(s, f->name)))
		return false;
	if (f->method && (!(s = e2e_json_str(doc, "http.request.method")) || strcmp(s, f->method)))
		return false;
	if (f->status > 0 && e2e_json_num(doc, "http.response.status", -1) != f->status)
		return false;
	if (f->pid > 0 && e2e_json_num(doc, "metadata.xtap.pid", -1) != (double)f->pid)
		return false;
	if (f->pred && !f->pred(doc, f->pred_arg))
		return false;
	return true;
}

static json_t *filter_new(json_t *docs, const struct e2e_filter *f)
{
	json_t *out = json_array(), *d;
	size_t i;

	json_array_foreach(docs, i, d)
		if (e2e_doc_match(d, f))
			json_array_append(out, d);
	return out;
}

json_t *e2e_docs_filter(json_t *docs, const struct e2e_filter *f)
{
	return own_json(filter_new(docs, f));
}

json_t *e2e_agent_wait_docs(struct e2e_agent *a, const struct e2e_filter *f, size_t n,
			    double timeout)
{
	double end = e2e_mono() + (timeout > 0 ? timeout : DOCS_TIMEOUT);
	json_t *m = NULL;
	int i;

	for (i = 0; i < 100000; i++) {
		json_t *all = read_docs(a);

		json_decref(m);
		m = filter_new(all, f);
		json_decref(all);
		if (json_array_size(m) >= n || a->stopped || e2e_mono() > end)
			break;
		if (!e2e_proc_alive(a->proc))
			die("agent died (status %d) while waiting for documents\n--- agent log:\n%s",
			    decode_status(a->proc->status),
			    e2e_tail(e2e_proc_err(a->proc), MSG_TAIL));
		e2e_sleep(POLL_STEP);
	}
	return own_json(m);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void e2e_agent_expect_final(struct e2e_agent *a, const struct e2e_filter *f, size_t n)
{
	struct final_exp *e = calloc(1, sizeof(*e)), **tail;

	if (!e)
		abort();
	e->f = *f;
	e->f.type = dup_or_null(f->type);
	e->f.url_contains = dup_or_null(f->url_contains);
	e->f.name = dup_or_null(f->name);
	e->f.method = dup_or_null(f->method);
	e->n = n;
	for (tail = (struct final_exp **)&a->final_; *tail; tail = &(*tail)->next)
		;
	*tail = e;
}

static const char *filter_desc(const struct e2e_filter *f)
{
	return e2e_fmt("{type=%s url~%s port=%d name=%s method=%s status=%d pid=%ld%s}",
		       f->type ? f->type : "*", f->url_contains ? f->url_contains : "*", f->port,
		       f->name ? f->name : "*", f->method ? f->method : "*", f->status, f->pid,
		       f->pred ? " +pred" : "");
}

static const char *docs_dump(json_t *docs)
{
	size_t cap = 64, used = 0, i;
	char *buf = malloc(cap);
	json_t *d;

	if (!buf)
		abort();
	strcpy(buf, "  (none)\n");
	json_array_foreach(docs, i, d) {
		char *line = json_dumps(d, JSON_COMPACT);
		size_t l = line ? strlen(line) : 1;

		cap += l + 32;
		buf = realloc(buf, cap);
		if (!buf)
			abort();
		used += sprintf(buf + used, "  [%zu] %s\n", i, line ? line : "?");
		free(line);
	}
	reg(RES_MEM, buf);
	return buf;
}

json_t *e2e_agent_expect_docs(struct e2e_agent *a, const struct e2e_filter *f, size_t n,
			      double timeout)
{
	json_t *m;

	/* recorded first: even if documents come late, the count after the
	 * agent drained is checked */
	e2e_agent_expect_final(a, f, n);
	m = e2e_agent_wait_docs(a, f, n, timeout);
	if (json_array_size(m) == n) {
		e2e_sleep(0.2);
		m = e2e_agent_wait_docs(a, f, n + 1, 0.01);
	}
	if (json_array_size(m) != n)
		die("expected exactly %zu documents matching %s, got %zu:\n%s"
		    "--- all %zu documents so far:\n%s--- agent log (tail):\n%s",
		    n, filter_desc(f), json_array_size(m), docs_dump(m),
		    json_array_size(e2e_agent_docs(a)), e2e_tail(docs_dump(e2e_agent_docs(a)), MSG_TAIL),
		    e2e_tail(e2e_agent_log(a), 3000));
	return m;
}

void e2e_agent_check_final(struct e2e_agent *a)
{
	json_t *all;
	struct final_exp *e;

	if (!a->stopped)
		die("e2e_agent_check_final before e2e_agent_stop");
	all = e2e_agent_docs(a);
	for (e = a->final_; e; e = e->next) {
		json_t *m = e2e_docs_filter(all, &e->f);

		if (json_array_size(m) != e->n)
			die("after the agent stopped: %zu documents match %s, expected exactly %zu:\n%s",
			    json_array_size(m), filter_desc(&e->f), e->n, docs_dump(m));
	}
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */

json_t *e2e_json_get(json_t *doc, const char *path)
{
	char key[256];
	const char *p = path;

	while (doc && *p) {
		const char *dot = strchrnul(p, '.');
		size_t n = (size_t)(dot - p);

		if (n >= sizeof(key) || !json_is_object(doc))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		doc = json_object_get(doc, key);
		p = *dot ? dot + 1 : dot;
	}
	return doc;
}

const char *e2e_json_str(json_t *doc, const char *path)
{
	json_t *v = e2e_json_get(doc, path);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

double e2e_json_num(json_t *doc, const char *path, double dflt)
{
	json_t *v = e2e_json_get(doc, path);

	return json_is_number(v) ? json_number_value(v) : dflt;
}

const char *e2e_json_dump(json_t *doc)
{
	char *s = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	if (!s)
		return "(null)";
	reg(RES_MEM, s);
	return s;
}

static const char *val_desc(json_t *v)
{
	return v ? e2e_json_dump(v) : "(missing)";
}

void e2e_assert_json_str_(json_t *doc, const char *path, const char *want, const char *file,
			  int line)
{
	json_t *v = e2e_json_get(doc, path);

	if (!want) {
		if (v)
			die_at(file, line, "%s: expected absent, got %s\n  doc: %s", path, val_desc(v),
			       e2e_json_dump(doc));
		return;
	}
	if (!json_is_string(v) || strcmp(json_string_value(v), want))
		die_at(file, line, "%s: expected \"%s\", got %s\n  doc: %s", path, want, val_desc(v),
		       e2e_json_dump(doc));
}

void e2e_assert_json_str_contains_(json_t *doc, const char *path, const char *sub,
				   const char *file, int line)
{
	json_t *v = e2e_json_get(doc, path);

	if (!json_is_string(v) || !strstr(json_string_value(v), sub))
		die_at(file, line, "%s: expected a string containing \"%s\", got %s\n  doc: %s", path,
		       sub, val_desc(v), e2e_json_dump(doc));
}

void e2e_assert_json_str_suffix_(json_t *doc, const char *path, const char *suffix,
				 const char *file, int line)
{
	json_t *v = e2e_json_get(doc, path);
	size_t n, m = strlen(suffix);

	if (json_is_string(v)) {
		n = strlen(json_string_value(v));
		if (n >= m && !strcmp(json_string_value(v) + n - m, suffix))
			return;
	}
	die_at(file, line, "%s: expected a string ending in \"%s\", got %s\n  doc: %s", path, suffix,
	       val_desc(v), e2e_json_dump(doc));
}

void e2e_assert_json_int_(json_t *doc, const char *path, long long want, const char *file,
			  int line)
{
	json_t *v = e2e_json_get(doc, path);

	if (json_is_integer(v) && json_integer_value(v) == want)
		return;
	if (json_is_real(v) && json_real_value(v) == (double)want)
		return;
	die_at(file, line, "%s: expected %lld, got %s\n  doc: %s", path, want, val_desc(v),
	       e2e_json_dump(doc));
}

void e2e_assert_json_true_(json_t *doc, const char *path, const char *file, int line)
{
	json_t *v = e2e_json_get(doc, path);

	if (!json_is_true(v))
		die_at(file, line, "%s: expected true, got %s\n  doc: %s", path, val_desc(v),
		       e2e_json_dump(doc));
}

void e2e_assert_json_absent_(json_t *doc, const char *path, const char *file, int line)
{
	json_t *v = e2e_json_get(doc, path);

	if (v)
		die_at(file, line, "%s: expected absent, got %s\n  doc: %s", path, val_desc(v),
		       e2e_json_dump(doc));
}

void e2e_assert_json_present_(json_t *doc, const char *path, const char *file, int line)
{
	if (!e2e_json_get(doc, path))
		die_at(file, line, "%s: expected present, missing\n  doc: %s", path,
		       e2e_json_dump(doc));
}

static bool is_lhex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

void e2e_assert_json_hex_(json_t *doc, const char *path, size_t len, const char *file, int line)
{
	const char *s = e2e_json_str(doc, path);

	if (!s || strlen(s) != len || !is_lhex(s, len))
		die_at(file, line, "%s: expected %zu lowercase hex digits, got %s\n  doc: %s", path,
		       len, val_desc(e2e_json_get(doc, path)), e2e_json_dump(doc));
}

void e2e_assert_trace_id_(json_t *doc, const char *path, const char *file, int line)
{
	const char *s = e2e_json_str(doc, path);
	char ep[9];
	double t;

	if (!s || strlen(s) != 35 || strncmp(s, "1-", 2) || s[10] != '-' || !is_lhex(s + 2, 8) ||
	    !is_lhex(s + 11, 24))
		die_at(file, line, "%s: expected a trace id 1-<8 hex>-<24 hex>, got %s\n  doc: %s",
		       path, val_desc(e2e_json_get(doc, path)), e2e_json_dump(doc));
	memcpy(ep, s + 2, 8);
	ep[8] = '\0';
	t = (double)strtoul(ep, NULL, 16);
	if (t < e2e_now() - 86400 || t > e2e_now() + 300)
		die_at(file, line, "%s: trace id epoch %s is not near now\n  doc: %s", path, ep,
		       e2e_json_dump(doc));
}

void e2e_assert_doc_timing_(json_t *doc, double t0, double t1, const char *file, int line)
{
	json_t *s = e2e_json_get(doc, "start_time"), *e = e2e_json_get(doc, "end_time");
	double st, et;

	if (!json_is_number(s) || !json_is_number(e))
		die_at(file, line, "start_time/end_time: expected numbers, got %s / %s\n  doc: %s",
		       val_desc(s), val_desc(e), e2e_json_dump(doc));
	st = json_number_value(s);
	et = json_number_value(e);
	if (st > et)
		die_at(file, line, "start_time %.6f > end_time %.6f\n  doc: %s", st, et,
		       e2e_json_dump(doc));
	if (st < t0 - 1 || et > t1 + 1)
		die_at(file, line,
		       "times [%.6f, %.6f] outside the test's window [%.6f, %.6f] +-1 s\n  doc: %s", st,
		       et, t0, t1, e2e_json_dump(doc));
}

void e2e_assert_doc_duration_(json_t *doc, double min, double max, const char *file, int line)
{
	double st = e2e_json_num(doc, "start_time", -1), et = e2e_json_num(doc, "end_time", -1);

	if (st < 0 || et < 0 || et - st < min || et - st > max)
		die_at(file, line, "duration end_time - start_time = %.6f s, expected in [%.3f, %.3f]"
		       "\n  doc: %s",
		       et - st, min, max, e2e_json_dump(doc));
}

void e2e_assert_doc_count_(json_t *docs, size_t n, const char *file, int line)
{
	if (json_array_size(docs) != n)
		die_at(file, line, "expected %zu documents, got %zu:\n%s", n, json_array_size(docs),
		       docs_dump(docs));
}

/* ------------------------------------------------------------------------ */
/* raw TCP                                                                  */

int e2e_count_str(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	int c = 0;

	if (!n || !hay)
		return 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + n, needle))
		c++;
	return c;
}

static bool tcp_done(const struct e2e_tcp_opts *o, const char *buf, size_t len)
{
	if (o->until_bytes && len >= o->until_bytes)
		return true;
	if (o->until_str && e2e_count_str(buf, o->until_str) >= (o->until_count ? o->until_count : 1))
		return true;
	return false;
}

struct e2e_tcp_result e2e_tcp_exchange(const struct e2e_tcp_opts *o)
{
	struct e2e_tcp_result r = { 0 };
	struct sockaddr_storage ss = { 0 };
	socklen_t slen;
	double timeout = o->timeout > 0 ? o->timeout : 5.0, end;
	size_t cap = 65536, i;
	struct pollfd pfd;
	int fd, one = 1, it;
	char *buf;

	r.t0 = e2e_now();
	end = e2e_mono() + timeout;
	if (o->ipv6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(o->port);
		s6->sin6_addr = in6addr_loopback;
		slen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(o->port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		slen = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	{
		struct timeval tv = { .tv_sec = (time_t)timeout, .tv_usec = 0 };

		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&ss, slen) < 0) {
		int e = errno;

		close(fd);
		die("connect to %s port %d: %s", o->ipv6 ? "::1" : "127.0.0.1", o->port, strerror(e));
	}
	{
		struct sockaddr_storage ls;
		socklen_t ll = sizeof(ls);

		if (getsockname(fd, (struct sockaddr *)&ls, &ll) == 0)
			r.local_port = ntohs(ls.ss_family == AF_INET6
						    ? ((struct sockaddr_in6 *)&ls)->sin6_port
						    : ((struct sockaddr_in *)&ls)->sin_port);
	}
	for (i = 0; i < o->n_chunks; i++) {
		const char *p = o->chunks[i].data;
		size_t len = o->chunks[i].len ? o->chunks[i].len : strlen(p);

		if (i > 0)
			e2e_sleep(o->pause);
		while (len) {
			ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				int e = errno;

				close(fd);
				die("send chunk %zu to port %d: %s", i, o->port, strerror(e));
			}
			p += n;
			len -= n;
		}
	}
	if (o->shut_wr)
		shutdown(fd, SHUT_WR);

	buf = malloc(cap);
	if (!buf)
		abort();
	buf[0] = '\0';
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (it = 0; it < 1000000; it++) {
		double left = end - e2e_mono();
		ssize_t n;

		if (tcp_done(o, buf, r.len))
			break;
		if (left <= 0) {
			r.timed_out = true;
			break;
		}
		if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		if (r.len + 4096 + 1 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = recv(fd, buf + r.len, cap - r.len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r.closed = true; /* EOF, or reset: either way the peer is done */
			break;
		}
		r.len += n;
		buf[r.len] = '\0';
	}
	close(fd);
	r.t1 = e2e_now();
	reg(RES_MEM, buf);
	r.data = buf;
	return r;
}

struct e2e_tcp_result e2e_tcp_strs(int port, double pause, double timeout, const char *chunk, ...)
{
	struct e2e_chunk chunks[64];
	struct e2e_tcp_opts o = { .port = port, .pause = pause, .timeout = timeout };
	size_t n = 0;
	va_list ap;

	va_start(ap, chunk);
	for (const char *c = chunk; c; c = va_arg(ap, const char *)) {
		if (n >= sizeof(chunks) / sizeof(chunks[0]))
			break;
		chunks[n].data = c;
		chunks[n].len = strlen(c);
		n++;
	}
	va_end(ap);
	o.chunks = chunks;
	o.n_chunks = n;
	return e2e_tcp_exchange(&o);
}

/* ------------------------------------------------------------------------ */
/* peers                                                                    */

static void write_www(const char *www)
{
	char *big = malloc(200000);
	size_t i;

	if (!big)
		abort();
	if (mkdir(www, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %s", www, strerror(errno));
	e2e_write_file(e2e_fmt("%s/hello.txt", www), E2E_HELLO_BODY, strlen(E2E_HELLO_BODY));
	e2e_write_file(e2e_fmt("%s/index.html", www),
		       "<html><body>xtap e2e</body></html>\n",
		       strlen("<html><body>xtap e2e</body></html>\n"));
	for (i = 0; i < 65536; i++)
		big[i] = (char)('a' + (i * 7919 % 26));
	e2e_write_file(e2e_fmt("%s/big.bin", www), big, 65536);
	for (i = 0; i < 200000; i++)
		big[i] = "the quick brown fox jumps over the lazy dog\n"[i % 44];
	e2e_write_file(e2e_fmt("%s/big.txt", www), big, 200000);
	free(big);
}

static void peer_fill(struct e2e_peer *p)
{
	p->exe = e2e_proc_exe(p->server_pid);
	p->comm = e2e_proc_comm(p->server_pid);
}

static const char *peer_file(const char *rel)
{
	char buf[PATH_MAX];

	if (access(rel, R_OK) != 0)
		die("%s not found: run the tests from the repository root", rel);
	if (!realpath(rel, buf))
		die("realpath %s: %s", rel, strerror(errno));
	return xstrdup(buf);
}

const char *e2e_python_exe(void)
{
	static char *exe;
	const char *argv[] = { "python3", "-c", "import sys; print(sys.executable)", NULL };
	struct e2e_spawn_opts o = { .argv = argv };
	struct e2e_run r;
	char *nl;

	if (exe)
		return exe;
	r = e2e_run_cmd(&o, 30);
	if (r.status != 0 || !*r.out)
		die("python3 -c 'print(sys.executable)' failed (%d): %s", r.status, r.err);
	exe = xstrdup_in(0, r.out);
	nl = strchr(exe, '\n');
	if (nl)
		*nl = '\0';
	if (access(exe, X_OK) != 0)
		die("python3's sys.executable %s is not executable", exe);
	return exe;
}

struct e2e_peer *e2e_peer_python(void)
{
	struct e2e_peer *p = xalloc(sizeof(*p));
	const char *py = e2e_python_exe();
	const char *argv[9];

	p->dir = e2e_tmpdir();
	write_www(p->dir);
	p->port = e2e_free_port();
	argv[0] = py;
	argv[1] = "-m";
	argv[2] = "http.server";
	argv[3] = "--bind";
	argv[4] = "127.0.0.1";
	argv[5] = "--directory";
	argv[6] = p->dir;
	argv[7] = e2e_fmt("%d", p->port);
	argv[8] = NULL;
	p->proc = e2e_spawnv(argv);
	e2e_wait_port(p->port, p->proc, 20);
	p->server_pid = p->proc->pid;
	peer_fill(p);
	return p;
}

/* ssl: NULL, or the server's "listen … ssl" lines (certificate and key) */
static struct e2e_peer *nginx_start(const char *ssl)
{
	struct e2e_peer *p = xalloc(sizeof(*p));
	const char *nginx = e2e_require_bin("nginx"), *conf, *www, *d;
	const char *argv[8];

	p->dir = d = e2e_tmpdir();
	www = e2e_fmt("%s/www", d);
	write_www(www);
	if (mkdir(e2e_fmt("%s/tmp", d), 0755) < 0)
		die("mkdir: %s", strerror(errno));
	p->port = e2e_free_port();
	conf = e2e_fmt(
		"user root;\n"
		"daemon off;\n"
		"master_process on;\n"
		"worker_processes 1;\n"
		"error_log %1$s/error.log info;\n"
		"pid %1$s/nginx.pid;\n"
		"events { worker_connections 512; }\n"
		"http {\n"
		"  access_log off;\n"
		"  client_body_temp_path %1$s/tmp/body;\n"
		"  proxy_temp_path %1$s/tmp/proxy;\n"
		"  fastcgi_temp_path %1$s/tmp/fastcgi;\n"
		"  uwsgi_temp_path %1$s/tmp/uwsgi;\n"
		"  scgi_temp_path %1$s/tmp/scgi;\n"
		"  types { text/plain txt; text/html html; application/octet-stream bin; }\n"
		"  default_type application/octet-stream;\n"
		"  sendfile on;\n"
		"  keepalive_timeout 65;\n"
		"  keepalive_requests 10000;\n"
		"  server {\n"
		"    listen 127.0.0.1:%2$d%4$s;\n"
		"%5$s"
		"    server_name localhost;\n"
		"    root %3$s;\n"
		"    location /static/ { alias %3$s/; }\n"
		"    location /gzip/ { alias %3$s/; gzip on; gzip_min_length 1;\n"
		"      gzip_types text/plain text/html; gzip_proxied any; }\n"
		"    location = /ok { default_type text/plain; return 200 \"ok\\n\"; }\n"
		"    location = /s204 { return 204; }\n"
		"    location = /s404 { return 404; }\n"
		"    location = /s429 { return 429; }\n"
		"    location = /s500 { return 500; }\n"
		"    location / { return 404; }\n"
		"  }\n"
		"}\n",
		d, p->port, www, ssl ? " ssl" : "", ssl ? ssl : "");
	e2e_write_file(e2e_fmt("%s/nginx.conf", d), conf, strlen(conf));
	argv[0] = nginx;
	argv[1] = "-p";
	argv[2] = d;
	argv[3] = "-c";
	argv[4] = e2e_fmt("%s/nginx.conf", d);
	argv[5] = "-e";
	argv[6] = e2e_fmt("%s/error.log", d);
	argv[7] = NULL;
	p->proc = e2e_spawnv(argv);
	e2e_wait_port(p->port, p->proc, 20);
	p->server_pid = e2e_child_pid(p->proc->pid, 10);
	peer_fill(p);
	return p;
}

struct e2e_peer *e2e_peer_nginx(void)
{
	return nginx_start(NULL);
}

struct e2e_peer *e2e_peer_nginx_ssl(const char *cert, const char *key)
{
	return nginx_start(e2e_fmt("    ssl_certificate %s;\n    ssl_certificate_key %s;\n", cert,
				   key));
}

static const char *go_binary(void)
{
	static const char *bin;
	const char *src, *dir, *argv[6];
	const char *env[] = { "GOPROXY=off", "GOFLAGS=-mod=mod", "GOCACHE=/tmp/xtap-e2e-gocache",
			      "GOPATH=/tmp/xtap-e2e-gopath", "CGO_ENABLED=0", "GO111MODULE=",
			      NULL };
	struct e2e_spawn_opts o = { .argv = argv, .env = env };
	struct e2e_run r;

	if (bin)
		return bin;
	src = peer_file("tests/e2e/peers/goserver.go");
	e2e_require_bin("go");
	dir = tmpdir_in(0); /* the binary lives for the whole run */
	argv[0] = "go";
	argv[1] = "build";
	argv[2] = "-o";
	argv[3] = e2e_fmt("%s/goserver", dir);
	argv[4] = src;
	argv[5] = NULL;
	r = e2e_run_cmd(&o, 180);
	if (r.status != 0)
		die("go build %s failed (%d):\n%s%s", src, r.status, r.out, r.err);
	bin = xstrdup_in(0, argv[3]);
	return bin;
}

struct e2e_peer *e2e_peer_go(void)
{
	struct e2e_peer *p = xalloc(sizeof(*p));
	const char *argv[4];

	argv[0] = go_binary();
	p->dir = e2e_tmpdir();
	p->port = e2e_free_port();
	argv[1] = "-addr";
	argv[2] = e2e_fmt("127.0.0.1:%d", p->port);
	argv[3] = NULL;
	p->proc = e2e_spawnv(argv);
	e2e_wait_port(p->port, p->proc, 20);
	p->server_pid = p->proc->pid;
	peer_fill(p);
	return p;
}

/* interpreter script PORT, a peer that listens on 127.0.0.1:PORT */
static struct e2e_peer *peer_script(const char *interpreter, const char *script)
{
	struct e2e_peer *p = xalloc(sizeof(*p));
	const char *argv[4];

	argv[0] = interpreter;
	argv[1] = peer_file(script);
	p->dir = e2e_tmpdir();
	p->port = e2e_free_port();
	argv[2] = e2e_fmt("%d", p->port);
	argv[3] = NULL;
	p->proc = e2e_spawnv(argv);
	e2e_wait_port(p->port, p->proc, 20);
	p->server_pid = p->proc->pid;
	peer_fill(p);
	return p;
}

struct e2e_peer *e2e_peer_node(void)
{
	return peer_script(e2e_require_bin("node"), "tests/e2e/peers/server.js");
}

struct e2e_peer *e2e_peer_relay(void)
{
	return peer_script(e2e_python_exe(), "tests/e2e/peers/relay.py");
}

/* ------------------------------------------------------------------------ */
/* releasing                                                                */

/* ------------------------------------------------------------------------ */
/* cgroups                                                                  */

#define CG_PREFIX "xtap-e2e-cg-"
#define CG_REMOVE_TRIES 50

static char cg_mount[PATH_MAX];

const char *e2e_cgroup2_mount(void)
{
	char dev[256], mnt[PATH_MAX], type[64];
	FILE *f;

	if (cg_mount[0])
		return cg_mount;
	f = fopen("/proc/mounts", "re");
	if (!f)
		die("/proc/mounts: %s", strerror(errno));
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, mnt, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(cg_mount, sizeof(cg_mount), "%s", mnt);
			break;
		}
	}
	fclose(f);
	if (!cg_mount[0])
		die("no cgroup2 mount in /proc/mounts: this test needs the cgroup v2 hierarchy");
	return cg_mount;
}

/* nftw, deepest first: every process of a directory back to the root
 * cgroup, then the directory (cgroupfs removes its files with it). */
static int cg_empty_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char procs[PATH_MAX + 16], root[PATH_MAX + 16], line[32];
	FILE *f;

	(void)st;
	(void)ftw;
	if (flag != FTW_DP)
		return 0;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	snprintf(root, sizeof(root), "%s/cgroup.procs", cg_mount);
	f = fopen(procs, "re");
	for (int i = 0; f && i < 10000 && fgets(line, sizeof(line), f); i++) {
		int fd = open(root, O_WRONLY | O_CLOEXEC);

		if (fd < 0)
			break;
		if (write(fd, line, strlen(line)) < 0) {
			/* exited meanwhile */
		}
		close(fd);
	}
	if (f)
		fclose(f);
	rmdir(path);
	return 0;
}

static void cgroup_remove(const char *top)
{
	struct stat st;

	for (int i = 0; i < CG_REMOVE_TRIES && !stat(top, &st); i++) {
		nftw(top, cg_empty_cb, 16, FTW_DEPTH | FTW_PHYS);
		if (stat(top, &st))
			return;
		e2e_sleep(0.1); /* a process still exiting keeps its cgroup busy */
	}
	if (!stat(top, &st))
		fprintf(stderr, "e2e: could not remove cgroup %s\n", top);
}

/* Trees left by test processes that died without cleaning up. */
/* Entries of dir named PREFIX<pid>-… whose test process is gone: what a
 * killed run left behind. */
static void remove_stale(const char *dir, const char *prefix, void (*rm)(const char *dir,
									  const char *name))
{
	DIR *d = opendir(dir);
	size_t plen = strlen(prefix);
	struct dirent *e;

	for (int i = 0; d && i < 100000 && (e = readdir(d)); i++) {
		int pid;

		if (!strncmp(e->d_name, prefix, plen) && sscanf(e->d_name + plen, "%d-", &pid) == 1 &&
		    pid != getpid() && kill(pid, 0) && errno == ESRCH)
			rm(dir, e->d_name);
	}
	if (d)
		closedir(d);
}

static void cgroup_remove_stale_one(const char *dir, const char *name)
{
	cgroup_remove(e2e_fmt("%s/%s", dir, name));
}

const char *e2e_cgroup_tree(void)
{
	static int serial;
	const char *top;
	char *owned;

	e2e_cgroup2_mount();
	remove_stale(cg_mount, CG_PREFIX, cgroup_remove_stale_one);
	top = e2e_fmt("%s/" CG_PREFIX "%d-%d", cg_mount, (int)getpid(), ++serial);
	if (mkdir(top, 0755))
		die("mkdir %s: %s", top, strerror(errno));
	owned = strdup(top); /* freed by release() */
	if (!owned)
		abort();
	reg(RES_CGROUP, owned);
	return top;
}

const char *e2e_cgroup_dir(const char *top, const char *rel)
{
	char *path = (char *)e2e_fmt("%s/%s", top, rel);

	for (char *p = path + strlen(top) + 1;; p++) {
		bool end = *p == '\0';

		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			die("mkdir %s: %s", path, strerror(errno));
		if (end)
			break;
		*p = '/';
	}
	return path;
}

void e2e_cgroup_enter(const char *dir, pid_t pid)
{
	const char *procs = e2e_fmt("%s/cgroup.procs", dir);
	const char *line = e2e_fmt("%d\n", (int)pid);
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : write(fd, line, strlen(line));

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)strlen(line))
		die("move pid %d into %s: %s", (int)pid, dir, strerror(errno));
}

/* ------------------------------------------------------------------------ */
/* linked documents                                                         */
/* ------------------------------------------------------------------------ */

bool e2e_has_trace_id(json_t *doc, const void *arg)
{
	const char *t = e2e_json_str(doc, "trace_id");

	return t && !strcmp(t, arg);
}

json_t *e2e_one_doc(json_t *docs, const struct e2e_filter *f)
{
	json_t *m = e2e_docs_filter(docs, f);

	if (json_array_size(m) != 1)
		fail_msg("expected one document matching, found %zu in %s", json_array_size(m),
			 e2e_json_dump(docs));
	return json_array_get(m, 0);
}

void e2e_assert_parent(json_t *child, json_t *parent)
{
	const char *want = e2e_json_str(parent, "id");

	assert_non_null(want);
	assert_json_str(child, "parent_id", want);
}

#define E2E_INSIDE_END_SLACK 1e-3

void e2e_assert_inside(json_t *child, json_t *parent)
{
	double cs = e2e_json_num(child, "start_time", -1), ce = e2e_json_num(child, "end_time", -1);
	double ps = e2e_json_num(parent, "start_time", -1), pe = e2e_json_num(parent, "end_time", -1);

	/* a server's last write(2) returns after its caller, on another CPU,
	 * may have read the bytes: the child may end a little later */
	if (cs < ps - 1e-6 || ce > pe + E2E_INSIDE_END_SLACK || cs > ce)
		fail_msg("%s [%.6f, %.6f] is not inside %s [%.6f, %.6f]",
			 e2e_json_str(child, "name"), cs, ce, e2e_json_str(parent, "name"), ps, pe);
}

/* ------------------------------------------------------------------------ */
/* network namespaces                                                       */
/* ------------------------------------------------------------------------ */

#define NETNS_DIR "/run/netns"
#define NETNS_PREFIX "xtap-e2e-"

/* what `ip netns del` does: the namespace goes with its last process */
static void netns_remove(const char *name)
{
	char path[PATH_MAX];

	/* no e2e_fmt: it runs while a scope is being released */
	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	umount2(path, MNT_DETACH);
	unlink(path);
}

static void netns_remove_stale_one(const char *dir, const char *name)
{
	(void)dir;
	netns_remove(name);
}

static void ip_cmd(const char *const *argv)
{
	struct e2e_spawn_opts o = { .argv = argv };
	struct e2e_run r = e2e_run_cmd(&o, 20);

	if (r.status != 0)
		die("%s %s %s %s: exit %d: %s", argv[0], argv[1], argv[2], argv[3] ? argv[3] : "",
		    r.status, r.err);
}

const char *e2e_netns(void)
{
	static int serial;
	const char *name;
	char *owned;

	e2e_require_bin("ip");
	remove_stale(NETNS_DIR, NETNS_PREFIX, netns_remove_stale_one);
	name = e2e_fmt(NETNS_PREFIX "%d-%d", (int)getpid(), ++serial);
	ip_cmd((const char *const[]){ "ip", "netns", "add", name, NULL });
	owned = strdup(name); /* freed by release() */
	if (!owned)
		abort();
	reg(RES_NETNS, owned);
	ip_cmd((const char *const[]){ "ip", "-n", name, "link", "set", "lo", "up", NULL });
	return name;
}

const char *e2e_netns_path(const char *ns)
{
	return e2e_fmt(NETNS_DIR "/%s", ns);
}

void e2e_veth(const char *ns_a, const char *addr_a, const char *ns_b, const char *addr_b)
{
	static int serial;
	const char *a = e2e_fmt("xe%da%d", (int)getpid() % 100000, ++serial);
	const char *b = e2e_fmt("xe%db%d", (int)getpid() % 100000, serial);

	ip_cmd((const char *const[]){ "ip", "link", "add", a, "netns", ns_a, "type", "veth", "peer",
				      "name", b, "netns", ns_b, NULL });
	ip_cmd((const char *const[]){ "ip", "-n", ns_a, "addr", "add", addr_a, "dev", a, NULL });
	ip_cmd((const char *const[]){ "ip", "-n", ns_b, "addr", "add", addr_b, "dev", b, NULL });
	ip_cmd((const char *const[]){ "ip", "-n", ns_a, "link", "set", a, "up", NULL });
	ip_cmd((const char *const[]){ "ip", "-n", ns_b, "link", "set", b, "up", NULL });
}

static void release(struct res *r)
{
	switch (r->kind) {
	case RES_MEM:
		free(r->p);
		break;
	case RES_JSON:
		json_decref(r->p);
		break;
	case RES_PROC: {
		struct e2e_proc *p = r->p;

		if (!p->exited) {
			kill(-p->pid, SIGTERM);
			if (!wait_exit(p, 5.0))
				kill_hard(p);
			kill(-p->pid, SIGKILL); /* stragglers in its group */
		}
		break;
	}
	case RES_AGENT:
		agent_release(r->p);
		break;
	case RES_DIR:
		nftw(r->p, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
		break;
	case RES_CGROUP:
		cgroup_remove(r->p);
		free(r->p);
		break;
	case RES_NETNS:
		netns_remove(r->p);
		free(r->p);
		break;
	}
}
