// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "aws_creds.h"
#include "http_client.h"
#include "identity.h"
#include "log.h"

#define IDENTITY_DOC_PATH "/latest/dynamic/instance-identity/document"

int identity_platform_parse(const char *s, enum xtap_platform *out)
{
	static const char *const names[] = { "auto", "ec2", "eks", "none" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum xtap_platform)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int doc_field(json_t *root, const char *key, char *dst, bool required)
{
	json_t *v = json_object_get(root, key);

	dst[0] = '\0';
	if (!json_is_string(v))
		return required ? -EINVAL : 0;
	if (json_string_length(v) > IDENTITY_FIELD_MAX)
		return -EINVAL;
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int identity_parse_document(const char *json, struct ec2_identity *out)
{
	json_error_t je;
	json_t *root = json_loads(json, 0, &je);
	int err;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(root)) {
		json_decref(root);
		return -EINVAL;
	}
	err = doc_field(root, "instanceId", out->instance_id, true);
	if (!err)
		err = doc_field(root, "availabilityZone", out->availability_zone, true);
	if (!err)
		err = doc_field(root, "instanceType", out->instance_size, false);
	if (!err)
		err = doc_field(root, "imageId", out->ami_id, false);
	if (!err)
		err = doc_field(root, "region", out->region, false);
	if (!err)
		err = doc_field(root, "accountId", out->account_id, false);
	json_decref(root);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool identity_cluster_from_env(char *out)
{
	/* OTEL_RESOURCE_ATTRIBUTES: "k1=v1,k2=v2", values percent-encoded */
	const char *s = getenv("OTEL_RESOURCE_ATTRIBUTES"), *e;
	static const char key[] = "k8s.cluster.name";

	for (; s && *s; s = e + (*e == ',')) {
		const char *eq;
		size_t n = 0;

		e = strchrnul(s, ',');
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		eq = memchr(s, '=', (size_t)(e - s));
		if (!eq || (size_t)(eq - s) != sizeof(key) - 1 || strncmp(s, key, sizeof(key) - 1))
			continue;
		for (s = eq + 1; s < e && n < EKS_CLUSTER_MAX; s++) {
			if (*s == '%' && e - s >= 3 && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
				out[n++] = (char)(hexval(s[1]) * 16 + hexval(s[2]));
				s += 2;
			} else {
				out[n++] = *s;
			}
		}
		while (n && (out[n - 1] == ' ' || out[n - 1] == '\t'))
			n--;
		out[n] = '\0';
		return n > 0;
	}
	return false;
}

static bool should_cancel(void *arg)
{
	struct xtap_identity *id = arg;

	return atomic_load(&id->stop_);
}

/* IMDSv2: a token, then the document. A token refused with 403/404/405
 * means IMDSv1 only (the AWS SDKs' credential providers): the GET is tried without one, as the
 * Node plugin does. One attempt each: a missing IMDS costs at most
 * 2 x IMDS_TIMEOUT_MS, on this thread. */
static int imds_fetch(struct xtap_identity *id, struct ec2_identity *out)
{
	char tok[128] = "", why[256] = "", *body = NULL;
	size_t len;
	int err;

	err = imds_token(id->endpoint_, IDENTITY_IMDS_TOKEN_TTL, tok, sizeof(tok), should_cancel, id, why,
			 sizeof(why));
	if (err && err != -EOPNOTSUPP) {
		p_dbg("identity: %s", why);
		return err;
	}
	err = imds_get(id->endpoint_, tok, IDENTITY_DOC_PATH, should_cancel, id, &body, &len, why,
		       sizeof(why));
	explicit_bzero(tok, sizeof(tok));
	if (!err && identity_parse_document(body, out))
		err = -EBADMSG;
	if (err)
		p_dbg("identity: %s", err == -EBADMSG ? "bad instance identity document" : why);
	free(body);
	return err;
}

static void *fetch_thread(void *arg)
{
	struct xtap_identity *id = arg;
	struct ec2_identity doc;
	int err = imds_fetch(id, &doc);

	if (err) {
		/* auto: not on EC2 (or IMDS unreachable), which is normal */
		if (id->platform == PLATFORM_EC2)
			p_warn("identity: no EC2 instance identity document from %s: %s; segments "
			       "carry no aws.ec2",
			       id->endpoint_, strerror(-err));
		else
			p_dbg("identity: IMDS did not answer: not on EC2");
		id->platform = PLATFORM_NONE;
		return NULL;
	}
	id->ec2 = doc;
	id->platform = PLATFORM_EC2;
	id->origin = ORIGIN_EC2;
	p_info("identity: EC2 instance %s in %s", doc.instance_id, doc.availability_zone);
	atomic_store_explicit(&id->ready, true, memory_order_release);
	return NULL;
}

int identity_start(struct xtap_identity *id, enum xtap_platform mode, const char *cluster,
		   char *err, size_t errlen)
{
	int ret;

	memset(id, 0, sizeof(*id));
	if (cluster && strlen(cluster) > EKS_CLUSTER_MAX) {
		snprintf(err, errlen, "EKS cluster name longer than %d characters", EKS_CLUSTER_MAX);
		return -EINVAL;
	}
	if (cluster && *cluster)
		strcpy(id->cluster_name, cluster);
	if (mode == PLATFORM_EKS && !id->cluster_name[0]) {
		snprintf(err, errlen,
			 "--platform eks needs a cluster name (--eks-cluster, or k8s.cluster.name in "
			 "OTEL_RESOURCE_ATTRIBUTES)");
		return -EINVAL;
	}
	if (mode == PLATFORM_NONE)
		goto none;
	if (mode == PLATFORM_EKS || (mode == PLATFORM_AUTO && id->cluster_name[0])) {
		id->platform = PLATFORM_EKS;
		id->origin = ORIGIN_EKS;
		atomic_store_explicit(&id->ready, true, memory_order_release);
		return 0;
	}
	/* auto off EC2 (by DMI, or no endpoint override): no IMDS traffic to
	 * a link-local address that nothing answers */
	if (mode == PLATFORM_AUTO && !aws_on_ec2())
		goto none;
	if (imds_disabled()) {
		if (mode == PLATFORM_EC2)
			p_warn("identity: --platform ec2 but AWS_EC2_METADATA_DISABLED=true: no aws.ec2");
		goto none;
	}
	if (imds_base(id->endpoint_, sizeof(id->endpoint_))) {
		snprintf(err, errlen,
			 "AWS_EC2_METADATA_SERVICE_ENDPOINT: expected an http(s) URL of at most %zu bytes",
			 sizeof(id->endpoint_) - 1);
		return -EINVAL;
	}
	ret = http_client_global_init();
	if (ret) {
		snprintf(err, errlen, "libcurl initialisation failed");
		return ret;
	}
	id->platform = mode; /* AUTO or EC2 until the fetch ends */
	ret = pthread_create(&id->thread_, NULL, fetch_thread, id);
	if (ret) {
		snprintf(err, errlen, "identity thread: %s", strerror(ret));
		return -ret;
	}
	id->started_ = true;
	return 0;
none:
	id->platform = PLATFORM_NONE;
	return 0;
}

void identity_stop(struct xtap_identity *id)
{
	if (!id || !id->started_)
		return;
	atomic_store(&id->stop_, true);
	pthread_join(id->thread_, NULL);
	id->started_ = false;
}

const struct xtap_identity *identity_get(const struct xtap_identity *id)
{
	if (!id || !atomic_load_explicit(&id->ready, memory_order_acquire))
		return NULL;
	return id;
}
