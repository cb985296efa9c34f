// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// The reference app for tests/e2e/test_reference.c: Express 4 instrumented
// with the AWS X-Ray Node SDK (aws-xray-sdk-express). Its segments go
// to AWS_XRAY_DAEMON_ADDRESS (the test's UDP listener); xtap traces the same
// process from the kernel and the test compares the two field by field.
//
// Environment:
//   PORT             port to listen on, 127.0.0.1 (required)
//   DOWNSTREAM_PORT  port of a local HTTP server that /call fetches (required)
//   AWS_XRAY_DAEMON_ADDRESS  where the SDK sends its documents
// Prints "listening <port>" on stdout once it accepts connections.
'use strict';

const AWSXRay = require('aws-xray-sdk-core');
const xrayExpress = require('aws-xray-sdk-express');

// No plugins: no aws.ec2/ecs block and no origin.
AWSXRay.config([]);
// Local sampling only, every request sampled.
AWSXRay.middleware.disableCentralizedSampling();
AWSXRay.middleware.setSamplingRules({
	version: 2,
	default: { fixed_target: 0, rate: 1 },
	rules: [],
});
AWSXRay.setContextMissingStrategy('LOG_ERROR');
AWSXRay.setLogger({
	error: (...a) => console.error('xray:', ...a),
	warn: (...a) => console.error('xray:', ...a),
	info: () => {},
	debug: () => {},
});

// Patches http in place; outgoing calls become subsegments.
const http = require('http');
AWSXRay.captureHTTPsGlobal(http);
const express = require('express');

const port = Number(process.env.PORT);
const downstreamPort = Number(process.env.DOWNSTREAM_PORT);
if (!port || !downstreamPort) {
	console.error('app.js: PORT and DOWNSTREAM_PORT must be set');
	process.exit(2);
}

const app = express();
app.use(xrayExpress.openSegment('my-app'));

app.get('/ok', (req, res) => {
	res.send('ok\n');
});

app.get('/throttle', (req, res) => {
	res.status(429).send('slow down\n');
});

app.get('/fault', (req, res) => {
	res.status(500).send('broken\n');
});

app.get('/slow', (req, res) => {
	const ms = Math.min(Number(req.query.ms) || 100, 5000);
	setTimeout(() => res.send('slow ' + ms + '\n'), ms);
});

// Reads the whole body (no body parser needed) and answers 201.
app.post('/submit', (req, res) => {
	let n = 0;
	req.on('data', (c) => {
		n += c.length;
	});
	req.on('end', () => {
		res.status(201).send('got ' + n + ' bytes\n');
	});
});

// One outgoing call to another local server, answered with what it said.
app.get('/call', (req, res) => {
	const out = http.get(
		{ host: '127.0.0.1', port: downstreamPort, path: '/ok?secret=1' },
		(dres) => {
			let body = '';
			dres.setEncoding('utf8');
			dres.on('data', (c) => {
				body += c;
			});
			dres.on('end', () => {
				res.send('downstream said ' + dres.statusCode + ': ' + body);
			});
		}
	);
	out.on('error', (e) => {
		res.status(502).send('downstream error: ' + e.message + '\n');
	});
});

// /notfound and anything else: Express's own 404.

app.use(xrayExpress.closeSegment());

const server = app.listen(port, '127.0.0.1', () => {
	console.log('listening ' + port);
});

process.on('SIGTERM', () => {
	server.close(() => process.exit(0));
	setTimeout(() => process.exit(0), 1000).unref();
});
