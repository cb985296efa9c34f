/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* EC2 instance metadata (IMDS, the AWS SDKs' credential providers): the endpoint, an IMDSv2
 * token, GETs. Shared by the credential chain and the platform identity.
 * Always direct (never through a proxy), one attempt, IMDS_TIMEOUT_MS. */
#ifndef XTAP_IMDS_H
#define XTAP_IMDS_H

#include <stdbool.h>
#include <stddef.h>

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_TIMEOUT_MS 1000L /* per request, as botocore and the Node plugin */
#define IMDS_BASE_MAX 256

/* AWS_EC2_METADATA_DISABLED=true */
bool imds_disabled(void);
/* AWS_EC2_METADATA_SERVICE_ENDPOINT (http[s]://…, trailing '/' removed)
 * or the default. -EINVAL for an override that is not an http(s) URL or
 * does not fit n (out then holds the default). */
int imds_base(char *out, size_t n);
/* PUT /latest/api/token with a TTL in seconds. 0; -EOPNOTSUPP when IMDS
 * answers 403/404/405 (IMDSv1 only, or the PUT hop limit too low);
 * -ECANCELED; else -EIO or -errno. err gets a one-line reason. */
int imds_token(const char *base, const char *ttl, char *tok, size_t n, bool (*cancel)(void *),
	       void *cancel_arg, char *err, size_t errlen);
/* GET path; token NULL or "" for IMDSv1. The body is malloc'd into *out
 * (NUL-terminated, *len bytes). -ENOENT for 404, -EIO for another status. */
int imds_get(const char *base, const char *token, const char *path, bool (*cancel)(void *),
	     void *cancel_arg, char **out, size_t *len, char *err, size_t errlen);

#endif /* XTAP_IMDS_H */
