// Starts real aegis processes (gateway and provider simulator) on free
// loopback ports for the SDK tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const AEGIS_BIN = process.env.AEGIS_BIN || path.resolve(import.meta.dirname ?? '.', '../../build/aegis');
export const ADMIN_KEY = 'sdk-test-admin-key';

export async function freePort() {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitHealthy(url, proc, log) {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`process exited ${proc.exitCode}: ${log()}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not healthy: ${url}: ${log()}`);
}

function launch(args, env, cwd) {
  let output = '';
  const proc = spawn(AEGIS_BIN, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  return { proc, log: () => output };
}

export async function startSimulator() {
  const port = await freePort();
  const { proc, log } = launch(['sim', '--listen', `127.0.0.1:${port}`], {}, os.tmpdir());
  const base = `http://127.0.0.1:${port}`;
  await waitHealthy(`${base}/_sim/health`, proc, log);
  return {
    base, port, proc, log,
    async fault(mode, count) {
      const r = await fetch(`${base}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify(mode === 'none' ? { mode } : { mode, count }) });
      if (!r.ok) throw new Error(`fault: ${r.status} ${await r.text()}`);
    },
    async requests() { return (await (await fetch(`${base}/_sim/requests`)).json()).requests; },
    async clear() { await fetch(`${base}/_sim/requests`, { method: 'DELETE' }); },
    async stop() { proc.kill('SIGTERM'); await new Promise((r) => proc.once('exit', r)); },
  };
}

export async function startGateway({ demo = false, config = null } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aegis-sdk-'));
  const port = await freePort();
  const args = ['serve', '--listen', `127.0.0.1:${port}`];
  if (demo) args.push('--demo');
  if (config) {
    writeFileSync(path.join(dir, 'aegis.yaml'), config);
    args.push('--config', path.join(dir, 'aegis.yaml'));
  }
  const { proc, log } = launch(args, { AEGIS_ADMIN_KEY: ADMIN_KEY, VLLM_API_KEY: 'vllm-test-key' }, dir);
  const base = `http://127.0.0.1:${port}`;
  await waitHealthy(`${base}/healthz`, proc, log);
  const admin = async (method, route, body) => {
    const r = await fetch(`${base}${route}`, {
      method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${route}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  await admin('POST', '/admin/v1/teams', { name: 'sdk', monthly_budget_usd: 100, clearance: 'CONFIDENTIAL' });
  const { key } = await admin('POST', '/admin/v1/keys', { team: 'sdk' });
  return {
    base, port, key, proc, log, admin,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
