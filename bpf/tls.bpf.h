/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* TLS plaintext: uprobes on the TLS libraries' read and write calls, whose
 * buffers hold the HTTP bytes the socket only carries encrypted.
 *
 * Included at the end of capture.bpf.c: the plaintext joins the capture's
 * own path (conns, sniffing, the ring buffer), so a TLS connection is one
 * tracked socket whose syscalls are skipped (ciphertext) and whose library
 * calls are copied instead. The agent attaches these programs per file
 * (library or executable) for all processes; the scope filters apply here.
 *
 * Which socket a library call is about:
 *  - OpenSSL with a socket BIO (nginx, curl, python): the read/write syscall
 *    the library makes on the same thread during the call names the fd
 *    (tls_syscall(), called by the capture's syscall enter). The SSL object
 *    is then bound to that socket for the calls that make no syscall (data
 *    already decrypted and buffered). This needs no OpenSSL struct layout
 *    and works whenever SSL_set_fd was called, before or after attaching.
 *  - OpenSSL with memory BIOs (node): the event loop reads the ciphertext
 *    and only then hands it to SSL_read, on the same thread. An SSL object
 *    that is not bound yet takes the last socket this thread read that was
 *    not plain HTTP, and no other SSL object has. An SSL_write that finds
 *    no socket binds to the socket of the next write on its thread, where
 *    the library's ciphertext goes (its own bytes are lost, counted).
 *  - Go crypto/tls: the socket is in the tls.Conn (conn.conn → *net.TCPConn
 *    → netFD → poll.FD.Sysfd), at offsets the agent sets (agent/go_elf.h);
 *    a value that is not a TCP socket of the process is never used.
 * A binding is valid while the socket's conns entry keeps its conn_id, so a
 * reused SSL address or fd number never inherits an old connection. */
#ifndef XTAP_TLS_BPF_H
#define XTAP_TLS_BPF_H

#define PROT_EXEC 0x4

/* Set by the agent before load (the Go offsets: agent/go_elf.h); and
 * tls_enabled, in capture.bpf.c. */
const volatile __u32 go_conn_data_off = 0; /* tls.Conn.conn (an interface): its data word */
const volatile __u32 go_netfd_off = 0; /* net.TCPConn → conn.fd (*netFD) */
const volatile __u32 go_sysfd_off = 0; /* netFD.pfd (poll.FD) → Sysfd */

/* Threads inside a TLS library call at one time. */
#define TLS_CALLS_MAX 16384
/* SSL objects bound to their socket: as many as tracked sockets. */
#define TLS_SSL_MAX CONN_MAX
/* A call state older than this when a syscall looks at it is left over
 * from a call whose return was never seen (probes detached mid-call): the
 * first syscall of a real call comes microseconds after its entry. */
#define TLS_CALL_STALE_NS 1000000000ull

struct tls_call {
	__u64 ssl; /* SSL *, or the Go *tls.Conn */
	__u64 buf;
	__u64 ex_len; /* size_t * of SSL_read_ex/SSL_write_ex, else 0 */
	__u64 ts;
	__s32 fd; /* socket this call did I/O on, -1 until one is seen */
	__u8 sys; /* enum xtap_sys */
	__u8 depth; /* calls nested inside this one (their returns are ignored) */
	__u8 emitted; /* Go Write: reported at its entry (go_write_now) */
	__u8 pad[1];
	/* a client's write that starts a request: its context, decided
	 * before the ciphertext leaves (propagate.bpf.h) */
	struct xtap_trace_ctx tctx;
};

/* An SSL object or a Go goroutine (its g), in one process. */
struct tls_key {
	__u64 ptr;
	__u32 tgid;
	__u32 pad;
};

struct tls_bind {
	__u64 conn_id;
	__s32 fd;
	__u32 pad;
};

/* OpenSSL calls in progress, by thread (pid_tgid). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TLS_CALLS_MAX);
	__type(key, __u64);
	__type(value, struct tls_call);
} tls_calls SEC(".maps");

/* Go calls in progress, by goroutine. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TLS_CALLS_MAX);
	__type(key, struct tls_key);
	__type(value, struct tls_call);
} tls_go_calls SEC(".maps");

/* OpenSSL SSL objects → the socket they were bound to. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TLS_SSL_MAX);
	__type(key, struct tls_key);
	__type(value, struct tls_bind);
} tls_ssl SEC(".maps");

/* pid_tgid → the last socket the thread read from that was neither plain
 * HTTP nor known TLS: the candidate for a memory-BIO SSL object. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TLS_CALLS_MAX);
	__type(key, __u64);
	__type(value, __s32);
} tls_last_in SEC(".maps");

/* pid_tgid → an SSL object whose SSL_write found no socket: memory BIOs
 * write the ciphertext right after, on the same thread, and that write
 * names the socket for the calls that follow. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TLS_CALLS_MAX);
	__type(key, __u64);
	__type(value, struct tls_key);
} tls_out_pending SEC(".maps");

static __always_inline bool sys_is_input(__u8 sys)
{
	return sys == XTAP_SYS_READ || sys == XTAP_SYS_READV || sys == XTAP_SYS_RECVFROM ||
	       sys == XTAP_SYS_RECVMSG;
}

/* From now on the socket's syscalls carry ciphertext (skipped) and its
 * library calls plaintext, sniffed afresh. */
static __always_inline void tls_mark(struct conn_val *v)
{
	if (v->tls)
		return;
	v->tls = 1;
	v->proto = CP_UNKNOWN;
	v->sniff_len = 0;
}

/* A socket may turn out to be TLS unless it already carried plain HTTP. */
static __always_inline bool tls_may_mark(const struct conn_val *v)
{
	return v->tls || v->proto != CP_HTTP;
}

/* A write after an SSL_write that found no socket: that SSL object's
 * socket, unless another has claimed it. True when it is now a traced TLS
 * socket (this write is ciphertext). */
static __always_inline bool tls_write_binds(__u64 pid_tgid, __s32 fd, struct conn_val *v)
{
	struct tls_key *pk = bpf_map_lookup_elem(&tls_out_pending, &pid_tgid);
	struct tls_bind b = { .fd = fd, .conn_id = v->conn_id };
	struct tls_key key;

	if (!pk)
		return false;
	key = *pk;
	bpf_map_delete_elem(&tls_out_pending, &pid_tgid);
	bpf_map_update_elem(&tls_ssl, &key, &b, BPF_ANY);
	if (v->kind != CK_TCP)
		return false;
	tls_mark(v);
	stat_add(XTAP_STAT_TLS_CIPHERTEXT, 1);
	return true;
}

/* Called by the capture's syscall enter for TCP sockets, traced or not
 * (the call's socket may be out of scope). True when the bytes are
 * ciphertext of a traced socket: the capture skips them. */
static __always_inline bool tls_syscall(__u64 pid_tgid, __s32 fd, struct conn_val *v, __u8 sys)
{
	struct tls_call *c;

	if (!tls_enabled)
		return false;
	if (v->tls) {
		stat_add(XTAP_STAT_TLS_CIPHERTEXT, 1);
		return true;
	}
	c = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	if (c && c->fd < 0 && bpf_ktime_get_ns() - c->ts < TLS_CALL_STALE_NS) {
		c->fd = fd;
		if (v->kind != CK_TCP || !tls_may_mark(v))
			return false;
		tls_mark(v);
		stat_add(XTAP_STAT_TLS_CIPHERTEXT, 1);
		return true;
	}
	if (v->proto == CP_HTTP)
		return false;
	if (sys_is_input(sys)) {
		bpf_map_update_elem(&tls_last_in, &pid_tgid, &fd, BPF_ANY);
		return false;
	}
	return tls_write_binds(pid_tgid, fd, v);
}

/* The ciphertext of an SSL_write is about to leave a client socket: when
 * its plaintext starts a request, the request's context, so the packets
 * carry it (called by the capture's syscall enter). Once per call. */
static __always_inline void tls_request_ctx(struct conn_val *v, __u64 pid_tgid)
{
	struct tls_call *c = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	struct active_args a = { .sys = XTAP_SYS_WRITE };

	if (!c || c->sys != XTAP_SYS_SSL_WRITE || c->tctx.source)
		return;
	a.buf = c->buf;
	client_request_ctx(v, pid_tgid, &a);
	c->tctx = a.tctx;
}

/* What a TLS call's socket turned out to be, besides an fd (>= 0). */
#define TLS_FD_NONE (-1) /* not found: the plaintext is lost (counted) */
#define TLS_FD_UNTRACED (-2) /* out of scope, or not TCP: not wanted */

/* Mark the socket fd TLS and bind key (unless NULL) to it: fd for a traced
 * TCP socket, TLS_FD_UNTRACED for a TCP socket out of scope, else
 * TLS_FD_NONE. unclaimed: only a socket no TLS object has claimed yet (a
 * guess must not take another's). */
static __always_inline __s32 tls_bind_fd(__u64 pid_tgid, struct tls_key *key, __s32 fd,
					 bool unclaimed)
{
	struct conn_val *v = conn_get(pid_tgid, fd, XTAP_ROLE_UNKNOWN, false);
	struct tls_bind b = { .fd = fd };

	if (!v)
		return TLS_FD_NONE;
	if (v->kind == CK_TCP) {
		if (!tls_may_mark(v) || (unclaimed && v->tls))
			return TLS_FD_NONE;
		tls_mark(v);
	} else if (v->kind != CK_TCP_UNTRACED) {
		return unclaimed ? TLS_FD_NONE : TLS_FD_UNTRACED;
	}
	b.conn_id = v->conn_id;
	if (key)
		bpf_map_update_elem(&tls_ssl, key, &b, BPF_ANY);
	return v->kind == CK_TCP ? fd : TLS_FD_UNTRACED;
}

/* The socket an SSL object was bound to is still that connection: the
 * fd's entry keeps its conn_id and epoch. */
static __always_inline bool tls_bound(__u64 pid_tgid, const struct tls_bind *b)
{
	struct conn_key k = { .tgid = pid_tgid >> 32, .fd = b->fd };
	struct conn_val *v = bpf_map_lookup_elem(&conns, &k);

	return v && v->conn_id == b->conn_id && v->epoch == epoch_of(k.tgid) &&
	       (v->kind == CK_TCP ? v->tls : v->kind == CK_TCP_UNTRACED);
}

/* The socket an OpenSSL call was about: an fd, or TLS_FD_*. The candidate
 * is chosen first so that one conn_get (and its classification) serves all
 * three ways of finding it. */
static __always_inline __s32 tls_call_fd(__u64 pid_tgid, const struct tls_call *c)
{
	struct tls_key key = { .ptr = c->ssl, .tgid = pid_tgid >> 32 };
	__s32 fd = c->fd;
	bool guess = false;

	if (fd < 0) {
		struct tls_bind *b = bpf_map_lookup_elem(&tls_ssl, &key);

		if (b && tls_bound(pid_tgid, b)) {
			fd = b->fd;
		} else {
			/* the guess for memory BIOs, taken once */
			__s32 *last = bpf_map_lookup_elem(&tls_last_in, &pid_tgid);

			if (!last)
				return TLS_FD_NONE;
			fd = *last;
			guess = true;
			bpf_map_delete_elem(&tls_last_in, &pid_tgid);
		}
	}
	return tls_bind_fd(pid_tgid, &key, fd, guess);
}

/* The plaintext goes the way a read/write syscall's bytes go: stashed as
 * that thread's active call and handed to the capture's exit side. */
static __always_inline void tls_emit(__u64 pid_tgid, __s32 fd, const struct tls_call *c, long n)
{
	struct active_args a = { .buf = c->buf, .fd = fd, .sys = c->sys, .tctx = c->tctx };
	__u8 sys = c->sys;

	/* a write's bytes went out during the call, which may return after
	 * the peer has answered (a thread preempted past its write(2)): a
	 * request starts when the application made the call */
	if (sys == XTAP_SYS_SSL_WRITE || sys == XTAP_SYS_GO_TLS_WRITE)
		a.start_ns = c->ts;

	if (n <= 0 || fd == TLS_FD_UNTRACED)
		return;
	if (fd < 0) {
		stat_add(XTAP_STAT_TLS_UNBOUND, 1);
		return;
	}
	stat_add(XTAP_STAT_TLS_CALLS, 1);
	if (bpf_map_update_elem(&active, &pid_tgid, &a, BPF_ANY))
		return;
	data_exit(n, sys == XTAP_SYS_SSL_READ || sys == XTAP_SYS_GO_TLS_READ ? XTAP_DIR_IN
									    : XTAP_DIR_OUT);
}

static __always_inline bool tls_in_scope(__u64 pid_tgid)
{
	return pid_in_scope(pid_tgid >> 32) && cgroup_in_scope();
}

/* ---- OpenSSL / BoringSSL ---- */

static __always_inline void ssl_enter(__u64 ssl, __u64 buf, __u64 ex_len, __u8 sys)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	struct tls_call c = { .ssl = ssl, .buf = buf, .ex_len = ex_len, .ts = now, .fd = -1,
			      .sys = sys };
	struct tls_call *outer;

	if (!tls_in_scope(pid_tgid))
		return;
	/* SSL_read inside an SSL_read (a BIO callback, a wrapper library): the
	 * outermost call reports */
	outer = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	if (outer && now - outer->ts < TLS_CALL_STALE_NS) {
		outer->depth++;
		return;
	}
	bpf_map_update_elem(&tls_calls, &pid_tgid, &c, BPF_ANY);
}

static __always_inline void ssl_return(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct tls_call *cp = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	struct tls_call c;
	long n = ret;
	__s32 fd;

	if (!cp)
		return;
	if (cp->depth) {
		cp->depth--;
		return;
	}
	c = *cp;
	bpf_map_delete_elem(&tls_calls, &pid_tgid);
	if (c.ex_len) {
		__u64 done = 0;

		/* the _ex calls return 1 and the byte count through a pointer */
		if (ret != 1 || bpf_probe_read_user(&done, sizeof(done), (void *)c.ex_len))
			done = 0;
		n = (long)done;
	}
	/* bound even when nothing moved: node's first SSL_read on a client
	 * connection completes the handshake and returns -1 */
	fd = tls_call_fd(pid_tgid, &c);
	if (fd == TLS_FD_NONE && c.sys == XTAP_SYS_SSL_WRITE) {
		struct tls_key key = { .ptr = c.ssl, .tgid = pid_tgid >> 32 };

		bpf_map_update_elem(&tls_out_pending, &pid_tgid, &key, BPF_ANY);
	}
	tls_emit(pid_tgid, fd, &c, n);
}

SEC("uprobe")
int tls_ssl_read(struct pt_regs *ctx)
{
	ssl_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0, XTAP_SYS_SSL_READ);
	return 0;
}

SEC("uprobe")
int tls_ssl_write(struct pt_regs *ctx)
{
	ssl_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0, XTAP_SYS_SSL_WRITE);
	return 0;
}

SEC("uprobe")
int tls_ssl_read_ex(struct pt_regs *ctx)
{
	ssl_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM4(ctx), XTAP_SYS_SSL_READ);
	return 0;
}

SEC("uprobe")
int tls_ssl_write_ex(struct pt_regs *ctx)
{
	ssl_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM4(ctx), XTAP_SYS_SSL_WRITE);
	return 0;
}

/* One return program for the four: the call state says which it was. */
SEC("uretprobe")
int tls_ssl_return(struct pt_regs *ctx)
{
	/* all four return an int: the upper half of the register is junk */
	ssl_return((int)PT_REGS_RC(ctx));
	return 0;
}

/* ---- Go crypto/tls, register ABI (Go >= 1.17) ---- */

/* Go's internal ABI: arguments and results in registers, the current
 * goroutine (g) in a fixed register (the Go internal ABI specification,
 * src/cmd/compile/abi-internal.md). */
#if defined(__TARGET_ARCH_x86)
#define GO_ARG1(x) ((x)->ax)
#define GO_ARG2(x) ((x)->bx)
#define GO_ARG3(x) ((x)->cx)
#define GO_G(x) ((x)->r14)
#elif defined(__TARGET_ARCH_arm64)
#define GO_ARG1(x) (((struct user_pt_regs *)(x))->regs[0])
#define GO_ARG2(x) (((struct user_pt_regs *)(x))->regs[1])
#define GO_ARG3(x) (((struct user_pt_regs *)(x))->regs[2])
#define GO_G(x) (((struct user_pt_regs *)(x))->regs[28])
#endif
#define GO_RET1(x) PT_REGS_RC(x)

/* A goroutine may park inside Read and resume on another thread: its calls
 * are keyed by the goroutine (its g), not by the thread. */
static __always_inline __s32 go_conn_fd(__u64 tls_conn);

/* A Write is reported at its entry, with all of b: its goroutine may wait
 * for the scheduler after the write(2) (exitsyscall), while net/http's
 * reading goroutine already has the response, which must not reach the
 * agent before its request. The call stays, marked, until its return, so
 * an entry run again by a stack growth reports nothing twice. */
static __always_inline void go_write_now(__u64 pid_tgid, struct tls_call *c, long len)
{
	__s32 fd = go_conn_fd(c->ssl);

	if (fd >= 0)
		fd = tls_bind_fd(pid_tgid, NULL, fd, false);
	tls_emit(pid_tgid, fd, c, len);
	c->emitted = 1;
}

static __always_inline void go_enter(struct pt_regs *ctx, __u8 sys)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct tls_key key = { .ptr = GO_G(ctx), .tgid = pid_tgid >> 32 };
	struct tls_call c = { .ssl = GO_ARG1(ctx), .buf = GO_ARG2(ctx), .fd = -1, .sys = sys };
	struct tls_call *again;

	if (!tls_in_scope(pid_tgid))
		return;
	/* a stack growth re-runs the entry of the same call: same key */
	again = bpf_map_lookup_elem(&tls_go_calls, &key);
	if (again && again->emitted && again->ssl == c.ssl && again->buf == c.buf)
		return;
	c.ts = bpf_ktime_get_ns();
	/* the tls.Conn names its socket now, before the ciphertext leaves */
	if (propagate && sys == XTAP_SYS_GO_TLS_WRITE) {
		__s32 fd = go_conn_fd(c.ssl);
		struct conn_val *v = fd >= 0 ? conn_get(pid_tgid, fd, XTAP_ROLE_UNKNOWN, false) : NULL;

		if (v && v->kind == CK_TCP && v->role == XTAP_ROLE_CLIENT && v->cookie) {
			struct active_args a = { .buf = c.buf, .sys = XTAP_SYS_WRITE };

			client_request_ctx(v, pid_tgid, &a);
			c.tctx = a.tctx;
		}
	}
	if (sys == XTAP_SYS_GO_TLS_WRITE)
		go_write_now(pid_tgid, &c, (long)GO_ARG3(ctx));
	bpf_map_update_elem(&tls_go_calls, &key, &c, BPF_ANY);
}

/* tls.Conn → the socket's fd, or -1 when a pointer on the way is unreadable. */
static __always_inline __s32 go_conn_fd(__u64 tls_conn)
{
	__u64 data = 0, netfd = 0;
	__s64 fd = -1;

	if (bpf_probe_read_user(&data, sizeof(data), (void *)(tls_conn + go_conn_data_off)) || !data)
		return -1;
	if (bpf_probe_read_user(&netfd, sizeof(netfd), (void *)(data + go_netfd_off)) || !netfd)
		return -1;
	if (bpf_probe_read_user(&fd, sizeof(fd), (void *)(netfd + go_sysfd_off)))
		return -1;
	return fd >= 0 && fd < (1 << 30) ? (__s32)fd : -1;
}

SEC("uprobe")
int tls_go_read(struct pt_regs *ctx)
{
	go_enter(ctx, XTAP_SYS_GO_TLS_READ);
	return 0;
}

SEC("uprobe")
int tls_go_write(struct pt_regs *ctx)
{
	go_enter(ctx, XTAP_SYS_GO_TLS_WRITE);
	return 0;
}

/* Attached at each RET instruction of Read and Write: a uretprobe would
 * replace the return address on the goroutine's stack, which the Go
 * runtime moves and walks. */
SEC("uprobe")
int tls_go_return(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct tls_key key = { .ptr = GO_G(ctx), .tgid = pid_tgid >> 32 };
	struct tls_call *cp = bpf_map_lookup_elem(&tls_go_calls, &key);
	struct tls_call c;
	__s32 fd;

	if (!cp)
		return 0;
	c = *cp;
	bpf_map_delete_elem(&tls_go_calls, &key);
	if (c.emitted)
		return 0;
	/* read from the tls.Conn on every call: nothing to bind */
	fd = go_conn_fd(c.ssl);
	if (fd >= 0)
		fd = tls_bind_fd(pid_tgid, NULL, fd, false);
	tls_emit(pid_tgid, fd, &c, (long)GO_RET1(ctx));
	return 0;
}

/* ---- processes: where the agent looks for TLS libraries ---- */

static __always_inline void tls_notify(__u8 type, __s32 fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct xtap_ev_hdr h;

	if (!pid_in_scope(pid_tgid >> 32))
		return;
	fill_hdr(&h, type, pid_tgid, fd, NULL);
	if (bpf_ringbuf_output(&events, &h, sizeof(h), 0))
		stat_add(XTAP_STAT_RB_DROPS, 1);
	else
		stat_add(XTAP_STAT_EVENTS, 1);
}

/* exec: capture.bpf.c's process_exec tells the agent, TLS or not */

/* The file behind fd is named libssl.so* (the agent's rule as well). */
static __always_inline bool fd_is_libssl(__s32 fd)
{
	struct file *f = task_fd_file((void *)bpf_get_current_task(), fd);
	const unsigned char *name;
	__u8 b[16] = {};
	__u64 w;

	if (!f)
		return false;
	name = BPF_CORE_READ(f, f_path.dentry, d_name.name);
	if (!name || bpf_probe_read_kernel_str(b, sizeof(b), name) < 10)
		return false;
	__builtin_memcpy(&w, b, sizeof(w));
	return w == W8('l', 'i', 'b', 's', 's', 'l', '.', 's') && b[8] == 'o';
}

/* ld.so and dlopen map a library's code with PROT_EXEC from its fd: the
 * moment a process starts using a TLS library. */
SEC("tracepoint/syscalls/sys_enter_mmap")
int tls_mmap(struct trace_event_raw_sys_enter *ctx)
{
	__s32 fd = (__s32)ctx->args[4];

	if (tls_enabled && (ctx->args[2] & PROT_EXEC) && fd >= 0 && fd_is_libssl(fd))
		tls_notify(XTAP_EV_MAP_EXEC, fd);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int tls_thread_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (!tls_enabled)
		return 0;
	bpf_map_delete_elem(&tls_calls, &pid_tgid);
	bpf_map_delete_elem(&tls_last_in, &pid_tgid);
	bpf_map_delete_elem(&tls_out_pending, &pid_tgid);
	return 0;
}

#endif /* XTAP_TLS_BPF_H */
