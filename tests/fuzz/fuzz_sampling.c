// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Sampling rules (agent/sampling.c): the input is one JSON document, taken
 * as a local rules file, as a GetSamplingRules answer and as a
 * SamplingTargets answer, in that order on one sampler; then requests are
 * decided and the rules listed as `xtap status` shows them. */
#include <errno.h>
#include <jansson.h>

#include "fuzz.h"
#include "log.h"
#include "sampling.h"

static double now(void *ctx)
{
	(void)ctx;
	return 1700000000.25;
}

static double rand01(void *ctx)
{
	(void)ctx;
	return 0.5;
}

/* never called: no poller thread is started */
static int post(void *ctx, const char *path, const char *body, char **resp)
{
	(void)ctx;
	(void)path;
	(void)body;
	*resp = NULL;
	return -EIO;
}

static const struct sampling_req reqs[] = {
	{ "web", "", "example.com", "GET", "/api/orders?id=7" },
	{ "checkout", "AWS::EKS::Container", "shop.internal:8080", "POST", "/pay" },
	{ "", "", "", "", "" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sampling_config cfg = {
		.mode = SAMPLING_CENTRALIZED,
		.post = post,
		.now = now,
		.rand01 = rand01,
	};
	struct sampling_decision d;
	struct sampler *s;
	char err[256] = "";
	char *text = fuzz_strndup(data, size);
	json_t *st;
	char *dump;

	/* the bad answers below are warned about: not by the thousand */
	log_set_level(LOG_ERROR);
	cfg.local_rules_json = text;
	if (sampler_create(&cfg, &s, err, sizeof(err))) {
		FUZZ_CHECK(err[0] && memchr(err, '\0', sizeof(err)));
		FUZZ_CHECK(!s);
		cfg.local_rules_json = NULL;
		FUZZ_CHECK(!sampler_create(&cfg, &s, err, sizeof(err)));
	}
	sampler_load_rules(s, text);
	sampler_apply_targets(s, text);
	FUZZ_CHECK(sampler_targets_interval(s) >= 1 && sampler_targets_interval(s) <= 3600);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		for (int k = 0; k < 3; k++) {
			sampler_decide(s, &reqs[i], &d);
			FUZZ_TERMINATED(d.rule_name);
		}
	}
	st = sampler_status_json(s);
	FUZZ_CHECK(st);
	dump = json_dumps(st, JSON_COMPACT);
	FUZZ_CHECK(dump);
	free(dump);
	json_decref(st);
	sampler_destroy(s);
	free(text);
	return 0;
}
