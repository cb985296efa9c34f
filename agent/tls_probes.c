// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Processes → the TLS files they map → probes per file, reference counted
 * by process. A probe on a file fires in every process that maps it, so
 * each file is attached once, whoever uses it; the BPF side applies the
 * scope. Files are keyed by the (device, inode) that /proc/PID/maps shows,
 * which for overlayfs is the underlying file the probe lands on, so
 * containers of one image share one attachment. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "clock.h"
#include "counters.h"
#include "json_writer.h"
#include "log.h"
#include "proc_maps.h"
#include "tls_probes.h"
#include "../include/xtap.h"

#define PROC_BUCKETS 4096 /* a power of two */
/* Work done in one tick at most, so the event loop keeps reading records
 * while many processes start at once. */
#define TICK_BUDGET_NS (50ull * 1000000)
#define LIVENESS_NS (5ull * 1000000000)
#define JSON_PER_FILE 1024

/* Which file: the (device, inode) pair maps shows, and the size and
 * modification time, so that a cached verdict or cached probe offsets are
 * never used for another file that got a freed inode number. (While
 * probes are attached, the kernel holds the inode and its number.) */
struct file_id {
	uint64_t dev, ino;
	uint64_t size, mtime_ns;
};

struct tfile {
	bool used;
	bool attached;
	bool reported; /* the skip reason was logged */
	struct file_id id;
	int users;
	int n_links;
	struct tls_target t;
	struct bpf_link *links[TLS_PROBES_MAX];
	char path[PATH_MAX];
};

struct tproc {
	bool used;
	uint32_t tgid;
	int next; /* hash chain, or the free list: an index, -1 ends */
	int n_files;
	short files[TLS_PROC_FILES]; /* indexes into files[] */
	uint64_t first_ns; /* first exec/mapping event not looked at yet, 0: none */
	uint64_t due_ns;
};

static struct tls_probes_config cfg;
static bool started;
static bool denied_reported; /* map_files refused us: said once */
static bool other_user_reported; /* map_files of another user's process: said once */
/* the report reads files[] from other threads */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tfile files[TLS_FILES_MAX];
static struct tproc procs[TLS_PROCS_MAX];
static int proc_buckets[PROC_BUCKETS];
static int proc_free;
static int n_procs;
static int n_due;
static struct file_id none_cache[TLS_NONE_CACHE];
static uint64_t last_liveness;

static uint32_t hash32(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdull;
	v ^= v >> 33;
	return (uint32_t)v;
}

/* ---- files ---- */

static bool same_file(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns;
}

static struct file_id *none_slot(const struct file_id *id)
{
	return &none_cache[hash32(id->dev * 31 + id->ino) % TLS_NONE_CACHE];
}

/* The slot of the file with id's device and inode, or -1. */
static int file_find(const struct file_id *id)
{
	for (int i = 0; i < TLS_FILES_MAX; i++)
		if (files[i].used && files[i].id.dev == id->dev && files[i].id.ino == id->ino)
			return i;
	return -1;
}

/* A slot for a new file: a free one, else one no process uses and no
 * report needs (detached, with probes: it is looked at again if needed). */
static int file_slot(void)
{
	int idle = -1;

	for (int i = 0; i < TLS_FILES_MAX; i++) {
		if (!files[i].used)
			return i;
		if (idle < 0 && !files[i].users && files[i].t.verdict == TLS_PROBE)
			idle = i;
	}
	return idle;
}

static void file_detach(struct tfile *f)
{
	/* entries first: they were attached last */
	for (int i = f->n_links - 1; i >= 0; i--)
		cfg.detach(cfg.ctx, f->links[i]);
	f->n_links = 0;
	f->attached = false;
}

static void file_report_skip(struct tfile *f)
{
	if (f->reported)
		return;
	f->reported = true;
	xtap_ctr.tls_skipped++;
	p_warn("tls: %s (%s%s%s): not traced: %s", f->path, tls_kind_name(f->t.kind),
	       f->t.version[0] ? " " : "", f->t.version, f->t.detail);
}

static void file_attach(struct tfile *f, const char *path)
{
	for (int i = 0; i < f->t.n_probes; i++) {
		const struct tls_probe *p = &f->t.probes[i];
		struct bpf_link *link = cfg.attach(cfg.ctx, p->prog, path, p->off);

		if (!link) {
			int err = errno;

			file_detach(f);
			f->t.verdict = TLS_SKIP;
			snprintf(f->t.detail, sizeof(f->t.detail),
				 "attaching a probe at offset 0x%" PRIx64 " failed: %s", p->off,
				 strerror(err));
			file_report_skip(f);
			return;
		}
		f->links[f->n_links++] = link;
	}
	f->attached = true;
	xtap_ctr.tls_attached++;
	p_info("tls: attached %s: %s%s%s, %d probes (%s)", f->path, tls_kind_name(f->t.kind),
	       f->t.version[0] ? " " : "", f->t.version, f->n_links, f->t.detail);
}

static void file_ref(int idx, const char *path)
{
	struct tfile *f = &files[idx];

	f->users++;
	if (f->t.verdict == TLS_SKIP)
		file_report_skip(f);
	else if (!f->attached)
		file_attach(f, path);
}

static void file_unref(int idx)
{
	struct tfile *f = &files[idx];

	if (--f->users > 0 || !f->attached)
		return;
	file_detach(f);
	xtap_ctr.tls_detached++;
	p_info("tls: detached %s: no process uses it", f->path);
}

/* The file's slot, looked at first if new; -1 for a file without TLS or
 * when the table is full. */
static int file_get(const struct maps_entry *e, pid_t pid, bool is_libssl, const char *open_path)
{
	struct file_id id = { .dev = e->dev, .ino = e->ino };
	struct tls_target *t;
	struct tfile *f;
	struct stat st;
	int idx;

	if (stat(open_path, &st)) {
		/* proc(5): map_files takes CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE),
		 * whatever ptrace access allows; uprobes need the former anyway.
		 * EACCES: the directory is the process's user's, mode 0500, and
		 * searching it as another user takes CAP_DAC_READ_SEARCH. */
		if (errno == EPERM && !denied_reported) {
			denied_reported = true;
			xtap_ctr.tls_skipped++;
			p_warn("tls: %s: %s: TLS libraries are not traced (this needs CAP_SYS_ADMIN; "
			       "--no-tls turns TLS capture off)",
			       open_path, strerror(errno));
		} else if (errno == EACCES && !other_user_reported) {
			other_user_reported = true;
			xtap_ctr.tls_skipped++;
			p_warn("tls: %s: %s: TLS libraries of processes of other users are not traced "
			       "(this needs CAP_DAC_READ_SEARCH)",
			       open_path, strerror(errno));
		}
		return -1; /* else the process is gone */
	}
	id.size = (uint64_t)st.st_size;
	id.mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
	idx = file_find(&id);
	if (idx >= 0 && (files[idx].users || same_file(&files[idx].id, &id)))
		return idx;
	if (idx >= 0) /* another file on a freed inode number: look again */
		memset(&files[idx], 0, sizeof(files[idx]));
	if (same_file(none_slot(&id), &id))
		return -1;
	t = malloc(sizeof(*t));
	if (!t)
		return -1;
	tls_inspect(open_path, e->path, is_libssl, t);
	if (t->verdict == TLS_NONE) {
		*none_slot(&id) = id;
		free(t);
		return -1;
	}
	idx = file_slot();
	if (idx < 0) {
		xtap_ctr.tls_table_full++;
		p_dbg("tls: %s (pid %d): file table full (%d)", e->path, (int)pid, TLS_FILES_MAX);
		free(t);
		return -1;
	}
	f = &files[idx];
	if (f->used) /* an idle file makes room */
		memset(f, 0, sizeof(*f));
	f->used = true;
	f->id = id;
	f->t = *t;
	memcpy(f->path, e->path, sizeof(f->path));
	free(t);
	return idx;
}

/* ---- processes ---- */

static int *proc_slot(uint32_t tgid)
{
	int *slot = &proc_buckets[hash32(tgid) & (PROC_BUCKETS - 1)];

	while (*slot >= 0 && procs[*slot].tgid != tgid)
		slot = &procs[*slot].next;
	return slot;
}

static struct tproc *proc_get(uint32_t tgid, bool create)
{
	int *slot = proc_slot(tgid), idx;
	struct tproc *p;

	if (*slot >= 0)
		return &procs[*slot];
	if (!create)
		return NULL;
	if (proc_free < 0) {
		xtap_ctr.tls_table_full++;
		return NULL;
	}
	idx = proc_free;
	p = &procs[idx];
	proc_free = p->next;
	memset(p, 0, sizeof(*p));
	p->used = true;
	p->tgid = tgid;
	p->next = -1;
	*slot = idx;
	n_procs++;
	return p;
}

static void proc_put(struct tproc *p)
{
	int *slot = proc_slot(p->tgid);
	int idx = (int)(p - procs);

	if (p->due_ns)
		n_due--;
	for (int i = 0; i < p->n_files; i++)
		file_unref(p->files[i]);
	*slot = p->next;
	p->used = false;
	p->next = proc_free;
	proc_free = idx;
	n_procs--;
}

static bool pid_wanted(uint32_t tgid)
{
	if (tgid == cfg.self)
		return false;
	if (!cfg.n_pids)
		return true;
	for (int i = 0; i < cfg.n_pids; i++)
		if (cfg.pids[i] == tgid)
			return true;
	return false;
}

static void schedule(uint32_t tgid, uint64_t now)
{
	struct tproc *p;

	if (!pid_wanted(tgid))
		return;
	p = proc_get(tgid, true);
	if (!p)
		return;
	if (!p->first_ns) {
		p->first_ns = now;
		n_due++;
	}
	p->due_ns = now + TLS_SCAN_DEBOUNCE_NS;
	if (p->due_ns > p->first_ns + TLS_SCAN_DELAY_MAX_NS)
		p->due_ns = p->first_ns + TLS_SCAN_DELAY_MAX_NS;
}

struct scan {
	pid_t pid;
	int n;
	short idx[TLS_PROC_FILES];
	/* the process's own file, in whatever mount namespace it lives, even
	 * when it was deleted since: where it is read and attached */
	char open_path[TLS_PROC_FILES][64];
	bool full;
	char exe[PATH_MAX];
};

static int scan_entry(const struct maps_entry *e, void *ctx)
{
	struct scan *s = ctx;
	bool libssl = tls_is_libssl_name(e->path);
	char *open_path;
	int idx;

	if (!libssl && strcmp(e->path, s->exe))
		return 0;
	for (int i = 0; i < s->n; i++)
		if (files[s->idx[i]].id.dev == e->dev && files[s->idx[i]].id.ino == e->ino)
			return 0;
	if (s->n >= TLS_PROC_FILES) {
		s->full = true;
		return 0;
	}
	open_path = s->open_path[s->n];
	snprintf(open_path, sizeof(s->open_path[0]), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 (int)s->pid, e->start, e->end);
	idx = file_get(e, s->pid, libssl, open_path);
	if (idx >= 0)
		s->idx[s->n++] = (short)idx;
	return 0;
}

static bool has_file(const short *set, int n, short idx)
{
	for (int i = 0; i < n; i++)
		if (set[i] == idx)
			return true;
	return false;
}

/* Look at a process's mappings and move its references to what it maps
 * now. */
static void proc_scan(struct tproc *p)
{
	struct scan *s = calloc(1, sizeof(*s));
	char link[64];
	ssize_t n;
	int err;

	if (!s)
		return;
	if (p->due_ns)
		n_due--;
	p->due_ns = p->first_ns = 0;
	xtap_ctr.tls_scans++;
	s->pid = (pid_t)p->tgid;
	snprintf(link, sizeof(link), "/proc/%u/exe", p->tgid);
	n = readlink(link, s->exe, sizeof(s->exe) - 1);
	s->exe[n > 0 ? n : 0] = '\0';
	if (n > 10 && !strcmp(s->exe + n - 10, " (deleted)"))
		s->exe[n - 10] = '\0';
	err = proc_maps_exec_files(s->pid, scan_entry, s);
	if (err == -ENOENT || err == -ESRCH) {
		proc_put(p);
		free(s);
		return;
	}
	if (err || s->full)
		p_dbg("tls: pid %u: mappings looked at in part (%s)", p->tgid,
		      s->full ? "too many TLS files" : strerror(-err));
	/* new references before the old go, so a file both use stays attached */
	for (int i = 0; i < s->n; i++) {
		if (has_file(p->files, p->n_files, s->idx[i]))
			continue;
		file_ref(s->idx[i], s->open_path[i]);
		p_dbg("tls: pid %u uses %s", p->tgid, files[s->idx[i]].path);
	}
	for (int j = 0; j < p->n_files; j++)
		if (!has_file(s->idx, s->n, p->files[j]))
			file_unref(p->files[j]);
	p->n_files = s->n;
	memcpy(p->files, s->idx, sizeof(s->idx[0]) * s->n);
	if (!p->n_files)
		proc_put(p);
	free(s);
}

/* ---- the event loop's entry points ---- */

int tls_probes_start(const struct tls_probes_config *c, uint64_t now_ns)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	cfg = *c;
	memset(files, 0, sizeof(files));
	memset(none_cache, 0, sizeof(none_cache));
	for (int i = 0; i < PROC_BUCKETS; i++)
		proc_buckets[i] = -1;
	for (int i = 0; i < TLS_PROCS_MAX; i++) {
		procs[i].used = false;
		procs[i].next = i + 1 < TLS_PROCS_MAX ? i + 1 : -1;
	}
	proc_free = 0;
	n_procs = n_due = 0;
	last_liveness = now_ns;
	started = true;
	denied_reported = false;
	other_user_reported = false;

	d = opendir("/proc");
	if (!d) {
		int err = -errno;

		p_err("tls: /proc: %s (is procfs mounted?)", strerror(-err));
		return err;
	}
	pthread_mutex_lock(&lock);
	while ((de = readdir(d)) && n < TLS_PROCS_MAX) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);
		struct tproc *p;

		if (*end || !pid || pid > UINT32_MAX || !pid_wanted(pid))
			continue;
		p = proc_get(pid, true);
		if (!p)
			break;
		proc_scan(p);
		n++;
	}
	pthread_mutex_unlock(&lock);
	closedir(d);
	p_info("tls: looked at %d processes in %" PRIu64 " ms: %d use TLS libraries", n,
	       (clock_mono_now() - now_ns) / 1000000, n_procs);
	return 0;
}

bool tls_probes_record(const void *rec, size_t size, uint64_t now_ns)
{
	const struct xtap_ev_hdr *h = rec;
	struct tproc *p;

	if (!started || size < sizeof(*h))
		return false;
	switch (h->type) {
	case XTAP_EV_EXEC:
	case XTAP_EV_MAP_EXEC:
		pthread_mutex_lock(&lock);
		schedule(h->tgid, now_ns);
		pthread_mutex_unlock(&lock);
		/* the connection table forgets the old image too */
		return h->type == XTAP_EV_MAP_EXEC;
	case XTAP_EV_EXIT:
		pthread_mutex_lock(&lock);
		p = proc_get(h->tgid, false);
		if (p)
			proc_put(p);
		pthread_mutex_unlock(&lock);
		return false;
	default:
		return false;
	}
}

/* Processes that left without an EXIT record (a full ring buffer, --pid
 * processes whose exit another scope hid) release their files too. */
static void liveness(void)
{
	for (int i = 0; i < TLS_PROCS_MAX; i++) {
		struct tproc *p = &procs[i];

		if (p->used && kill((pid_t)p->tgid, 0) && errno == ESRCH)
			proc_put(p);
	}
}

void tls_probes_tick(uint64_t now_ns)
{
	uint64_t deadline = clock_mono_now() + TICK_BUDGET_NS;

	if (!started)
		return;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < TLS_PROCS_MAX && n_due > 0; i++) {
		struct tproc *p = &procs[i];

		if (!p->used || !p->due_ns || p->due_ns > now_ns)
			continue;
		proc_scan(p);
		if (clock_mono_now() > deadline)
			break;
	}
	if (now_ns - last_liveness >= LIVENESS_NS) {
		liveness();
		last_liveness = now_ns;
	}
	pthread_mutex_unlock(&lock);
}

void tls_probes_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < TLS_FILES_MAX; i++)
		if (files[i].used && files[i].attached)
			file_detach(&files[i]);
	started = false;
	pthread_mutex_unlock(&lock);
}

/* ---- the report ---- */

static void info_of(const struct tfile *f, struct tls_file_info *fi)
{
	fi->path = f->path;
	fi->kind = tls_kind_name(f->t.kind);
	fi->version = f->t.version;
	fi->detail = f->t.detail;
	fi->dev = f->id.dev;
	fi->ino = f->id.ino;
	fi->probes = f->n_links;
	fi->users = f->users;
	fi->attached = f->attached;
	fi->skipped = f->t.verdict == TLS_SKIP;
}

void tls_probes_foreach(tls_file_fn fn, void *ctx)
{
	pthread_mutex_lock(&lock);
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < TLS_FILES_MAX; i++) {
			struct tls_file_info fi;

			if (!files[i].used || files[i].attached != (pass == 0))
				continue;
			info_of(&files[i], &fi);
			fn(&fi, ctx);
		}
	}
	pthread_mutex_unlock(&lock);
}

static void json_file(const struct tls_file_info *fi, void *ctx)
{
	struct jw *w = ctx;
	char dev[24];

	snprintf(dev, sizeof(dev), "%u:%u", major(fi->dev), minor(fi->dev));
	jw_obj_begin(w);
	jw_kv_str(w, "path", fi->path);
	jw_kv_str(w, "kind", fi->kind);
	jw_kv_str(w, "version", fi->version);
	jw_kv_str(w, "state", fi->attached ? "attached" : fi->skipped ? "skipped" : "idle");
	jw_kv_str(w, "detail", fi->detail);
	jw_kv_u64(w, "probes", fi->probes);
	jw_kv_u64(w, "users", fi->users);
	jw_kv_str(w, "dev", dev);
	jw_kv_u64(w, "inode", fi->ino);
	jw_obj_end(w);
}

char *tls_probes_json(size_t *len)
{
	size_t cap = 64 + (size_t)TLS_FILES_MAX * JSON_PER_FILE;
	char *buf = malloc(cap);
	struct jw w;
	int n;

	if (!buf)
		return NULL;
	jw_init(&w, buf, cap);
	jw_obj_begin(&w);
	jw_key(&w, "files");
	jw_arr_begin(&w);
	tls_probes_foreach(json_file, &w);
	jw_arr_end(&w);
	pthread_mutex_lock(&lock);
	jw_kv_u64(&w, "processes", n_procs);
	pthread_mutex_unlock(&lock);
	jw_obj_end(&w);
	n = jw_finish(&w);
	if (n < 0) {
		free(buf);
		errno = -n;
		return NULL;
	}
	*len = (size_t)n;
	return buf;
}
