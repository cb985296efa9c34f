/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* AWS credentials and region for the agent's own API calls (X-Ray direct
 * export, sampling). The standard chain (the AWS SDKs' credential providers): environment, web
 * identity (IRSA), container provider (ECS / EKS Pod Identity), EC2 IMDSv2.
 *
 * Usage: aws_creds_start() once at start-up (it fetches the first
 * credentials, synchronously, bounded by the providers' timeouts), then any
 * thread calls aws_creds_get() for a snapshot. A background thread refreshes
 * temporary credentials 10-15 min (jittered) before they expire, and on
 * aws_creds_invalidate(); readers keep the current credentials meanwhile,
 * so nobody waits on a refresh. Secrets are never logged. */
#ifndef XTAP_AWS_CREDS_H
#define XTAP_AWS_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AWS_KEY_ID_MAX 128
#define AWS_SECRET_MAX 128
/* STS does not promise a maximum token size; real ones are 1-2 KB. A
 * larger token is refused (-EMSGSIZE) rather than cut. */
#define AWS_TOKEN_MAX 8192
#define AWS_REGION_MAX 32

enum aws_creds_source {
	AWS_CREDS_NONE = 0,
	AWS_CREDS_ENV,
	AWS_CREDS_WEB_IDENTITY,
	AWS_CREDS_CONTAINER,
	AWS_CREDS_IMDS,
};

struct aws_creds {
	char access_key_id[AWS_KEY_ID_MAX];
	char secret_access_key[AWS_SECRET_MAX];
	char session_token[AWS_TOKEN_MAX]; /* "" for long-term keys */
	int64_t expiration; /* epoch seconds; 0: does not expire */
	enum aws_creds_source source;
};

/* "env", "web-identity", "container", "imds", "none". */
const char *aws_creds_source_name(enum aws_creds_source s);

/* Resolve the region (region_flag, else AWS_REGION, AWS_DEFAULT_REGION,
 * else IMDS unless disabled) and the credentials (the chain above), fetch
 * the first credentials and start the refresher. Returns 0 when both a
 * region and credentials were found; -ENOENT when no provider is configured
 * or a provider failed (the region may still be known: aws_region); the
 * reason is logged once. use_imds false skips IMDS for both (tests, and
 * "--export daemon" which needs neither). Call once; aws_creds_stop() ends. */
int aws_creds_start(const char *region_flag, bool use_imds);
void aws_creds_stop(void);

/* Thread-safe snapshot of the current credentials. 0, or -ENOENT when there
 * are none. Never blocks on a refresh. */
int aws_creds_get(struct aws_creds *out);
/* The region resolved by aws_creds_start. 0, -ENOENT (none), -ENOSPC. */
int aws_region(char *out, size_t n);
/* The service rejected the credentials (403 ExpiredToken,
 * InvalidClientTokenId): ask the refresher to fetch new ones now (at most
 * once per 10 s). The current ones stay in use until then. */
void aws_creds_invalidate(void);
/* Refreshes that succeeded / failed so far. */
void aws_creds_counts(uint64_t *refreshed, uint64_t *failed);

/* This host looks like an EC2 instance (DMI vendor "Amazon EC2", an
 * instance id as board asset tag, or a Xen uuid starting "ec2"), or
 * AWS_EC2_METADATA_SERVICE_ENDPOINT is set: worth asking IMDS. */
bool aws_on_ec2(void);

/* ---- parts, exposed for the unit tests ---- */

/* Which provider the environment selects (does not look at IMDS beyond
 * AWS_EC2_METADATA_DISABLED). */
enum aws_creds_source aws_creds_pick_source(void);
/* "2026-01-01T00:00:00Z" (also fractional seconds, "+00:00") -> epoch s.
 * 0 or -EINVAL. UTC only. */
int aws_parse_iso8601(const char *s, int64_t *epoch);
/* STS AssumeRoleWithWebIdentity XML -> creds. 0; -EACCES for an
 * ErrorResponse (code/message copied to err); -EINVAL when malformed or a
 * field is missing; -EMSGSIZE when a field is too long. */
int aws_sts_parse(const char *xml, size_t len, struct aws_creds *out, char *err, size_t errlen);
/* Container provider / IMDS JSON ({"AccessKeyId","SecretAccessKey",
 * "Token","Expiration"}) -> creds. 0, -EINVAL, -EMSGSIZE. */
int aws_creds_parse_json(const char *body, size_t len, struct aws_creds *out, char *err,
			 size_t errlen);
/* The container provider URL's host is one botocore allows: loopback,
 * 169.254.170.2, 169.254.170.23, fd00:ec2::23. */
bool aws_container_host_allowed(const char *url);
/* The STS endpoint: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else
 * https://sts.<region>.amazonaws.com[.cn]/. 0 or -ENOSPC/-EINVAL. */
int aws_sts_endpoint(const char *region, char *out, size_t n);

#endif /* XTAP_AWS_CREDS_H */
