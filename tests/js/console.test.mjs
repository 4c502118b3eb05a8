// The admin console in a real browser: Debian's Chromium driven by
// playwright-core against a --demo gateway. Signs in through a test identity
// provider (authorization code + PKCE), creates a team and a key, inspects a
// prompt with a SIN in Try it, exhausts a tiny budget and sees the 402 on the
// team page, revokes a key; then, page by page, a screenshot (saved as an
// artifact and checked to be non-blank), an axe-core accessibility audit,
// keyboard reachability and the absence of Content-Security-Policy violations.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import axe from 'axe-core';
import { startGateway, ADMIN_KEY } from './harness.mjs';
import { startIdp } from '../support/test_idp_client.mjs';

const CHROMIUM = process.env.AEGIS_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.AEGIS_TEST_ARTIFACTS ||
  path.resolve(import.meta.dirname, '../../build/test-artifacts/console');
const PAGES = ['overview', 'teams', 'providers', 'audit', 'jobs', 'rag', 'try'];
const SIN = '046 454 286';

let gateway, idp, browser, context, page;
const cspViolations = [];
const pageErrors = [];

async function waitReady(name) {
  await page.waitForFunction((n) => document.getElementById('main')?.dataset.ready === n, name, { timeout: 15000 });
}

// Opens a page as a bookmark would: a fresh load of /ui with the page's hash.
async function go(hash, name) {
  await page.goto('about:blank');
  await page.goto(`${gateway.base}/ui${hash}`);
  await waitReady(name);
}

// A media fixture (tests/media/media_fixtures.py) written for this run: its path.
function mediaFixture(name) {
  const fixtures = path.join(ARTIFACTS, 'fixtures');
  execFileSync('python3', [path.resolve(import.meta.dirname, '../media/media_fixtures.py'), fixtures, name]);
  return path.join(fixtures, name);
}

// Try it, for browser-team, with `prompt` typed in.
async function openTryIt(prompt) {
  await go('#/try', 'try');
  await page.getByLabel('Team').selectOption('browser-team');
  await page.getByLabel('Prompt').fill(prompt);
}

async function apiAs(key, body) {
  const r = await fetch(`${gateway.base}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body ?? { model: 'auto', max_tokens: 200, messages: [{ role: 'user', content: 'Write a haiku about lakes.' }] }),
  });
  await r.text();
  return r.status;
}

// Distinct colours and the share of pixels unlike the most common one, read
// from the PNG by the browser itself (a blank page has one colour).
async function pixelStats(png) {
  const blank = await context.newPage();
  try {
    return await blank.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width; canvas.height = img.height;
      const g = canvas.getContext('2d');
      g.drawImage(img, 0, 0);
      const data = g.getImageData(0, 0, img.width, img.height).data;
      const counts = new Map();
      for (let i = 0; i < data.length; i += 16) {
        const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        counts.set(key, (counts.get(key) || 0) + 1);
      }
      const total = data.length / 16;
      const top = Math.max(...counts.values());
      return { colours: counts.size, varied: (total - top) / total, width: img.width, height: img.height };
    }, png.toString('base64'));
  } finally {
    await blank.close();
  }
}

describe('console in Chromium', () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    idp = await startIdp({ groups: ['aegis-admins'], email: 'ada@example.test' });
    gateway = await startGateway({ demo: true, config: idp.gatewayConfig() });
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    // Recorded before any page script runs: a violation means the console
    // itself needs something the policy forbids.
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__csp = window.__csp || [];
        window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('dialog', (d) => d.accept());
  });

  after(async () => {
    await browser?.close();
    await gateway?.stop();
    await idp?.stop();
  });

  test('signs in through the identity provider with PKCE', async () => {
    await page.goto(`${gateway.base}/ui`);
    await waitReady('sign-in');
    await page.click('#sso-0');
    await waitReady('overview');
    assert.equal(await page.textContent('#who-name'), 'ada@example.test');
    const cookies = await context.cookies(gateway.base);
    const session = cookies.find((c) => c.name === 'aegis_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.ok(!(await page.evaluate(() => document.cookie)).includes('aegis_session'), 'scripts cannot read it');
    assert.equal((await idp.stats()).token_exchanges, 1, 'one code was exchanged');
    // The overview shows the compliance counters large; violations read 0.
    assert.equal((await page.textContent('[data-counter="Violations"]')).trim(), '0');
  });

  test('creates a team and a key', async () => {
    await go('#/teams', 'teams');
    await page.getByLabel('Name').fill('browser-team');
    await page.getByLabel('Monthly budget (USD)').first().fill('0.001');
    await page.getByRole('button', { name: 'Create team' }).click();
    await page.waitForSelector('#team-detail');
    await waitReady('teams');
    await page.getByLabel('Description').fill('browser test');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.waitForSelector('[data-new-key]');
    const key = (await page.textContent('[data-new-key]')).trim();
    assert.match(key, /^aeg_[0-9a-f]{16}_/);
    globalThis.browserKey = key;
    const team = await (await fetch(`${gateway.base}/admin/v1/teams/browser-team`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json();
    assert.equal(team.monthly_budget_usd, 0.001);
  });

  test('Try it shows a SIN as RESTRICTED with a local route, without calling a provider', async () => {
    const before = (await (await fetch(`${gateway.base}/admin/v1/demo/upstream-log`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json());
    await openTryIt(`Update the payroll record for SIN ${SIN}, please.`);
    await page.getByRole('button', { name: 'Inspect', exact: true }).click();
    await page.waitForSelector('#try-level .badge');
    assert.equal((await page.textContent('#try-level')).trim(), 'RESTRICTED');
    assert.match(await page.textContent('#try-route'), /local/);
    const marked = await page.$$eval('[data-testid="highlighted"] mark', (ms) => ms.map((m) => m.textContent));
    assert.ok(marked.some((m) => m.includes('046')), `the SIN is highlighted: ${marked}`);
    const after = (await (await fetch(`${gateway.base}/admin/v1/demo/upstream-log`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json());
    assert.deepEqual(after, before, 'no provider was called');
    await page.screenshot({ path: path.join(ARTIFACTS, 'try-it-restricted.png'), fullPage: true });
  });

  test('Try it reads a dropped image: a card photographed is RESTRICTED, its text shown', async () => {
    const card = mediaFixture('card.png');
    await openTryIt('What is on this card?');
    // Dropped onto the drop zone, as a person would drag it from their desktop.
    const png = readFileSync(card).toString('base64');
    const transfer = await page.evaluateHandle((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], 'card.png', { type: 'image/png' }));
      return data;
    }, png);
    await page.dispatchEvent('.drop', 'dragover', { dataTransfer: transfer });
    await page.dispatchEvent('.drop', 'drop', { dataTransfer: transfer });
    await page.waitForFunction(() => document.querySelector('.drop')?.textContent.includes('card.png'));
    await page.getByRole('button', { name: 'Inspect', exact: true }).click();
    await page.waitForSelector('#try-level .badge', { timeout: 30000 });
    assert.equal((await page.textContent('#try-level')).trim(), 'RESTRICTED');
    assert.match(await page.textContent('#try-route'), /local/);
    assert.match(await page.textContent('#try-result'), /4111/, 'the text read from the image is shown');
  });

  test('Try it shows the redacted image a cloud provider would receive for a name and an e-mail', async () => {
    const person = mediaFixture('person_email.png');
    await openTryIt('Who should I write to?');
    await page.getByLabel('Image or PDF').setInputFiles(person);
    await page.waitForFunction(() => document.querySelector('.drop')?.textContent.includes('person_email.png'));
    await page.getByRole('button', { name: 'Inspect', exact: true }).click();
    const image = page.getByRole('img', { name: /as a cloud provider would receive it/ });
    await image.waitFor({ timeout: 30000 });
    const shown = await image.evaluate((img) => ({ src: img.src, width: img.naturalWidth }));
    assert.ok(shown.width > 0, 'the redacted image decodes and is drawn');
    const original = readFileSync(person).toString('base64');
    assert.match(shown.src, /^data:image\/png;base64,/);
    assert.notEqual(shown.src.split(',')[1], original, 'what is shown is not the dropped image');
    await page.screenshot({ path: path.join(ARTIFACTS, 'try-it-redacted-image.png'), fullPage: true });
  });

  test('a 402 appears on the team page once the tiny budget is spent', async () => {
    const statuses = [];
    for (let i = 0; i < 20 && !statuses.includes(402); i++) statuses.push(await apiAs(globalThis.browserKey));
    assert.ok(statuses.includes(402), `statuses: ${statuses}`);
    await go('#/teams?team=browser-team', 'teams');
    await page.waitForFunction(() => Number(document.querySelector('#budget-rejections .value')?.textContent) >= 1, null, { timeout: 10000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'team-402.png'), fullPage: true });
  });

  test('revokes a key, and the key stops working', async () => {
    await go('#/teams?team=browser-team', 'teams');
    const prefix = globalThis.browserKey.slice(0, 12);
    const revoke = page.getByRole('button', { name: new RegExp(`^Revoke key ${prefix}`) });
    await revoke.click();
    await page.waitForFunction(() => document.querySelector('#team-detail .badge.bad')?.textContent === 'revoked', null, { timeout: 10000 });
    assert.equal(await apiAs(globalThis.browserKey), 401);
  });

  for (const name of PAGES) {
    test(`page ${name}: screenshot, accessibility, keyboard, policy`, async () => {
      await go(`#/${name}${name === 'teams' ? '?team=browser-team' : ''}`, name);
      const file = path.join(ARTIFACTS, `${name}.png`);
      const png = await page.screenshot({ path: file, fullPage: true });
      const stats = await pixelStats(png);
      assert.ok(stats.colours > 20 && stats.varied > 0.05, `${name} looks blank: ${JSON.stringify(stats)}`);

      await page.evaluate(axe.source);
      const result = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } }));
      const problems = result.violations.map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
      assert.deepEqual(problems, [], `${name}: accessibility violations`);

      // Keyboard: from the top, Tab reaches every link, button and field on
      // the page, each with a visible focus outline.
      const focusable = await page.$$eval('a[href], button:not([disabled]), input, select, textarea',
        (els) => els.filter((e) => e.offsetParent !== null && e.tabIndex >= 0).length);
      await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
      const reached = new Set();
      // Until focus comes back around (a date field holds several stops of its own).
      for (let i = 0, first = null; i < 300; i++) {
        await page.keyboard.press('Tab');
        const info = await page.evaluate(() => {
          const el = document.activeElement;
          if (!el || el === document.body) return null;
          const style = getComputedStyle(el);
          const visible = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
          return { id: el.outerHTML.slice(0, 80) + Array.from(el.parentNode.children).indexOf(el), visible };
        });
        if (!info) continue;
        if (first === info.id && reached.size > 1) break;
        first ??= info.id;
        assert.ok(info.visible, `${name}: no visible focus on ${info.id}`);
        reached.add(info.id);
      }
      assert.ok(reached.size >= focusable, `${name}: Tab reached ${reached.size} of ${focusable} controls`);

      const csp = await page.evaluate(() => window.__csp || []);
      assert.deepEqual(csp, [], `${name}: Content-Security-Policy violations`);
      assert.deepEqual(pageErrors, [], `${name}: script errors`);
    });
  }

  test('an identity without the admin role is refused a session', async () => {
    await idp.setUser({ sub: 'not-an-admin', email: 'bob@example.test', name: 'Bob', groups: ['browser-team'] });
    const other = await browser.newContext();
    const p = await other.newPage();
    try {
      await p.goto(`${gateway.base}/ui`);
      await p.waitForFunction(() => document.getElementById('main')?.dataset.ready === 'sign-in');
      await p.click('#sso-0');
      await p.waitForFunction(() => document.getElementById('main')?.dataset.ready === 'sign-in' && location.hash.includes('error='));
      assert.match(await p.textContent('[role="alert"]'), /does not have the admin role/);
      assert.equal((await other.cookies(gateway.base)).filter((c) => c.name === 'aegis_session').length, 0);
      assert.equal(await p.evaluate(async () => (await fetch('/admin/v1/teams')).status), 401);
    } finally {
      await other.close();
    }
  });

  test('signing out returns to the sign-in view and ends the session', async () => {
    await go('#/overview', 'overview');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await waitReady('sign-in');
    const r = await page.evaluate(async () => (await fetch('/ui/session')).status);
    assert.equal(r, 401);
    writeFileSync(path.join(ARTIFACTS, 'README.txt'), 'Screenshots from tests/js/console.test.mjs (headless Chromium).\n');
  });
});
