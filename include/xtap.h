/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Records that cross the BPF ring buffer, shared by bpf/ and agent/.
 * Only fixed-width types and fixed arrays: the layout is the ABI between
 * the kernel programs and the agent, checked by the _Static_asserts below. */
#ifndef XTAP_H
#define XTAP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Largest message head one event may carry; the configured capture size
 * (rodata cap_bytes, default XTAP_CAP_DEFAULT) is clamped to it. A power of
 * two so the BPF side can bound copy sizes with a mask. */
#define XTAP_CAP_MAX 4096
#define XTAP_CAP_DEFAULT 1024
#define XTAP_COMM_LEN 16
/* iovecs looked at per readv/writev/recvmsg/sendmsg (node writes a small
 * chunked response as 13) */
#define XTAP_IOV_MAX 16
/* Bytes copied from the end of a syscall's data when the head capture did
 * not reach it: enough for a chunked body's "\r\n0\r\n\r\n" terminator. */
#define XTAP_TAIL_LEN 16
/* ports and cgroups the scope flags may name */
#define XTAP_SCOPE_MAX 64

enum xtap_event_type {
	XTAP_EV_DATA = 1, /* bytes moved on a tracked socket */
	XTAP_EV_OPEN = 2, /* a TCP socket became tracked (accept, connect, first use) */
	XTAP_EV_CLOSE = 3, /* close() of a tracked socket */
	XTAP_EV_EXIT = 4, /* a process (thread-group leader) exited */
	XTAP_EV_EXEC = 5, /* a process exec'd: the old image is forgotten, its TLS libraries are
			   * looked up (xtap_ev_hdr only) */
	XTAP_EV_MAP_EXEC = 6, /* a process mapped a libssl.so* executable (ld.so, dlopen):
			       * fd is the mmap fd (xtap_ev_hdr only) */
};

enum xtap_dir {
	XTAP_DIR_IN = 0, /* read by the process */
	XTAP_DIR_OUT = 1, /* written by the process */
};

enum xtap_role {
	XTAP_ROLE_UNKNOWN = 0, /* socket in use before xtap saw accept/connect */
	XTAP_ROLE_SERVER = 1, /* accepted */
	XTAP_ROLE_CLIENT = 2, /* connected */
};

/* which syscall moved the bytes, for debugging output */
enum xtap_sys {
	XTAP_SYS_READ = 1,
	XTAP_SYS_WRITE,
	XTAP_SYS_READV,
	XTAP_SYS_WRITEV,
	XTAP_SYS_RECVFROM,
	XTAP_SYS_SENDTO,
	XTAP_SYS_RECVMSG,
	XTAP_SYS_SENDMSG,
	XTAP_SYS_SENDFILE,
	/* plaintext of a TLS connection, read or written by the library (fd is
	 * the socket the library does its I/O on) */
	XTAP_SYS_SSL_READ, /* OpenSSL/BoringSSL SSL_read, SSL_read_ex */
	XTAP_SYS_SSL_WRITE, /* SSL_write, SSL_write_ex */
	XTAP_SYS_GO_TLS_READ, /* Go crypto/tls (*Conn).Read */
	XTAP_SYS_GO_TLS_WRITE, /* Go crypto/tls (*Conn).Write */
};

#define XTAP_SYS_IS_TLS(s) ((s) >= XTAP_SYS_SSL_READ && (s) <= XTAP_SYS_GO_TLS_WRITE)

/* kernel-side counters (per-CPU array, index = enum xtap_stat) */
enum xtap_stat {
	XTAP_STAT_EVENTS = 0, /* records submitted to the ring buffer */
	XTAP_STAT_RB_DROPS, /* ring buffer full: record lost */
	XTAP_STAT_NON_HTTP, /* data on sockets classified as not HTTP (not copied) */
	XTAP_STAT_TRUNCATED, /* heads cut at cap_bytes */
	XTAP_STAT_CONN_TRACKED, /* TCP sockets that became tracked */
	XTAP_STAT_OUT_OF_SCOPE, /* TCP sockets left alone by --pid/--port/--cgroup */
	XTAP_STAT_BODY_BYTES, /* bytes counted but not copied */
	XTAP_STAT_TLS_CALLS, /* TLS library reads/writes that moved plaintext */
	XTAP_STAT_TLS_UNBOUND, /* of those, lost: the socket behind them was not found */
	XTAP_STAT_TLS_CIPHERTEXT, /* syscalls on TLS sockets, whose bytes are never copied */
	XTAP_STAT_TCPOPT_WRITTEN, /* packets that carried a trace context option out */
	XTAP_STAT_TCPOPT_NOSPACE, /* packets where it did not fit beside the kernel's options */
	XTAP_STAT_TCPOPT_PARSED, /* packets that brought one in */
	XTAP_STAT_MUTED, /* unsampled exchanges kept from the ring buffer, whole */
	XTAP_STAT_MAX,
};

struct xtap_ev_hdr {
	__u8 type; /* enum xtap_event_type */
	__u8 dir; /* enum xtap_dir (DATA) */
	__u8 role; /* enum xtap_role */
	__u8 sys; /* enum xtap_sys (DATA) */
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u64 ts_ns; /* CLOCK_MONOTONIC, bpf_ktime_get_ns() */
	__u64 conn_id; /* unique per tracked socket for the agent's lifetime */
};

/* Trace context across nodes (propagate.bpf.h). A client's request
 * carries it out in a TCP option: RFC 4727's experimental kind 254 with the
 * 16-bit experiment id of RFC 6994, then the 16-byte trace id and the 8-byte
 * id of the caller's subsegment, 28 bytes in all: what fits beside the
 * timestamps option in TCP's 40 bytes. The subsegment id's two low bits
 * carry the sampling decision on the wire (enum xtap_ctx_sampled), so ids
 * made for calls have them clear. */
#define XTAP_TCPOPT_KIND 254
#define XTAP_TCPOPT_EXID 0x5854 /* "XT" */
#define XTAP_TCPOPT_LEN 28
#define XTAP_SPAN_FLAG_MASK 3ULL

enum xtap_ctx_source {
	XTAP_CTX_NONE = 0,
	/* a server's request head */
	XTAP_CTX_HEADER, /* X-Amzn-Trace-Id or traceparent (the agent parses it too) */
	XTAP_CTX_TCPOPT, /* the caller's TCP option: trace_id, parent_id, sampled */
	XTAP_CTX_NEW, /* neither: trace_id made here */
	/* a client's request head: span_id made here, trace_id from */
	XTAP_CTX_THREAD, /* the request the writing thread is serving */
	XTAP_CTX_PROCESS, /* the only request the process is serving */
	XTAP_CTX_ROOT, /* none: made here */
};

enum xtap_ctx_sampled {
	XTAP_SAMPLED_UNKNOWN = 0,
	XTAP_SAMPLED_YES = 1,
	XTAP_SAMPLED_NO = 2,
};

struct xtap_trace_ctx {
	__u8 trace_id[16]; /* epoch seconds (big endian, 4 bytes), then 12 random bytes */
	/* client: the call's subsegment id, what the option sends;
	 * server: the request's key, which its calls' records name */
	__u64 span_id;
	/* server, from a TCP option: the caller's subsegment id;
	 * client: the key of the request the call serves (THREAD, PROCESS) */
	__u64 parent_id;
	__u8 source; /* enum xtap_ctx_source; NONE on other records */
	__u8 sampled; /* enum xtap_ctx_sampled */
	__u8 decided; /* NEW or ROOT: sampled is the kernel's sampler's decision */
	__u8 pad[5];
};

/* The sampling decision for a trace that starts here, made in the kernel
 * at its request head so that its calls' options carry it to other nodes
 * (the agent decides too late: the calls have left by then). The agent
 * keeps, in the BPF object's global data, one slot per sampling rule that
 * decides a whole service (no host, method or path in it), and one plan
 * per process naming its slot; the kernel draws from the slot's
 * reservoir and rate, and the agent's own decisions for that rule draw
 * from the same reservoir. */
#define XTAP_SAMPLE_SLOTS 256 /* 2 x SAMPLING_RULES_MAX: centralized, then local */
#define XTAP_SAMPLE_PLANS 4096 /* by tgid modulo: a collision only costs a plan */
#define XTAP_RATE_ONE (1ULL << 32) /* rate 1.0, against a 32-bit random number */

struct xtap_sample_slot {
	/* set by the agent */
	__u64 rate; /* fraction of XTAP_RATE_ONE */
	__u64 quota_until; /* epoch second to which quota holds; 0: borrow or rate only */
	__u32 quota; /* reservoir: requests per second taken first */
	__u32 borrow; /* no valid quota: one request per second may borrow */
	/* shared state: the current epoch second and what it gave out */
	__u64 sec;
	__u32 taken;
	__u32 borrowed;
	/* statistics for SamplingTargets, taken and zeroed by the agent */
	__u64 requests;
	__u64 sampled;
	__u64 borrows;
};

struct xtap_sample_plan {
	__u32 tgid;
	__u16 slot;
	__u16 gen; /* the rules' generation it was made under */
};

struct xtap_data_event {
	struct xtap_ev_hdr hdr;
	__u64 len; /* bytes the syscall moved (its return value) */
	__u32 cap_len; /* bytes of data[] that are valid: the head of those len */
	__u16 tail_len; /* bytes of tail[] that are valid: the last of those len,
			 * all past cap_len; 0 when the head reached the end */
	__u16 flags; /* XTAP_DATA_* */
	__u8 tail[XTAP_TAIL_LEN];
	struct xtap_trace_ctx tctx; /* set on request heads when propagation is on */
	__u8 data[XTAP_CAP_MAX];
};

struct xtap_addr {
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 lport; /* host byte order */
	__u16 rport; /* host byte order */
	__u16 pad;
	__u8 laddr[16]; /* IPv4 in the first 4 bytes */
	__u8 raddr[16];
};

struct xtap_conn_event {
	struct xtap_ev_hdr hdr;
	struct xtap_addr addr;
	__u64 cgroup_id;
	char comm[XTAP_COMM_LEN];
	/* OPEN: when the process started (its leader's start_time, ns since
	 * boot): with tgid, which process it is, should a pid come back */
	__u64 start_ns;
};

/* A record of this connection did not fit in the ring buffer since the
 * last one that did: what the agent holds of it may miss bytes. */
#define XTAP_DATA_GAP 1
/* No bytes: an unsampled request went by here, not copied (the kernel
 * meant to keep its exchange from the ring buffer but cannot frame the
 * rest of it). Its response follows as usual; the agent drops the pair. */
#define XTAP_DATA_MUTED 2
/* with XTAP_DATA_MUTED: that request was a HEAD (its response has no body) */
#define XTAP_DATA_MUTED_HEAD 4

/* size of a data record carrying n captured bytes */
#define XTAP_DATA_EV_SIZE(n) (__builtin_offsetof(struct xtap_data_event, data) + (n))

_Static_assert(sizeof(struct xtap_ev_hdr) == 32, "xtap_ev_hdr layout");
_Static_assert(sizeof(struct xtap_addr) == 40, "xtap_addr layout");
_Static_assert(sizeof(struct xtap_conn_event) == 104, "xtap_conn_event layout");
_Static_assert(sizeof(struct xtap_trace_ctx) == 40, "xtap_trace_ctx layout");
_Static_assert(__builtin_offsetof(struct xtap_data_event, data) == 104, "xtap_data_event layout");
_Static_assert(sizeof(struct xtap_sample_slot) == 64, "xtap_sample_slot layout");
_Static_assert(sizeof(struct xtap_sample_plan) == 8, "xtap_sample_plan layout");

#endif /* XTAP_H */
