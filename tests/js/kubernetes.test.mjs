// deploy/kubernetes rendered and checked without a cluster: both overlays are
// rendered (a strict subset of Kustomize: resources, namespace and RFC 6902
// patches; any other key fails the test, so `kubectl apply -k` renders the
// same), every object is validated against the Kubernetes schemas
// (kubernetes-models, @kubernetes-models/prometheus-operator), and what the
// manifests say about the binary is checked against the binary: its config
// passes `aegis config check`, the probes' paths answer 200 on a running
// gateway, the port is the one it listens on, the autoscaler's metric is one
// it serves, and the PrometheusRule carries deploy/prometheus/rules.yml.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, statSync, writeFileSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import jsonpatch from 'fast-json-patch';
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as policy from 'kubernetes-models/policy/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { AEGIS_BIN, startGateway } from './harness.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');
const K8S = path.join(ROOT, 'deploy/kubernetes');
const MODELS = {
  'v1': core, 'apps/v1': apps, 'autoscaling/v2': autoscaling, 'policy/v1': policy,
  'networking.k8s.io/v1': networking, 'monitoring.coreos.com/v1': monitoring,
};

function render(dir) {
  const k = yaml.load(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'));
  const unknown = Object.keys(k).filter((key) => !['apiVersion', 'kind', 'resources', 'namespace', 'patches'].includes(key));
  assert.deepEqual(unknown, [], `${dir}: keys this test's renderer does not implement`);
  let objects = [];
  for (const resource of k.resources) {
    const p = path.join(dir, resource);
    if (statSync(p).isDirectory()) objects.push(...render(p));
    else objects.push(...yaml.loadAll(readFileSync(p, 'utf8')).filter(Boolean));
  }
  for (const { target, patch } of k.patches ?? []) {
    const matches = objects.filter((o) => o.kind === target.kind && o.metadata.name === target.name);
    assert.equal(matches.length, 1, `${dir}: patch target ${target.kind}/${target.name}`);
    const index = objects.indexOf(matches[0]);
    objects[index] = jsonpatch.applyPatch(structuredClone(matches[0]), yaml.load(patch), true).newDocument;
  }
  if (k.namespace) objects = objects.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: k.namespace } }));
  return objects;
}

const overlays = Object.fromEntries(['dev', 'prod'].map((name) => [name, render(path.join(K8S, 'overlays', name))]));
const find = (objects, kind, name) => objects.find((o) => o.kind === kind && o.metadata.name === name);

let gateway;
after(async () => { if (gateway) await gateway.stop(); });

test('every object of both overlays is valid against the Kubernetes schemas', () => {
  for (const [name, objects] of Object.entries(overlays)) {
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'HorizontalPodAutoscaler', 'PodDisruptionBudget',
      'NetworkPolicy', 'ServiceMonitor', 'PrometheusRule']) {
      assert.ok(kinds.has(kind), `${name}: no ${kind}`);
    }
    for (const object of objects) {
      const Model = MODELS[object.apiVersion]?.[object.kind];
      assert.ok(Model, `${name}: no schema for ${object.apiVersion} ${object.kind}`);
      assert.doesNotThrow(() => new Model(object).validate(), `${name}: ${object.kind}/${object.metadata.name}`);
      assert.equal(object.metadata.namespace, name === 'dev' ? 'aegis-dev' : 'aegis');
    }
  }
});

test('the validation itself rejects a broken object', () => {
  const broken = structuredClone(find(overlays.prod, 'Deployment', 'aegis'));
  broken.spec.replicas = 'three';
  assert.throws(() => new apps.Deployment(broken).validate());
});

test('the gateway runs as a hardened, non-root pod whose secrets are references only', () => {
  for (const objects of Object.values(overlays)) {
    const pod = find(objects, 'Deployment', 'aegis').spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.notEqual(pod.securityContext.runAsUser, 0);
    const [container] = pod.containers;
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    for (const env of container.env) {
      assert.ok(env.valueFrom?.secretKeyRef, `${env.name} must come from a Secret`);
      assert.equal(env.value, undefined);
    }
    assert.ok(pod.topologySpreadConstraints.length >= 1);
    assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
  }
  assert.equal(overlays.dev.some((o) => o.kind === 'Secret'), false);
  assert.equal(overlays.prod.some((o) => o.kind === 'Secret'), false);
});

test('vLLM is a second local provider in prod only, and the NetworkPolicy lets the gateway reach it', () => {
  assert.equal(find(overlays.dev, 'Deployment', 'vllm'), undefined);
  const vllm = find(overlays.prod, 'Deployment', 'vllm');
  assert.ok(vllm);
  const config = yaml.load(find(overlays.prod, 'ConfigMap', 'aegis-config').data['aegis.yaml']);
  const provider = config.providers.find((p) => p.name === 'vllm');
  assert.equal(provider.locality, 'local');
  const port = vllm.spec.template.spec.containers[0].ports[0].containerPort;
  assert.ok(provider.base_url.includes(`:${port}`));
  const policyObject = find(overlays.prod, 'NetworkPolicy', 'aegis');
  const localRule = policyObject.spec.egress.find((rule) =>
    rule.to.some((peer) => peer.podSelector?.matchLabels?.['app.kubernetes.io/component'] === 'local-model'));
  assert.ok(localRule.ports.some((p) => p.port === port));
  assert.equal(vllm.spec.template.metadata.labels['app.kubernetes.io/component'], 'local-model');
  // Dev's autoscaler and disruption budget fit one replica.
  assert.equal(find(overlays.dev, 'Deployment', 'aegis').spec.replicas, 1);
  assert.equal(find(overlays.dev, 'PodDisruptionBudget', 'aegis').spec.maxUnavailable, 1);
  assert.equal(find(overlays.prod, 'HorizontalPodAutoscaler', 'aegis').spec.minReplicas, 3);
});

test('the config of each overlay passes aegis config check', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aegis-k8s-'));
  for (const [name, objects] of Object.entries(overlays)) {
    const file = path.join(dir, `${name}.yaml`);
    writeFileSync(file, find(objects, 'ConfigMap', 'aegis-config').data['aegis.yaml']);
    const env = { ...process.env, AEGIS_PG_DSN: 'host=db', AEGIS_JOBS_KEY: '5f'.repeat(32), ANTHROPIC_API_KEY: 'k',
      AEGIS_CONSOLE_SECRET: 'c'.repeat(40) };
    const out = execFileSync(AEGIS_BIN, ['config', 'check', file], { env, encoding: 'utf8' });
    assert.match(out, /ok/);
  }
});

test('probes, port and the autoscaling metric are what the binary serves', async () => {
  gateway = await startGateway({ demo: true });
  const metrics = await (await fetch(`${gateway.base}/metrics`)).text();
  for (const objects of Object.values(overlays)) {
    const deployment = find(objects, 'Deployment', 'aegis');
    const [container] = deployment.spec.template.spec.containers;
    const config = yaml.load(find(objects, 'ConfigMap', 'aegis-config').data['aegis.yaml']);
    const http = container.ports.find((p) => p.name === 'http');
    assert.equal(config.server.listen, `0.0.0.0:${http.containerPort}`);
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      const { path: route, port } = container[probe].httpGet;
      assert.equal(port, 'http');
      const r = await fetch(`${gateway.base}${route}`);
      assert.equal(r.status, 200, `${probe} ${route}`);
    }
    const service = find(objects, 'Service', 'aegis');
    assert.equal(service.spec.ports[0].targetPort, 'http');
    const monitor = find(objects, 'ServiceMonitor', 'aegis');
    assert.equal(monitor.spec.endpoints[0].path, '/metrics');
    for (const metric of find(objects, 'HorizontalPodAutoscaler', 'aegis').spec.metrics) {
      if (metric.type === 'Pods') assert.match(metrics, new RegExp(`^# TYPE ${metric.pods.metric.name} gauge$`, 'm'));
    }
    // The config names the secrets the Deployment provides.
    const envNames = container.env.map((e) => e.name);
    for (const ref of find(objects, 'ConfigMap', 'aegis-config').data['aegis.yaml'].matchAll(/\$\{(\w+)\}|env: (\w+)/g)) {
      assert.ok(envNames.includes(ref[1] ?? ref[2]), `${ref[0]} is not in the Deployment's env`);
    }
  }
});

test('the PrometheusRule carries deploy/prometheus/rules.yml unchanged', () => {
  const rules = yaml.load(readFileSync(path.join(ROOT, 'deploy/prometheus/rules.yml'), 'utf8'));
  for (const objects of Object.values(overlays)) {
    assert.deepEqual(find(objects, 'PrometheusRule', 'aegis').spec.groups, rules.groups);
  }
  assert.ok(existsSync(path.join(ROOT, 'docs/OPERATIONS.md')));
});
