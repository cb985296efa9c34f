// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// An HTTPS server on node's https module (node's own, statically linked
// OpenSSL): node https_server.js PORT CERT KEY
//   /ok          200 "ok\n" with Content-Length
//   /chunked     200, three res.write then end (chunked encoding)
//   /status/N    status N
//   /stream?n=N&ms=M  200, N chunks "chunk i\n", one every M ms
//   /fetch?url=U GET U over https (trusting CERT, a new connection), replies
//                200 "fetched <status> <bytes>\n" (502 on error)
'use strict';
const fs = require('fs');
const https = require('https');

const [port, certFile, keyFile] = process.argv.slice(2);
const cert = fs.readFileSync(certFile);
const key = fs.readFileSync(keyFile);

function fetch(url, res) {
  const req = https.get(url, { ca: cert, agent: false }, (r) => {
    let n = 0;
    r.on('data', (d) => { n += d.length; });
    r.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`fetched ${r.statusCode} ${n}\n`);
    });
  });
  req.on('error', (e) => {
    res.writeHead(502, { 'Content-Type': 'text/plain' });
    res.end(`error ${e.message}\n`);
  });
}

const server = https.createServer({ cert, key }, (req, res) => {
  const u = new URL(req.url, 'https://localhost');
  if (u.pathname === '/ok') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 3 });
    res.end('ok\n');
  } else if (u.pathname === '/chunked') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('one\n');
    res.write('two\n');
    res.write('three\n');
    res.end();
  } else if (u.pathname.startsWith('/status/')) {
    const code = parseInt(u.pathname.slice(8), 10);
    res.writeHead(code, { 'Content-Type': 'text/plain' });
    res.end(`status ${code}\n`);
  } else if (u.pathname === '/stream') {
    const n = parseInt(u.searchParams.get('n'), 10);
    const ms = parseInt(u.searchParams.get('ms'), 10);
    let i = 0;
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    const t = setInterval(() => {
      res.write(`chunk ${i}\n`);
      if (++i === n) {
        clearInterval(t);
        res.end();
      }
    }, ms);
  } else if (u.pathname === '/fetch') {
    fetch(u.searchParams.get('url'), res);
  } else {
    res.writeHead(404);
    res.end();
  }
});
server.keepAliveTimeout = 65000;
server.listen(Number(port), '127.0.0.1');
