// Starts tests/support/test_idp.mjs (the local OpenID Connect provider the
// tests run) for the browser tests, and says how a gateway points at it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

const IDP = path.resolve(import.meta.dirname, 'test_idp.mjs');

export async function startIdp({ sub = 'browser-user', email = 'user@example.test', name = 'Browser User', groups = [] } = {}) {
  const proc = spawn(process.execPath, [IDP, '--user', JSON.stringify({ sub, email, name, groups })],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: proc.stdout });
    lines.once('line', (line) => resolve(JSON.parse(line)));
    proc.once('exit', (code) => reject(new Error(`the test identity provider exited with ${code}`)));
  });
  const { issuer } = first;
  return {
    issuer,
    gatewayConfig() {
      return [
        'oidc:', '  issuers:', `    - issuer: "${issuer}"`, '      audience: "aegis"', '      team_claim: "groups"',
        '      admin_values: ["aegis-admins"]', '      console_client_id: "aegis-console"', '',
      ].join('\n');
    },
    async stats() { return (await fetch(`${issuer}/test/stats`)).json(); },
    async setUser(user) {
      const r = await fetch(`${issuer}/test/user`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(user) });
      if (!r.ok) throw new Error(`set user: ${r.status}`);
    },
    async stop() { proc.kill('SIGTERM'); await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r))); },
  };
}
