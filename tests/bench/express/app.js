// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// The same small Express app, run plain (XRAY unset: traced from outside by
// xtap, or not at all) or instrumented in-process with aws-xray-sdk-express
// (XRAY=1), which sends one UDP segment per request to XRAY_DAEMON.
'use strict';
const express = require('express');
const port = parseInt(process.env.PORT || '3000', 10);
const xray = process.env.XRAY === '1';
let AWSXRay = null;
if (xray) {
  AWSXRay = require('aws-xray-sdk-core');
  AWSXRay.setDaemonAddress(process.env.XRAY_DAEMON || '127.0.0.1:2000');
  AWSXRay.middleware.disableCentralizedSampling();
  // Trace every request, as xtap does (the default rules keep 1/s + 5 %).
  AWSXRay.middleware.setSamplingRules({ version: 2, rules: [], default: { fixed_target: 0, rate: 1.0 } });
  AWSXRay.setContextMissingStrategy('IGNORE_ERROR');
}
const app = express();
if (xray) app.use(require('aws-xray-sdk-express').openSegment('bench-express'));
const small = 's'.repeat(128);
app.get('/small', (req, res) => { res.type('text/plain').send(small); });
app.get('/user/:id', (req, res) => { res.json({ id: req.params.id, name: 'user' + req.params.id }); });
if (xray) app.use(require('aws-xray-sdk-express').closeSegment());
app.listen(port, '127.0.0.1', () => { console.log('listening ' + port); });
