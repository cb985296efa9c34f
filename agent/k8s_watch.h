/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The pods of this node from the Kubernetes API, kept current in the pod
 * store (k8s_meta.h) by one background thread, the way client-go's
 * reflector does it:
 *
 *   LIST  GET /api/v1/pods?fieldSelector=spec.nodeName=NODE
 *   WATCH the same with watch=1 from the list's resourceVersion, with
 *         bookmarks; ADDED / MODIFIED / DELETED applied as they stream in
 *   410 Gone (an expired resourceVersion) → a fresh, consistent LIST
 *   a failure → reconnect after a backoff with jitter (0.25–0.5 s, doubling
 *         up to 15–30 s); the store keeps what it had, capture never waits
 *   every --kube-resync seconds (±10 %) → a full LIST replaces the store
 *
 * The service-account token is read again for every request (bound
 * tokens rotate; a watch lasts at most 10 minutes). */
#ifndef XTAP_K8S_WATCH_H
#define XTAP_K8S_WATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define K8S_RESYNC_DEFAULT_S 600
#define K8S_BACKOFF_MIN_S 0.5
#define K8S_BACKOFF_MAX_S 30.0
/* One watch event (one pod object, as JSON) larger than this is skipped
 * and counted; the next resync brings the pod. Pods are a few KiB, and
 * etcd refuses objects over 1.5 MiB. */
#define K8S_EVENT_MAX (2 * 1024 * 1024)
/* One LIST answer: a page of at most 500 pods. */
#define K8S_LIST_MAX (64 * 1024 * 1024)
#define K8S_RV_MAX 128 /* resourceVersion: opaque, an etcd revision in practice */

enum k8s_mode {
	K8S_MODE_AUTO, /* on when running in a cluster (KUBERNETES_SERVICE_HOST) or given --kube-api */
	K8S_MODE_ON,
	K8S_MODE_OFF,
};

struct k8s_config {
	enum k8s_mode mode;
	const char *api; /* NULL: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT */
	const char *token_file; /* NULL: K8S_SA_DIR/token (if it exists) */
	const char *ca_file; /* NULL: K8S_SA_DIR/ca.crt if it exists, else the system's */
	const char *node; /* NULL: $NODE_NAME */
	long resync_s; /* 0: K8S_RESYNC_DEFAULT_S */
};

/* "auto", "on", "off": 0 or -EINVAL. */
int k8s_mode_parse(const char *s, enum k8s_mode *out);

/* The Kubernetes options of `run` and `trace`: getopt_long entries with
 * the values base .. base + K8S_OPTS_N - 1, their help, and how each sets
 * the configuration. */
#define K8S_OPTS_N 6
#define K8S_LONGOPTS(base)                                                                  \
	{ "kubernetes", required_argument, NULL, (base) },                                \
	{ "kube-api", required_argument, NULL, (base) + 1 },                              \
	{ "kube-token-file", required_argument, NULL, (base) + 2 },                       \
	{ "kube-ca-file", required_argument, NULL, (base) + 3 },                          \
	{ "node-name", required_argument, NULL, (base) + 4 },                             \
	{ "kube-resync", required_argument, NULL, (base) + 5 }
#define K8S_USAGE                                                                           \
	"Kubernetes (pod, namespace, container, workload, node; see README):\n"           \
	"      --kubernetes MODE    auto, on or off (default auto: on in a pod, where\n"      \
	"                           $KUBERNETES_SERVICE_HOST is set, or with --kube-api)\n"   \
	"      --kube-api URL       API server (default https://$KUBERNETES_SERVICE_HOST:\n"  \
	"                           $KUBERNETES_SERVICE_PORT)\n"                              \
	"      --kube-token-file F  bearer token, read again for every request (default\n"    \
	"                           " K8S_SA_DIR "/token)\n"                                  \
	"      --kube-ca-file F     CA bundle for the API server (default\n"                  \
	"                           " K8S_SA_DIR "/ca.crt)\n"                                 \
	"      --node-name N        this node, whose pods are watched (default: $NODE_NAME)\n" \
	"      --kube-resync S      list every pod again every S seconds (default 600)\n"
/* Option `which` (0 .. K8S_OPTS_N - 1, in K8S_LONGOPTS's order) with its
 * argument: 0, or -EINVAL, reported. */
int k8s_config_opt(struct k8s_config *kc, int which, const char *arg);
/* Resolve the configuration and start the thread (nothing when off or,
 * in auto, not in a cluster). 0, or -EINVAL with the reason in err:
 * "on" without an API address or a node name, a token file given but
 * unreadable, a URL that is not http(s). */
int k8s_start(const struct k8s_config *c, char *err, size_t errlen);
/* Stop and join the thread (a request in flight is aborted within about
 * a second), log the counters, free the store. */
void k8s_stop(void);
/* One "k8s:" log line with the counters (nothing when off). */
void k8s_log_stats(void);

/* ---- the protocol, apart from the network (unit tests feed it) ---- */

enum k8s_result {
	K8S_OK,
	K8S_GONE, /* 410: the resourceVersion expired; list again */
	K8S_FAILED, /* an error status or an unusable answer */
};

struct k8s_sync {
	char rv[K8S_RV_MAX]; /* where the next watch starts */
	/* the watch stream's current line */
	char *line;
	size_t len, cap;
	bool skipping; /* inside a line past K8S_EVENT_MAX */
	enum k8s_result stop; /* why a feed stopped the stream */
	char why[160]; /* the API's message for K8S_FAILED / K8S_GONE */
	/* written by the watch thread, read by the stats line */
	_Atomic uint64_t lists, list_errors, watches, events, bookmarks, gone, errors, bad;
};

/* One page of a LIST answer (a PodList): every pod upserted, rv taken,
 * the continue token into cont (cont_cap bytes; "" on the last page).
 * The caller brackets the pages with k8s_meta_sync_begin/end. */
enum k8s_result k8s_sync_list_page(struct k8s_sync *s, const char *body, size_t n, char *cont,
				   size_t cont_cap);
/* One watch event line ({"type":…,"object":…}). */
enum k8s_result k8s_sync_event(struct k8s_sync *s, const char *line, size_t n);
/* Stream bytes: complete lines go to k8s_sync_event. Anything but K8S_OK
 * means the stream should stop (s->stop says the same). */
enum k8s_result k8s_sync_feed(struct k8s_sync *s, const char *data, size_t n);
/* Free the line buffer; the counters stay. */
void k8s_sync_reset_stream(struct k8s_sync *s);
/* Seconds to wait before retry number `attempt` (0-based): half the
 * capped exponential step plus a random half (r in [0, 1)). */
double k8s_backoff(unsigned int attempt, double r);

#endif /* XTAP_K8S_WATCH_H */
