// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Keep only the capabilities `xtap run` needs after attach (privs.h). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "log.h"
#include "privs.h"

#define ANSWER_WAIT_NS (5ull * 1000000000ull) /* per round of threads */
#define ROUNDS_MAX 8 /* threads may start threads while we look */

/* what each thread applies to itself */
static struct {
	uint64_t keep;
	uint64_t bset_drop; /* 0 when the bounding set stays */
	int last_cap;
	/* one slot per signalled thread: the tid, then its answer */
	pid_t tid[PRIVS_THREADS_MAX];
	volatile int err[PRIVS_THREADS_MAX]; /* 0, or the errno of the step that failed */
	volatile int done[PRIVS_THREADS_MAX];
	int n;
} job;

static const char *const cap_names[] = {
	"chown",	    "dac_override",	"dac_read_search", "fowner",	     "fsetid",
	"kill",		    "setgid",		"setuid",	   "setpcap",	     "linux_immutable",
	"net_bind_service", "net_broadcast",	"net_admin",	   "net_raw",	     "ipc_lock",
	"ipc_owner",	    "sys_module",	"sys_rawio",	   "sys_chroot",     "sys_ptrace",
	"sys_pacct",	    "sys_admin",	"sys_boot",	   "sys_nice",	     "sys_resource",
	"sys_time",	    "sys_tty_config",	"mknod",	   "lease",	     "audit_write",
	"audit_control",    "setfcap",		"mac_override",	   "mac_admin",	     "syslog",
	"wake_alarm",	    "block_suspend",	"audit_read",	   "perfmon",	     "bpf",
	"checkpoint_restore",
};

uint64_t privs_needed(bool tls)
{
	uint64_t m = 1ull << CAP_SYS_PTRACE;

	if (tls)
		m |= 1ull << CAP_SYS_ADMIN | 1ull << CAP_DAC_READ_SEARCH;
	return m;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The calling thread's sets: 0 or -errno. Async-signal-safe (syscalls only). */
static int apply_here(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	/* the bounding set first: dropping from it takes CAP_SETPCAP,
	 * which the capset below removes */
	for (int c = 0; c <= job.last_cap; c++)
		if ((job.bset_drop >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) &&
		    errno != EINVAL)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	d[0].effective = d[0].permitted = (uint32_t)job.keep;
	d[1].effective = d[1].permitted = (uint32_t)(job.keep >> 32);
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}

static void on_signal(int sig)
{
	pid_t self = (pid_t)syscall(SYS_gettid);
	int saved = errno;

	(void)sig;
	for (int i = 0; i < job.n; i++) {
		if (job.tid[i] != self)
			continue;
		job.err[i] = apply_here();
		__atomic_store_n(&job.done[i], 1, __ATOMIC_RELEASE);
		break;
	}
	errno = saved;
}

static bool task_exists(pid_t tid)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/self/task/%d", (int)tid);
	return access(p, F_OK) == 0;
}

/* Signal the threads not signalled yet; the count signalled, or -errno. */
static int signal_new_threads(pid_t self)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int added = 0, ret = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		bool known = tid == self || tid <= 0;

		for (int i = 0; i < job.n && !known; i++)
			known = job.tid[i] == tid;
		if (known)
			continue;
		if (job.n == PRIVS_THREADS_MAX) {
			ret = -E2BIG;
			break;
		}
		job.tid[job.n] = tid;
		job.err[job.n] = 0;
		job.done[job.n] = 0;
		/* published before the signal, which reads it */
		__atomic_store_n(&job.n, job.n + 1, __ATOMIC_RELEASE);
		if (syscall(SYS_tgkill, getpid(), tid, PRIVS_SIGNAL) && errno == ESRCH)
			job.done[job.n - 1] = 1; /* gone */
		added++;
	}
	closedir(d);
	return ret ? ret : added;
}

/* Wait for every signalled thread to answer or exit: 0, or -ETIMEDOUT with
 * *late the tid that did not. */
static int wait_answers(pid_t *late)
{
	uint64_t t0 = now_ns();
	struct timespec ms = { 0, 1000000 };

	for (;;) {
		int pending = -1;

		for (int i = 0; i < job.n && pending < 0; i++)
			if (!__atomic_load_n(&job.done[i], __ATOMIC_ACQUIRE) && task_exists(job.tid[i]))
				pending = i;
		if (pending < 0)
			return 0;
		if (now_ns() - t0 > ANSWER_WAIT_NS) {
			*late = job.tid[pending];
			return -ETIMEDOUT;
		}
		nanosleep(&ms, NULL);
	}
}

static int read_last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v >= 0 && v < 64 ? v : CAP_LAST_CAP;
}

static void names_of(uint64_t m, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (unsigned int c = 0; c < 64 && len < n; c++) {
		if (!(m >> c & 1))
			continue;
		if (c < sizeof(cap_names) / sizeof(cap_names[0]))
			len += snprintf(out + len, n - len, "%scap_%s", len ? "," : "", cap_names[c]);
		else
			len += snprintf(out + len, n - len, "%scap_%u", len ? "," : "", c);
	}
	if (!out[0])
		snprintf(out, n, "none");
}

int privs_drop(bool tls)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	pid_t self = (pid_t)syscall(SYS_gettid), late = 0;
	uint64_t have, all;
	char kept[256];
	int err = 0, added;

	if (syscall(SYS_capget, &h, d)) {
		err = -errno;
		p_err("capabilities: capget: %s", strerror(-err));
		return err;
	}
	have = (uint64_t)d[0].permitted | (uint64_t)d[1].permitted << 32;
	memset(&job, 0, sizeof(job));
	job.last_cap = read_last_cap();
	all = job.last_cap >= 63 ? ~0ull : (1ull << (job.last_cap + 1)) - 1;
	/* what is not held cannot be taken back */
	job.keep = privs_needed(tls) & have;
	if (d[0].effective >> CAP_SETPCAP & 1)
		job.bset_drop = all & ~job.keep;
	sigemptyset(&sa.sa_mask);
	if (sigaction(PRIVS_SIGNAL, &sa, NULL)) {
		err = -errno;
		p_err("capabilities: signal handler: %s", strerror(-err));
		return err;
	}
	for (int round = 0; round < ROUNDS_MAX; round++) {
		added = signal_new_threads(self);
		if (added < 0) {
			err = added;
			break;
		}
		err = wait_answers(&late);
		if (err || !added)
			break;
	}
	if (!err)
		err = apply_here();
	for (int i = 0; i < job.n && !err; i++)
		if (job.done[i] && job.err[i])
			err = job.err[i];
	if (err) {
		if (late)
			p_err("capabilities: thread %d did not drop its capabilities within %llu s",
			      (int)late, ANSWER_WAIT_NS / 1000000000ull);
		else
			p_err("capabilities: dropping: %s", strerror(-err));
		return err;
	}
	names_of(job.keep, kept, sizeof(kept));
	p_info("capabilities: kept %s (%d threads)%s; no_new_privs set", kept, job.n + 1,
	       job.bset_drop ? ", the bounding set too"
			     : "; bounding set left as it was (no CAP_SETPCAP)");
	return 0;
}

/* "CapEff:\t000001ffffffffff" of /proc/self/status */
static json_t *status_caps(const char *status, const char *key)
{
	const char *p = strstr(status, key);
	unsigned long long v;
	json_t *arr;

	if (!p || sscanf(p + strlen(key), "%llx", &v) != 1)
		return json_null();
	arr = json_array();
	for (unsigned int c = 0; c < 64; c++) {
		char one[40];

		if (!(v >> c & 1))
			continue;
		names_of(1ull << c, one, sizeof(one));
		json_array_append_new(arr, json_string(one));
	}
	return arr;
}

json_t *privs_status_json(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/self/status", "re");
	size_t n;
	const char *nnp;
	json_t *o;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	o = json_object();
	if (!o)
		return NULL;
	nnp = strstr(buf, "\nNoNewPrivs:");
	json_object_set_new(o, "effective", status_caps(buf, "\nCapEff:"));
	json_object_set_new(o, "permitted", status_caps(buf, "\nCapPrm:"));
	json_object_set_new(o, "bounding", status_caps(buf, "\nCapBnd:"));
	json_object_set_new(o, "no_new_privs", json_boolean(nnp && atoi(nnp + 12) == 1));
	return o;
}
