// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// Loopback stand-in for the AWS endpoints xtap talks to, for the end-to-end
// tests (tests/e2e/test_xray_api.c):
//   POST /TraceSegments, /GetSamplingRules, /SamplingTargets   X-Ray (SigV4, service xray)
//   POST /   Action=AssumeRoleWithWebIdentity                   STS (unsigned, XML)
//   PUT  /latest/api/token, GET /latest/meta-data/..., /latest/dynamic/...   IMDSv2
//   GET  /v1/credentials                                        EKS Pod Identity agent
// Every signed request is verified independently with AWS's own signer
// (@smithy/signature-v4 + @smithy/hash-node): the signature is recomputed
// from the method, path, signed headers and body received, with the secret
// of the credentials this server issued, and compared to the Authorization
// header. Every request and its verdict is recorded for the test:
//   GET  /__log        all requests so far (JSON array)
//   GET  /__segments   {"delivered":{id:count}, "unprocessed":[ids]}
//   POST /__script     append X-Ray answers, one per /TraceSegments request:
//                      [{"status":429}, {"status":500}, {"status":400},
//                       {"hang":7000}, {"unprocessed":1},
//                       {"status":403,"type":"ExpiredTokenException"}]  (then 200s)
//   POST /__config     {"requireSigned":bool, "credTtl":seconds}
// Usage: node server.js [--static AKID:SECRET[:TOKEN]] [--pod-token-file F]
//                       [--cred-ttl S] [--region R]
// Listens on 127.0.0.1, an ephemeral port, printed as "port N" on stdout.
'use strict';

const http = require('http');
const fs = require('fs');
const crypto = require('crypto');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Hash } = require('@smithy/hash-node');

const args = process.argv.slice(2);
function arg(name) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
}

const config = {
  requireSigned: true,
  credTtl: Number(arg('--cred-ttl') || 120), // seconds: credentials we issue expire this soon
  region: arg('--region') || 'us-west-2',
  podTokenFile: arg('--pod-token-file'),
};
// Credentials we accept: issued by STS/IMDS/Pod Identity below, or static.
const creds = new Map(); // accessKeyId -> {secret, token, expires (ms), source}
const staticCreds = arg('--static');
if (staticCreds) {
  const [id, secret, token] = staticCreds.split(':');
  creds.set(id, { secret, token: token || '', expires: Infinity, source: 'static' });
}

const log = [];
const LOG_MAX = 10000; // bounded: a runaway client cannot eat the host
const script = [];
const delivered = new Map();
const unprocessed = [];
const imdsTokens = new Set();
let serial = 0;

function record(e) {
  if (log.length < LOG_MAX) log.push(e);
}

function issue(source) {
  serial++;
  const id = `ASIAMOCK${String(serial).padStart(12, '0')}`;
  const c = {
    secret: crypto.randomBytes(30).toString('base64'),
    token: `MockSessionToken/${serial}/` + crypto.randomBytes(64).toString('base64'),
    expires: Date.now() + config.credTtl * 1000,
    source,
  };
  creds.set(id, c);
  return { id, ...c, expiration: new Date(c.expires).toISOString().replace(/\.\d+Z$/, 'Z') };
}

function parseAuth(h) {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
    h || '',
  );
  if (!m) return null;
  return { akid: m[1], date: m[2], region: m[3], service: m[4], signed: m[5].split(';'), sig: m[6] };
}

function amzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  if (!m) return null;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

// Recompute the signature of a received request. Returns {ok, why, akid, token, signedToken}.
async function verify(req, body) {
  const a = parseAuth(req.headers.authorization);
  if (!req.headers.authorization) return { ok: false, unsigned: true, why: 'no Authorization header' };
  if (!a) return { ok: false, why: 'unparsable Authorization: ' + req.headers.authorization };
  const c = creds.get(a.akid);
  if (!c) return { ok: false, akid: a.akid, why: 'unknown access key', code: 'InvalidClientTokenId' };
  const date = amzDate(req.headers['x-amz-date']);
  if (!date) return { ok: false, akid: a.akid, why: 'no or bad X-Amz-Date' };
  if (Math.abs(Date.now() - date.getTime()) > 5 * 60 * 1000)
    return { ok: false, akid: a.akid, why: 'X-Amz-Date too far from now' };
  const headers = {};
  for (const name of a.signed) {
    const v = req.headers[name];
    if (v === undefined) return { ok: false, akid: a.akid, why: `signed header ${name} missing` };
    headers[name] = Array.isArray(v) ? v.join(',') : v;
  }
  const token = req.headers['x-amz-security-token'] || '';
  const signedToken = a.signed.includes('x-amz-security-token');
  const url = new URL(req.url, 'http://placeholder');
  const query = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const signer = new SignatureV4({
    credentials: { accessKeyId: a.akid, secretAccessKey: c.secret },
    region: a.region,
    service: a.service,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: true,
    applyChecksum: false,
  });
  const out = await signer.sign(
    { method: req.method, protocol: 'http:', hostname: headers.host || '', path: url.pathname, query, headers, body },
    { signingDate: date },
  );
  const want = parseAuth(out.headers.authorization || out.headers.Authorization);
  const res = { akid: a.akid, token, signedToken, service: a.service, region: a.region };
  if (!want) return { ...res, ok: false, why: 'signer produced nothing' };
  if (want.signed.join(';') !== a.signed.join(';'))
    return { ...res, ok: false, why: `SignedHeaders ${a.signed.join(';')} != ${want.signed.join(';')}` };
  if (want.sig !== a.sig) return { ...res, ok: false, why: 'signature mismatch', code: 'InvalidSignatureException' };
  if (c.token && token !== c.token)
    return { ...res, ok: false, why: 'session token missing or not the one issued with the key', code: 'InvalidClientTokenId' };
  if (c.expires < Date.now()) return { ...res, ok: false, sigValid: true, why: 'credentials expired', code: 'ExpiredTokenException' };
  return { ...res, ok: true };
}

function send(res, status, body, type) {
  const b = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': type || 'application/json', 'Content-Length': Buffer.byteLength(b) });
  res.end(b);
}

function xmlEsc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

async function xray(req, res, body, entry) {
  const v = await verify(req, body);
  Object.assign(entry, { sig: v });
  if (!v.ok) {
    if (v.unsigned && !config.requireSigned) {
      entry.sig.ok = null; // accepted unsigned, on request
    } else {
      const status = v.unsigned ? 403 : 403;
      const type = v.unsigned ? 'MissingAuthenticationTokenException' : v.code || 'InvalidSignatureException';
      entry.status = status;
      return send(res, status, { __type: type, message: v.why });
    }
  }
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/GetSamplingRules') {
    entry.status = 200;
    return send(res, 200, {
      SamplingRuleRecords: [
        {
          SamplingRule: {
            RuleName: 'Default', RuleARN: 'arn:aws:xray:us-west-2:000000000000:sampling-rule/Default',
            ResourceARN: '*', Priority: 10000, FixedRate: 1, ReservoirSize: 0, ServiceName: '*',
            ServiceType: '*', Host: '*', HTTPMethod: '*', URLPath: '*', Version: 1, Attributes: {},
          },
          CreatedAt: 0, ModifiedAt: 0,
        },
      ],
    });
  }
  if (path === '/SamplingTargets') {
    entry.status = 200;
    return send(res, 200, { SamplingTargetDocuments: [], LastRuleModification: 0, UnprocessedStatistics: [] });
  }
  if (path !== '/TraceSegments') {
    entry.status = 404;
    return send(res, 404, { __type: 'UnknownOperationException' });
  }
  let docs;
  try {
    const j = JSON.parse(body.toString('utf8'));
    docs = j.TraceSegmentDocuments;
    if (!Array.isArray(docs) || docs.some((d) => typeof d !== 'string')) throw new Error('not an array of strings');
    if (docs.length > 50) throw new Error('Exceeding maximum segment count: 50');
    entry.ids = docs.map((d) => JSON.parse(d).id);
  } catch (e) {
    entry.status = 400;
    entry.error = String(e.message);
    return send(res, 400, { __type: 'InvalidRequestException', message: String(e.message) });
  }
  const step = script.shift() || {};
  entry.step = step;
  if (step.hang) {
    // never answered within the client's timeout: these documents did
    // not arrive (the client must send them again)
    entry.status = 'hang';
    setTimeout(() => { if (!res.destroyed) send(res, 500, { __type: 'InternalFailure' }); }, step.hang);
    return;
  }
  if (step.status && step.status !== 200) {
    entry.status = step.status;
    const type = step.type || (step.status === 429 ? 'ThrottledException' : step.status >= 500 ? 'InternalFailure' : 'InvalidRequestException');
    return send(res, step.status, { __type: type, message: 'scripted' });
  }
  const up = [];
  entry.ids.forEach((id, i) => {
    if (i < (step.unprocessed || 0)) {
      up.push({ Id: id, ErrorCode: 'InvalidTraceId', Message: 'scripted' });
      unprocessed.push(id);
    } else {
      delivered.set(id, (delivered.get(id) || 0) + 1);
    }
  });
  entry.status = 200;
  send(res, 200, { UnprocessedTraceSegments: up });
}

function sts(req, res, body, entry) {
  const f = new URLSearchParams(body.toString('utf8'));
  entry.sts = { action: f.get('Action'), roleArn: f.get('RoleArn'), session: f.get('RoleSessionName'), token: f.get('WebIdentityToken') };
  entry.sig = { ok: !req.headers.authorization, why: req.headers.authorization ? 'STS call was signed' : 'unsigned, as it must be' };
  if (f.get('Action') !== 'AssumeRoleWithWebIdentity' || f.get('Version') !== '2011-06-15' || !f.get('RoleArn') || !f.get('WebIdentityToken')) {
    entry.status = 400;
    return send(res, 400,
      '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidParameterValue</Code><Message>bad request</Message></Error><RequestId>1</RequestId></ErrorResponse>', 'text/xml');
  }
  if (f.get('WebIdentityToken').startsWith('bad')) {
    entry.status = 400;
    return send(res, 400,
      '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>token rejected</Message></Error><RequestId>2</RequestId></ErrorResponse>', 'text/xml');
  }
  const c = issue('web-identity');
  entry.issued = c.id;
  entry.status = 200;
  send(res, 200,
    `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:default:xtap</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser><Arn>${xmlEsc(f.get('RoleArn'))}/${xmlEsc(f.get('RoleSessionName'))}</Arn><AssumedRoleId>AROAMOCK:${xmlEsc(f.get('RoleSessionName'))}</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <SessionToken>${xmlEsc(c.token)}</SessionToken>
      <SecretAccessKey>${xmlEsc(c.secret)}</SecretAccessKey>
      <Expiration>${c.expiration}</Expiration>
      <AccessKeyId>${c.id}</AccessKeyId>
    </Credentials>
    <Provider>arn:aws:iam::000000000000:oidc-provider/mock</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>3</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`, 'text/xml');
}

function imds(req, res, entry) {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/latest/api/token') {
    const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
    if (req.method !== 'PUT' || !(ttl >= 1 && ttl <= 21600)) {
      entry.status = 400;
      return send(res, 400, 'bad token request', 'text/plain');
    }
    const t = 'imds-' + crypto.randomBytes(16).toString('hex');
    imdsTokens.add(t);
    entry.status = 200;
    return send(res, 200, t, 'text/plain');
  }
  if (!imdsTokens.has(req.headers['x-aws-ec2-metadata-token'])) {
    entry.status = 401;
    return send(res, 401, 'no or bad IMDSv2 token', 'text/plain');
  }
  if (path === '/latest/meta-data/iam/security-credentials/') {
    entry.status = 200;
    return send(res, 200, 'xtap-test-role', 'text/plain');
  }
  if (path === '/latest/meta-data/iam/security-credentials/xtap-test-role') {
    const c = issue('imds');
    entry.issued = c.id;
    entry.status = 200;
    return send(res, 200, { Code: 'Success', LastUpdated: new Date().toISOString(), Type: 'AWS-HMAC', AccessKeyId: c.id, SecretAccessKey: c.secret, Token: c.token, Expiration: c.expiration });
  }
  if (path === '/latest/dynamic/instance-identity/document') {
    entry.status = 200;
    return send(res, 200, { accountId: '000000000000', region: config.region, availabilityZone: config.region + 'a', instanceId: 'i-0mock', instanceType: 't3.micro', imageId: 'ami-0mock', architecture: 'x86_64', privateIp: '127.0.0.1', version: '2017-09-30' });
  }
  if (path === '/latest/meta-data/placement/region') {
    entry.status = 200;
    return send(res, 200, config.region, 'text/plain');
  }
  entry.status = 404;
  send(res, 404, 'not found', 'text/plain');
}

function pod(req, res, entry) {
  let want = null;
  try {
    want = config.podTokenFile ? fs.readFileSync(config.podTokenFile, 'utf8').replace(/\r?\n$/, '') : null;
  } catch (e) {
    want = null;
  }
  entry.pod = { authorization: req.headers.authorization || null, expected: want };
  if (!want || req.headers.authorization !== want) {
    entry.status = 401;
    return send(res, 401, { message: 'Authorization header does not match the token file' });
  }
  const c = issue('container');
  entry.issued = c.id;
  entry.status = 200;
  send(res, 200, { AccessKeyId: c.id, SecretAccessKey: c.secret, Token: c.token, AccountId: '000000000000', Expiration: c.expiration });
}

const BODY_MAX = 8 * 1024 * 1024;

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (d) => {
    size += d.length;
    if (size > BODY_MAX) req.destroy();
    else chunks.push(d);
  });
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    const path = new URL(req.url, 'http://x').pathname;
    const entry = { t: Date.now() / 1000, method: req.method, path, headers: { ...req.headers } };
    delete entry.headers.authorization; // kept in sig (parsed), not the raw secret-derived value
    try {
      if (path === '/__log') return send(res, 200, log);
      if (path === '/__segments') return send(res, 200, { delivered: Object.fromEntries(delivered), unprocessed });
      if (path === '/__script' && req.method === 'POST') {
        script.push(...JSON.parse(body.toString('utf8')));
        return send(res, 200, { queued: script.length });
      }
      if (path === '/__config' && req.method === 'POST') {
        Object.assign(config, JSON.parse(body.toString('utf8')));
        return send(res, 200, config);
      }
      record(entry);
      if (path.startsWith('/latest/')) return imds(req, res, entry);
      if (path === '/v1/credentials') return pod(req, res, entry);
      if (path === '/' && req.method === 'POST') return sts(req, res, body, entry);
      if (req.method === 'POST') return await xray(req, res, body, entry);
      entry.status = 404;
      send(res, 404, { message: 'no such mock endpoint' });
    } catch (e) {
      entry.status = 500;
      entry.error = String(e && e.stack ? e.stack : e);
      if (!res.headersSent) send(res, 500, { __type: 'MockFailure', message: String(e) });
    }
  });
});
// hung requests must not keep the process alive past a test
server.keepAliveTimeout = 1000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`port ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
