/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Where xtap runs, for the segments' aws.ec2 / aws.eks and origin
 * (the X-Ray segment document format): the EC2 instance identity document from IMDSv2,
 * or an EKS cluster name from configuration. The document is fetched once,
 * on a background thread, so start-up never waits on IMDS; segments written
 * before it arrives simply lack it. */
#ifndef XTAP_IDENTITY_H
#define XTAP_IDENTITY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include "imds.h"

enum xtap_platform {
	PLATFORM_AUTO, /* eks when a cluster name is given, else ec2 when IMDS answers, else none */
	PLATFORM_EC2,
	PLATFORM_EKS,
	PLATFORM_NONE,
};

#define ORIGIN_EC2 "AWS::EC2::Instance"
#define ORIGIN_EKS "AWS::EKS::Container"

/* Identity document values are short (i-0123456789abcdef0, m5.large,
 * ami-…, us-east-1a); longer ones are refused rather than cut. */
#define IDENTITY_FIELD_MAX 63
#define EKS_CLUSTER_MAX 100 /* EKS cluster names: 1..100 characters */

/* seconds: the identity fetch uses its IMDS token once, right away */
#define IDENTITY_IMDS_TOKEN_TTL "60"

struct ec2_identity {
	char instance_id[IDENTITY_FIELD_MAX + 1];
	char availability_zone[IDENTITY_FIELD_MAX + 1];
	char instance_size[IDENTITY_FIELD_MAX + 1]; /* instanceType */
	char ami_id[IDENTITY_FIELD_MAX + 1]; /* imageId */
	char region[IDENTITY_FIELD_MAX + 1];
	char account_id[IDENTITY_FIELD_MAX + 1];
};

struct xtap_identity {
	/* Written by the fetch thread (or identity_start) before `ready` is
	 * stored with release order, read-only afterwards: readers on the
	 * event loop check identity_ready() and need no lock. */
	enum xtap_platform platform; /* resolved: EC2, EKS or NONE */
	const char *origin; /* NULL: none */
	struct ec2_identity ec2;
	char cluster_name[EKS_CLUSTER_MAX + 1];
	atomic_bool ready;
	/* private */
	atomic_bool stop_;
	bool started_;
	pthread_t thread_;
	char endpoint_[IMDS_BASE_MAX];
};

/* Resolve the platform: EKS at once; EC2 (explicit or auto) by starting the
 * IMDS fetch thread, unless AWS_EC2_METADATA_DISABLED=true. cluster may be
 * NULL. Returns 0 or -EINVAL (cluster name too long, eks without a name)
 * with a reason in err. */
int identity_start(struct xtap_identity *id, enum xtap_platform mode, const char *cluster,
		   char *err, size_t errlen);
/* Abort a fetch in flight (bounded by IMDS_TIMEOUT_MS) and join. */
void identity_stop(struct xtap_identity *id);
/* The identity once known; NULL before (or when there is none). */
const struct xtap_identity *identity_get(const struct xtap_identity *id);

/* Parse an instance identity document. 0, or -EINVAL when it is not JSON,
 * or lacks instanceId or availabilityZone, or a field is too long. */
int identity_parse_document(const char *json, struct ec2_identity *out);
/* The cluster name from OTEL_RESOURCE_ATTRIBUTES' k8s.cluster.name (the
 * OpenTelemetry resource convention the ADOT collector reads too), into
 * out (EKS_CLUSTER_MAX + 1). True when found. */
bool identity_cluster_from_env(char *out);
/* "auto", "ec2", "eks", "none": 0 or -EINVAL. */
int identity_platform_parse(const char *s, enum xtap_platform *out);

#endif /* XTAP_IDENTITY_H */
