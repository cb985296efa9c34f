// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// Loopback stand-in for the Kubernetes API server, for the end-to-end tests
// (tests/e2e/test_kubernetes.c). Node's standard library only.
//
// Serves what xtap asks for, in the API server's JSON shapes:
//   GET /api/v1/pods?fieldSelector=spec.nodeName=N[&limit&continue&resourceVersion]
//        a PodList of the pods on node N, paged by limit/continue
//   GET /api/v1/pods?fieldSelector=spec.nodeName=N&watch=1&resourceVersion=RV
//        [&allowWatchBookmarks=true][&timeoutSeconds=S]
//        a stream of {"type","object"} lines: the events after RV, then new
//        ones as they happen, BOOKMARKs, ended after S seconds; an RV older
//        than the last compaction gets an ERROR event with a 410 Status
// Every API request must carry "Authorization: Bearer <token file contents>"
// (re-read on each request, so a test can rotate it) and the exact field
// selector, else 401 / 400 with a Status body.
// Test controls (no auth):
//   POST /__pod[?quiet=1]     body: a Pod; added or replaced by uid (ADDED /
//                             MODIFIED to watchers unless quiet)
//   POST /__delete[?quiet=1]  body: {"uid":…}; DELETED
//   POST /__compact           older resourceVersions expire (410), watches end
//   POST /__drop              every watch connection is cut mid-stream
//   GET  /__log               every request so far
//   GET  /__state             {rv, pods, watchers}
// Usage: node server.js --node N --token-file F [--tls-cert C --tls-key K]
//                       [--bookmark-ms MS]
// Listens on 127.0.0.1, an ephemeral port, printed as "port N" on stdout.
'use strict';

const http = require('http');
const https = require('https');
const fs = require('fs');

const args = process.argv.slice(2);
function arg(name) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
}

const node = arg('--node');
const tokenFile = arg('--token-file');
const bookmarkMs = Number(arg('--bookmark-ms') || 1000);
if (!node || !tokenFile) {
  console.error('usage: server.js --node N --token-file F [--tls-cert C --tls-key K]');
  process.exit(2);
}

const LOG_MAX = 10000; // bounded: a runaway client cannot eat the host
const HISTORY_MAX = 10000;
const pods = new Map(); // uid -> Pod
const history = []; // {rv, type, pod}
let rv = 1000;
let compacted = 0; // resourceVersions below this are gone
const watchers = new Set();
const log = [];

function record(e) {
  if (log.length < LOG_MAX) log.push(e);
}

function status(res, code, reason, message) {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(body + '\n');
}

function onNode(pod) {
  return pod && pod.spec && pod.spec.nodeName === node;
}

function emit(type, pod) {
  rv++;
  const copy = JSON.parse(JSON.stringify(pod));
  copy.metadata.resourceVersion = String(rv);
  history.push({ rv, type, pod: copy });
  if (history.length > HISTORY_MAX) history.shift();
  for (const w of watchers) if (onNode(copy)) send(w, { type, object: copy });
  return copy;
}

function send(w, ev) {
  if (!w.res.writableEnded) w.res.write(JSON.stringify(ev) + '\n');
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > 4 << 20) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

function list(q, res) {
  const limit = Number(q.get('limit') || 0);
  let offset = 0;
  let snapRv = rv;
  const cont = q.get('continue');
  if (cont) {
    let c;
    try {
      c = JSON.parse(Buffer.from(cont, 'base64').toString());
    } catch (e) {
      return status(res, 400, 'BadRequest', 'bad continue token');
    }
    if (c.rv < compacted) return status(res, 410, 'Expired', 'The provided continue parameter is too old');
    offset = c.offset;
    snapRv = c.rv;
  }
  const all = [...pods.values()].filter(onNode).sort((a, b) => a.metadata.uid.localeCompare(b.metadata.uid));
  const items = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset);
  const meta = { resourceVersion: String(snapRv) };
  if (limit > 0 && offset + limit < all.length)
    meta.continue = Buffer.from(JSON.stringify({ offset: offset + limit, rv: snapRv })).toString('base64');
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: meta, items }));
}

function watch(q, req, res) {
  const from = Number(q.get('resourceVersion') || 0);
  const timeout = Math.min(Number(q.get('timeoutSeconds') || 1800), 1800);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  const w = { res, req };
  if (from < compacted) {
    send(w, {
      type: 'ERROR',
      object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${compacted})`, reason: 'Expired', code: 410 },
    });
    return res.end();
  }
  for (const h of history) if (h.rv > from && onNode(h.pod)) send(w, { type: h.type, object: h.pod });
  watchers.add(w);
  const bm = q.get('allowWatchBookmarks') === 'true'
    ? setInterval(() => send(w, { type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(rv) } } }), bookmarkMs)
    : null;
  const end = setTimeout(() => res.end(), timeout * 1000);
  const done = () => {
    watchers.delete(w);
    clearTimeout(end);
    if (bm) clearInterval(bm);
  };
  res.on('close', done);
  res.on('finish', done);
}

async function control(path, q, req, res) {
  const quiet = q.get('quiet') === '1';
  const reply = (o) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(o));
  };
  if (path === '/__log') return reply(log);
  if (path === '/__state') return reply({ rv, pods: pods.size, watchers: watchers.size });
  if (req.method !== 'POST') return status(res, 405, 'MethodNotAllowed', 'POST');
  const body = await readBody(req);
  if (path === '/__pod') {
    const pod = JSON.parse(body);
    const uid = pod.metadata.uid;
    const type = pods.has(uid) ? 'MODIFIED' : 'ADDED';
    if (quiet) {
      rv++;
      pod.metadata.resourceVersion = String(rv);
      pods.set(uid, pod);
    } else pods.set(uid, emit(type, pod));
    return reply({ rv, type });
  }
  if (path === '/__delete') {
    const { uid } = JSON.parse(body);
    const pod = pods.get(uid);
    if (!pod) return status(res, 404, 'NotFound', uid);
    pods.delete(uid);
    if (quiet) rv++;
    else emit('DELETED', pod);
    return reply({ rv });
  }
  if (path === '/__compact') {
    // a new revision that nobody has seen, and everything before it gone
    rv++;
    compacted = rv;
    for (const w of watchers) w.res.end();
    return reply({ compacted });
  }
  if (path === '/__drop') {
    const n = watchers.size;
    for (const w of watchers) w.req.socket.destroy();
    return reply({ dropped: n });
  }
  return status(res, 404, 'NotFound', path);
}

function handler(req, res) {
  const u = new URL(req.url, 'http://x');
  const q = u.searchParams;
  if (u.pathname.startsWith('/__')) {
    control(u.pathname, q, req, res).catch((e) => status(res, 400, 'BadRequest', String(e)));
    return;
  }
  const token = fs.readFileSync(tokenFile, 'utf8').trim();
  const auth = req.headers.authorization || '';
  const isWatch = q.get('watch') === '1' || q.get('watch') === 'true';
  const e = {
    t: Date.now() / 1000,
    method: req.method,
    path: u.pathname,
    query: Object.fromEntries(q),
    auth: auth === `Bearer ${token}` ? 'ok' : auth ? 'bad' : 'none',
    watch: isWatch,
    accept: req.headers.accept || '',
    status: 200,
  };
  record(e);
  if (e.auth !== 'ok') {
    e.status = 401;
    return status(res, 401, 'Unauthorized', 'Unauthorized');
  }
  if (req.method !== 'GET' || u.pathname !== '/api/v1/pods') {
    e.status = 404;
    return status(res, 404, 'NotFound', 'the server could not find the requested resource');
  }
  if (q.get('fieldSelector') !== `spec.nodeName=${node}`) {
    e.status = 400;
    return status(res, 400, 'BadRequest', `unexpected fieldSelector ${q.get('fieldSelector')}`);
  }
  if (isWatch) watch(q, req, res);
  else list(q, res);
}

const cert = arg('--tls-cert');
const server = cert
  ? https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(arg('--tls-key')) }, handler)
  : http.createServer(handler);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`port ${server.address().port}\n`);
});
