// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <time.h>
#include <jansson.h>
#include "xtap.h" /* before the skeleton: its global data uses these types */
#include "capture.skel.h"
#include "go_elf.h"
#include "loader.h"
#include "log.h"

#define TRACEFS "/sys/kernel/tracing"
/* libbpf prefers this path whenever it exists */
#define DEBUGFS_TRACING "/sys/kernel/debug/tracing"
#define MAX_LINKS 64

struct loader {
	struct capture_bpf *skel;
	struct bpf_link *links[MAX_LINKS];
	int n_links;
	bool propagating;
};

/* faccessat(AT_EACCESS): access(2) checks with the real uid and, for a
 * non-root one, without capabilities, so an agent given CAP_DAC_READ_SEARCH
 * instead of root would not see tracefs (faccessat(2)). */
/* struct net's net_cookie (5.12+), which --netns compares in the kernel */
static bool bpf_core_field_exists_net_cookie(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t;
	bool found = false;
	int id;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "net", BTF_KIND_STRUCT);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (int i = 0; t && i < btf_vlen(t) && !found; i++)
		found = !strcmp(btf__name_by_offset(btf, btf_members(t)[i].name_off), "net_cookie");
	btf__free(btf);
	return found;
}

static bool path_exists(const char *p)
{
	return faccessat(AT_FDCWD, p, F_OK, AT_EACCESS) == 0;
}

static bool has_events(const char *root)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/events", root);
	return path_exists(p);
}

static bool tracefs_mounted(const char *p)
{
	struct statfs st;

	return statfs(p, &st) == 0 && st.f_type == TRACEFS_MAGIC;
}

int tracefs_ensure(void)
{
	if (path_exists(DEBUGFS_TRACING) && !has_events(DEBUGFS_TRACING)) {
		if (mount("nodev", DEBUGFS_TRACING, "tracefs", 0, NULL) && errno != EBUSY) {
			int err = -errno;

			p_err("mount tracefs on %s: %s (needs CAP_SYS_ADMIN, or mount it before "
			      "xtap starts)", DEBUGFS_TRACING, strerror(-err));
			return err;
		}
	}
	if (has_events(TRACEFS))
		return 0;
	/* mounted (tracefs directories are root's, mode 0700) but out of
	 * reach: mounting again would only fail with EPERM */
	if (tracefs_mounted(TRACEFS)) {
		p_err("tracefs on %s is not readable: run as root, or with CAP_DAC_READ_SEARCH",
		      TRACEFS);
		return -EACCES;
	}
	if (mount("nodev", TRACEFS, "tracefs", 0, NULL) && errno != EBUSY) {
		int err = -errno;

		p_err("mount tracefs on %s: %s (needs CAP_SYS_ADMIN, or mount it before xtap starts)",
		      TRACEFS, strerror(-err));
		return err;
	}
	p_info("mounted tracefs on %s", TRACEFS);
	return 0;
}

bool loader_tracepoint_exists(const char *sec)
{
	const char *root = has_events(DEBUGFS_TRACING) ? DEBUGFS_TRACING : TRACEFS;
	char p[512];

	if (strncmp(sec, "tracepoint/", 11))
		return true;
	snprintf(p, sizeof(p), "%s/events/%s/id", root, sec + 11);
	return path_exists(p);
}

bool loader_cgroup2_mount(char *out, size_t n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char mnt[512], fstype[64];
		const char *dash = strstr(line, " - ");

		if (dash && sscanf(dash, " - %63s", fstype) == 1 && !strcmp(fstype, "cgroup2") &&
		    sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1) {
			snprintf(out, n, "%s", mnt);
			found = true;
		}
	}
	fclose(f);
	return found;
}

uint64_t loader_cap_effective(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	unsigned long long v = 0;
	char line[256];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &v) == 1)
			break;
	fclose(f);
	return v;
}

bool loader_tcp_option_supported(void)
{
	static const enum bpf_func_id need[] = { BPF_FUNC_reserve_hdr_opt, BPF_FUNC_store_hdr_opt,
						 BPF_FUNC_load_hdr_opt, BPF_FUNC_get_netns_cookie,
						 BPF_FUNC_get_current_pid_tgid };

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCK_OPS, need[i], NULL) != 1)
			return false;
	return true;
}

bool loader_args_at_exit_supported(void)
{
	static int ok = -1;

	if (ok < 0)
		ok = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_task_pt_regs, NULL) ==
			     1 &&
		     libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_task_btf,
					     NULL) == 1;
	return ok;
}

/* The data syscalls' enter programs that exit programs replace when they
 * read the arguments themselves (capture.bpf.c, in_args_at_exit). With
 * the TCP option, the writes that may carry a request head keep theirs: a
 * client's request gets its context before its bytes leave. sendfile never
 * carries a head. */
static bool enter_not_needed(const char *name, bool in, bool out, bool propagate)
{
	static const char *const ins[] = { "enter_read", "enter_readv", "enter_recvfrom",
					   "enter_recvmsg" };
	static const char *const outs[] = { "enter_write", "enter_writev", "enter_sendto",
					    "enter_sendmsg" };

	for (size_t i = 0; in && i < sizeof(ins) / sizeof(ins[0]); i++)
		if (!strcmp(name, ins[i]))
			return true;
	for (size_t i = 0; out && !propagate && i < sizeof(outs) / sizeof(outs[0]); i++)
		if (!strcmp(name, outs[i]))
			return true;
	return out && !strcmp(name, "enter_sendfile64");
}

/* The one place that decides which programs load: the syscall tracepoints
 * this kernel has (arch and config decide), TLS and the TCP option as
 * asked, and enter programs only where exits cannot read the arguments
 * (or, for writes, the trace context must be set before bytes leave). */
static int choose_programs(struct capture_bpf *skel, bool report, bool tls, bool propagate)
{
	struct bpf_program *prog;
	int skipped = 0;

	skel->rodata->in_args_at_exit = loader_args_at_exit_supported();
	/* with propagation, the write family keeps its enter programs: a
	 * client's request must have its context before its bytes leave */
	skel->rodata->out_args_at_exit = skel->rodata->in_args_at_exit;
	bpf_object__for_each_program(prog, skel->obj) {
		const char *sec = bpf_program__section_name(prog);

		if (((!strncmp(bpf_program__name(prog), "tls_", 4) ||
		      !strncmp(bpf_program__name(prog), "go_http_", 8)) && !tls) ||
		    (bpf_program__type(prog) == BPF_PROG_TYPE_SOCK_OPS && !propagate) ||
		    enter_not_needed(bpf_program__name(prog), skel->rodata->in_args_at_exit,
				     skel->rodata->out_args_at_exit, propagate)) {
			bpf_program__set_autoload(prog, false);
			continue;
		}
		if (!loader_tracepoint_exists(sec)) {
			if (report)
				p_info("%s: not on this kernel, skipped", sec);
			bpf_program__set_autoload(prog, false);
			skipped++;
		}
	}
	return skipped;
}

static int fill_scope(struct loader *l, const struct loader_opts *o)
{
	uint8_t one = 1;
	int i, err;

	for (i = 0; i < o->n_pids; i++) {
		err = bpf_map__update_elem(l->skel->maps.scope_pids, &o->pids[i], sizeof(uint32_t),
					   &one, sizeof(one), BPF_ANY);
		if (err) {
			p_err("scope: add pid %u: %s", o->pids[i], strerror(-err));
			return err;
		}
	}
	for (i = 0; i < o->n_ports; i++) {
		err = bpf_map__update_elem(l->skel->maps.scope_ports, &o->ports[i],
					   sizeof(uint16_t), &one, sizeof(one), BPF_ANY);
		if (err) {
			p_err("scope: add port %u: %s", o->ports[i], strerror(-err));
			return err;
		}
	}
	for (i = 0; i < o->n_cgroups; i++) {
		uint32_t idx = i;
		int fd = open(o->cgroups[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0) {
			err = -errno;
			p_err("scope: open cgroup %s: %s (give a cgroup v2 directory)", o->cgroups[i],
			      strerror(-err));
			return err;
		}
		err = bpf_map__update_elem(l->skel->maps.scope_cgroups, &idx, sizeof(idx), &fd,
					   sizeof(fd), BPF_ANY);
		close(fd);
		if (err) {
			p_err("scope: cgroup %s: %s (is it on the cgroup v2 hierarchy?)",
			      o->cgroups[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

/* At the cgroup v2 root, so every socket of every container is seen; a
 * failure leaves same-node links working, so it is reported, not fatal. */
static void attach_sockops(struct loader *l, const char *cgroot)
{
	struct bpf_link *link;
	int fd, err;

	if (l->n_links >= MAX_LINKS) {
		p_warn("trace context across nodes: off: too many programs to attach");
		return;
	}
	fd = open(cgroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		p_warn("trace context across nodes: off: open %s: %s", cgroot, strerror(errno));
		return;
	}
	link = bpf_program__attach_cgroup(l->skel->progs.trace_sockops, fd);
	err = link ? 0 : -errno;
	close(fd);
	if (!link) {
		p_warn("trace context across nodes: off: attach sockops to %s: %s", cgroot,
		       strerror(-err));
		return;
	}
	l->links[l->n_links++] = link;
	l->propagating = true;
	p_info("trace context across nodes: TCP option kind %d, experiment id 0x%04x, on %s",
	       XTAP_TCPOPT_KIND, XTAP_TCPOPT_EXID, cgroot);
}

int loader_open(const struct loader_opts *o, struct loader **out)
{
	struct bpf_program *prog;
	char cgroot[512];
	struct loader *l;
	bool propagate;
	int err;

	if (o->netns_cookie && !bpf_core_field_exists_net_cookie()) {
		p_err("--netns: this kernel's struct net has no net_cookie (5.12+ needed)");
		return -EOPNOTSUPP;
	}
	propagate = o->propagate && loader_tcp_option_supported() &&
		    loader_cgroup2_mount(cgroot, sizeof(cgroot));
	if (o->propagate && !propagate)
		p_info("trace context across nodes: off (needs a cgroup v2 mount and sockops TCP "
		       "header options, kernel >= 5.15); same-node links still work");
	/* sockops programs are networking programs: loading and attaching
	 * them takes CAP_NET_ADMIN (or CAP_SYS_ADMIN) */
	if (propagate && !(loader_cap_effective() & (1ULL << CAP_NET_ADMIN | 1ULL << CAP_SYS_ADMIN))) {
		propagate = false;
		p_info("trace context across nodes: off (needs CAP_NET_ADMIN or CAP_SYS_ADMIN); "
		       "same-node links still work");
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->skel = capture_bpf__open();
	if (!l->skel) {
		err = -errno;
		p_err("open BPF object: %s", strerror(-err));
		goto err_free;
	}

	/* all configuration goes in before load */
	l->skel->rodata->self_tgid = getpid();
	l->skel->rodata->cap_bytes = o->cap_bytes;
	/* half: the agent reads in large batches (capture.h), and the other
	 * half is what it has to get a CPU in before records are dropped */
	l->skel->rodata->wakeup_bytes = (o->ringbuf_mb << 20) / 2;
	l->skel->rodata->scope_by_pid = o->n_pids > 0;
	l->skel->rodata->scope_by_port = o->n_ports > 0;
	l->skel->rodata->scope_cgroup_count = o->n_cgroups;
	l->skel->rodata->tls_enabled = o->tls;
	l->skel->rodata->scope_netns = o->netns_cookie;
	l->skel->rodata->sample_all = o->sample_all;
	/* what the kernel decides only with the context it propagates */
	l->skel->rodata->mute_unsampled = o->mute_unsampled && propagate;
	l->skel->rodata->propagate = propagate;
	l->skel->rodata->go_conn_data_off = GO_TLS_CONN_DATA_OFF;
	l->skel->rodata->go_netfd_off = GO_TCPCONN_NETFD_OFF;
	l->skel->rodata->go_sysfd_off = GO_NETFD_SYSFD_OFF;
	err = bpf_map__set_max_entries(l->skel->maps.events, o->ringbuf_mb << 20);
	if (err) {
		p_err("ring buffer of %u MiB: %s", o->ringbuf_mb, strerror(-err));
		goto err_destroy;
	}
	choose_programs(l->skel, true, o->tls, propagate);

	err = capture_bpf__load(l->skel);
	if (err) {
		p_err("load BPF programs: %s (need root or CAP_BPF+CAP_PERFMON, kernel >= 5.8 with BTF; -v shows the verifier log)",
		      strerror(-err));
		goto err_destroy;
	}
	err = fill_scope(l, o);
	if (err)
		goto err_destroy;

	/* exits before enters, so no enter stashes arguments that an
	 * unattached exit would leave behind */
	for (int pass = 0; pass < 2; pass++) {
		bpf_object__for_each_program(prog, l->skel->obj) {
			const char *sec = bpf_program__section_name(prog);
			bool is_enter = strstr(sec, "sys_enter_") != NULL;
			struct bpf_link *link;

			/* uprobes attach per file, later (loader_attach_tls);
			 * sockops to a cgroup, below */
			if (!bpf_program__autoload(prog) || is_enter != (pass == 1) ||
			    bpf_program__type(prog) == BPF_PROG_TYPE_KPROBE ||
			    bpf_program__type(prog) == BPF_PROG_TYPE_SOCK_OPS)
				continue;
			if (l->n_links >= MAX_LINKS) {
				err = -E2BIG;
				p_err("too many programs to attach");
				goto err_destroy;
			}
			link = bpf_program__attach(prog);
			if (!link) {
				err = -errno;
				p_err("attach %s: %s", sec, strerror(-err));
				goto err_destroy;
			}
			l->links[l->n_links++] = link;
		}
	}
	if (propagate)
		attach_sockops(l, cgroot);
	loader_sync_clock(l);
	*out = l;
	return 0;

err_destroy:
	loader_close(l);
	return err;
err_free:
	free(l);
	return err;
}

bool loader_propagating(const struct loader *l)
{
	return l->propagating;
}

void loader_sync_clock(struct loader *l)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	l->skel->bss->wall_offset_ns = ((int64_t)rt.tv_sec - mono.tv_sec) * 1000000000LL +
				       (rt.tv_nsec - mono.tv_nsec);
}

void loader_sampling(struct loader *l, struct loader_sampling *out)
{
	if (!l->propagating) {
		*out = (struct loader_sampling){ 0 };
		return;
	}
	out->slots = l->skel->bss->sample_slots;
	out->plans = l->skel->bss->sample_plans;
	out->gen = &l->skel->bss->sample_gen;
}

int loader_ringbuf_fd(const struct loader *l)
{
	return bpf_map__fd(l->skel->maps.events);
}

struct bpf_link *loader_attach_tls(void *loader, enum tls_prog prog, const char *path, uint64_t off)
{
	struct loader *l = loader;
	struct bpf_program *const progs[] = {
		[TLS_PROG_SSL_READ] = l->skel->progs.tls_ssl_read,
		[TLS_PROG_SSL_WRITE] = l->skel->progs.tls_ssl_write,
		[TLS_PROG_SSL_READ_EX] = l->skel->progs.tls_ssl_read_ex,
		[TLS_PROG_SSL_WRITE_EX] = l->skel->progs.tls_ssl_write_ex,
		[TLS_PROG_SSL_RETURN] = l->skel->progs.tls_ssl_return,
		[TLS_PROG_GO_READ] = l->skel->progs.tls_go_read,
		[TLS_PROG_GO_WRITE] = l->skel->progs.tls_go_write,
		[TLS_PROG_GO_RETURN] = l->skel->progs.tls_go_return,
		[TLS_PROG_GO_HTTP_SERVE] = l->skel->progs.go_http_serve,
		[TLS_PROG_GO_HTTP_FINISH] = l->skel->progs.go_http_finish,
		[TLS_PROG_GO_HTTP_ROUNDTRIP] = l->skel->progs.go_http_roundtrip,
		[TLS_PROG_GO_HTTP_REQ_WRITE] = l->skel->progs.go_http_req_write,
	};
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = prog == TLS_PROG_SSL_RETURN);

	if ((unsigned int)prog >= sizeof(progs) / sizeof(progs[0])) {
		errno = EINVAL;
		return NULL;
	}
	return bpf_program__attach_uprobe_opts(progs[prog], -1, path, off, &opts);
}

void loader_detach_tls(void *loader, struct bpf_link *link)
{
	(void)loader;
	bpf_link__destroy(link);
}

int loader_links(const struct loader *l)
{
	return l->n_links;
}

int loader_read_stats(const struct loader *l, uint64_t out[XTAP_STAT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	int err = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t i = 0; i < XTAP_STAT_MAX; i++) {
		out[i] = 0;
		err = bpf_map__lookup_elem(l->skel->maps.stats, &i, sizeof(i), vals,
					   sizeof(*vals) * ncpu, 0);
		if (err)
			break;
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
	return err;
}

void loader_close(struct loader *l)
{
	if (!l)
		return;
	for (int i = l->n_links - 1; i >= 0; i--)
		bpf_link__destroy(l->links[i]);
	capture_bpf__destroy(l->skel);
	free(l);
}

static bool is_hash(enum bpf_map_type t)
{
	return t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_LRU_HASH ||
	       t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* Keys in a hash map, walked with get_next_key: at most max_entries steps
 * (a walk that restarts because a key went away stops there too). */
static long count_entries(const struct bpf_map *m)
{
	uint8_t key[64], next[64];
	uint32_t max = bpf_map__max_entries(m);
	size_t ksz = bpf_map__key_size(m);
	long n = 0;
	void *prev = NULL;

	if (ksz > sizeof(key))
		return -1;
	while ((uint32_t)n < max && !bpf_map_get_next_key(bpf_map__fd(m), prev, next)) {
		memcpy(key, next, ksz);
		prev = key;
		n++;
	}
	return n;
}

static uint32_t prog_id(int fd)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.id : 0;
}

static uint32_t map_id(int fd)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.id : 0;
}

json_t *loader_status_json(const struct loader *l)
{
	json_t *o = json_object(), *progs = json_array(), *maps = json_array();
	struct bpf_program *prog;
	struct bpf_map *m;

	if (!o || !progs || !maps) {
		json_decref(o);
		json_decref(progs);
		json_decref(maps);
		return NULL;
	}
	json_object_set_new(o, "programs", progs);
	json_object_set_new(o, "links", json_integer(l->n_links));
	json_object_set_new(o, "maps", maps);
	bpf_object__for_each_program(prog, l->skel->obj) {
		json_t *p = json_object();
		bool loaded = bpf_program__autoload(prog);

		json_object_set_new(p, "name", json_string(bpf_program__name(prog)));
		json_object_set_new(p, "section", json_string(bpf_program__section_name(prog)));
		json_object_set_new(p, "type",
				    json_string(libbpf_bpf_prog_type_str(bpf_program__type(prog))));
		json_object_set_new(p, "id", json_integer(loaded ? prog_id(bpf_program__fd(prog)) : 0));
		/* every other loaded program is attached (a failed attach fails
		 * the load); uprobes attach per file, as the TLS report says */
		if (loaded && bpf_program__type(prog) == BPF_PROG_TYPE_KPROBE)
			json_object_set_new(p, "attach", json_string("per file"));
		json_object_set_new(p, "attached",
				    json_boolean(loaded &&
						 bpf_program__type(prog) != BPF_PROG_TYPE_KPROBE));
		json_array_append_new(progs, p);
	}
	bpf_object__for_each_map(m, l->skel->obj) {
		json_t *j = json_object();
		enum bpf_map_type t = bpf_map__type(m);

		json_object_set_new(j, "name", json_string(bpf_map__name(m)));
		json_object_set_new(j, "type", json_string(libbpf_bpf_map_type_str(t)));
		json_object_set_new(j, "id", json_integer(map_id(bpf_map__fd(m))));
		json_object_set_new(j, "max_entries", json_integer(bpf_map__max_entries(m)));
		if (is_hash(t))
			json_object_set_new(j, "entries", json_integer(count_entries(m)));
		json_array_append_new(maps, j);
	}
	return o;
}

int loader_try_load(json_t **plan)
{
	struct capture_bpf *skel = capture_bpf__open();
	struct bpf_program *prog;
	int err;

	if (plan)
		*plan = NULL;
	if (!skel)
		return -errno;
	skel->rodata->propagate = loader_tcp_option_supported();
	choose_programs(skel, false, true, skel->rodata->propagate);
	err = capture_bpf__load(skel);
	if (plan) {
		*plan = json_array();
		bpf_object__for_each_program(prog, skel->obj) {
			json_t *p = json_object();

			json_object_set_new(p, "section", json_string(bpf_program__section_name(prog)));
			json_object_set_new(p, "use", json_boolean(bpf_program__autoload(prog)));
			json_array_append_new(*plan, p);
		}
	}
	capture_bpf__destroy(skel);
	return err;
}
