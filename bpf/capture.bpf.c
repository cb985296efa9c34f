// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Capture of HTTP/1.x bytes at the syscall layer.
 *
 * Every read/write-family syscall of every process passes through these
 * programs, so the common case (a file, a pipe, a socket that is not TCP or
 * not HTTP) leaves after one hash lookup and a few CO-RE reads, copying
 * nothing. Only sockets classified TCP and in scope are stashed at enter; at
 * exit only the head of what was moved (cap_bytes) is copied, and only while
 * the connection may carry HTTP. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "xtap.h"
#include "core_fixes.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SOCK_STREAM 1
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EINPROGRESS 115

/* Set by the agent before load. */
const volatile __u32 self_tgid = 0; /* the agent never traces itself */
const volatile __u32 cap_bytes = XTAP_CAP_DEFAULT; /* ≤ XTAP_CAP_MAX */
const volatile __u32 wakeup_bytes = 1 << 20; /* wake the agent past this much pending data */
const volatile bool scope_by_pid = false;
const volatile bool scope_by_port = false;
const volatile __u32 scope_cgroup_count = 0; /* entries used in scope_cgroups */
const volatile bool propagate = false; /* trace context across nodes (propagate.bpf.h) */
const volatile bool tls_enabled = false; /* TLS uprobes (tls.bpf.h) */
const volatile __u64 scope_netns = 0; /* --netns: that namespace's cookie; 0: all */
/* With bpf_task_pt_regs (5.15) the exit program reads a syscall's
 * arguments from the task's saved registers, and the enter program is not
 * attached: a tracepoint hit, a map update and a delete fewer per syscall.
 * When the trace context must be set before a write's bytes leave
 * (propagate), the write family keeps its enter programs, but these store
 * something only for a client's request head. */
const volatile bool in_args_at_exit = false;
const volatile bool out_args_at_exit = false;
/* The agent drops unsampled exchanges: with this set, one the kernel
 * decided unsampled (propagate.bpf.h) never reaches the ring buffer when
 * the kernel can frame it whole (see mute_request). */
const volatile bool mute_unsampled = false;

/* One entry per (process, fd) this program has looked at, tracked or not, so
 * each fd is classified once. An fd can change without close(2): exec
 * closes CLOEXEC fds, close_range and dup2 replace them, a pid is reused.
 * Rather than walk task->files on every syscall to check, each entry
 * carries its process's epoch (proc_epoch), which those events bump: an
 * entry from an older epoch is classified again. LRU bounds what is left
 * behind by fds that are never used again. */
#define CONN_MAX 65536
/* Processes with an epoch; evicting one costs its fds a re-classification. */
#define PROC_MAX 65536
/* Threads inside a data syscall on a tracked socket at one time. */
#define ACTIVE_MAX 16384

enum conn_kind {
	CK_IGNORE = 0, /* not TCP */
	CK_TCP = 1,
	CK_TCP_UNTRACED = 2, /* TCP, out of scope */
};

enum conn_proto {
	CP_UNKNOWN = 0, /* no bytes seen yet, or only a prefix of an HTTP start */
	CP_HTTP = 1,
	CP_OTHER = 2, /* first bytes were not HTTP/1.x: never copied again */
};

struct conn_key {
	__u32 tgid;
	__s32 fd;
};

struct conn_val {
	__u64 epoch; /* proc_epoch of the process when classified */
	__u64 conn_id;
	__u64 sniff; /* first bytes seen while proto is CP_UNKNOWN */
	__u8 kind;
	__u8 role;
	__u8 proto;
	__u8 sniff_len; /* valid bytes in sniff, < 8 */
	__u8 head_req; /* a HEAD request went by: its answer's Content-Length has no body */
	__u8 tls; /* TLS (tls.bpf.h): proto and sniff describe the plaintext */
	__u8 lost; /* a data record did not fit in the ring buffer: the next says so */
	__u8 mute; /* enum mute_state */
	__u64 cookie; /* the socket's cookie (propagate.bpf.h), 0 when it has none yet */
	/* Per direction: body bytes still to come that a Content-Length
	 * announced, counted here rather than copied, and those counted so
	 * far, reported in one record when the body ends (see skip_body). */
	__u64 skip[2];
	__u64 skipped[2];
	__u64 mute_key; /* the muted request's key (xtap_trace_ctx.span_id) */
};

/* An unsampled exchange kept from the ring buffer, by how far it went. */
enum mute_state {
	MUTE_NONE = 0,
	MUTE_REQ, /* its request went by whole; nothing of its response yet */
	MUTE_BODY, /* its response head went by: skip[] counts the rest of the body */
	MUTE_CHUNKED, /* its response head went by: the body is chunked */
};

/* Arguments saved at syscall enter for the exit side. */
struct active_args {
	__u64 buf; /* buffer, iovec array or msghdr */
	__u64 iovcnt;
	__s32 fd;
	__u8 sys; /* enum xtap_sys, or 0 for connect */
	__u8 pad[3];
	struct xtap_trace_ctx tctx; /* a client's request head: what its packets carry */
	__u64 start_ns; /* a TLS write: when the application called it (0: none) */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CONN_MAX);
	__type(key, struct conn_key);
	__type(value, struct conn_val);
} conns SEC(".maps");

/* tgid → epoch, set at fork and bumped at exec and close_range; absent (0)
 * for processes that were running before the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROC_MAX);
	__type(key, __u32);
	__type(value, __u64);
} proc_epoch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ACTIVE_MAX);
	__type(key, __u64);
	__type(value, struct active_args);
} active SEC(".maps");

/* Size set by the agent (--ring-buffer-mb); this is the default. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* Per-CPU scratch: a data event is built here and copied out with
 * bpf_ringbuf_output at its real size. The spill area lets the verifier see
 * that off + n stays inside the value for off < XTAP_CAP_MAX and n under
 * the mask of bound_len(). */
struct scratch {
	struct xtap_data_event ev;
	__u8 spill[2 * XTAP_CAP_MAX];
	/* copy_iov's loop state: kept in the map value, whose contents the
	 * verifier does not track, so every iteration starts from the same
	 * abstract state and its paths prune instead of multiplying */
	__u64 iov_off;
	__u64 iov_seen;
	/* the iovec array, read from user memory in one helper call */
	struct iovec iovs[XTAP_IOV_MAX];
	/* head_framing's findings */
	__s64 head_cl;
	__u8 head_te;
	__u32 amzn_at; /* where "x-amzn-trace-id" may start (+1), 0: nowhere */
	__u32 tp_at; /* and "traceparent" */
	/* data records this CPU submitted since it last looked at the backlog */
	__u32 since_query;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XTAP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Per-CPU sequence for conn ids and epochs: (cpu << 48) | seq, unique
 * without atomics. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} conn_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XTAP_SCOPE_MAX);
	__type(key, __u32);
	__type(value, __u8);
} scope_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XTAP_SCOPE_MAX);
	__type(key, __u16);
	__type(value, __u8);
} scope_ports SEC(".maps");

#define SCOPE_CGROUPS_MAX 8
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, SCOPE_CGROUPS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} scope_cgroups SEC(".maps");

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += n;
}

static __always_inline bool pid_in_scope(__u32 tgid)
{
	if (tgid == self_tgid)
		return false;
	if (scope_by_pid && !bpf_map_lookup_elem(&scope_pids, &tgid))
		return false;
	return true;
}

static __always_inline bool cgroup_in_scope(void)
{
	if (!scope_cgroup_count)
		return true;
	for (__u32 i = 0; i < SCOPE_CGROUPS_MAX; i++) {
		if (i >= scope_cgroup_count)
			break;
		if (bpf_current_task_under_cgroup(&scope_cgroups, i) == 1)
			return true;
	}
	return false;
}

static __always_inline bool netns_in_scope(struct sock *sk)
{
	if (!bpf_core_field_exists(struct net, net_cookie))
		return true; /* before 5.12: --netns is refused at start */
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie) == scope_netns;
}

static __always_inline void read_addr(struct sock *sk, __u16 family, struct xtap_addr *a)
{
	a->family = family;
	a->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	a->rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	/* explicit sizes: BPF_CORE_READ_INTO on an array copies one element */
	if (family == AF_INET) {
		bpf_core_read(a->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(a->raddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(a->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(a->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

static __always_inline __u64 next_id(void)
{
	__u32 zero = 0;
	__u64 *seq = bpf_map_lookup_elem(&conn_seq, &zero);

	if (!seq)
		return 0;
	*seq += 1;
	return ((__u64)bpf_get_smp_processor_id() << 48) | (*seq & ((1ULL << 48) - 1));
}

static __always_inline void fill_hdr(struct xtap_ev_hdr *h, __u8 type, __u64 pid_tgid, __s32 fd,
				     const struct conn_val *v)
{
	h->type = type;
	h->dir = 0;
	h->role = v ? v->role : 0;
	h->sys = 0;
	h->tgid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->fd = fd;
	h->ts_ns = bpf_ktime_get_ns();
	h->conn_id = v ? v->conn_id : 0;
}

static __always_inline __u64 epoch_of(__u32 tgid)
{
	__u64 *e = bpf_map_lookup_elem(&proc_epoch, &tgid);

	return e ? *e : 0;
}

static __always_inline void epoch_bump(__u32 tgid)
{
	__u64 e = next_id();

	bpf_map_update_elem(&proc_epoch, &tgid, &e, BPF_ANY);
}

/* Classify the socket behind f and (re)create the fd's entry. Emits OPEN for
 * a TCP socket in scope. Returns the stored entry. */
static __noinline struct conn_val *classify(struct conn_key *key, struct file *f, __u8 role,
						 __u64 pid_tgid, __u64 epoch)
{
	struct conn_val nv = { .epoch = epoch, .role = role };
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		goto store;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		goto store;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		goto store;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if ((family != AF_INET && family != AF_INET6) || sk_get_protocol(sk) != IPPROTO_TCP)
		goto store;

	struct xtap_conn_event ev = {};
	read_addr(sk, family, &ev.addr);
	if ((scope_netns && !netns_in_scope(sk)) ||
	    (scope_by_port && !bpf_map_lookup_elem(&scope_ports, &ev.addr.lport) &&
	     !bpf_map_lookup_elem(&scope_ports, &ev.addr.rport)) ||
	    !cgroup_in_scope()) {
		stat_add(XTAP_STAT_OUT_OF_SCOPE, 1);
		nv.kind = CK_TCP_UNTRACED;
		goto store;
	}
	nv.kind = CK_TCP;
	nv.conn_id = next_id();
	nv.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	fill_hdr(&ev.hdr, XTAP_EV_OPEN, pid_tgid, key->fd, &nv);
	ev.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(ev.comm, sizeof(ev.comm));
	ev.start_ns = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), group_leader,
				    start_time);
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), 0))
		stat_add(XTAP_STAT_RB_DROPS, 1);
	else
		stat_add(XTAP_STAT_EVENTS, 1);
	stat_add(XTAP_STAT_CONN_TRACKED, 1);
store:
	bpf_map_update_elem(&conns, key, &nv, BPF_ANY);
	return bpf_map_lookup_elem(&conns, key);
}

/* The fd's entry, classifying it first when it is new or stale. The common
 * case (an fd seen before) is two hash lookups and no walk of task->files. */
static __always_inline struct conn_val *conn_get(__u64 pid_tgid, __s32 fd, __u8 role, bool fresh)
{
	struct conn_key key = { .tgid = pid_tgid >> 32, .fd = fd };
	__u64 epoch = epoch_of(key.tgid);
	struct conn_val *v;
	struct file *f;

	if (!fresh) {
		v = bpf_map_lookup_elem(&conns, &key);
		if (v && v->epoch == epoch)
			return v;
	}
	f = task_fd_file((void *)bpf_get_current_task(), fd);
	if (!f)
		return NULL;
	return classify(&key, f, role, pid_tgid, epoch);
}

/* tls.bpf.h: true when the syscall moves TLS ciphertext, never copied */
static __always_inline bool tls_syscall(__u64 pid_tgid, __s32 fd, struct conn_val *v, __u8 sys);
/* propagate.bpf.h */
static __always_inline void client_request_ctx(struct conn_val *v, __u64 pid_tgid,
					       struct active_args *a);
static __always_inline void tls_request_ctx(struct conn_val *v, __u64 pid_tgid);

/* The fd's entry when the syscall's bytes may be HTTP to capture; NULL
 * when not (untracked, TLS ciphertext, not HTTP). What a syscall's enter
 * decides, or its exit when the arguments are read there. */
static __always_inline struct conn_val *data_conn(__u64 pid_tgid, __s32 fd, __u8 sys)
{
	struct conn_val *v;

	if (!pid_in_scope(pid_tgid >> 32))
		return NULL;
	v = conn_get(pid_tgid, fd, XTAP_ROLE_UNKNOWN, false);
	if (!v || v->kind == CK_IGNORE)
		return NULL;
	if (tls_syscall(pid_tgid, fd, v, sys)) {
		if (propagate && v->role == XTAP_ROLE_CLIENT && v->cookie &&
		    (sys == XTAP_SYS_WRITE || sys == XTAP_SYS_WRITEV || sys == XTAP_SYS_SENDTO ||
		     sys == XTAP_SYS_SENDMSG))
			tls_request_ctx(v, pid_tgid);
		return NULL;
	}
	if (v->kind != CK_TCP)
		return NULL;
	if (v->proto == CP_OTHER) {
		stat_add(XTAP_STAT_NON_HTTP, 1);
		return NULL;
	}
	return v;
}

static __always_inline void data_enter(__s32 fd, __u64 buf, __u64 iovcnt, __u8 sys)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct active_args a = { .buf = buf, .iovcnt = iovcnt, .fd = fd, .sys = sys };
	struct conn_val *v = data_conn(pid_tgid, fd, sys);

	if (!v)
		return;
	/* before the bytes leave: the packets of a request carry its context */
	if (propagate && v->role == XTAP_ROLE_CLIENT && v->cookie && !v->skip[XTAP_DIR_OUT])
		client_request_ctx(v, pid_tgid, &a);
	/* an exit that reads its own arguments needs only the context */
	if (out_args_at_exit && a.tctx.source == XTAP_CTX_NONE)
		return;
	bpf_map_update_elem(&active, &pid_tgid, &a, BPF_ANY);
}

/* The first bytes of an HTTP/1.x message: a standard method and a space, or
 * a status line. Other methods (WebDAV…) are not recognised here on
 * purpose: a false "not HTTP" costs a missed connection, a false "HTTP"
 * costs copying every head of a busy non-HTTP protocol. */
#define W8(a, b, c, d, e, f, g, h)                                                           \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 |                \
	 (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)

struct start_tok {
	__u64 word;
	__u32 len;
};

static const struct start_tok start_toks[] = {
	{ W8('G', 'E', 'T', ' ', 0, 0, 0, 0), 4 },     { W8('P', 'O', 'S', 'T', ' ', 0, 0, 0), 5 },
	{ W8('P', 'U', 'T', ' ', 0, 0, 0, 0), 4 },     { W8('H', 'E', 'A', 'D', ' ', 0, 0, 0), 5 },
	{ W8('D', 'E', 'L', 'E', 'T', 'E', ' ', 0), 7 }, { W8('P', 'A', 'T', 'C', 'H', ' ', 0, 0), 6 },
	{ W8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' '), 8 }, { W8('C', 'O', 'N', 'N', 'E', 'C', 'T', ' '), 8 },
	{ W8('T', 'R', 'A', 'C', 'E', ' ', 0, 0), 6 },  { W8('H', 'T', 'T', 'P', '/', '1', '.', 0), 7 },
};

/* CP_HTTP, CP_OTHER, or CP_UNKNOWN while only a prefix (fewer bytes than the
 * token) matches, as when a client writes one byte at a time: those bytes
 * are kept in v->sniff and the next syscall's are appended to them. */
static __always_inline __u8 sniff(struct conn_val *v, const __u8 *data, __u32 n)
{
	__u32 prev = v->sniff_len & 7;
	__u32 have = prev + (n < 8 ? n : 8);
	__u64 word;

	if (!n)
		return CP_UNKNOWN;
	if (have > 8)
		have = 8;
	/* data is the scratch map value: 8 bytes are always readable, and
	 * the masks below ignore those past n */
	__builtin_memcpy(&word, data, sizeof(word));
	word = prev ? v->sniff | word << (prev * 8) : word;
	for (int i = 0; i < (int)(sizeof(start_toks) / sizeof(start_toks[0])); i++) {
		__u32 len = start_toks[i].len;
		__u32 m = have < len ? have : len;
		__u64 mask = m >= 8 ? ~0ULL : (1ULL << (m * 8)) - 1;

		if (((word ^ start_toks[i].word) & mask) == 0) {
			if (m == len)
				return CP_HTTP;
			v->sniff = word & mask;
			v->sniff_len = m;
			return CP_UNKNOWN;
		}
	}
	return CP_OTHER;
}

/* A length already ≤ XTAP_CAP_MAX, masked in a way the compiler cannot
 * move to another register, so the verifier sees the bound. */
static __always_inline __u64 bound_len(__u64 n)
{
	asm volatile("%[n] &= %[m]" : [n] "+r"(n) : [m] "i"(2 * XTAP_CAP_MAX - 1));
	return n;
}

/* Copy up to want bytes from user memory at ubuf into the event at off. */
static __always_inline __u32 copy_head(struct scratch *s, __u32 off, __u64 ubuf, __u64 want)
{
	__u64 n;

	if (off >= cap_bytes || off >= XTAP_CAP_MAX)
		return 0;
	n = want < cap_bytes - off ? want : cap_bytes - off;
	n = bound_len(n);
	/* off < XTAP_CAP_MAX was checked above, but the compiler drops a
	 * plain mask it can prove redundant, and the verifier needs it */
	asm volatile("%[off] &= %[m]" : [off] "+r"(off) : [m] "i"(XTAP_CAP_MAX - 1));
	if (bpf_probe_read_user(s->ev.data + off, n, (void *)ubuf))
		return 0;
	return n;
}

/* The last bytes of the syscall's data, [end - tail_len, end) of a buffer
 * whose data ends at end, when the head copy stopped short of them. */
static __always_inline void copy_tail(struct scratch *s, __u64 ubuf, __u64 end, __u64 head_end)
{
	__u64 n = end - head_end;

	if (end <= head_end)
		return;
	if (n > XTAP_TAIL_LEN)
		n = XTAP_TAIL_LEN;
	if (!bpf_probe_read_user(s->ev.tail, n & (2 * XTAP_TAIL_LEN - 1), (void *)(ubuf + end - n)))
		s->ev.tail_len = n;
}

/* Head from the iovecs into data[], and when the head stops short of total,
 * the tail from the iovec where the data ends. A global function, verified
 * once rather than once per inlined call site. Returns the head length. */
__noinline int copy_iov(__u64 iov_ptr, __u64 iovcnt, __u64 total)
{
	__u64 limit = total < cap_bytes ? total : cap_bytes;
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);

	if (!s)
		return 0;
	if (iovcnt > XTAP_IOV_MAX)
		iovcnt = XTAP_IOV_MAX;
	if (!iovcnt || bpf_probe_read_user(s->iovs, (iovcnt * sizeof(struct iovec)) &
					   (XTAP_IOV_MAX * sizeof(struct iovec) * 2 - 1),
					   (void *)iov_ptr))
		return 0;
	s->iov_off = 0;
	s->iov_seen = 0;
	for (int i = 0; i < XTAP_IOV_MAX; i++) {
		__u64 off = s->iov_off, seen = s->iov_seen;
		struct iovec iov;
		__u64 want;

		if (i >= iovcnt || seen >= total)
			break;
		iov = s->iovs[i];
		want = iov.iov_len < total - seen ? iov.iov_len : total - seen;
		if (off == seen && off < limit)
			s->iov_off = off + copy_head(s, off, (__u64)iov.iov_base, want);
		s->iov_seen = seen + want;
		off = s->iov_off;
		if (seen + want >= total && off < total)
			copy_tail(s, (__u64)iov.iov_base, want, off > seen ? off - seen : 0);
	}
	return s->iov_off & (2 * XTAP_CAP_MAX - 1);
}

/* A message starts at p (8 readable bytes): a token of start_toks. */
static __always_inline bool starts_msg(const __u8 *p)
{
	__u64 word;

	__builtin_memcpy(&word, p, sizeof(word));
	for (int i = 0; i < (int)(sizeof(start_toks) / sizeof(start_toks[0])); i++) {
		__u32 len = start_toks[i].len;
		__u64 mask = len >= 8 ? ~0ULL : (1ULL << (len * 8)) - 1;

		if (((word ^ start_toks[i].word) & mask) == 0)
			return true;
	}
	return false;
}

#define LOWER(c) ((c) | 0x20)

/* "ontent-length:" after a "\nc" at data[at - 1] of the scratch event: the
 * value, or -1. A global function: verified once, not once per caller path. */
__noinline __s64 content_length_at(__u32 at)
{
#define CL_NAME "ontent-length:"
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch_map, &zero);
	const __u8 *data;
	__u64 v = 0;
	int digits = 0;

	if (!sc)
		return -1;
	data = sc->ev.data;
	at &= XTAP_CAP_MAX - 1; /* with the spill, at + 40 stays in the value */
#pragma unroll
	for (int k = 0; k < (int)sizeof(CL_NAME) - 1; k++) {
		if (LOWER(data[at + k]) != CL_NAME[k])
			return -1;
	}
	at += sizeof(CL_NAME) - 1;
	for (int k = 0; k < 24; k++) {
		__u8 c = data[at + k];

		if (c == ' ' || c == '\t') {
			if (digits)
				break;
			continue;
		}
		if (c < '0' || c > '9')
			break;
		if (++digits > 15) /* past a petabyte: not a body to skip */
			return -1;
		v = v * 10 + (c - '0');
	}
	return digits ? (__s64)v : -1;
}

struct scan_ctx {
	struct scratch *s;
	__u32 n;
	__u32 end;
};

/* 0x80 in each byte of w that is '\n', exactly (no false positives). */
static __always_inline __u64 newlines(__u64 w)
{
	__u64 x = w ^ 0x0a0a0a0a0a0a0a0aULL;

	return ~(((x & 0x7f7f7f7f7f7f7f7fULL) + 0x7f7f7f7f7f7f7f7fULL) | x |
		 0x7f7f7f7f7f7f7f7fULL);
}

/* One 8-byte word of head_framing's scan (a bpf_loop callback: verified
 * once, whatever the head's length): each '\n' in it either ends the head
 * ("\r\n\r\n") or may start a header that matters. */
static long scan_word(__u32 i, void *arg)
{
	struct scan_ctx *x = arg;
	struct scratch *s = x->s;
	__u32 base = (i * 8) & (XTAP_CAP_MAX - 1);
	__u64 w, nl;

	if (i * 8 >= x->n)
		return 1;
	__builtin_memcpy(&w, s->ev.data + base, sizeof(w));
	nl = newlines(w);
	for (int k = 0; k < 8 && nl; k++) {
		__u32 at = base + k, after, crlf2;
		__u8 c;

		if (!(nl & (0x80ULL << (k * 8))))
			continue;
		nl &= ~(0x80ULL << (k * 8));
		if (at >= x->n)
			return 1;
		/* data holds 8 bytes of spill before it (the tail) */
		__builtin_memcpy(&crlf2, s->ev.data + at - 3, sizeof(crlf2));
		if (crlf2 == 0x0a0d0a0d) {
			x->end = at + 1;
			return 1;
		}
		after = (at + 1) & (XTAP_CAP_MAX - 1);
		c = LOWER(s->ev.data[after]);
		if (c == 'c') {
			__s64 cl = content_length_at(after + 1);

			if (cl >= 0)
				s->head_cl = cl;
		} else if (c == 't' && LOWER(s->ev.data[(after + 1) & (XTAP_CAP_MAX - 1)]) == 'r') {
			/* Transfer-Encoding (or TE, harmless): chunked wins
			 * over Content-Length, so no skipping; and traceparent */
			if (LOWER(s->ev.data[(after + 3) & (XTAP_CAP_MAX - 1)]) == 'c')
				s->tp_at = after + 1;
			else
				s->head_te = 1;
		} else if (c == 'x') {
			s->amzn_at = after + 1;
		}
	}
	return 0;
}

/* The head at the start of the captured n bytes: where it ends (0: not
 * within them, or no bpf_loop on this kernel); s->head_cl its
 * Content-Length (-1: none), s->head_te set by a Transfer-Encoding. */
static __always_inline __u32 head_framing(struct scratch *s, __u32 n)
{
	struct scan_ctx x = { .s = s, .n = n };

	s->head_cl = -1;
	s->head_te = 0;
	s->amzn_at = 0;
	s->tp_at = 0;
	if (!bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_loop))
		return 0;
	bpf_loop((n + 7) / 8 < XTAP_CAP_MAX / 8 ? (n + 7) / 8 : XTAP_CAP_MAX / 8, scan_word, &x, 0);
	return x.end;
}

/* How much body is still to come after a head copied from the start of
 * this syscall's n bytes (of ret), so those bytes are counted, not copied
 * (0: none known). Asked when the message goes on past the capture, or,
 * for a response, when the syscall moved exactly a head (servers that write
 * the body apart, clients that read it apart). Only when the head ends
 * inside the capture, says Content-Length, no Transfer-Encoding, and no
 * other message starts right after it (a HEAD or 304 answer carries a
 * Content-Length but no body). A global function: verified once, apart
 * from its callers' paths. */
__noinline __u64 body_to_skip(__u32 n, __u64 ret)
{
	__u32 zero = 0, end;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	__u64 here;

	if (!s || n < 16 || n > XTAP_CAP_MAX || !starts_msg(s->ev.data))
		return 0;
	/* 1xx, 204 and 304 answers have no body, whatever they say */
	if (s->ev.data[0] == 'H' && s->ev.data[8] == ' ' &&
	    (s->ev.data[9] == '1' ||
	     ((s->ev.data[9] == '2' || s->ev.data[9] == '3') && s->ev.data[10] == '0' &&
	      s->ev.data[11] == '4')))
		return 0;
	end = head_framing(s, n);
	if (!end || end > n || s->head_te || s->head_cl <= 0)
		return 0;
	if (end + 8 <= n && starts_msg(s->ev.data + (end & (XTAP_CAP_MAX - 1))))
		return 0;
	here = ret - end;
	return (__u64)s->head_cl > here ? (__u64)s->head_cl - here : 0;
}

static __always_inline bool is_response_dir(const struct conn_val *v, __u8 dir)
{
	return (v->role == XTAP_ROLE_SERVER && dir == XTAP_DIR_OUT) ||
	       (v->role == XTAP_ROLE_CLIENT && dir == XTAP_DIR_IN);
}

/* The syscall moved a response head and nothing else: it ends the data. */
static __always_inline bool is_bare_response_head(struct scratch *s, struct conn_val *v, __u8 dir,
						  __u32 n)
{
	__u32 t;

	if (n < 16 || n > XTAP_CAP_MAX || !is_response_dir(v, dir))
		return false;
	t = (n - 4) & (XTAP_CAP_MAX - 1);
	return s->ev.data[t] == '\r' && s->ev.data[t + 1] == '\n' && s->ev.data[t + 2] == '\r' &&
	       s->ev.data[t + 3] == '\n';
}

/* Batch wake-ups: the agent polls on a short timer and is woken early only
 * when a backlog builds up. The backlog is looked at on every
 * BACKLOG_QUERY_EVERY-th record of a CPU (the consumer's position is a cache
 * line the agent writes per record), and a forced wake-up is sent at most
 * every WAKEUP_GAP_NS: each one costs the traced thread an inter-processor
 * interrupt, and until the agent runs and drains, every record would send
 * another. */
#define BACKLOG_QUERY_EVERY 16
#define WAKEUP_GAP_NS 1000000
__u64 last_forced_wakeup_ns;

static __always_inline __u64 backlog_wakeup(struct scratch *s)
{
	__u64 now;

	if (++s->since_query < BACKLOG_QUERY_EVERY)
		return BPF_RB_NO_WAKEUP;
	s->since_query = 0;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) <= wakeup_bytes)
		return BPF_RB_NO_WAKEUP;
	now = bpf_ktime_get_ns();
	if (now - last_forced_wakeup_ns < WAKEUP_GAP_NS)
		return BPF_RB_NO_WAKEUP;
	last_forced_wakeup_ns = now;
	return BPF_RB_FORCE_WAKEUP;
}

/* Submit the data record in s (n bytes of data[]); a record that does not
 * fit is counted, and marks the connection so that the next one tells the
 * agent its stream has a hole (it must not pair across it). */
static __always_inline void data_output(struct scratch *s, struct conn_val *v, __u32 n,
					__u64 flags)
{
	s->ev.flags = v->lost ? XTAP_DATA_GAP : 0;
	if (bpf_ringbuf_output(&events, &s->ev, XTAP_DATA_EV_SIZE(bound_len(n)), flags)) {
		stat_add(XTAP_STAT_RB_DROPS, 1);
		v->lost = 1;
	} else {
		stat_add(XTAP_STAT_EVENTS, 1);
		v->lost = 0;
	}
}

/* One record for body bytes counted without being copied. */
static __always_inline void report_skipped(struct scratch *s, __u64 pid_tgid, __s32 fd,
					   struct conn_val *v, __u8 dir, __u8 sys, __u64 len)
{
	fill_hdr(&s->ev.hdr, XTAP_EV_DATA, pid_tgid, fd, v);
	s->ev.hdr.dir = dir;
	s->ev.hdr.sys = sys;
	s->ev.len = len;
	s->ev.cap_len = 0;
	s->ev.tail_len = 0;
	s->ev.tctx.source = XTAP_CTX_NONE;
	data_output(s, v, 0, BPF_RB_NO_WAKEUP);
}

/* head_framing of the scratch record, as a global function: its scan is
 * verified once per program, not once per caller. */
__noinline int scratch_head_end(__u32 n)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);

	return s ? head_framing(s, n) : 0;
}

#include "propagate.bpf.h"

/* The trace context of the record in s (n bytes captured), and what the
 * thread, process and socket remember of it (propagate.bpf.h). */
static __always_inline void record_ctx(struct scratch *s, struct conn_val *v, __u8 dir, __u32 n,
				       __u64 pid_tgid, const struct active_args *a)
{
	__builtin_memset(&s->ev.tctx, 0, sizeof(s->ev.tctx));
	if (!propagate || n < 8 || !starts_msg(s->ev.data))
		return;
	if (v->role == XTAP_ROLE_SERVER) {
		if (dir == XTAP_DIR_IN && !starts_response(s->ev.data))
			server_request_ctx(s, v, n, pid_tgid);
		else if (dir == XTAP_DIR_OUT && starts_response(s->ev.data))
			server_response_ctx(pid_tgid);
	} else if (v->role == XTAP_ROLE_CLIENT) {
		if (dir == XTAP_DIR_OUT && a->tctx.source)
			s->ev.tctx = a->tctx;
		else if (dir == XTAP_DIR_IN && v->cookie && starts_response(s->ev.data))
			sock_ctx_idle(v->cookie);
	}
}

/* Unsampled exchanges (mute_unsampled). The agent would read, parse and
 * pair both records of such an exchange only to drop it, so the kernel
 * keeps them back when the decision is final (a server's request head:
 * its Sampled=0, or the kernel's own draw for a trace that starts here;
 * not a decision a call inherits, or a caller's option, which the agent
 * may overrule when it links them) and it can tell where the exchange
 * ends: a request whole in
 * its syscall (head, and a Content-Length body read or counted), and a
 * response framed by Content-Length, by having none (HEAD, 204, 304), or
 * chunked, ending with a syscall that ends in the last chunk. Anything
 * else before a byte of the response was kept back (a 1xx, no framing,
 * another request first) and the agent gets a placeholder for the
 * request (report_muted) and the rest as usual; after, a gap (lost). */
static __always_inline bool mute_request(struct scratch *s, struct conn_val *v, __u8 dir, __u32 n,
					 __u64 ret)
{
	__u32 end;
	__u64 cl;

	if (!mute_unsampled || s->ev.tctx.sampled != XTAP_SAMPLED_NO || v->mute || v->lost ||
	    v->role != XTAP_ROLE_SERVER || dir != XTAP_DIR_IN ||
	    (s->ev.tctx.source != XTAP_CTX_HEADER && s->ev.tctx.source != XTAP_CTX_NEW))
		return false;
	if (n < 16 || !starts_msg(s->ev.data) || starts_response(s->ev.data) ||
	    s->ev.data[0] == 'C') /* CONNECT: a tunnel follows */
		return false;
	end = scratch_head_end(n);
	if (!end || end > n || s->head_te)
		return false;
	cl = s->head_cl > 0 ? s->head_cl : 0;
	/* the whole request in this syscall, or the rest of its body counted */
	if (ret == end + cl || (ret < end + cl && v->skip[dir & 1] == end + cl - ret))
		return true;
	if (ret != end)
		return false;
	/* a head alone, its body to come apart: counted */
	v->skip[dir & 1] = cl;
	v->skipped[dir & 1] = 0;
	return true;
}

/* The last bytes of the syscall (n captured of ret) end a chunked body:
 * "\n0\r\n\r\n", or the syscall wrote only the last chunk. */
static __always_inline bool ends_chunked(struct scratch *s, __u32 n, __u64 ret)
{
	const __u8 *p;
	__u32 at;

	if ((__u64)n == ret && n == 5)
		return s->ev.data[0] == '0' && s->ev.data[1] == '\r' && s->ev.data[2] == '\n' &&
		       s->ev.data[3] == '\r' && s->ev.data[4] == '\n';
	if ((__u64)n == ret) {
		if (n < 6 || n > XTAP_CAP_MAX)
			return false;
		at = (n - 6) & (XTAP_CAP_MAX - 1);
		p = s->ev.data + at;
	} else {
		if (s->ev.tail_len < 6 || s->ev.tail_len > XTAP_TAIL_LEN)
			return false;
		at = (s->ev.tail_len - 6) & (XTAP_TAIL_LEN - 1);
		p = s->ev.tail + at;
	}
	return p[0] == '\n' && p[1] == '0' && p[2] == '\r' && p[3] == '\n' && p[4] == '\r' &&
	       p[5] == '\n';
}

/* The response head of a muted exchange (n captured of ret): how far the
 * exchange went with this syscall (MUTE_NONE: to its end), or -1 when the
 * kernel cannot frame it. */
static __always_inline int mute_response(struct scratch *s, struct conn_val *v, __u8 dir, __u32 n,
					 __u64 ret)
{
	const __u8 *d = s->ev.data;
	__u32 end;
	__u64 cl;

	if (n < 16 || !starts_response(d) || d[8] != ' ' || d[9] == '1') /* 1xx: interim, 101 */
		return -1;
	end = scratch_head_end(n);
	if (!end || end > n)
		return -1;
	if (v->head_req || (d[9] == '2' && d[10] == '0' && d[11] == '4') ||
	    (d[9] == '3' && d[10] == '0' && d[11] == '4'))
		cl = 0;
	else if (s->head_te)
		return ends_chunked(s, n, ret) ? MUTE_NONE : MUTE_CHUNKED;
	else if (s->head_cl < 0)
		return -1; /* ends when the connection does */
	else
		cl = s->head_cl;
	if (ret - end > cl)
		return -1; /* another response follows in the same syscall */
	if (ret - end == cl)
		return MUTE_NONE;
	v->skip[dir & 1] = cl - (ret - end);
	v->skipped[dir & 1] = 0;
	return MUTE_BODY;
}

/* The muted request, as a record without bytes, for the response the
 * kernel cannot frame; reserved rather than built in the scratch space,
 * which holds this syscall's record. */
static __always_inline void report_muted(struct conn_val *v, __u64 pid_tgid, __s32 fd, __u8 dir,
					 __u8 sys)
{
	struct xtap_data_event *e = bpf_ringbuf_reserve(&events, XTAP_DATA_EV_SIZE(0), 0);

	v->mute = MUTE_NONE;
	if (!e) {
		stat_add(XTAP_STAT_RB_DROPS, 1);
		v->lost = 1;
		return;
	}
	fill_hdr(&e->hdr, XTAP_EV_DATA, pid_tgid, fd, v);
	e->hdr.dir = dir;
	e->hdr.sys = sys;
	e->len = 0;
	e->cap_len = 0;
	e->tail_len = 0;
	e->flags = XTAP_DATA_MUTED | (v->head_req ? XTAP_DATA_MUTED_HEAD : 0) |
		   (v->lost ? XTAP_DATA_GAP : 0);
	__builtin_memset(e->tail, 0, sizeof(e->tail));
	__builtin_memset(&e->tctx, 0, sizeof(e->tctx));
	bpf_ringbuf_submit(e, 0);
	stat_add(XTAP_STAT_EVENTS, 1);
	v->lost = 0;
}

/* The muted exchange ended with the syscall of pid_tgid. */
static __always_inline void mute_done(struct conn_val *v, __u64 pid_tgid)
{
	v->mute = MUTE_NONE;
	stat_add(XTAP_STAT_MUTED, 1);
	flight_end(pid_tgid, v->mute_key);
}

/* The two steps below are global functions, verified once rather than
 * inside every exit program's paths (inlined, they tripled load time).
 * They find the scratch record and the fd's entry again by key. */

/* A record of a connection with a muted exchange under way (dir_sys: the
 * direction, and the syscall << 8), before it is submitted: 1 when it is
 * kept back (the exchange goes on, or ended with it); else the exchange
 * is given up and the record goes out. */
__noinline int mute_continue(__u64 pid_tgid, __s32 fd, __u32 dir_sys, __u32 n, __u64 ret)
{
	struct conn_key key = { .tgid = pid_tgid >> 32, .fd = fd };
	__u8 dir = dir_sys & 1, sys = dir_sys >> 8;
	struct conn_val *v = bpf_map_lookup_elem(&conns, &key);
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	int st;

	if (!v || !s || !v->mute)
		return 0;
	if (!is_response_dir(v, dir)) {
		/* a request before the muted one's response ended */
		if (v->mute == MUTE_REQ)
			report_muted(v, pid_tgid, fd, dir, sys);
		else
			v->lost = 1; /* part of that response was kept back */
		v->mute = MUTE_NONE;
		return 0;
	}
	if (v->mute == MUTE_CHUNKED) {
		if (ends_chunked(s, n, ret))
			mute_done(v, pid_tgid);
		return 1;
	}
	if (v->mute != MUTE_REQ) {
		v->mute = MUTE_NONE;
		v->lost = 1;
		return 0;
	}
	st = mute_response(s, v, dir, n, ret);
	if (st < 0) {
		report_muted(v, pid_tgid, fd, dir ^ 1, sys);
		return 0;
	}
	v->head_req = 0;
	if (st == MUTE_NONE)
		mute_done(v, pid_tgid);
	else
		v->mute = st;
	return 1;
}

/* The body of a muted response was counted to its end. */
__noinline int mute_body_done(__u64 pid_tgid, __s32 fd)
{
	struct conn_key key = { .tgid = pid_tgid >> 32, .fd = fd };
	struct conn_val *v = bpf_map_lookup_elem(&conns, &key);

	if (v)
		mute_done(v, pid_tgid);
	return 0;
}

/* A server's request head decided unsampled (in the scratch record, n
 * captured of ret): 1 when its exchange is kept back from here on. */
__noinline int mute_start(__u64 pid_tgid, __s32 fd, __u32 n, __u64 ret)
{
	struct conn_key key = { .tgid = pid_tgid >> 32, .fd = fd };
	struct conn_val *v = bpf_map_lookup_elem(&conns, &key);
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);

	if (!v || !s || !mute_request(s, v, XTAP_DIR_IN, n, ret))
		return 0;
	v->mute = MUTE_REQ;
	v->mute_key = s->ev.tctx.span_id;
	return 1;
}

/* The syscall described by a moved ret bytes in direction dir; v, its
 * fd's entry, when the caller has it (else looked up). */
static __always_inline void data_done(__u64 pid_tgid, long ret, __u8 dir,
				      const struct active_args *ap, struct conn_val *v)
{
	struct active_args a = *ap;
	struct conn_key key;
	struct scratch *s;
	__u32 zero = 0, n = 0;
	__u64 flags;

	if (ret <= 0 || a.sys == 0)
		return;
	if (!v) {
		key.tgid = pid_tgid >> 32;
		key.fd = a.fd;
		v = bpf_map_lookup_elem(&conns, &key);
	}
	if (!v || v->kind != CK_TCP || v->proto == CP_OTHER)
		return;
	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return;

	/* inside a body whose length its head gave: count, copy nothing, and
	 * say so once, at the body's end */
	if (v->skip[dir & 1]) {
		__u64 left = v->skip[dir & 1];

		stat_add(XTAP_STAT_BODY_BYTES, (__u64)ret < left ? ret : left);
		if ((__u64)ret < left) {
			v->skip[dir & 1] = left - ret;
			v->skipped[dir & 1] += ret;
			return;
		}
		v->skip[dir & 1] = 0;
		if (v->mute) {
			/* a body of a muted exchange: its end is not reported */
			v->skipped[dir & 1] = 0;
			if ((__u64)ret == left) {
				if (v->mute == MUTE_BODY && is_response_dir(v, dir))
					mute_body_done(pid_tgid, a.fd);
				return;
			}
			/* it ends inside this syscall, and another message
			 * follows: the agent resynchronises after a gap */
			v->mute = MUTE_NONE;
			v->lost = 1;
		}
		if ((__u64)ret == left) {
			report_skipped(s, pid_tgid, a.fd, v, dir, a.sys, v->skipped[dir & 1] + ret);
			v->skipped[dir & 1] = 0;
			return;
		}
		/* the body ends inside this syscall and more follows: what
		 * was counted, then this syscall's bytes as usual */
		if (v->skipped[dir & 1])
			report_skipped(s, pid_tgid, a.fd, v, dir, a.sys, v->skipped[dir & 1]);
		v->skipped[dir & 1] = 0;
	}

	s->ev.tail_len = 0;
	switch (a.sys) {
	case XTAP_SYS_READ:
	case XTAP_SYS_WRITE:
	case XTAP_SYS_RECVFROM:
	case XTAP_SYS_SENDTO:
	case XTAP_SYS_SSL_READ ... XTAP_SYS_GO_TLS_WRITE: /* tls.bpf.h */
		n = copy_head(s, 0, a.buf, ret);
		copy_tail(s, a.buf, ret, n);
		break;
	case XTAP_SYS_READV:
	case XTAP_SYS_WRITEV:
		n = copy_iov(a.buf, a.iovcnt, ret);
		break;
	case XTAP_SYS_RECVMSG:
	case XTAP_SYS_SENDMSG: {
		struct user_msghdr msg;

		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)a.buf))
			break;
		n = copy_iov((__u64)msg.msg_iov, msg.msg_iovlen, ret);
		break;
	}
	default: /* sendfile: counted, never copied */
		break;
	}

	if (v->proto == CP_UNKNOWN) {
		if (!n) /* body-only bytes before any head: nothing to learn */
			return;
		v->proto = sniff(v, s->ev.data, n);
		if (v->proto == CP_OTHER) {
			stat_add(XTAP_STAT_NON_HTTP, 1);
			return;
		}
	}
	if ((__u64)n < (__u64)ret)
		stat_add(n ? XTAP_STAT_TRUNCATED : XTAP_STAT_BODY_BYTES, n ? 1 : ret);
	record_ctx(s, v, dir, n, pid_tgid, &a);
	if (v->mute && mute_continue(pid_tgid, a.fd, dir | (__u32)a.sys << 8, n, ret))
		return;
	if (n >= 5 && !is_response_dir(v, dir) && s->ev.data[0] == 'H' && s->ev.data[1] == 'E' &&
	    s->ev.data[2] == 'A' && s->ev.data[3] == 'D' && s->ev.data[4] == ' ')
		v->head_req = 1;
	if ((__u64)n < (__u64)ret || is_bare_response_head(s, v, dir, n)) {
		bool after_head = is_response_dir(v, dir) && v->head_req;

		v->skip[dir & 1] = after_head ? 0 : body_to_skip(n, ret);
		v->skipped[dir & 1] = 0;
		if (is_response_dir(v, dir) && starts_msg(s->ev.data))
			v->head_req = 0;
	}
	if (mute_unsampled && s->ev.tctx.sampled == XTAP_SAMPLED_NO && dir == XTAP_DIR_IN &&
	    v->role == XTAP_ROLE_SERVER && mute_start(pid_tgid, a.fd, n, ret))
		return;

	fill_hdr(&s->ev.hdr, XTAP_EV_DATA, pid_tgid, a.fd, v);
	/* a client's request starts when it was written; a server's
	 * response ends when the write returned */
	if (a.start_ns && v->role == XTAP_ROLE_CLIENT)
		s->ev.hdr.ts_ns = a.start_ns;
	s->ev.hdr.dir = dir;
	s->ev.hdr.sys = a.sys;
	s->ev.len = ret;
	s->ev.cap_len = n;
	flags = backlog_wakeup(s);
	data_output(s, v, n, flags);
}

static __always_inline void data_exit(long ret, __u8 dir)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct active_args *ap = bpf_map_lookup_elem(&active, &pid_tgid);
	struct active_args a;

	if (!ap)
		return;
	a = *ap;
	bpf_map_delete_elem(&active, &pid_tgid);
	data_done(pid_tgid, ret, dir, &a, NULL);
}

/* The exit alone (in_args_at_exit, out_args_at_exit): a syscall's first
 * three arguments are still in the registers the task entered with
 * (arm64's first in orig_x0). */
static __always_inline void data_exit_regs(long ret, __u8 dir, __u8 sys)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct active_args a = { .sys = sys };
	struct conn_val *v;
	struct pt_regs *regs;

	/* EAGAIN and the like: nothing moved, and without TLS nothing to
	 * bind either */
	if (ret <= 0 && !tls_enabled)
		return;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	a.fd = (__s32)PT_REGS_PARM1_CORE_SYSCALL(regs);
	a.buf = PT_REGS_PARM2_CORE_SYSCALL(regs);
	a.iovcnt = PT_REGS_PARM3_CORE_SYSCALL(regs);
	v = data_conn(pid_tgid, a.fd, sys);
	if (!v)
		return;
	/* a client's request head: the context its enter chose (write
	 * family, propagation on); the same call's, by fd and syscall */
	if (propagate && dir == XTAP_DIR_OUT && v->role == XTAP_ROLE_CLIENT) {
		struct active_args *ap = bpf_map_lookup_elem(&active, &pid_tgid);

		if (ap) {
			if (ap->fd == a.fd && ap->sys == sys)
				a.tctx = ap->tctx;
			bpf_map_delete_elem(&active, &pid_tgid);
		}
	}
	data_done(pid_tgid, ret, dir, &a, v);
}

#define ENTER(name, sys, fd_arg, buf_arg, cnt_arg)                                           \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                          \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)                              \
	{                                                                                    \
		data_enter((__s32)ctx->args[fd_arg], ctx->args[buf_arg], ctx->args[cnt_arg], \
			   sys);                                                             \
		return 0;                                                                    \
	}

#define EXIT(name, dir, sys)                                                                 \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                           \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                                \
	{                                                                                    \
		if (dir == XTAP_DIR_IN ? in_args_at_exit : out_args_at_exit)                 \
			data_exit_regs(ctx->ret, dir, sys);                                  \
		else                                                                         \
			data_exit(ctx->ret, dir);                                            \
		return 0;                                                                    \
	}

ENTER(read, XTAP_SYS_READ, 0, 1, 2)
EXIT(read, XTAP_DIR_IN, XTAP_SYS_READ)
ENTER(write, XTAP_SYS_WRITE, 0, 1, 2)
EXIT(write, XTAP_DIR_OUT, XTAP_SYS_WRITE)
ENTER(readv, XTAP_SYS_READV, 0, 1, 2)
EXIT(readv, XTAP_DIR_IN, XTAP_SYS_READV)
ENTER(writev, XTAP_SYS_WRITEV, 0, 1, 2)
EXIT(writev, XTAP_DIR_OUT, XTAP_SYS_WRITEV)
ENTER(recvfrom, XTAP_SYS_RECVFROM, 0, 1, 2)
EXIT(recvfrom, XTAP_DIR_IN, XTAP_SYS_RECVFROM)
ENTER(sendto, XTAP_SYS_SENDTO, 0, 1, 2)
EXIT(sendto, XTAP_DIR_OUT, XTAP_SYS_SENDTO)
ENTER(recvmsg, XTAP_SYS_RECVMSG, 0, 1, 2)
EXIT(recvmsg, XTAP_DIR_IN, XTAP_SYS_RECVMSG)
ENTER(sendmsg, XTAP_SYS_SENDMSG, 0, 1, 2)
EXIT(sendmsg, XTAP_DIR_OUT, XTAP_SYS_SENDMSG)
/* sendfile(out_fd, in_fd, …): body bytes that never pass through userspace */
ENTER(sendfile64, XTAP_SYS_SENDFILE, 0, 1, 3)
EXIT(sendfile64, XTAP_DIR_OUT, XTAP_SYS_SENDFILE)

static __always_inline void accepted(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (ret < 0 || !pid_in_scope(pid_tgid >> 32))
		return;
	conn_get(pid_tgid, (__s32)ret, XTAP_ROLE_SERVER, true);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	accepted(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	accepted(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct active_args a = { .fd = (__s32)ctx->args[0] };

	if (!pid_in_scope(pid_tgid >> 32))
		return 0;
	bpf_map_update_elem(&active, &pid_tgid, &a, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct active_args *ap = bpf_map_lookup_elem(&active, &pid_tgid);
	__s32 fd;

	if (!ap)
		return 0;
	fd = ap->fd;
	bpf_map_delete_elem(&active, &pid_tgid);
	/* non-blocking connects report -EINPROGRESS; the tuple is set already */
	if (ctx->ret == 0 || ctx->ret == -EINPROGRESS)
		conn_get(pid_tgid, fd, XTAP_ROLE_CLIENT, true);
	return 0;
}

/* The fd is closed (close) or replaced (dup2/dup3 onto it): the agent
 * hears of a tracked socket's end, and the entry goes. */
static __always_inline void forget_fd(__s32 fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct conn_key key = { .tgid = pid_tgid >> 32, .fd = fd };
	struct conn_val *v = bpf_map_lookup_elem(&conns, &key);

	if (!v)
		return;
	if (v->kind == CK_TCP && v->epoch == epoch_of(key.tgid)) {
		struct xtap_conn_event ev = {};
		struct scratch *s;
		__u32 zero = 0;

		/* the last data records were lost: an empty one says so
		 * before the close ends what the agent holds */
		s = v->lost ? bpf_map_lookup_elem(&scratch_map, &zero) : NULL;
		if (s) {
			fill_hdr(&s->ev.hdr, XTAP_EV_DATA, pid_tgid, key.fd, v);
			s->ev.len = 0;
			s->ev.cap_len = 0;
			s->ev.tail_len = 0;
			s->ev.tctx.source = XTAP_CTX_NONE;
			data_output(s, v, 0, 0);
		}
		fill_hdr(&ev.hdr, XTAP_EV_CLOSE, pid_tgid, key.fd, v);
		if (bpf_ringbuf_output(&events, &ev, sizeof(ev), 0))
			stat_add(XTAP_STAT_RB_DROPS, 1);
		else
			stat_add(XTAP_STAT_EVENTS, 1);
	}
	bpf_map_delete_elem(&conns, &key);
}

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct trace_event_raw_sys_enter *ctx)
{
	forget_fd((__s32)ctx->args[0]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_dup2")
int enter_dup2(struct trace_event_raw_sys_enter *ctx)
{
	forget_fd((__s32)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_dup3")
int enter_dup3(struct trace_event_raw_sys_enter *ctx)
{
	forget_fd((__s32)ctx->args[1]);
	return 0;
}

/* close_range and exec close many fds at once: a new epoch makes all of the
 * process's entries stale. */
SEC("tracepoint/syscalls/sys_enter_close_range")
int enter_close_range(struct trace_event_raw_sys_enter *ctx)
{
	epoch_bump(bpf_get_current_pid_tgid() >> 32);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int process_exec(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct xtap_ev_hdr h;

	epoch_bump(pid_tgid >> 32);
	/* The agent forgets the old image: its name and executable, and the
	 * connections exec closed (CLOEXEC) without a close(2) to say so. */
	if (!pid_in_scope(pid_tgid >> 32))
		return 0;
	fill_hdr(&h, XTAP_EV_EXEC, pid_tgid, -1, NULL);
	if (bpf_ringbuf_output(&events, &h, sizeof(h), 0))
		stat_add(XTAP_STAT_RB_DROPS, 1);
	else
		stat_add(XTAP_STAT_EVENTS, 1);
	return 0;
}

/* A new process (not a thread) starts an epoch, so entries left by an
 * earlier process with the same pid are stale. */
SEC("raw_tp/sched_process_fork")
int process_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 pid = BPF_CORE_READ(child, pid), tgid = BPF_CORE_READ(child, tgid);

	if (pid == tgid)
		epoch_bump(tgid);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int process_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct xtap_ev_hdr h;

	/* only the thread-group leader: the agent forgets the whole process */
	if ((__u32)pid_tgid != pid_tgid >> 32 || !pid_in_scope(pid_tgid >> 32))
		return 0;
	bpf_map_delete_elem(&proc_epoch, &(__u32){ pid_tgid >> 32 });
	fill_hdr(&h, XTAP_EV_EXIT, pid_tgid, -1, NULL);
	if (bpf_ringbuf_output(&events, &h, sizeof(h), 0))
		stat_add(XTAP_STAT_RB_DROPS, 1);
	else
		stat_add(XTAP_STAT_EVENTS, 1);
	return 0;
}

#include "tls.bpf.h"
#include "go_http.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
