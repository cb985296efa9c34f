// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// Test peer for the xtap end-to-end tests: a node http server (keep-alive).
// Usage: node server.js PORT [CERT KEY]. With a certificate and its key it
// serves HTTPS (node's own, statically linked OpenSSL). Listens on
// 127.0.0.1 only.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');

const port = parseInt(process.argv[2], 10);
if (!(port > 0 && port < 65536) || process.argv.length === 4) {
	console.error('usage: node server.js PORT [CERT KEY]');
	process.exit(2);
}
const tls = process.argv.length > 4
	? { cert: fs.readFileSync(process.argv[3]), key: fs.readFileSync(process.argv[4]) }
	: null;

// GET url on a new connection (trusting our certificate), then answer
// "fetched <status> <bytes>", or 502.
function fetch(url, res) {
	const fail = (e) => {
		res.writeHead(502, { 'Content-Type': 'text/plain' });
		res.end(`error ${e.message}\n`);
	};
	const client = url.startsWith('https:') ? https : http;
	let req;

	try {
		req = client.get(url, { ca: tls && tls.cert, agent: false }, (r) => {
			let n = 0;
			r.on('data', (d) => { n += d.length; });
			r.on('end', () => {
				res.writeHead(200, { 'Content-Type': 'text/plain' });
				res.end(`fetched ${r.statusCode} ${n}\n`);
			});
		});
	} catch (e) {
		fail(e); // not a URL
		return;
	}
	req.on('error', fail);
}

// n chunks "chunk i\n", one every ms milliseconds
function stream(n, ms, res) {
	let i = 0;
	res.writeHead(200, { 'Content-Type': 'text/plain' });
	const t = setInterval(() => {
		res.write(`chunk ${i}\n`);
		if (++i >= n) {
			clearInterval(t);
			res.end();
		}
	}, ms);
}

function handler(req, res) {
	const u = new URL(req.url, 'http://127.0.0.1');
	// drain any request body before answering
	req.resume();
	req.on('end', () => {
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
			let code = parseInt(u.pathname.slice('/status/'.length), 10);
			if (!(code >= 200 && code <= 599)) code = 400;
			res.writeHead(code, { 'Content-Type': 'text/plain' });
			res.end(`status ${code}\n`);
		} else if (u.pathname === '/slow') {
			let ms = parseInt(u.searchParams.get('ms') || '100', 10);
			if (!(ms >= 0 && ms <= 30000)) ms = 100;
			setTimeout(() => {
				res.writeHead(200, { 'Content-Type': 'text/plain' });
				res.end('slow\n');
			}, ms);
		} else if (u.pathname === '/call') {
			// after ms, GET url (loopback only) and answer with its status:
			// an outgoing call made while the request is in flight
			const target = new URL(u.searchParams.get('url') || '', 'http://invalid');
			let ms = parseInt(u.searchParams.get('ms') || '0', 10);
			if (!(ms >= 0 && ms <= 30000)) ms = 0;
			let hold = parseInt(u.searchParams.get('hold') || '0', 10);
			if (!(hold >= 0 && hold <= 30000)) hold = 0;
			if (target.protocol !== 'http:' || target.hostname !== '127.0.0.1') {
				res.writeHead(400, { 'Content-Type': 'text/plain' });
				res.end('call: url must be http://127.0.0.1...\n');
				return;
			}
			setTimeout(() => {
				http.get(target, (r) => {
					r.resume();
					r.on('end', () => setTimeout(() => {
						res.writeHead(r.statusCode, { 'Content-Type': 'text/plain' });
						res.end(`called ${r.statusCode}\n`);
					}, hold));
				}).on('error', (e) => {
					res.writeHead(502, { 'Content-Type': 'text/plain' });
					res.end(`call: ${e.message}\n`);
				});
			}, ms);
		} else if (u.pathname === '/stream') {
			stream(parseInt(u.searchParams.get('n') || '10', 10),
				parseInt(u.searchParams.get('ms') || '100', 10), res);
		} else if (u.pathname === '/fetch') {
			fetch(u.searchParams.get('url') || '', res);
		} else {
			res.writeHead(404, { 'Content-Type': 'text/plain' });
			res.end('not found\n');
		}
	});
}

const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => console.log(`node server on 127.0.0.1:${port}`));
process.on('SIGTERM', () => process.exit(0));
