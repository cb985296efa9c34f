/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Sampling: which untraced requests become documents (the X-Ray API reference).
 * Local rules (the SDKs' JSON file, version 1 or 2, or the built-in 1/s +
 * 5%) or centralized rules from GetSamplingRules, with reservoir quotas
 * from SamplingTargets. A background thread talks to the service; the
 * decision on the event loop takes one uncontended mutex and makes no
 * syscall (the clock is vDSO, the RNG a PRNG seeded once). */
#ifndef XTAP_SAMPLING_H
#define XTAP_SAMPLING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sampling_mode {
	SAMPLING_OFF, /* every request is emitted (xtap's behaviour before sampling) */
	SAMPLING_LOCAL, /* local rules only */
	SAMPLING_CENTRALIZED, /* X-Ray rules, local rules as the fallback */
};

/* Bounds. X-Ray allows 32-char rule names and the field lengths below
 * (the X-Ray API reference); local files get the same field budget so one struct
 * serves both. A rule longer than these is refused (local) or skipped
 * (centralized), never cut: a cut glob would match other requests. */
#define SAMPLING_RULES_MAX 128 /* per source; more are ignored (logged) */
#define SAMPLING_NAME_MAX 32
#define SAMPLING_FIELD_MAX 128
#define SAMPLING_STATS_BATCH 25 /* SamplingStatisticsDocuments per call */
#define SAMPLING_RULES_PAGES_MAX 20 /* NextToken pages per GetSamplingRules round */

/* SDK timings (X-Ray quotas), seconds. */
#define SAMPLING_RULES_PERIOD 300.0
#define SAMPLING_RULES_JITTER 5.0
#define SAMPLING_TARGETS_PERIOD 10.0
#define SAMPLING_TARGETS_JITTER 0.1
#define SAMPLING_RULES_TTL 3600.0 /* rule cache lifetime after the last good fetch */

/* POST a JSON body to an X-Ray path ("/GetSamplingRules",
 * "/SamplingTargets"). On success returns 0 and *resp holds a malloc'd,
 * NUL-terminated 2xx body (the caller frees it); else a negative errno
 * (-EIO for a non-2xx status), the failure already reported at debug level
 * by the transport. Called only from the sampler's thread. */
typedef int (*sampling_post_fn)(void *ctx, const char *path, const char *body, char **resp);

struct sampling_config {
	enum sampling_mode mode;
	/* Local rules as JSON text (the file's contents); NULL: the default
	 * {"fixed_target":1,"rate":0.05}. */
	const char *local_rules_json;
	sampling_post_fn post; /* required for SAMPLING_CENTRALIZED */
	void *post_ctx;
	/* Tests inject these; NULL: CLOCK_REALTIME seconds and a xorshift
	 * PRNG seeded from getrandom. rand01 returns [0, 1). */
	double (*now)(void *ctx);
	double (*rand01)(void *ctx);
	void *hook_ctx;
	/* Tests: a SamplingTargets period instead of SAMPLING_TARGETS_PERIOD
	 * (until the service sends an Interval); 0: the SDK value. */
	double targets_period;
};

/* What a request is matched on (the X-Ray API reference, as the Node SDK fills it). */
struct sampling_req {
	const char *service_name; /* the segment name */
	const char *service_type; /* the origin, "" when none */
	const char *host; /* the Host header as sent, "" when absent */
	const char *method;
	const char *url_path; /* the request target as sent (query included, as Node's req.url) */
};

struct sampling_decision {
	bool sampled;
	/* the centralized rule that decided, "" for local rules and off */
	char rule_name[SAMPLING_NAME_MAX + 1];
};

struct sampler;

/* Parse the configuration; no thread yet. Returns 0 or -EINVAL with a
 * one-line reason in err (errlen bytes), e.g. for a bad local rules file. */
int sampler_create(const struct sampling_config *cfg, struct sampler **out, char *err,
		   size_t errlen);
/* Replace the local rules (JSON as in sampling_config; NULL: the default)
 * while the sampler runs (SIGHUP). 0, or -EINVAL/-ENOMEM with the reason in
 * err and the rules in force kept. Reservoirs of the new rules start empty. */
int sampler_set_local_rules(struct sampler *s, const char *json, char *err, size_t errlen);
/* Start the poller thread (centralized mode; a no-op otherwise). 0 or -errno. */
int sampler_start(struct sampler *s);
/* Stop the thread (bounded: in-flight calls are aborted) and free. NULL ok. */
void sampler_destroy(struct sampler *s);

/* The decision for one request whose trace header left it open. */
void sampler_decide(struct sampler *s, const struct sampling_req *r, struct sampling_decision *d);

enum sampling_mode sampler_mode(const struct sampler *s);

/* Sampling in the kernel (struct xtap_sample_slot): the kernel's slots
 * and generation, in the BPF object's global data. From then on a rule
 * that decides for the kernel keeps its reservoir and statistics there. */
struct xtap_sample_slot;
void sampler_bind_kernel(struct sampler *s, struct xtap_sample_slot *slots, volatile uint32_t *gen);
/* The slot the kernel may decide by for every request of a service: the
 * rule sampler_decide would apply to any of its requests, when one does
 * (no host, method or path narrows it), bound to its slot. Returns the
 * slot's index and fills rule->rule_name (centralized rules) and *gen,
 * the generation a plan must carry; -1 when requests of the service may
 * fall to different rules, with sampling off, or before binding. */
/* The rules' generation, without a lock (plans made under another lapse). */
uint32_t sampler_generation(const struct sampler *s);
int sampler_service_slot(struct sampler *s, const char *service_name, const char *service_type,
			 struct sampling_decision *rule, uint32_t *gen);

/* The rules in force, for `xtap status`: {"mode", "source" ("local" or
 * "centralized": which set decides now), "rules_age_seconds" (centralized),
 * "rules": [{"name", "priority", "rate", "reservoir", "service_name",
 * "service_type", "host", "http_method", "url_path"}, ...]} in matching
 * order. s may be NULL (mode "off"). Thread-safe. A new reference (a
 * jansson json_t *), NULL on ENOMEM. */
struct json_t;
struct json_t *sampler_status_json(struct sampler *s);

/* One poll round each, as the thread runs them; exposed for tests.
 * 0 or a negative errno. */
int sampler_poll_rules(struct sampler *s);
int sampler_poll_targets(struct sampler *s);
/* Apply a GetSamplingRules / SamplingTargets response body directly. */
int sampler_load_rules(struct sampler *s, const char *body);
int sampler_apply_targets(struct sampler *s, const char *body);
/* The 24-hex ClientID reported with the statistics. */
const char *sampler_client_id(const struct sampler *s);
/* Seconds until the next targets poll the service asked for (Interval). */
double sampler_targets_interval(const struct sampler *s);

/* Case-insensitive glob: '*' any run (empty too), '?' exactly one byte. */
bool sampling_glob_match(const char *pattern, const char *s);

/* The HTTP transport through the X-Ray daemon's TCP proxy, which signs and
 * forwards (the X-Ray API reference): ctx is the base URL, "http://127.0.0.1:2000". */
int sampling_daemon_post(void *ctx, const char *path, const char *body, char **resp);

/* The signed X-Ray API (xray_api_call, configured by --export api/both);
 * ctx unused. */
int sampling_xray_post(void *ctx, const char *path, const char *body, char **resp);

#endif /* XTAP_SAMPLING_H */
