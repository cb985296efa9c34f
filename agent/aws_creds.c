// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Credentials and region: see aws_creds.h.
 *
 * One provider is chosen at start (the first the environment configures,
 * as botocore does) and kept: a provider that is configured but failing is
 * retried, never skipped for the next one, so a transient STS error cannot
 * silently switch the agent to the node's IMDS role.
 *
 * Threads: the current credentials live under `lock`; a refresher thread
 * fetches new ones without holding it and swaps them in, so aws_creds_get()
 * never waits on the network. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "aws_creds.h"
#include "http_client.h"
#include "imds.h"
#include "log.h"

/* Refresh this long before expiry (botocore: advisory 15 min, mandatory
 * 10 min), jittered inside the window so a fleet does not refresh in step.
 * Short-lived credentials (tests, or a role with a tiny session) refresh at
 * half their remaining life instead. */
#define REFRESH_MIN_S 600
#define REFRESH_JITTER_S 300
/* After a failed refresh: 1 s, doubling, at most this. */
#define RETRY_MAX_S 60
/* aws_creds_invalidate() forces at most one refresh per this long. */
#define FORCE_MIN_INTERVAL_S 10
/* The web identity token: STS takes at most 20000 chars. */
#define WEB_TOKEN_MAX 20000
/* Container authorization token: a JWT of a few KB. */
#define CONTAINER_TOKEN_MAX 16384
#define URL_MAX 1024
#define ROLE_NAME_MAX 128
#define ERR_MAX 256

/* IMDS (imds.h: 1 s and one attempt, as botocore); the token lives 6 h. */
#define IMDS_TOKEN_TTL "21600"
/* Container provider: 2 s, 3 attempts, 1 s apart (botocore). */
#define CONTAINER_TIMEOUT_MS 2000
#define CONTAINER_ATTEMPTS 3
#define STS_TIMEOUT_MS 5000
#define ECS_HOST "http://169.254.170.2"

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool started;
	bool thread_running;
	pthread_t thread;
	bool stopping;
	bool force;
	time_t last_force;
	bool have;
	struct aws_creds cur;
	char region[AWS_REGION_MAX];
	enum aws_creds_source src;
	bool use_imds;
	uint64_t refreshed;
	uint64_t failed;
} g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* snprintf for error texts: they may be cut, and vsnprintf says so to
 * nobody, which is what we want for a diagnostic. */
static void errf(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!err || !n)
		return;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

const char *aws_creds_source_name(enum aws_creds_source s)
{
	switch (s) {
	case AWS_CREDS_ENV:
		return "env";
	case AWS_CREDS_WEB_IDENTITY:
		return "web-identity";
	case AWS_CREDS_CONTAINER:
		return "container";
	case AWS_CREDS_IMDS:
		return "imds";
	default:
		return "none";
	}
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

enum aws_creds_source aws_creds_pick_source(void)
{
	if (env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY"))
		return AWS_CREDS_ENV;
	if (env("AWS_ROLE_ARN") && env("AWS_WEB_IDENTITY_TOKEN_FILE"))
		return AWS_CREDS_WEB_IDENTITY;
	if (env("AWS_CONTAINER_CREDENTIALS_FULL_URI") ||
	    env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
		return AWS_CREDS_CONTAINER;
	if (!imds_disabled())
		return AWS_CREDS_IMDS;
	return AWS_CREDS_NONE;
}

static bool file_starts(const char *path, const char *prefix, bool icase)
{
	char buf[64] = "";
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return icase ? !strncasecmp(buf, prefix, strlen(prefix)) : !strncmp(buf, prefix, strlen(prefix));
}

bool aws_on_ec2(void)
{
	if (env("AWS_EC2_METADATA_SERVICE_ENDPOINT"))
		return true;
	return file_starts("/sys/devices/virtual/dmi/id/sys_vendor", "Amazon EC2", false) ||
	       file_starts("/sys/devices/virtual/dmi/id/board_asset_tag", "i-", false) ||
	       file_starts("/sys/hypervisor/uuid", "ec2", true);
}

/* ---- parsing ---- */

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int aws_parse_iso8601(const char *s, int64_t *epoch)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec;
	const char *p;
	struct tm tm = {};
	time_t t;

	/* YYYY-MM-DDTHH:MM:SS, then optional .fraction, then Z or +00:00 */
	if (!s || strnlen(s, 20) < 19 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
		return -EINVAL;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
		return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 60)
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		int nd = 0;

		for (p++; isdigit((unsigned char)*p) && nd < 12; p++)
			nd++;
		if (!nd)
			return -EINVAL;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		;
	else if (!strcmp(p, "+00:00") || !strcmp(p, "-00:00") || !strcmp(p, "+0000"))
		;
	else
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	/* 31 Feb and the like: timegm normalises them; refuse instead */
	if (tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -EINVAL;
	*epoch = t;
	return 0;
}

/* The text of the first <tag>...</tag> in [s, s+n), attributes allowed on
 * the opening tag, namespace prefixes not (STS uses a default namespace).
 * Linear in n; no recursion. */
static bool xml_elem(const char *s, size_t n, const char *tag, const char **val, size_t *vlen)
{
	size_t tl = strlen(tag);
	const char *end = s + n, *p = s;

	while (p < end) {
		const char *open = memchr(p, '<', end - p), *body, *q;

		if (!open || (size_t)(end - open) < tl + 2)
			return false;
		p = open + 1;
		if (memcmp(p, tag, tl) || (p[tl] != '>' && p[tl] != ' ' && p[tl] != '\t' &&
					   p[tl] != '\n' && p[tl] != '\r' && p[tl] != '/'))
			continue;
		body = memchr(p + tl, '>', end - (p + tl));
		if (!body)
			return false;
		if (body[-1] == '/') { /* <tag/>: empty */
			*val = body + 1;
			*vlen = 0;
			return true;
		}
		body++;
		for (q = body; q < end;) {
			const char *c = memchr(q, '<', end - q);

			if (!c || (size_t)(end - c) < tl + 3)
				return false;
			if (c[1] == '/' && !memcmp(c + 2, tag, tl) && c[2 + tl] == '>') {
				*val = body;
				*vlen = c - body;
				return true;
			}
			q = c + 1;
		}
		return false;
	}
	return false;
}

/* Copy XML text into out (n bytes) with the five predefined entities
 * decoded and surrounding whitespace trimmed. 0, -EMSGSIZE, -EINVAL (an
 * unknown entity or a control character). */
static int xml_text(const char *v, size_t len, char *out, size_t n)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
		     { "&apos;", '\'' } };
	size_t o = 0;

	while (len && isspace((unsigned char)*v)) {
		v++;
		len--;
	}
	while (len && isspace((unsigned char)v[len - 1]))
		len--;
	for (size_t i = 0; i < len;) {
		char c = v[i];

		if (c == '&') {
			size_t k;

			for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				size_t el = strlen(ents[k].ent);

				if (len - i >= el && !memcmp(v + i, ents[k].ent, el)) {
					c = ents[k].c;
					i += el;
					break;
				}
			}
			if (k == sizeof(ents) / sizeof(ents[0]))
				return -EINVAL;
		} else {
			if ((unsigned char)c < 0x20)
				return -EINVAL;
			i++;
		}
		if (o + 1 >= n)
			return -EMSGSIZE;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static int xml_field(const char *s, size_t n, const char *tag, char *out, size_t outlen,
		     char *err, size_t errlen)
{
	const char *v;
	size_t vl;
	int rc;

	if (!xml_elem(s, n, tag, &v, &vl)) {
		errf(err, errlen, "no <%s> in the STS response", tag);
		return -EINVAL;
	}
	rc = xml_text(v, vl, out, outlen);
	if (rc)
		errf(err, errlen, "<%s> in the STS response: %s", tag,
			 rc == -EMSGSIZE ? "too long" : "bad text");
	else if (!out[0] && strcmp(tag, "Message")) {
		errf(err, errlen, "empty <%s> in the STS response", tag);
		rc = -EINVAL;
	}
	return rc;
}

int aws_sts_parse(const char *xml, size_t len, struct aws_creds *out, char *err, size_t errlen)
{
	char code[128], msg[256], exp[64];
	const char *c;
	size_t cl;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!xml || !len) {
		errf(err, errlen, "empty STS response");
		return -EINVAL;
	}
	if (xml_elem(xml, len, "ErrorResponse", &c, &cl)) {
		const char *e;
		size_t el;

		if (!xml_elem(c, cl, "Error", &e, &el)) {
			e = c;
			el = cl;
		}
		if (xml_field(e, el, "Code", code, sizeof(code), err, errlen))
			snprintf(code, sizeof(code), "?");
		if (xml_field(e, el, "Message", msg, sizeof(msg), err, errlen))
			msg[0] = '\0';
		errf(err, errlen, "STS error %s: %s", code, msg);
		return -EACCES;
	}
	if (!xml_elem(xml, len, "Credentials", &c, &cl)) {
		errf(err, errlen, "no <Credentials> in the STS response");
		return -EINVAL;
	}
	rc = xml_field(c, cl, "AccessKeyId", out->access_key_id, sizeof(out->access_key_id), err,
		       errlen);
	if (!rc)
		rc = xml_field(c, cl, "SecretAccessKey", out->secret_access_key,
			       sizeof(out->secret_access_key), err, errlen);
	if (!rc)
		rc = xml_field(c, cl, "SessionToken", out->session_token,
			       sizeof(out->session_token), err, errlen);
	if (!rc)
		rc = xml_field(c, cl, "Expiration", exp, sizeof(exp), err, errlen);
	if (!rc && aws_parse_iso8601(exp, &out->expiration)) {
		errf(err, errlen, "STS Expiration '%s' is not ISO-8601 UTC", exp);
		rc = -EINVAL;
	}
	if (rc)
		explicit_bzero(out, sizeof(*out));
	else
		out->source = AWS_CREDS_WEB_IDENTITY;
	return rc;
}

static int jfield_copy(json_t *o, const char *key, char *out, size_t n, bool required, char *err,
		     size_t errlen)
{
	json_t *v = json_object_get(o, key);
	const char *s;

	out[0] = '\0';
	if (!v || json_is_null(v)) {
		if (required) {
			errf(err, errlen, "credentials: no %s", key);
			return -EINVAL;
		}
		return 0;
	}
	if (!json_is_string(v) || (required && !json_string_length(v))) {
		errf(err, errlen, "credentials: %s is not a non-empty string", key);
		return -EINVAL;
	}
	s = json_string_value(v);
	if (json_string_length(v) >= n || strlen(s) != json_string_length(v)) {
		errf(err, errlen, "credentials: %s too long", key);
		return -EMSGSIZE;
	}
	memcpy(out, s, json_string_length(v) + 1);
	return 0;
}

int aws_creds_parse_json(const char *body, size_t len, struct aws_creds *out, char *err,
			 size_t errlen)
{
	json_error_t je;
	json_t *o, *code;
	char exp[64];
	int rc;

	memset(out, 0, sizeof(*out));
	o = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &je);
	if (!o || !json_is_object(o)) {
		errf(err, errlen, "credentials: not a JSON object (%s)", o ? "" : je.text);
		json_decref(o);
		return -EINVAL;
	}
	/* IMDS answers {"Code":"...","Message":"..."} on failure */
	code = json_object_get(o, "Code");
	if (json_is_string(code) && strcmp(json_string_value(code), "Success")) {
		const char *m = json_string_value(json_object_get(o, "Message"));

		errf(err, errlen, "credentials: %s: %s", json_string_value(code), m ? m : "");
		json_decref(o);
		return -EACCES;
	}
	rc = jfield_copy(o, "AccessKeyId", out->access_key_id, sizeof(out->access_key_id), true, err,
		       errlen);
	if (!rc)
		rc = jfield_copy(o, "SecretAccessKey", out->secret_access_key,
			       sizeof(out->secret_access_key), true, err, errlen);
	if (!rc)
		rc = jfield_copy(o, "Token", out->session_token, sizeof(out->session_token), false,
			       err, errlen);
	if (!rc)
		rc = jfield_copy(o, "Expiration", exp, sizeof(exp), false, err, errlen);
	if (!rc && exp[0] && aws_parse_iso8601(exp, &out->expiration)) {
		errf(err, errlen, "credentials: Expiration '%s' is not ISO-8601 UTC", exp);
		rc = -EINVAL;
	}
	json_decref(o);
	if (rc)
		explicit_bzero(out, sizeof(*out));
	return rc;
}

/* Host of an http(s) URL, without brackets, into host (n bytes). */
static int url_host(const char *url, char *host, size_t n, bool *https)
{
	const char *p, *e;

	if (!strncasecmp(url, "http://", 7)) {
		p = url + 7;
		*https = false;
	} else if (!strncasecmp(url, "https://", 8)) {
		p = url + 8;
		*https = true;
	} else {
		return -EINVAL;
	}
	if (strpbrk(p, "@") && strpbrk(p, "@") < p + strcspn(p, "/?#"))
		return -EINVAL; /* userinfo: never */
	if (*p == '[') {
		e = strchr(p, ']');
		if (!e)
			return -EINVAL;
		p++;
	} else {
		e = p + strcspn(p, ":/?#");
	}
	if (e == p || (size_t)(e - p) >= n)
		return -EINVAL;
	memcpy(host, p, e - p);
	host[e - p] = '\0';
	return 0;
}

bool aws_container_host_allowed(const char *url)
{
	char host[256];
	bool https;

	if (!url || url_host(url, host, sizeof(host), &https))
		return false;
	/* botocore: loopback, the ECS and EKS agent addresses. An https URL
	 * is allowed to any host by botocore; we need none, so keep to the
	 * list for both. */
	if (!strncmp(host, "127.", 4) || !strcmp(host, "::1") || !strcasecmp(host, "localhost"))
		return true;
	return !strcmp(host, "169.254.170.2") || !strcmp(host, "169.254.170.23") ||
	       !strcasecmp(host, "fd00:ec2::23");
}

static int base_url(const char *u, char *out, size_t n)
{
	size_t l = strlen(u);

	if (strncasecmp(u, "http://", 7) && strncasecmp(u, "https://", 8))
		return -EINVAL;
	while (l && u[l - 1] == '/')
		l--;
	if (l + 2 > n)
		return -ENOSPC;
	memcpy(out, u, l);
	out[l] = '\0';
	return 0;
}

int aws_sts_endpoint(const char *region, char *out, size_t n)
{
	const char *o = env("AWS_ENDPOINT_URL_STS");
	int rc;

	if (!o)
		o = env("AWS_ENDPOINT_URL");
	if (o) {
		rc = base_url(o, out, n);
		if (rc)
			return rc;
		strcat(out, "/");
		return 0;
	}
	if (!region || !*region)
		rc = snprintf(out, n, "https://sts.amazonaws.com/");
	else
		rc = snprintf(out, n, "https://sts.%s.amazonaws.com%s/", region,
			      strncmp(region, "cn-", 3) ? "" : ".cn");
	return rc < 0 || (size_t)rc >= n ? -ENOSPC : 0;
}

/* ---- providers ---- */

/* Read a small text file whole (at most max bytes), trailing newline
 * removed. malloc'ed; NULL with errno. */
static char *read_small(const char *path, size_t max)
{
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	while (len <= max) {
		n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	if (n < 0 || len > max) {
		free(buf);
		errno = n < 0 ? errno : EFBIG;
		return NULL;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	return buf;
}

static int fetch_env(struct aws_creds *c, char *err, size_t errlen)
{
	const char *id = env("AWS_ACCESS_KEY_ID"), *sec = env("AWS_SECRET_ACCESS_KEY");
	const char *tok = env("AWS_SESSION_TOKEN"), *exp = env("AWS_CREDENTIAL_EXPIRATION");

	memset(c, 0, sizeof(*c));
	if (!tok)
		tok = env("AWS_SECURITY_TOKEN");
	if (!id || !sec) {
		errf(err, errlen, "AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is not set");
		return -ENOENT;
	}
	if (strlen(id) >= sizeof(c->access_key_id) || strlen(sec) >= sizeof(c->secret_access_key) ||
	    (tok && strlen(tok) >= sizeof(c->session_token))) {
		errf(err, errlen, "a credential in the environment is too long");
		return -EMSGSIZE;
	}
	strcpy(c->access_key_id, id);
	strcpy(c->secret_access_key, sec);
	if (tok)
		strcpy(c->session_token, tok);
	if (exp && aws_parse_iso8601(exp, &c->expiration)) {
		errf(err, errlen, "AWS_CREDENTIAL_EXPIRATION '%s' is not ISO-8601 UTC", exp);
		return -EINVAL;
	}
	c->source = AWS_CREDS_ENV;
	return 0;
}

/* application/x-www-form-urlencoded value: unreserved bytes as is, the
 * rest %XX. 0 or -ENOSPC. */
static int form_append(char *out, size_t n, size_t *o, const char *key, const char *val)
{
	static const char hex[] = "0123456789ABCDEF";
	int w = snprintf(out + *o, n - *o, "%s%s=", *o ? "&" : "", key);

	if (w < 0 || (size_t)w >= n - *o)
		return -ENOSPC;
	*o += w;
	for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
		if (*o + 4 > n)
			return -ENOSPC;
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			out[(*o)++] = *p;
		} else {
			out[(*o)++] = '%';
			out[(*o)++] = hex[*p >> 4];
			out[(*o)++] = hex[*p & 15];
		}
	}
	out[*o] = '\0';
	return 0;
}

static int fetch_web_identity(struct aws_creds *c, char *err, size_t errlen)
{
	const char *arn = env("AWS_ROLE_ARN"), *file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *sess = env("AWS_ROLE_SESSION_NAME");
	/* 3x for percent-encoding of the token, plus the rest */
	size_t blen = 3 * WEB_TOKEN_MAX + 3 * 2048 + 256, o = 0;
	char url[URL_MAX], sessbuf[64], *tok, *body;
	struct http_resp r;
	int rc;

	if (!arn || !file) {
		errf(err, errlen, "AWS_ROLE_ARN or AWS_WEB_IDENTITY_TOKEN_FILE is not set");
		return -ENOENT;
	}
	if (strlen(arn) > 2048) {
		errf(err, errlen, "AWS_ROLE_ARN too long");
		return -EINVAL;
	}
	/* the kubelet rotates the token: read it on every fetch */
	tok = read_small(file, WEB_TOKEN_MAX);
	if (!tok) {
		rc = -errno;
		errf(err, errlen, "web identity token %s: %s", file, strerror(-rc));
		return rc;
	}
	if (!sess) {
		snprintf(sessbuf, sizeof(sessbuf), "xtap-%lld", (long long)time(NULL));
		sess = sessbuf;
	}
	rc = aws_sts_endpoint(g.region, url, sizeof(url));
	body = malloc(blen);
	if (rc || !body) {
		free(tok);
		free(body);
		errf(err, errlen, "STS endpoint: %s", strerror(rc ? -rc : ENOMEM));
		return rc ? rc : -ENOMEM;
	}
	rc = form_append(body, blen, &o, "Action", "AssumeRoleWithWebIdentity");
	rc = rc ?: form_append(body, blen, &o, "Version", "2011-06-15");
	rc = rc ?: form_append(body, blen, &o, "RoleArn", arn);
	rc = rc ?: form_append(body, blen, &o, "RoleSessionName", sess);
	rc = rc ?: form_append(body, blen, &o, "WebIdentityToken", tok);
	explicit_bzero(tok, strlen(tok));
	free(tok);
	if (rc) {
		free(body);
		errf(err, errlen, "STS request too large");
		return rc;
	}
	{
		/* unsigned: AssumeRoleWithWebIdentity is noAuth (the AWS SDKs' credential providers) */
		struct http_req req = {
			.method = "POST",
			.url = url,
			.headers = { "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
				     "Accept: text/xml" },
			.body = body,
			.body_len = o,
			.timeout_ms = STS_TIMEOUT_MS,
		};
		char herr[ERR_MAX];

		rc = http_request(&req, &r, herr, sizeof(herr));
		explicit_bzero(body, o);
		free(body);
		if (rc) {
			errf(err, errlen, "STS %s: %s", url, herr);
			free(r.body);
			return rc;
		}
	}
	rc = aws_sts_parse(r.body, r.len, c, err, errlen);
	/* an error envelope says more than the status; anything else that is
	 * not a 200 is reported by its status */
	if (r.status != 200 && rc != -EACCES) {
		errf(err, errlen, "STS %s: HTTP %ld", url, r.status);
		rc = -EIO;
	}
	if (r.body)
		explicit_bzero(r.body, r.len);
	free(r.body);
	if (rc)
		explicit_bzero(c, sizeof(*c));
	return rc;
}

static int fetch_container(struct aws_creds *c, char *err, size_t errlen)
{
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *tfile = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	char url[URL_MAX], auth[sizeof("Authorization: ") + CONTAINER_TOKEN_MAX];
	char herr[ERR_MAX] = "";
	struct http_resp r = {};
	int rc = 0;

	auth[0] = '\0';
	if (rel) {
		if (snprintf(url, sizeof(url), "%s%s%s", ECS_HOST, *rel == '/' ? "" : "/", rel) >=
		    (int)sizeof(url)) {
			errf(err, errlen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI too long");
			return -EINVAL;
		}
	} else if (full) {
		if (strlen(full) >= sizeof(url)) {
			errf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI too long");
			return -EINVAL;
		}
		if (!aws_container_host_allowed(full)) {
			errf(err, errlen,
				 "AWS_CONTAINER_CREDENTIALS_FULL_URI host is not loopback, "
				 "169.254.170.2, 169.254.170.23 or fd00:ec2::23");
			return -EPERM;
		}
		strcpy(url, full);
	} else {
		errf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not set");
		return -ENOENT;
	}
	/* the token file rotates: read it on every fetch; the env token is
	 * only a fallback when no file is configured */
	if (tfile) {
		char *t = read_small(tfile, CONTAINER_TOKEN_MAX);

		if (!t) {
			rc = -errno;
			errf(err, errlen, "container token %s: %s", tfile, strerror(-rc));
			return rc;
		}
		if (strpbrk(t, "\r\n")) {
			explicit_bzero(t, strlen(t));
			free(t);
			errf(err, errlen, "container token %s holds CR or LF: refused", tfile);
			return -EINVAL;
		}
		snprintf(auth, sizeof(auth), "Authorization: %s", t);
		explicit_bzero(t, strlen(t));
		free(t);
	} else if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
		const char *t = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");

		if (strpbrk(t, "\r\n") || strlen(t) > CONTAINER_TOKEN_MAX) {
			errf(err, errlen,
				 "AWS_CONTAINER_AUTHORIZATION_TOKEN holds CR or LF or is too long");
			return -EINVAL;
		}
		snprintf(auth, sizeof(auth), "Authorization: %s", t);
	}
	for (int i = 0; i < CONTAINER_ATTEMPTS; i++) {
		struct http_req req = {
			.method = "GET",
			.url = url,
			.headers = { "Accept: application/json", auth[0] ? auth : NULL },
			.connect_timeout_ms = CONTAINER_TIMEOUT_MS,
			.timeout_ms = CONTAINER_TIMEOUT_MS,
			.direct = true,
		};

		if (i)
			sleep(1);
		free(r.body);
		rc = http_request(&req, &r, herr, sizeof(herr));
		if (!rc && r.status < 500)
			break;
	}
	explicit_bzero(auth, sizeof(auth));
	if (rc) {
		errf(err, errlen, "container credentials %s: %s", url, herr);
	} else if (r.status != 200) {
		errf(err, errlen, "container credentials %s: HTTP %ld", url, r.status);
		rc = r.status == 401 || r.status == 403 ? -EACCES : -EIO;
	} else {
		rc = aws_creds_parse_json(r.body, r.len, c, err, errlen);
	}
	if (r.body)
		explicit_bzero(r.body, r.len);
	free(r.body);
	if (!rc)
		c->source = AWS_CREDS_CONTAINER;
	return rc;
}

static int fetch_imds(struct aws_creds *c, char *err, size_t errlen)
{
	char base[IMDS_BASE_MAX], tok[128], path[64 + ROLE_NAME_MAX], *role = NULL, *body = NULL;
	size_t len;
	int rc;

	imds_base(base, sizeof(base)); /* a bad override: the default, as botocore */
	rc = imds_token(base, IMDS_TOKEN_TTL, tok, sizeof(tok), NULL, NULL, err, errlen);
	if (rc)
		return rc;
	rc = imds_get(base, tok, "/latest/meta-data/iam/security-credentials/", NULL, NULL, &role,
		      &len, err, errlen);
	if (rc)
		goto out;
	/* one role per instance profile; take the first line */
	role[strcspn(role, "\r\n")] = '\0';
	if (!role[0] || strlen(role) >= ROLE_NAME_MAX || strchr(role, '/')) {
		errf(err, errlen, "IMDS: bad role name");
		rc = -EINVAL;
		goto out;
	}
	snprintf(path, sizeof(path), "/latest/meta-data/iam/security-credentials/%s", role);
	rc = imds_get(base, tok, path, NULL, NULL, &body, &len, err, errlen);
	if (rc)
		goto out;
	rc = aws_creds_parse_json(body, len, c, err, errlen);
	if (!rc && (!c->session_token[0] || !c->expiration)) {
		errf(err, errlen, "IMDS credentials lack Token or Expiration");
		rc = -EINVAL;
	}
	if (!rc)
		c->source = AWS_CREDS_IMDS;
	explicit_bzero(body, len);
out:
	explicit_bzero(tok, sizeof(tok));
	free(role);
	free(body);
	return rc;
}

static int imds_region(char *out, size_t n, char *err, size_t errlen)
{
	char base[IMDS_BASE_MAX], tok[128], *body = NULL;
	json_t *doc;
	size_t len;
	int rc;

	imds_base(base, sizeof(base));
	rc = imds_token(base, IMDS_TOKEN_TTL, tok, sizeof(tok), NULL, NULL, err, errlen);
	if (rc)
		return rc;
	rc = imds_get(base, tok, "/latest/dynamic/instance-identity/document", NULL, NULL, &body,
		      &len, err, errlen);
	if (!rc) {
		const char *r;

		doc = json_loadb(body, len, 0, NULL);
		r = json_string_value(json_object_get(doc, "region"));
		if (r && *r && strlen(r) < n) {
			strcpy(out, r);
		} else {
			errf(err, errlen, "IMDS identity document has no region");
			rc = -EINVAL;
		}
		json_decref(doc);
		free(body);
		body = NULL;
	}
	if (rc) {
		/* older path, plain text */
		char e2[ERR_MAX];

		if (!imds_get(base, tok, "/latest/meta-data/placement/region", NULL, NULL, &body,
			      &len, e2, sizeof(e2)) &&
		    len && len < n && !strpbrk(body, "\r\n/")) {
			strcpy(out, body);
			rc = 0;
		}
		free(body);
	}
	explicit_bzero(tok, sizeof(tok));
	return rc;
}

static int fetch(enum aws_creds_source s, struct aws_creds *c, char *err, size_t errlen)
{
	switch (s) {
	case AWS_CREDS_ENV:
		return fetch_env(c, err, errlen);
	case AWS_CREDS_WEB_IDENTITY:
		return fetch_web_identity(c, err, errlen);
	case AWS_CREDS_CONTAINER:
		return fetch_container(c, err, errlen);
	case AWS_CREDS_IMDS:
		return fetch_imds(c, err, errlen);
	default:
		errf(err, errlen, "no credential provider configured");
		return -ENOENT;
	}
}

/* ---- refresher ---- */

static uint32_t rnd32(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)time(NULL) * 2654435761u;
	return r;
}

/* When to refresh credentials fetched at `now` that expire at `exp`. */
static time_t refresh_at(time_t now, int64_t exp)
{
	int64_t life = exp - now, lead;

	if (!exp)
		return 0;
	lead = REFRESH_MIN_S + rnd32() % (REFRESH_JITTER_S + 1);
	if (lead > life / 2)
		lead = life / 2;
	return life <= 1 ? now + 1 : (time_t)(exp - lead);
}

static void *refresher(void *arg)
{
	unsigned fails;
	time_t next;

	(void)arg;
	pthread_mutex_lock(&g.lock);
	/* a failed first fetch was reported by aws_creds_start */
	fails = g.have ? 0 : 1;
	next = g.have ? refresh_at(time(NULL), g.cur.expiration) : time(NULL) + 1;
	while (!g.stopping) {
		struct aws_creds c;
		char err[ERR_MAX] = "";
		time_t now = time(NULL);
		int rc;

		if (!g.force && (!next || now < next)) {
			struct timespec ts;

			/* wall clock: expirations are wall times; a step in
			 * the clock is caught within this second */
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&g.wake, &g.lock, &ts);
			continue;
		}
		if (g.force)
			g.last_force = now;
		g.force = false;
		pthread_mutex_unlock(&g.lock);
		rc = fetch(g.src, &c, err, sizeof(err));
		pthread_mutex_lock(&g.lock);
		now = time(NULL);
		if (!rc) {
			bool rotated = strcmp(c.access_key_id, g.cur.access_key_id) != 0;

			g.cur = c;
			g.have = true;
			g.refreshed++;
			fails = 0;
			next = refresh_at(now, c.expiration);
			p_dbg("credentials refreshed (%s)%s, expire in %llds",
			      aws_creds_source_name(g.src), rotated ? ", new key" : "",
			      c.expiration ? (long long)(c.expiration - now) : 0LL);
		} else {
			unsigned s = fails < 6 ? 1u << fails : RETRY_MAX_S;

			g.failed++;
			/* log the first failure of a run, then every 10th */
			if (fails % 10 == 0)
				p_warn("credentials (%s): %s; retrying in %us",
				       aws_creds_source_name(g.src), err,
				       s > RETRY_MAX_S ? RETRY_MAX_S : s);
			fails++;
			next = now + (s > RETRY_MAX_S ? RETRY_MAX_S : s);
		}
		explicit_bzero(&c, sizeof(c));
	}
	pthread_mutex_unlock(&g.lock);
	return NULL;
}

/* A region goes into host names (xray.<region>.amazonaws.com): only
 * lowercase letters, digits and '-'. */
static bool region_ok(const char *r)
{
	size_t n = strlen(r);

	return n && n < AWS_REGION_MAX && strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int aws_creds_start(const char *region_flag, bool use_imds)
{
	pthread_condattr_t ca;
	char err[ERR_MAX] = "";
	struct aws_creds c;
	const char *r = region_flag && *region_flag ? region_flag : NULL;
	int rc;

	if (g.started)
		return -EALREADY;
	rc = http_client_global_init();
	if (rc)
		return rc;
	g.started = true;
	pthread_condattr_init(&ca);
	pthread_cond_init(&g.wake, &ca);
	pthread_condattr_destroy(&ca);
	g.use_imds = use_imds && !imds_disabled();
	if (!r)
		r = env("AWS_REGION");
	if (!r)
		r = env("AWS_DEFAULT_REGION");
	if (r) {
		if (!region_ok(r)) {
			p_err("region '%.40s': expected lowercase letters, digits and '-'", r);
			return -EINVAL;
		}
		strcpy(g.region, r);
	} else if (g.use_imds) {
		rc = imds_region(g.region, sizeof(g.region), err, sizeof(err));
		if (!rc && !region_ok(g.region)) {
			snprintf(err, sizeof(err), "IMDS region is not a region name");
			g.region[0] = '\0';
			rc = -EINVAL;
		}
		if (rc)
			p_info("region: none from --region, AWS_REGION, AWS_DEFAULT_REGION; %s", err);
	}
	g.src = aws_creds_pick_source();
	if (g.src == AWS_CREDS_IMDS && !g.use_imds)
		g.src = AWS_CREDS_NONE;
	rc = fetch(g.src, &c, err, sizeof(err));
	if (!rc) {
		g.cur = c;
		g.have = true;
		explicit_bzero(&c, sizeof(c));
	} else if (g.src != AWS_CREDS_NONE) {
		p_warn("credentials (%s): %s", aws_creds_source_name(g.src), err);
	}
	if (g.src != AWS_CREDS_NONE && g.src != AWS_CREDS_ENV) {
		if (pthread_create(&g.thread, NULL, refresher, NULL)) {
			p_err("credentials refresher: %s", strerror(errno));
			return -EAGAIN;
		}
		g.thread_running = true;
	}
	return g.have && g.region[0] ? 0 : -ENOENT;
}

void aws_creds_stop(void)
{
	if (!g.started)
		return;
	pthread_mutex_lock(&g.lock);
	g.stopping = true;
	pthread_cond_broadcast(&g.wake);
	pthread_mutex_unlock(&g.lock);
	/* a fetch in flight is bounded by its timeouts (at most ~8 s for the
	 * container provider's retries) */
	if (g.thread_running)
		pthread_join(g.thread, NULL);
	g.thread_running = false;
	explicit_bzero(&g.cur, sizeof(g.cur));
	g.have = false;
	g.started = false;
	g.stopping = false;
	g.region[0] = '\0';
	pthread_cond_destroy(&g.wake);
}

int aws_creds_get(struct aws_creds *out)
{
	int rc = 0;

	pthread_mutex_lock(&g.lock);
	if (g.have)
		*out = g.cur;
	else
		rc = -ENOENT;
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int aws_region(char *out, size_t n)
{
	int rc = 0;

	pthread_mutex_lock(&g.lock);
	if (!g.region[0])
		rc = -ENOENT;
	else if (strlen(g.region) >= n)
		rc = -ENOSPC;
	else
		strcpy(out, g.region);
	pthread_mutex_unlock(&g.lock);
	return rc;
}

void aws_creds_invalidate(void)
{
	pthread_mutex_lock(&g.lock);
	if (g.thread_running && time(NULL) - g.last_force >= FORCE_MIN_INTERVAL_S) {
		g.force = true;
		pthread_cond_broadcast(&g.wake);
	}
	pthread_mutex_unlock(&g.lock);
}

void aws_creds_counts(uint64_t *refreshed, uint64_t *failed)
{
	pthread_mutex_lock(&g.lock);
	*refreshed = g.refreshed;
	*failed = g.failed;
	pthread_mutex_unlock(&g.lock);
}
