// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// Validates Kubernetes manifests offline against the API schema
// (kubernetes-models), strictly (an unknown field is an error, as
// `kubectl apply --validate=strict` would say), and checks that xtap's
// objects fit together. Prints one line per object and problem; exits 1
// on any problem.
//   node validate-k8s.js [--config-out FILE] [--caps-out FILE] MANIFEST...
// --config-out writes the ConfigMap's xtap.conf, --caps-out the DaemonSet's
// added capabilities (one a line), for the checks that compare them with
// the agent and the systemd unit.
"use strict";

const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

const modelsDir = path.dirname(require.resolve("kubernetes-models/package.json"));
const problems = [];

function problem(where, msg) {
  problems.push(`${where}: ${msg}`);
}

// "apps/v1" -> the model module and the schema validator's name
// (IoK8sApiAppsV1DaemonSet); the core group is "v1" -> Core.
function modelFor(apiVersion, kind) {
  const parts = apiVersion.split("/");
  const group = parts.length === 2 ? parts[0].split(".")[0] : "core";
  const version = parts[parts.length - 1];
  const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
  let Model;
  try {
    Model = require(`kubernetes-models/${apiVersion}`)[kind];
  } catch (e) {
    return {};
  }
  const schemaFile = path.join(modelsDir, "_schemas", `IoK8sApi${cap(group)}${cap(version)}${kind}.js`);
  return { Model, schema: fs.existsSync(schemaFile) ? require(schemaFile).validate : null };
}

// The schema validators read each property they know by name, and walk the
// keys of maps (labels, data, resource lists). A wrapped object remembers
// what was read: a key never read is a field the schema does not have.
function track(value, where, seen) {
  if (Array.isArray(value)) return value.map((v, i) => track(v, `${where}[${i}]`, seen));
  if (value === null || typeof value !== "object") return value;
  const rec = { where, keys: Object.keys(value), read: new Set(), map: false };
  const copy = {};
  seen.push(rec);
  for (const k of rec.keys) copy[k] = track(value[k], `${where}.${k}`, seen);
  return new Proxy(copy, {
    get(t, k, r) {
      if (typeof k === "string") rec.read.add(k);
      return Reflect.get(t, k, r);
    },
    has(t, k) {
      if (typeof k === "string") rec.read.add(k);
      return Reflect.has(t, k);
    },
    ownKeys(t) {
      rec.map = true;
      return Reflect.ownKeys(t);
    },
  });
}

// Schema errors and unknown fields of one object, as strings.
function schemaErrors(obj) {
  const { Model, schema } = modelFor(String(obj.apiVersion), String(obj.kind));
  if (!Model) return [`no Kubernetes model for ${obj.apiVersion} ${obj.kind}`];
  if (!schema) return [`no schema validator for ${obj.apiVersion} ${obj.kind}`];
  const errs = [];
  try {
    new Model(obj).validate();
  } catch (e) {
    errs.push(e.message);
  }
  const seen = [];
  if (!schema(track(obj, "", seen)) && !errs.length)
    errs.push(schema.errors.map((e) => `${e.instancePath} ${e.message || e.keyword}`).join(", "));
  for (const r of seen)
    if (!r.map) for (const k of r.keys) if (!r.read.has(k)) errs.push(`unknown field ${r.where}.${k}`);
  return errs;
}

// The checker must catch what it is for: a misspelt field, a wrong type.
function selfTest() {
  const bad = {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "t" },
    spec: {
      selector: { matchLabels: { a: "b" } },
      template: {
        metadata: { labels: { a: "b" } },
        spec: { hostPid: true, containers: [{ name: "c", image: "i", resources: { limits: { memory: "lots" } } }] },
      },
    },
  };
  const errs = schemaErrors(bad).join("\n");
  if (!/unknown field \.spec\.template\.spec\.hostPid/.test(errs) || !/memory/.test(errs))
    problem("self-test", `the checker missed a known-bad DaemonSet; it said:\n${errs}`);
}

function load(files) {
  const objs = [];
  for (const f of files) {
    const docs = YAML.parseAllDocuments(fs.readFileSync(f, "utf8"), { uniqueKeys: true, strict: true });
    docs.forEach((d, i) => {
      const where = `${f}#${i + 1}`;
      if (d.errors.length) return problem(where, d.errors.map((e) => e.message).join("; "));
      const obj = d.toJS();
      if (obj === null || typeof obj !== "object") return problem(where, "not a Kubernetes object");
      objs.push({ where: `${where} ${obj.kind}/${obj.metadata && obj.metadata.name}`, obj });
    });
  }
  return objs;
}

function find(objs, kind, name) {
  return objs.find((o) => o.obj.kind === kind && (name === undefined || o.obj.metadata.name === name));
}

function sameSet(a, b) {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

// How xtap's objects refer to each other, and what the agent needs of them.
function crossCheck(objs, opts) {
  const ns = find(objs, "Namespace");
  const ds = find(objs, "DaemonSet");
  const cm = find(objs, "ConfigMap");
  const role = find(objs, "ClusterRole");
  const binding = find(objs, "ClusterRoleBinding");
  for (const [k, o] of Object.entries({ Namespace: ns, DaemonSet: ds, ConfigMap: cm, ClusterRole: role, ClusterRoleBinding: binding }))
    if (!o) problem("manifests", `no ${k}`);
  if (!ns || !ds || !cm || !role || !binding) return;
  const nsName = ns.obj.metadata.name;
  for (const o of objs)
    if (!["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(o.obj.kind) && o.obj.metadata.namespace !== nsName)
      problem(o.where, `not in namespace ${nsName}`);

  const rules = role.obj.rules || [];
  if (rules.length !== 1 || !sameSet(rules[0].apiGroups, [""]) || !sameSet(rules[0].resources, ["pods"]) ||
      !sameSet(rules[0].verbs, ["get", "list", "watch"]))
    problem(role.where, "should grant get, list and watch on pods, nothing more");
  if (binding.obj.roleRef.kind !== "ClusterRole" || binding.obj.roleRef.name !== role.obj.metadata.name)
    problem(binding.where, `roleRef is not ClusterRole ${role.obj.metadata.name}`);

  const spec = ds.obj.spec.template.spec;
  const saName = spec.serviceAccountName;
  if (!find(objs, "ServiceAccount", saName)) problem(ds.where, `service account ${saName} is not in the manifests`);
  else if (!(binding.obj.subjects || []).some((s) => s.kind === "ServiceAccount" && s.name === saName && s.namespace === nsName))
    problem(binding.where, `does not bind ${nsName}/${saName}`);
  const sa = find(objs, "ServiceAccount", saName);
  if (sa && !/^arn:aws[\w-]*:iam::\d{12}:role\/.+/.test(((sa.obj.metadata.annotations || {})["eks.amazonaws.com/role-arn"]) || ""))
    problem(sa.where, "no eks.amazonaws.com/role-arn annotation (IRSA) with a role ARN");

  const labels = ds.obj.spec.template.metadata.labels || {};
  for (const [k, v] of Object.entries(ds.obj.spec.selector.matchLabels || {}))
    if (labels[k] !== v) problem(ds.where, `selector ${k}=${v} does not match the pod template`);
  if (spec.hostPID !== true) problem(ds.where, "hostPID must be true: BPF reports host pids, the agent reads their /proc");
  if (!(spec.tolerations || []).some((t) => t.operator === "Exists" && !t.key && !t.effect))
    problem(ds.where, "no toleration of every taint (operator: Exists): it would skip tainted nodes");

  const c = spec.containers.find((x) => x.name === "xtap") || spec.containers[0];
  const env = Object.fromEntries((c.env || []).map((e) => [e.name, e]));
  const ref = (n) => env[n] && env[n].valueFrom && env[n].valueFrom.fieldRef && env[n].valueFrom.fieldRef.fieldPath;
  if (ref("NODE_NAME") !== "spec.nodeName") problem(ds.where, "NODE_NAME must come from spec.nodeName");
  const metrics = env.XTAP_METRICS_ADDRESS && /:(\d+)$/.exec(env.XTAP_METRICS_ADDRESS.value || "");
  if (!metrics) problem(ds.where, "XTAP_METRICS_ADDRESS HOST:PORT is not set");
  const port = metrics ? Number(metrics[1]) : -1;
  const named = Object.fromEntries((c.ports || []).map((p) => [p.name, p.containerPort]));
  for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    const g = c[probe] && c[probe].httpGet;
    if (!g) problem(ds.where, `no ${probe} httpGet`);
    else if (g.path !== "/healthz" || (named[g.port] !== undefined ? named[g.port] : g.port) !== port)
      problem(ds.where, `${probe} does not ask /healthz on the metrics port ${port}`);
  }
  const ann = ds.obj.spec.template.metadata.annotations || {};
  if (ann["prometheus.io/port"] !== String(port)) problem(ds.where, `prometheus.io/port is not ${port}`);
  const res = c.resources || {};
  for (const k of ["requests", "limits"])
    if (!res[k] || !res[k].cpu || !res[k].memory) problem(ds.where, `resources.${k} needs cpu and memory`);

  const sc = c.securityContext || {};
  const caps = sc.capabilities || {};
  if (sc.privileged !== false) problem(ds.where, "privileged must be false (the capabilities are listed)");
  if (!sameSet(caps.drop || [], ["ALL"])) problem(ds.where, "capabilities.drop must be [ALL]");
  if (opts.capsOut) fs.writeFileSync(opts.capsOut, (caps.add || []).join("\n") + "\n");

  // --config PATH: a mounted ConfigMap key
  const args = c.args || [];
  const i = args.indexOf("--config");
  if (i < 0 || !args[i + 1]) return problem(ds.where, "the container does not run with --config FILE");
  const file = args[i + 1];
  const mount = (c.volumeMounts || []).find((m) => m.mountPath === path.dirname(file));
  const vol = mount && (spec.volumes || []).find((v) => v.name === mount.name);
  if (!vol || !vol.configMap || vol.configMap.name !== cm.obj.metadata.name)
    return problem(ds.where, `${path.dirname(file)} is not ConfigMap ${cm.obj.metadata.name} mounted`);
  const conf = (cm.obj.data || {})[path.basename(file)];
  if (typeof conf !== "string") return problem(cm.where, `no key ${path.basename(file)}`);
  if (opts.configOut) fs.writeFileSync(opts.configOut, conf);
}

function main(argv) {
  const opts = { files: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--config-out") opts.configOut = argv[++i];
    else if (argv[i] === "--caps-out") opts.capsOut = argv[++i];
    else opts.files.push(argv[i]);
  }
  if (!opts.files.length) {
    console.error("usage: validate-k8s.js [--config-out FILE] [--caps-out FILE] MANIFEST...");
    return 2;
  }
  selfTest();
  const objs = load(opts.files);
  for (const o of objs) {
    const errs = schemaErrors(o.obj);
    for (const e of errs) problem(o.where, e);
    if (!errs.length) console.log(`valid ${o.where}`);
  }
  crossCheck(objs, opts);
  for (const p of problems) console.log(`PROBLEM ${p}`);
  return problems.length ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
