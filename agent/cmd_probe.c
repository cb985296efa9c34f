// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* xtap probe, after `bpftool feature probe`: what this kernel offers, found
 * by really trying (each hook kind is loaded and attached with an empty
 * program), and what `run` will use. Nothing is left behind: programs are
 * detached at once, and a missing tracefs is mounted only in a private
 * mount namespace of this process. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <jansson.h>
#include "cli.h"
#include "cmd.h"
#include "loader.h"
#include "log.h"
#include "probe.skel.h"

#define BTF_PATH "/sys/kernel/btf/vmlinux"
#define KPROBE_PMU "/sys/bus/event_source/devices/kprobe"

/* The uprobe probe's target: a function of this binary, so no other
 * process is touched. */
void xtap_probe_uprobe_target(void);
__attribute__((noinline, used)) void xtap_probe_uprobe_target(void)
{
	__asm__ volatile("");
}

struct result {
	bool ok;
	char detail[256];
};

static void set(struct result *r, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set(struct result *r, bool ok, const char *fmt, ...)
{
	va_list ap;

	r->ok = ok;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

static json_t *result_json(const struct result *r)
{
	return json_pack("{s:b, s:s}", "available", r->ok, "detail", r->detail);
}

enum attach_kind { ATTACH_AUTO, ATTACH_UPROBE, ATTACH_CGROUP };

/* Load the probe object with only `prog` in it, attach, detach. */
static void try_hook(const char *prog, enum attach_kind how, const char *cgroup, struct result *r)
{
	struct probe_bpf *skel = probe_bpf__open();
	struct bpf_program *p, *target = NULL;
	struct bpf_link *link = NULL;
	int err, fd;

	if (!skel) {
		set(r, false, "open the probe object: %s", strerror(errno));
		return;
	}
	bpf_object__for_each_program(p, skel->obj) {
		bool me = !strcmp(bpf_program__name(p), prog);

		bpf_program__set_autoload(p, me);
		if (me)
			target = p;
	}
	err = probe_bpf__load(skel);
	if (err) {
		set(r, false, "load: %s", strerror(-err));
		goto out;
	}
	switch (how) {
	case ATTACH_UPROBE: {
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = "xtap_probe_uprobe_target");

		link = bpf_program__attach_uprobe_opts(target, getpid(), "/proc/self/exe", 0, &uo);
		break;
	}
	case ATTACH_CGROUP:
		fd = cgroup ? open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
		if (fd < 0) {
			set(r, false, "no cgroup v2 directory to attach to");
			goto out;
		}
		link = bpf_program__attach_cgroup(target, fd);
		err = -errno;
		close(fd);
		errno = -err;
		break;
	default:
		link = bpf_program__attach(target);
	}
	if (!link) {
		set(r, false, "attach %s: %s", bpf_program__section_name(target), strerror(errno));
		goto out;
	}
	set(r, true, "loaded and attached %s", bpf_program__section_name(target));
	bpf_link__destroy(link);
out:
	probe_bpf__destroy(skel);
}

static bool tracefs_events(void)
{
	return !access("/sys/kernel/tracing/events", F_OK) ||
	       !access("/sys/kernel/debug/tracing/events", F_OK);
}

/* tracefs for the probes, without changing the system: a private mount
 * namespace, gone when this process exits. */
static void tracefs_private(struct result *r)
{
	if (tracefs_events()) {
		set(r, true, "mounted");
		return;
	}
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		set(r, false, "not mounted, and no private mount namespace to try it in: %s; run mounts it at /sys/kernel/tracing",
		    strerror(errno));
		return;
	}
	if (tracefs_ensure()) {
		set(r, false, "not mounted, and mounting it failed; run will fail the same way");
		return;
	}
	set(r, true, "not mounted now: run mounts it at /sys/kernel/tracing (tried here privately)");
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xtap probe [-j|-p] [-v]\n"
		"What this kernel offers xtap, found by loading and attaching an empty program of\n"
		"each kind (then detaching it), and what 'xtap run' will use, and why.\n"
		"Exit code 0 when run can start here, 1 when something it needs is missing.\n"
		"\n" CLI_OPTS_HELP);
}

struct hook {
	const char *key;
	const char *title;
	const char *prog;
	enum attach_kind how;
};

static const struct hook hooks[] = {
	{ "syscall_tracepoints", "syscall tracepoints", "probe_tracepoint", ATTACH_AUTO },
	{ "raw_tracepoints", "raw tracepoints", "probe_raw_tp", ATTACH_AUTO },
	{ "tp_btf", "BTF tracepoints", "probe_tp_btf", ATTACH_AUTO },
	{ "kprobes", "kprobes", "probe_kprobe", ATTACH_AUTO },
	{ "fentry", "fentry/fexit", "probe_fentry", ATTACH_AUTO },
	{ "uprobes", "uprobes", "probe_uprobe", ATTACH_UPROBE },
	{ "sockops", "sockops", "probe_sockops", ATTACH_CGROUP },
};
#define N_HOOKS (sizeof(hooks) / sizeof(hooks[0]))

static const struct {
	const char *name;
	int bit;
} caps[] = { { "CAP_SYS_ADMIN", 21 }, { "CAP_NET_ADMIN", 12 }, { "CAP_PERFMON", 38 }, { "CAP_BPF", 39 } };

int do_probe(int argc, char **argv)
{
	static const struct option longopts[] = { CLI_LONGOPTS, {} };
	struct result btf, tfs, rb, cg, hdr, hook[N_HOOKS], capture;
	struct cli_opts o = {};
	struct utsname u;
	char cgroup[512] = "";
	uint64_t capeff;
	json_t *plan = NULL, *out, *feat, *jcaps, *run, *why;
	struct btf *vbtf;
	bool ready;
	int opt, err, level = log_get_level();

	cli_getopt_init();
	while ((opt = getopt_long(argc, argv, CLI_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_common_opt(opt, &o))
			continue;
		if (opt == 'h') {
			usage(stdout);
			return XTAP_EXIT_OK;
		}
		return cli_bad_opt("probe", argv);
	}
	if (optind < argc) {
		p_err("probe: unexpected argument '%s' (see xtap probe --help)", argv[optind]);
		return XTAP_EXIT_USAGE;
	}
	/* the probes fail on purpose: their messages are for -v only */
	if (level < LOG_DEBUG)
		log_set_level(LOG_ERROR);

	uname(&u);
	vbtf = btf__load_vmlinux_btf();
	err = libbpf_get_error(vbtf);
	if (err)
		set(&btf, false, "%s: %s (CO-RE needs CONFIG_DEBUG_INFO_BTF)", BTF_PATH, strerror(-err));
	else
		set(&btf, true, "%s, %u types", BTF_PATH, btf__type_cnt(vbtf));
	btf__free(vbtf);
	tracefs_private(&tfs);
	err = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
	if (err == 1)
		set(&rb, true, "BPF_MAP_TYPE_RINGBUF");
	else
		set(&rb, false, "BPF_MAP_TYPE_RINGBUF: %s (kernel < 5.8?)",
		    err ? strerror(-err) : "not supported");
	if (loader_cgroup2_mount(cgroup, sizeof(cgroup)))
		set(&cg, true, "%s", cgroup);
	else
		set(&cg, false, "no cgroup2 mount (sockops and --cgroup need one)");
	for (size_t i = 0; i < N_HOOKS; i++)
		try_hook(hooks[i].prog, hooks[i].how, cg.ok ? cgroup : NULL, &hook[i]);
	if (!hook[3].ok && access(KPROBE_PMU, F_OK))
		strncat(hook[3].detail, " (no kprobe PMU: a kernel without CONFIG_KPROBES)",
			sizeof(hook[3].detail) - strlen(hook[3].detail) - 1);
	/* the helpers a sockops program needs to carry a trace context in a
	 * TCP header option (RFC 9293 §3.1 options; kernel 5.10+) */
	if (loader_tcp_option_supported())
		set(&hdr, true, "sockops: bpf_reserve_hdr_opt, bpf_store_hdr_opt, bpf_load_hdr_opt, bpf_get_netns_cookie");
	else
		set(&hdr, false, "sockops lacks a TCP header option helper or bpf_get_netns_cookie (kernel < 5.15?)");
	err = loader_try_load(&plan);
	if (err)
		set(&capture, false, "the verifier refused them: %s (-v shows its log)", strerror(-err));
	else
		set(&capture, true, "loaded (verified), not attached");
	log_set_level(level);
	capeff = loader_cap_effective();

	/* run needs: BTF, tracefs, the ring buffer, syscall and raw
	 * tracepoints, and its programs to pass the verifier */
	ready = btf.ok && tfs.ok && rb.ok && hook[0].ok && hook[1].ok && capture.ok;
	why = json_array();
	json_array_append_new(why, json_string(
		"syscall tracepoints (read/write/send/recv families, accept, connect, close) see the plaintext HTTP/1.x bytes of every process "
		"on every kernel >= 5.8 with BTF, with no per-kernel offsets"));
	json_array_append_new(why, json_string(
		"sched_process_exec/exit tracepoints and the sched_process_fork raw tracepoint keep each process's fd table honest"));
	json_array_append_new(why, json_string(
		hook[3].ok ? "kprobes are available but not needed: tracepoints are a stable ABI, kprobes are not"
			   : "kprobes are not used, so their absence costs nothing"));
	json_array_append_new(why, json_string(
		hook[4].ok ? "fentry is available but not needed"
			   : "fentry is not used, so its absence costs nothing"));
	json_array_append_new(why, json_string(
		loader_args_at_exit_supported()
			? "bpf_task_pt_regs lets a syscall's exit read its arguments: reads have no enter program, "
			  "writes only where a trace context must be set before their bytes leave"
			: "without bpf_task_pt_regs (kernel < 5.15) every data syscall is hooked at enter and exit"));
	json_array_append_new(why, json_string(
		hdr.ok && cg.ok ? "a sockops program on the cgroup v2 root carries each call's trace context to other nodes in a TCP option"
				: "without sockops TCP header options on a cgroup v2 mount, traces link on one node only"));

	out = json_object();
	json_object_set_new(out, "kernel", json_pack("{s:s, s:s, s:s}", "release", u.release,
						     "machine", u.machine, "version", u.version));
	feat = json_object();
	json_object_set_new(feat, "btf", result_json(&btf));
	json_object_set_new(feat, "tracefs", result_json(&tfs));
	json_object_set_new(feat, "ringbuf", result_json(&rb));
	json_object_set_new(feat, "cgroup_v2", result_json(&cg));
	for (size_t i = 0; i < N_HOOKS; i++)
		json_object_set_new(feat, hooks[i].key, result_json(&hook[i]));
	json_object_set_new(feat, "tcp_header_options", result_json(&hdr));
	json_object_set_new(out, "features", feat);
	jcaps = json_object();
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		json_object_set_new(jcaps, caps[i].name, json_boolean(capeff >> caps[i].bit & 1));
	json_object_set_new(out, "capabilities", jcaps);
	run = json_pack("{s:b, s:o, s:o, s:o}", "ready", ready, "capture", result_json(&capture),
			"programs", plan ? plan : json_array(), "why", why);
	json_object_set_new(out, "run", run);

	if (o.json) {
		err = cli_print_json(&o, out);
		return err ? err : ready ? XTAP_EXIT_OK : XTAP_EXIT_FAIL;
	}
	printf("kernel\n  %-22s %s %s\n", "release", u.release, u.machine);
	printf("  %-22s %s: %s\n", "BTF", btf.ok ? "yes" : "no", btf.detail);
	printf("  %-22s %s: %s\n", "tracefs", tfs.ok ? "yes" : "no", tfs.detail);
	printf("  %-22s %s: %s\n", "ring buffer", rb.ok ? "yes" : "no", rb.detail);
	printf("  %-22s %s: %s\n", "cgroup v2", cg.ok ? "yes" : "no", cg.detail);
	printf("hooks\n");
	for (size_t i = 0; i < N_HOOKS; i++)
		printf("  %-22s %s: %s\n", hooks[i].title, hook[i].ok ? "yes" : "no", hook[i].detail);
	printf("  %-22s %s: %s\n", "TCP header options", hdr.ok ? "yes" : "no", hdr.detail);
	printf("capabilities\n");
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		printf("  %-22s %s\n", caps[i].name, capeff >> caps[i].bit & 1 ? "yes" : "no");
	printf("run\n  %-22s %s: %s\n", "capture programs", capture.ok ? "yes" : "no", capture.detail);
	{
		size_t i, used = 0;
		json_t *p, *w;

		json_array_foreach(json_object_get(run, "programs"), i, p)
			used += json_is_true(json_object_get(p, "use"));
		printf("  %-22s %zu of %zu (the rest: tracepoints this kernel lacks, or not needed on it)\n", "programs to attach",
		       used, json_array_size(json_object_get(run, "programs")));
		json_array_foreach(why, i, w)
			printf("  %-22s %s\n", i ? "" : "why", json_string_value(w));
	}
	printf("  %-22s %s\n", "verdict", ready ? "run can start here" : "run cannot start here: see the 'no' lines above");
	json_decref(out);
	if (fflush(stdout))
		return XTAP_EXIT_FAIL;
	return ready ? XTAP_EXIT_OK : XTAP_EXIT_FAIL;
}
