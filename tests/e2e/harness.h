/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * End-to-end test harness: runs the real agent (real BPF, root) against real
 * servers on 127.0.0.1 and checks the X-Ray documents it writes.
 *
 * Conventions
 *  - Every helper that can go wrong FAILS THE CURRENT cmocka TEST LOUDLY
 *    (fail_msg with the reason, the relevant log and the document), it never
 *    returns an error for the caller to forget. Functions that return a value
 *    to test (e2e_json_get, e2e_proc_alive, ...) say so.
 *  - Every wait is bounded in time and in iterations. Times are seconds
 *    (double).
 *  - Ownership is by SCOPE. Everything the harness returns (strings, JSON
 *    arrays, processes, agents, peers, temp dirs) belongs to the innermost
 *    open scope and is released when that scope is popped: processes are
 *    killed (their process group, SIGTERM then SIGKILL), agents stopped,
 *    temp dirs removed, memory freed. Never free or json_decref what the
 *    harness gave you. Scopes nest: use e2e_group_setup/e2e_group_teardown
 *    as the cmocka group fixtures (or call e2e_scope_push/e2e_scope_pop in
 *    your own) and e2e_test_setup/e2e_test_teardown as per-test fixtures, so a
 *    failing test still kills what it started. Whatever is left at exit is
 *    killed by an atexit handler; children also get PDEATHSIG=SIGKILL.
 *  - All traffic goes to 127.0.0.1 (or ::1).
 *
 * A typical group:
 *
 *	static struct e2e_peer *srv;
 *	static struct e2e_agent *agent;
 *
 *	static int setup(void **state)
 *	{
 *		e2e_group_setup(state);             // root + BPF checks, scope
 *		srv = e2e_peer_nginx();
 *		agent = e2e_agent_startl("--port", e2e_fmt("%d", srv->port), NULL);
 *		return 0;
 *	}
 *
 *	static void test_get(void **state)
 *	{
 *		double t0 = e2e_now();
 *		struct e2e_run r = e2e_curl(e2e_url(srv->port, "/static/hello.txt?t=get"), NULL);
 *		double t1 = e2e_now();
 *		struct e2e_filter f = { .type = "segment", .url_contains = "?t=get" };
 *		json_t *docs = e2e_agent_wait_docs(agent, &f, 1, 10);
 *		assert_doc_count(docs, 1);
 *		json_t *d = json_array_get(docs, 0);
 *		assert_json_str(d, "http.request.method", "GET");
 *		assert_json_int(d, "http.response.status", 200);
 *		assert_doc_timing(d, t0, t1);
 *		e2e_agent_expect_final(agent, &f, 1);   // exactly once, checked at stop
 *	}
 *
 *	static void test_zz_stop(void **state)       // last test of the group
 *	{
 *		assert_int_equal(e2e_agent_stop(agent), 0);
 *		e2e_agent_check_final(agent);
 *	}
 */
#ifndef XTAP_E2E_HARNESS_H
#define XTAP_E2E_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>

/* ------------------------------------------------------------------------ */
/* Scopes, fixtures, environment                                            */
/* ------------------------------------------------------------------------ */

/* Open a new innermost scope; later resources belong to it. */
void e2e_scope_push(void);
/* Release everything the innermost scope owns (kill processes, stop agents,
 * remove temp dirs, free memory) and close it. No-op with no scope open. */
void e2e_scope_pop(void);

/* cmocka group fixtures: e2e_group_setup first releases every scope still
 * open (groups do not nest; a failed group's leftovers go), checks root and
 * BPF (e2e_require_root_bpf) and pushes a scope; e2e_group_teardown pops
 * every scope opened since. Both return 0; call them from your own fixtures. */
int e2e_group_setup(void **state);
int e2e_group_teardown(void **state);
/* cmocka per-test fixtures: push a scope / pop back to the depth at setup
 * (also cleaning up scopes a failed test left open). Return 0. */
int e2e_test_setup(void **state);
int e2e_test_teardown(void **state);

/* True when $E2E_GROUPS (a comma-separated list of group names) is unset
 * or empty, or names this group. */
bool e2e_group_wanted(const char *name);
/* Fail unless running as root with BTF (/sys/kernel/btf/vmlinux) and bpf(2)
 * usable: end-to-end tests load real BPF and must not pass vacuously. */
void e2e_require_root_bpf(void);
/* Full path of an executable found in $PATH (scope-owned); fails the test
 * with "NAME not found in PATH: install it" when missing. */
const char *e2e_require_bin(const char *name);

/* n zeroed bytes, scope-owned (aborts when memory is out). */
void *e2e_alloc(size_t n);
/* Append first and the NULL-terminated va_list after it to args[n..], up
 * to cap - 1 entries in all (the rest are dropped), NULL-terminate; returns
 * the count. For the variadic wrappers of argv functions. */
size_t e2e_args_from(const char **args, size_t cap, size_t n, const char *first, va_list ap);
/* printf into a scope-owned string. */
const char *e2e_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "http://127.0.0.1:PORT" + path (path starts with '/'); scope-owned. */
const char *e2e_url(int port, const char *path);
/* Wall clock (CLOCK_REALTIME), epoch seconds with sub-µs resolution: the
 * same clock the documents' start_time/end_time use. */
double e2e_now(void);
/* Monotonic seconds, for timeouts. */
double e2e_mono(void);
void e2e_sleep(double seconds);

/* A new temp dir /tmp/xtap-e2e-XXXXXX (scope-owned, removed recursively). */
const char *e2e_tmpdir(void);
/* Write len bytes to path (created 0644, truncated); fails on error. */
void e2e_write_file(const char *path, const void *data, size_t len);
/* Read a whole file, NUL-terminated, scope-owned; *len (if not NULL) gets
 * the size. Returns NULL if the file does not exist; fails on other errors. */
char *e2e_read_file(const char *path, size_t *len);
/* Last `max` bytes of a text (for error messages); pointer into s. */
const char *e2e_tail(const char *s, size_t max);

/* /proc/PID/comm without the newline (scope-owned); fails if unreadable. */
const char *e2e_proc_comm(pid_t pid);
/* readlink(/proc/PID/exe) (scope-owned); fails if unreadable. */
const char *e2e_proc_exe(pid_t pid);
/* The first child of pid listed in /proc/PID/task/PID/children, waiting up
 * to timeout for one to appear; fails on timeout (e.g. nginx's worker). */
pid_t e2e_child_pid(pid_t pid, double timeout);

/* ------------------------------------------------------------------------ */
/* Processes                                                                */
/* ------------------------------------------------------------------------ */

struct e2e_proc {
	pid_t pid;            /* also its process group id (setpgid) */
	char *name;           /* label for messages: argv[0]'s basename */
	char *out_path;       /* stdout log */
	char *err_path;       /* stderr log (== out_path unless split) */
	bool exited;          /* reaped */
	int status;           /* raw wait status once exited */
	double t_spawn;       /* e2e_now() at spawn */
};

struct e2e_spawn_opts {
	const char *const *argv; /* NULL-terminated; argv[0] searched in PATH */
	const char *const *env;  /* NULL-terminated "K=V" additions/overrides to
				  * the current env; a bare "K" unsets K */
	const char *cwd;         /* NULL: inherit */
	bool split_stderr;       /* stderr to its own file (else with stdout) */
};

/* Fork+exec with stdin from /dev/null, stdout/stderr to log files in a
 * scope-owned temp dir, a new process group and PDEATHSIG=SIGKILL. Fails if
 * the exec fails (reported through a CLOEXEC pipe). Scope-owned. */
struct e2e_proc *e2e_spawn(const struct e2e_spawn_opts *o);
/* e2e_spawn with only argv. */
struct e2e_proc *e2e_spawnv(const char *const *argv);
/* fork(), the child getting pid `want` (clone3 set_tid: root, and the pid
 * free). Returns like fork(); the caller owns the child. */
pid_t e2e_fork_with_pid(pid_t want);
/* Non-blocking: true while the process has not exited (reaps it if it has). */
bool e2e_proc_alive(struct e2e_proc *p);
/* Wait up to timeout for it to exit; on timeout SIGKILL its group and fail.
 * Returns the exit code, or 128+signal if killed by a signal. */
int e2e_proc_wait(struct e2e_proc *p, double timeout);
/* SIGTERM to its process group, wait up to timeout, then SIGKILL (no test
 * failure). Returns like e2e_proc_wait. Idempotent. */
int e2e_proc_stop(struct e2e_proc *p, double timeout);
/* Current contents of its stdout log / stderr log ("" if empty). */
const char *e2e_proc_out(struct e2e_proc *p);
const char *e2e_proc_err(struct e2e_proc *p);

/* Result of a run-to-completion command. */
struct e2e_run {
	int status;      /* exit code, or 128+signal */
	pid_t pid;       /* the process that ran (for metadata.xtap.pid) */
	const char *out; /* stdout (scope-owned) */
	const char *err; /* stderr (scope-owned) */
	double t0, t1;   /* e2e_now() before spawn and after exit */
};

/* Spawn, wait up to timeout (killed + failed after), collect output. */
struct e2e_run e2e_run_cmd(const struct e2e_spawn_opts *o, double timeout);
/* curl -sS --max-time 10 -o /dev/null -w '%{http_code} %{local_port}\n'
 * followed by the given args (NULL-terminated), timeout 20 s. Pass "-o",
 * "FILE" or your own "-w" to override (later options win in curl). Does not
 * check the exit status: assert on .status yourself. */
struct e2e_run e2e_curl(const char *arg, ...) __attribute__((sentinel));
/* The same with an argv array (NULL-terminated) of extra args. */
struct e2e_run e2e_curlv(const char *const *args);

/* Wait up to timeout for a TCP connect to 127.0.0.1:port to succeed; if
 * `p` is not NULL, fail early when it exits (printing its logs). */
void e2e_wait_port(int port, struct e2e_proc *p, double timeout);
/* A port that was free on 127.0.0.1 (bind :0, read back, close); never the
 * same value twice in one run. */
int e2e_free_port(void);

/* ------------------------------------------------------------------------ */
/* The agent                                                                */
/* ------------------------------------------------------------------------ */

/* Path of the agent: $XTAP_BIN, default "build/xtap" (from the repo root,
 * where the tests run). Fails if it is not executable. */
const char *e2e_xtap_bin(void);

/* Spawn `xtap trace ARGS` (NULL-terminated; stderr apart from stdout) and
 * wait up to 30 s for its programs to be attached ("xtap: tracing:");
 * fails with its log if it exits first. Scope-owned. */
struct e2e_proc *e2e_trace_start(const char *const *args);

struct e2e_udp;

struct e2e_agent {
	struct e2e_proc *proc;  /* the agent process (stderr log = proc->err_path) */
	const char *dir;        /* its temp dir */
	const char *out_path;   /* the -o file the harness reads */
	struct e2e_udp *udp;    /* harness daemon listener, NULL if overridden */
	int metrics_port;       /* its --metrics-address port on 127.0.0.1, 0 if overridden */
	double t_ready;         /* e2e_now() when "xtap: ready:" was seen */
	bool stopped;
	int exit_code;          /* after e2e_agent_stop */
	/* private */
	void *final_;           /* expectations for e2e_agent_check_final */
};

struct e2e_agent_opts {
	const char *const *args; /* extra args after "run", NULL-terminated */
	const char *const *env;  /* env additions/overrides as in e2e_spawn.
				  * AWS_XRAY_TRACING_NAME and
				  * AWS_XRAY_DAEMON_ADDRESS are unset unless given */
	bool keep_stdout;        /* do not add --no-stdout (stdout -> proc log) */
	double ready_timeout;    /* 0: 30 s */
};

/* Start `xtap run` with the extra args. Adds "-o <dir>/out.jsonl" unless
 * args has -o/--output (then that file is read), "--no-stdout" unless
 * keep_stdout, and "--daemon-address 127.0.0.1:<port>" of a harness UDP
 * listener unless args has --daemon-address or --no-daemon, and
 * "--metrics-address 127.0.0.1:<free port>" unless args has one. Waits for
 * "xtap: ready:" in its stderr; fails with the log if it exits first or the
 * timeout passes. Scope-owned (stopped at scope end if still running). */
struct e2e_agent *e2e_agent_start(const struct e2e_agent_opts *o);
/* e2e_agent_start with only args (NULL-terminated list). */
struct e2e_agent *e2e_agent_startl(const char *arg, ...) __attribute__((sentinel));
/* SIGTERM, wait up to 20 s for exit; on timeout SIGKILL and fail with the
 * log. Returns the exit code (128+signal if killed). Idempotent. After it,
 * the log holds the final counters and the output file is complete. */
int e2e_agent_stop(struct e2e_agent *a);
/* Current stderr log of the agent (scope-owned copy). */
const char *e2e_agent_log(struct e2e_agent *a);
/* A counter from the LAST log line containing "xtap: <line>:" (line is
 * "counters", "kernel" or "export"), e.g. e2e_agent_counter(a, "counters",
 * "segments"). Fails (with the log) if the line or the key is missing: call
 * after e2e_agent_stop. */
long long e2e_agent_counter(struct e2e_agent *a, const char *line, const char *key);
/* Exchanges left out as unsampled, wherever that was decided: Sampled=0
 * and the sampler in the agent, and those the kernel kept back (whole, or
 * with a placeholder the agent dropped). After e2e_agent_stop. */
long long e2e_agent_unsampled(struct e2e_agent *a);

/* Every document written so far to the output file, as a scope-owned JSON
 * array (in file order). Every complete line must be a JSON object, else the
 * test fails showing the line; a trailing partial line (no '\n' yet) is
 * ignored while the agent runs and is an error after it stopped. */
json_t *e2e_agent_docs(struct e2e_agent *a);

/* ------------------------------------------------------------------------ */
/* Selecting documents                                                      */
/* ------------------------------------------------------------------------ */

/* All set fields must match (unset = 0/NULL = any). */
struct e2e_filter {
	const char *type;         /* "segment" (no "type" key) or "subsegment" */
	const char *url_contains; /* substring of http.request.url */
	int port;                 /* http.request.url contains ":<port>/" or ends
				   * in ":<port>" (segments keep the Host port) */
	const char *name;         /* name equals */
	const char *method;       /* http.request.method equals */
	int status;               /* http.response.status equals */
	long pid;                 /* metadata.xtap.pid equals */
	bool (*pred)(json_t *doc, const void *arg); /* extra predicate */
	const void *pred_arg;
};

/* True if doc matches f (f NULL matches everything). */
bool e2e_doc_match(json_t *doc, const struct e2e_filter *f);
/* New scope-owned array of the docs in `docs` matching f (borrowed refs). */
json_t *e2e_docs_filter(json_t *docs, const struct e2e_filter *f);
/* Poll the output file (every 50 ms) until at least n documents match f or
 * timeout passes (0: 10 s); returns the matching docs either way (assert
 * on the count yourself: assert_doc_count). */
json_t *e2e_agent_wait_docs(struct e2e_agent *a, const struct e2e_filter *f, size_t n,
			    double timeout);
/* Wait (up to timeout, 0: 10 s) for n documents matching f, give duplicates
 * 0.2 s more to show up, then fail unless exactly n match, printing the
 * filter, the matches, every document so far and the agent log tail.
 * First records e2e_agent_expect_final(a, f, n), so the count after the
 * agent drained is checked even when this fails. Returns the matches. */
json_t *e2e_agent_expect_docs(struct e2e_agent *a, const struct e2e_filter *f, size_t n,
			      double timeout);
/* Record that exactly n docs matching f must be in the output once the
 * agent has stopped (f and its strings are copied; pred is kept as is). */
void e2e_agent_expect_final(struct e2e_agent *a, const struct e2e_filter *f, size_t n);
/* After e2e_agent_stop: re-read the output and fail on the first recorded
 * expectation whose count differs, listing the matching documents. */
void e2e_agent_check_final(struct e2e_agent *a);

/* e2e_filter.pred: trace_id equals pred_arg (a string). */
bool e2e_has_trace_id(json_t *doc, const void *arg);
/* The one document of docs matching f; fails showing docs unless exactly one. */
json_t *e2e_one_doc(json_t *docs, const struct e2e_filter *f);
/* child.parent_id is parent.id */
void e2e_assert_parent(json_t *child, json_t *parent);
/* child's [start_time, end_time] lies inside parent's: starts not before it
 * (µs precision), ends at most 1 ms after it (the callee's last write(2) may
 * return after the caller read its bytes). */
void e2e_assert_inside(json_t *child, json_t *parent);

/* Documents received by the harness's UDP "daemon" so far (scope-owned
 * array). Each datagram must be '{"format":"json","version":1}' (parsed as
 * JSON) + "\n" + one JSON object, else the test fails showing it. */
json_t *e2e_agent_udp_docs(struct e2e_agent *a);
/* The UDP listener's port (0 if the caller overrode the daemon address). */
int e2e_agent_udp_port(struct e2e_agent *a);

/* ------------------------------------------------------------------------ */
/* JSON access and assertions (paths are dotted: "http.request.method")     */
/* ------------------------------------------------------------------------ */

/* Value at a dotted path (borrowed), NULL if any step is missing. */
json_t *e2e_json_get(json_t *doc, const char *path);
/* String at path or NULL. */
const char *e2e_json_str(json_t *doc, const char *path);
/* Number (integer or real) at path, or `dflt` if missing/not a number. */
double e2e_json_num(json_t *doc, const char *path, double dflt);
/* Compact one-line JSON of doc (scope-owned), for messages. */
const char *e2e_json_dump(json_t *doc);

void e2e_assert_json_str_(json_t *doc, const char *path, const char *want, const char *file,
			  int line);
void e2e_assert_json_str_contains_(json_t *doc, const char *path, const char *sub,
				   const char *file, int line);
void e2e_assert_json_str_suffix_(json_t *doc, const char *path, const char *suffix,
				 const char *file, int line);
void e2e_assert_json_int_(json_t *doc, const char *path, long long want, const char *file,
			  int line);
void e2e_assert_json_true_(json_t *doc, const char *path, const char *file, int line);
void e2e_assert_json_absent_(json_t *doc, const char *path, const char *file, int line);
void e2e_assert_json_present_(json_t *doc, const char *path, const char *file, int line);
void e2e_assert_json_hex_(json_t *doc, const char *path, size_t len, const char *file, int line);
void e2e_assert_trace_id_(json_t *doc, const char *path, const char *file, int line);
void e2e_assert_doc_timing_(json_t *doc, double t0, double t1, const char *file, int line);
void e2e_assert_doc_duration_(json_t *doc, double min, double max, const char *file, int line);
void e2e_assert_doc_count_(json_t *docs, size_t n, const char *file, int line);

/* doc's string at path equals want (want NULL: must be absent). */
#define assert_json_str(doc, path, want) e2e_assert_json_str_(doc, path, want, __FILE__, __LINE__)
/* doc's string at path contains sub. */
#define assert_json_str_contains(doc, path, sub) \
	e2e_assert_json_str_contains_(doc, path, sub, __FILE__, __LINE__)
/* doc's string at path ends with suffix. */
#define assert_json_str_suffix(doc, path, suffix) \
	e2e_assert_json_str_suffix_(doc, path, suffix, __FILE__, __LINE__)
/* doc's value at path is an integer (JSON integer, or a real with no
 * fraction) equal to want. */
#define assert_json_int(doc, path, want) e2e_assert_json_int_(doc, path, want, __FILE__, __LINE__)
/* doc's value at path is JSON true. */
#define assert_json_true(doc, path) e2e_assert_json_true_(doc, path, __FILE__, __LINE__)
/* nothing at path. */
#define assert_json_absent(doc, path) e2e_assert_json_absent_(doc, path, __FILE__, __LINE__)
/* something at path. */
#define assert_json_present(doc, path) e2e_assert_json_present_(doc, path, __FILE__, __LINE__)
/* a string of exactly len lowercase hex digits at path (ids: 16). */
#define assert_json_hex(doc, path, len) e2e_assert_json_hex_(doc, path, len, __FILE__, __LINE__)
/* an X-Ray trace id at path: "1-" 8 hex "-" 24 hex, epoch within a day of now. */
#define assert_trace_id(doc, path) e2e_assert_trace_id_(doc, path, __FILE__, __LINE__)
/* start_time and end_time are numbers, start <= end, and both lie within
 * [t0 - 1, t1 + 1] (the test's own e2e_now() window around the traffic). */
#define assert_doc_timing(doc, t0, t1) e2e_assert_doc_timing_(doc, t0, t1, __FILE__, __LINE__)
/* min <= end_time - start_time <= max. */
#define assert_doc_duration(doc, min, max) \
	e2e_assert_doc_duration_(doc, min, max, __FILE__, __LINE__)
/* the JSON array has exactly n elements (prints them all otherwise). */
#define assert_doc_count(docs, n) e2e_assert_doc_count_(docs, n, __FILE__, __LINE__)

/* ------------------------------------------------------------------------ */
/* Raw TCP client                                                           */
/* ------------------------------------------------------------------------ */

struct e2e_chunk {
	const void *data;
	size_t len;           /* 0: strlen(data) */
};

struct e2e_tcp_opts {
	int port;                     /* 127.0.0.1:port (or [::1]:port) */
	bool ipv6;
	const struct e2e_chunk *chunks; /* sent in order */
	size_t n_chunks;
	double pause;                 /* seconds between chunks */
	bool shut_wr;                 /* shutdown(SHUT_WR) after the last chunk */
	size_t until_bytes;           /* stop reading at this many bytes (0: off) */
	const char *until_str;        /* stop when it occurs until_count times */
	int until_count;              /* 0 means 1 */
	double timeout;               /* whole exchange; 0: 5 s */
};

struct e2e_tcp_result {
	char *data;                   /* received bytes, NUL-terminated, scope-owned */
	size_t len;
	int local_port;
	bool closed;                  /* the peer closed (read returned 0) */
	bool timed_out;               /* stopped by the timeout */
	double t0, t1;                /* e2e_now() before connect / after the last read */
};

/* Connect, send the chunks (pause between), read until close, until_bytes,
 * until_str or timeout, close. Fails on connect/send errors. */
struct e2e_tcp_result e2e_tcp_exchange(const struct e2e_tcp_opts *o);
/* Convenience: send the NUL-terminated strings (NULL-terminated list) with
 * `pause` between them, read until the peer closes or timeout. */
struct e2e_tcp_result e2e_tcp_strs(int port, double pause, double timeout, const char *chunk, ...)
	__attribute__((sentinel));
/* Number of non-overlapping occurrences of needle in hay. */
int e2e_count_str(const char *hay, const char *needle);

/* ------------------------------------------------------------------------ */
/* cgroups (v2)                                                             */
/* ------------------------------------------------------------------------ */

/* Where the cgroup v2 hierarchy is mounted (the first "cgroup2" line of
 * /proc/mounts: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid
 * host); fails the test when there is none. */
const char *e2e_cgroup2_mount(void);
/* A new, empty cgroup MOUNT/xtap-e2e-cg-<pid>-<n> (scope-owned). At scope
 * end, failed test or not, every process in the tree is moved back to the
 * root cgroup and the directories are removed, deepest first. Trees that
 * dead test processes left behind are removed first. */
const char *e2e_cgroup_tree(void);
/* mkdir -p TOP/REL (rel may hold '/': kubelet-style nesting); the path,
 * scope-owned. Removed with the tree. */
const char *e2e_cgroup_dir(const char *top, const char *rel);
/* Move process pid (all its threads) into the cgroup dir. */
void e2e_cgroup_enter(const char *dir, pid_t pid);

/* ------------------------------------------------------------------------ */
/* Network namespaces                                                       */
/* ------------------------------------------------------------------------ */

/* A new network namespace /run/netns/xtap-e2e-<pid>-<n> with lo up
 * (`ip netns add`; scope-owned: removed at scope end, after the processes
 * started in it later; ones dead test runs left are removed first). Its
 * name, for `ip netns exec NAME …`. */
const char *e2e_netns(void);
/* Its path, for --netns. */
const char *e2e_netns_path(const char *ns);
/* A veth pair between two of them, up, with addresses ("10.x.y.z/24"). */
void e2e_veth(const char *ns_a, const char *addr_a, const char *ns_b, const char *addr_b);

/* ------------------------------------------------------------------------ */
/* Test peers (servers), all on 127.0.0.1, scope-owned                      */
/* ------------------------------------------------------------------------ */

struct e2e_peer {
	struct e2e_proc *proc; /* the process we started */
	pid_t server_pid;      /* the process that accept()s and serves: nginx's
				* worker, else proc->pid */
	int port;
	const char *dir;       /* its temp dir (document root / config) */
	const char *exe;       /* readlink(/proc/server_pid/exe) */
	const char *comm;      /* /proc/server_pid/comm */
};

/* Files every static peer (python, nginx) serves from its document root:
 *   /hello.txt  "hello world\n" (12 bytes)
 *   /index.html a small HTML page
 *   /big.bin    65536 bytes
 *   /big.txt    200000 bytes of compressible text (for gzip)
 */
#define E2E_HELLO_BODY "hello world\n"

/* python3 -m http.server --bind 127.0.0.1 --directory DIR PORT (the
 * interpreter is resolved to sys.executable, so no pyenv shim sits in
 * between). HTTP/1.0 responses, connection closed after each. */
struct e2e_peer *e2e_peer_python(void);
/* The real python3 interpreter (sys.executable, not a launcher or shim);
 * resolved once per run. */
const char *e2e_python_exe(void);
/* nginx -c DIR/nginx.conf -p DIR: daemon off, master + 1 worker, keepalive,
 * access_log off, all paths in DIR. Locations:
 *   /static/...   the files above (sendfile on)
 *   /gzip/...     the same files with gzip on (gzip_min_length 1, for
 *                 text/plain) -> chunked responses to Accept-Encoding: gzip
 *   /s204 /s404 /s429 /s500   return that status ("return N;")
 *   /ok           return 200 "ok\n"
 *   everything else: 404 */
struct e2e_peer *e2e_peer_nginx(void);
/* The same nginx serving HTTPS ("listen … ssl") with this certificate and
 * key (PEM files). */
struct e2e_peer *e2e_peer_nginx_ssl(const char *cert, const char *key);
/* tests/e2e/peers/goserver.go, built once per run (GOPROXY=off, GOCACHE in
 * /tmp) into a temp dir and run as "goserver -addr 127.0.0.1:PORT":
 *   /ok            200 "ok\n"
 *   /slow?ms=N     sleeps N ms, 200 "slow\n"
 *   /status/N      status N, body "status N\n"
 *   /chunked       200, 5 Flush()ed writes "chunk i\n" (chunked encoding)
 *   /big?size=N    200, N bytes of 'x' with Content-Length
 *   /echo          reads the whole body, 200, body "got N bytes\n"
 *   /fetch?url=U   GET U with a fresh connection (keep-alives off),
 *                  replies 200 "fetched <status> <bytes>\n" (502 on error) */
struct e2e_peer *e2e_peer_go(void);
/* node tests/e2e/peers/server.js PORT (keep-alive on):
 *   /ok         200 "ok\n" with Content-Length
 *   /chunked    200, res.write x3 then end (chunked encoding)
 *   /status/N   status N
 *   /slow?ms=N  200 after N ms
 *   /call?url=U&ms=N&hold=H  after N ms GETs U (http://127.0.0.1 only) and,
 *               H ms after its response, answers with its status: an
 *               outgoing call from an event loop
 *   /stream?n=N&ms=M  N chunks "chunk i\n", one every M ms
 *   /fetch?url=U      GET U on a new connection, 200 "fetched <status> <bytes>\n"
 * With CERT KEY after PORT it serves HTTPS (tls_peers.h). */
struct e2e_peer *e2e_peer_node(void);
/* python3 tests/e2e/peers/relay.py PORT, a thread-per-request server
 * (ThreadingHTTPServer, HTTP/1.1):
 *   /relay?url=U  GETs U (http://127.0.0.1 only) from the request's thread,
 *                 answers with its status, "relayed <status> <bytes>\n" */
struct e2e_peer *e2e_peer_relay(void);

#endif /* XTAP_E2E_HARNESS_H */
