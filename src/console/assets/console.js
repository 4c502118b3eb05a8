// The Aegis console: one page, hash routes, plain DOM. Every figure comes from
// the admin API (/admin/v1/...) with the signed-in session's cookie; writes
// carry the session's CSRF token. Nothing here builds HTML from strings, so
// no value from the API can turn into markup.

const LEVELS = ['PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'RESTRICTED'];
const LEVEL_COLOURS = { PUBLIC: '#166534', INTERNAL: '#1d4ed8', CONFIDENTIAL: '#92400e', RESTRICTED: '#b91c1c' };

let session = null;
// A new key's secret, shown once on the next drawing of its team's page.
let shownOnce = null;

// ---------------------------------------------------------------- DOM helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let fieldCounter = 0;
function field(labelText, input) {
  const id = input.id || `f${++fieldCounter}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, labelText), input);
}

function say(message) {
  const status = document.getElementById('status');
  status.textContent = message;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { status.textContent = ''; }, 6000);
}

function plural(n, noun) { return `${fmt(n)} ${noun}${Number(n) === 1 ? '' : 's'}`; }

function badge(level) { return h('span', { class: `badge ${level}` }, level); }

function fmt(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  if (typeof n === 'string' && Number.isNaN(Number(n))) return n;
  return Number(n).toLocaleString('en-CA', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

// Dollars to the cent, or to the micro-dollar below a cent (budgets are kept in micro-dollars).
function usd(n) {
  if (n === null || n === undefined) return 'no cap';
  const v = Number(n);
  return v !== 0 && Math.abs(v) < 0.01 ? `$${v.toFixed(6).replace(/0+$/, '')}` : `$${v.toFixed(2)}`;
}

function time(t) { return t ? new Date(t).toLocaleString('en-CA', { hour12: false }) : '–'; }

function table(headers, rows, caption) {
  return h('table', {},
    caption ? h('caption', { class: 'sr-only' }, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col', class: x.num ? 'num' : null }, x.label ?? x)))),
    h('tbody', {}, rows.length === 0
      ? h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'Nothing yet.'))
      : rows.map((cells) => h('tr', {}, cells.map((c, i) => h('td', { class: headers[i].num ? 'num' : null }, c))))));
}

// ---------------------------------------------------------------- the admin API

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session && session.csrf_token) headers['x-csrf-token'] = session.csrf_token;
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (response.status === 401 && !path.startsWith('/ui/auth/')) {
    session = null;
    location.hash = '#/sign-in';
    throw new ApiError(401, 'Your session has ended: sign in again.');
  }
  if (!response.ok) throw new ApiError(response.status, (data && data.error && data.error.message) || `HTTP ${response.status}`);
  return data;
}

// ---------------------------------------------------------------- charts (inline SVG)

function lineChart({ title, points, lines, height = 180, unit = '' }) {
  const width = 720, left = 48, right = 10, top = 10, bottom = 24;
  const max = Math.max(1, ...lines.flatMap((l) => points.map((p) => Number(p[l.key]) || 0)));
  const x = (i) => left + (points.length <= 1 ? 0 : (i * (width - left - right)) / (points.length - 1));
  const y = (v) => top + (height - top - bottom) * (1 - v / max);
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title });
  svg.append(s('title', {}, title));
  for (const frac of [0, 0.5, 1]) {
    const v = max * frac;
    svg.append(s('line', { x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: '#e2e8f0' }));
    svg.append(s('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, `${fmt(v, v < 10 ? 1 : 0)}${unit}`));
  }
  if (points.length > 0) {
    svg.append(s('text', { x: left, y: height - 6 }, new Date(points[0].t).toLocaleTimeString('en-CA', { hour12: false })));
    svg.append(s('text', { x: width - right, y: height - 6, 'text-anchor': 'end' },
      new Date(points[points.length - 1].t).toLocaleTimeString('en-CA', { hour12: false })));
  }
  for (const line of lines) {
    const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(Number(p[line.key]) || 0).toFixed(1)}`).join(' ');
    if (d) svg.append(s('path', { d, fill: 'none', stroke: line.colour, 'stroke-width': 2 }));
  }
  const legend = h('div', { class: 'legend' }, lines.map((l) => h('span', { style: null, 'data-swatch': l.colour }, l.label)));
  for (const span of legend.children) span.style.setProperty('--swatch', span.dataset.swatch);
  return h('figure', { class: 'panel' }, h('figcaption', {}, h('strong', {}, title)), svg, legend);
}

function barChart({ title, bars }) {
  const width = 720, rowH = 26, left = 130;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${bars.length * rowH + 6}`, role: 'img', 'aria-label': title });
  svg.append(s('title', {}, title));
  bars.forEach((b, i) => {
    const w = ((width - left - 70) * b.value) / max;
    svg.append(s('text', { x: left - 8, y: i * rowH + 17, 'text-anchor': 'end' }, b.label));
    svg.append(s('rect', { x: left, y: i * rowH + 4, width: Math.max(w, b.value > 0 ? 2 : 0), height: rowH - 8, fill: b.colour, rx: 2 }));
    svg.append(s('text', { x: left + w + 6, y: i * rowH + 17 }, fmt(b.value)));
  });
  return h('figure', { class: 'panel' }, h('figcaption', {}, h('strong', {}, title)), svg);
}

function spendBar(spent, cap) {
  const ratio = cap > 0 ? spent / cap : 0;
  const cls = ratio >= 1 ? 'bar over' : ratio >= 0.8 ? 'bar high' : 'bar';
  const bar = h('div', { class: cls, role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100,
    'aria-valuenow': Math.round(Math.min(ratio, 1) * 100), 'aria-label': `Spend ${Math.round(ratio * 100)}% of cap` }, h('span'));
  bar.firstChild.style.width = `${Math.min(ratio, 1) * 100}%`;
  return bar;
}

// ---------------------------------------------------------------- pages

function counter(label, value, { big = false, zeroExpected = false, note = null } = {}) {
  const classes = ['counter'];
  if (big) classes.push('big');
  if (zeroExpected) classes.push('zero-expected', Number(value) === 0 ? 'good' : 'bad');
  return h('div', { class: classes.join(' ') },
    h('div', { class: 'label' }, label), h('div', { class: 'value', 'data-counter': label }, fmt(value)),
    note ? h('div', { class: 'note' }, note) : null);
}

async function overviewPage(main) {
  const data = await api('GET', '/admin/v1/overview?window_s=3600&step_s=60');
  main.append(h('h1', {}, 'Overview'),
    h('section', { 'aria-labelledby': 'compliance-h' },
      h('h2', { id: 'compliance-h' }, 'Compliance, all time'),
      h('div', { class: 'grid' },
        counter('Violations', data.compliance.violations, { big: true, zeroExpected: true,
          note: 'RESTRICTED data sent to a non-local provider. Must read 0.' }),
        counter('Egress vetoes', data.compliance.egress_vetoes, { big: true, note: 'Sends the second detector stopped.' }),
        counter('Blocked sends', data.compliance.blocked_sends, { big: true, note: 'Requests refused before any send.' }))),
    h('section', { 'aria-labelledby': 'traffic-h' },
      h('h2', { id: 'traffic-h' }, 'The last hour'),
      h('div', { class: 'grid' },
        counter('Requests', data.totals.requests),
        counter('Errors', data.totals.errors),
        counter('Error ratio', `${fmt(data.totals.error_ratio * 100, 2)} %`)),
      lineChart({ title: 'Requests and errors per minute', points: data.series,
        lines: [{ key: 'requests', label: 'Requests', colour: '#1d4ed8' }, { key: 'errors', label: 'Errors', colour: '#b91c1c' }] }),
      lineChart({ title: 'Latency percentiles (ms)', points: data.series, unit: ' ms',
        lines: [{ key: 'p50_ms', label: 'p50', colour: '#166534' }, { key: 'p95_ms', label: 'p95', colour: '#92400e' },
          { key: 'p99_ms', label: 'p99', colour: '#b91c1c' }] }),
      barChart({ title: 'Classification mix', bars: LEVELS.map((l) => ({ label: l, value: data.levels[l] || 0, colour: LEVEL_COLOURS[l] })) })));
}

async function teamsPage(main, params) {
  const [{ teams }] = await Promise.all([api('GET', '/admin/v1/teams')]);
  const spends = await Promise.all(teams.map((t) => api('GET', `/admin/v1/teams/${encodeURIComponent(t.name)}/spend`).catch(() => null)));
  const now = new Date();
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const monthEnd = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  const elapsed = Math.max((Date.now() - monthStart) / (monthEnd - monthStart), 1 / (31 * 24));
  main.append(h('h1', {}, 'Teams'));
  const rows = teams.map((t, i) => {
    const sp = spends[i];
    const spent = sp ? Number(sp.spent_usd) + Number(sp.reserved_usd) : 0;
    const cap = Number(t.monthly_budget_usd);
    const projected = spent / elapsed;
    return [h('a', { href: `#/teams?team=${encodeURIComponent(t.name)}` }, t.name), badge(t.clearance),
      h('div', {}, spendBar(spent, cap), h('span', { class: 'muted' }, `${usd(spent)} of ${usd(cap)}`)),
      h('span', { title: 'Spend projected to the end of the month at this month\'s rate' },
        `${usd(projected)} (${cap > 0 ? fmt((projected / cap) * 100) : '–'} % of cap)`),
      sp ? fmt(sp.requests) : '–',
      [t.rpm ? `${fmt(t.rpm)} rpm` : null, t.tpm ? `${fmt(t.tpm)} tpm` : null, t.max_concurrency ? `${t.max_concurrency} concurrent` : null].filter(Boolean).join(', ') || 'none'];
  });
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'teams-h' }, h('h2', { id: 'teams-h' }, 'Spend this month'),
    table(['Team', 'Clearance', 'Spend vs cap', 'Burn rate (projected)', { label: 'Requests', num: true }, 'Rate limits'], rows, 'Teams')));

  const name = h('input', { name: 'name', required: true, autocomplete: 'off' });
  const budget = h('input', { name: 'budget', type: 'number', min: '0', step: 'any', value: '100', required: true });
  const clearance = h('select', { name: 'clearance' }, LEVELS.map((l) => h('option', { value: l, selected: l === 'INTERNAL' }, l)));
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'new-team-h' }, h('h2', { id: 'new-team-h' }, 'New team'),
    h('form', { class: 'inline', onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api('POST', '/admin/v1/teams', { name: name.value, monthly_budget_usd: Number(budget.value), clearance: clearance.value });
        say(`Team ${name.value} created.`);
        location.hash = `#/teams?team=${encodeURIComponent(name.value)}`;
      } catch (err) { say(err.message); }
    } }, field('Name', name), field('Monthly budget (USD)', budget), field('Clearance', clearance), h('button', { type: 'submit' }, 'Create team'))));

  const selected = params.get('team');
  const team = teams.find((t) => t.name === selected);
  if (team) await teamDetail(main, team, spends[teams.indexOf(team)]);
}

async function teamDetail(main, team, spend) {
  const section = h('section', { class: 'panel', 'aria-labelledby': 'team-h', id: 'team-detail' },
    h('h2', { id: 'team-h' }, `Team ${team.name}`));
  main.append(section);
  const [{ keys }, audit] = await Promise.all([
    api('GET', `/admin/v1/keys?team=${encodeURIComponent(team.name)}`),
    api('GET', `/admin/v1/audit?team=${encodeURIComponent(team.name)}&status=402&limit=1000`)]);
  const rejections = audit.data;
  section.append(h('div', { class: 'grid' },
    counter('Spent this month', spend ? usd(Number(spend.spent_usd)) : '–'),
    counter('Cap', usd(Number(team.monthly_budget_usd))),
    h('div', { class: `counter${rejections.length ? ' zero-expected bad' : ''}`, id: 'budget-rejections' },
      h('div', { class: 'label' }, 'Budget rejections (402)'), h('div', { class: 'value' }, fmt(rejections.length)),
      h('div', { class: 'note' }, rejections.length ? `Last: ${time(rejections[0].time)} — ${rejections[0].error_type || 'budget_exceeded'}` : 'None recorded.'))));

  // Clearance, budget and rate limits.
  const clearance = h('select', {}, LEVELS.map((l) => h('option', { value: l, selected: l === team.clearance }, l)));
  const budget = h('input', { type: 'number', min: '0', step: 'any', value: team.monthly_budget_usd });
  const rpm = h('input', { type: 'number', min: '1', value: team.rpm ?? '', placeholder: 'no limit' });
  const tpm = h('input', { type: 'number', min: '1', value: team.tpm ?? '', placeholder: 'no limit' });
  const conc = h('input', { type: 'number', min: '1', value: team.max_concurrency ?? '', placeholder: 'no limit' });
  const limitOf = (input) => (input.value === '' ? null : Number(input.value));
  section.append(h('h3', {}, 'Settings'), h('form', { class: 'inline', onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api('PATCH', `/admin/v1/teams/${encodeURIComponent(team.name)}`, {
        clearance: clearance.value, monthly_budget_usd: Number(budget.value), rpm: limitOf(rpm), tpm: limitOf(tpm), max_concurrency: limitOf(conc) });
      say(`Team ${team.name} updated.`);
      render();
    } catch (err) { say(err.message); }
  } }, field('Clearance', clearance), field('Monthly budget (USD)', budget), field('Requests a minute', rpm),
  field('Tokens a minute', tpm), field('Concurrent requests', conc), h('button', { type: 'submit' }, 'Save settings')));

  // Keys.
  const shown = h('div', { 'aria-live': 'polite' }, shownOnce);
  shownOnce = null;
  const description = h('input', { placeholder: 'what uses it', autocomplete: 'off' });
  const keyRows = keys.map((k) => [h('code', {}, k.prefix), k.description || '', time(k.created_at), time(k.last_used_at),
    k.revoked ? h('span', { class: 'badge bad' }, 'revoked') : k.expired ? h('span', { class: 'badge warn' }, 'expired') : h('span', { class: 'badge ok' }, 'active'),
    k.revoked ? '' : h('div', { class: 'inline' },
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Rotate key ${k.prefix}`, onclick: async () => {
        try {
          const rotated = await api('POST', `/admin/v1/keys/${encodeURIComponent(k.id)}/rotate`, {});
          shownOnce = h('p', { class: 'once' }, h('strong', {}, 'New secret (shown once): '), h('code', { 'data-new-key': '' }, rotated.key),
            h('br'), `The previous secret works until ${time(rotated.previous_valid_until)}.`);
          say(`Key ${k.prefix} rotated.`);
          render();
        } catch (err) { say(err.message); }
      } }, 'Rotate'), ' ',
      h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke key ${k.prefix}`, onclick: async () => {
        if (!confirm(`Revoke key ${k.prefix}? Clients using it stop working at once.`)) return;
        try { await api('DELETE', `/admin/v1/keys/${encodeURIComponent(k.id)}`); say(`Key ${k.prefix} revoked.`); render(); } catch (err) { say(err.message); }
      } }, 'Revoke'))]);
  section.append(h('h3', {}, 'Keys'), table(['Prefix', 'Description', 'Created', 'Last used', 'State', 'Actions'], keyRows, 'Keys'),
    h('form', { class: 'inline', onsubmit: async (e) => {
      e.preventDefault();
      try {
        const created = await api('POST', '/admin/v1/keys', description.value ? { team: team.name, description: description.value } : { team: team.name });
        shownOnce = h('p', { class: 'once' }, h('strong', {}, 'New key (shown once, copy it now): '), h('code', { 'data-new-key': '' }, created.key));
        say('Key created.');
        render();
      } catch (err) { say(err.message); }
    } }, field('Description', description), h('button', { type: 'submit' }, 'Create key')), shown);
}

async function providersPage(main) {
  const { data } = await api('GET', '/admin/v1/providers');
  main.append(h('h1', {}, 'Providers'), table(
    ['Provider', 'Type', 'Locality', 'Residency', 'Health', 'Breaker', { label: 'Requests', num: true }, { label: 'Errors', num: true },
      { label: 'Fallbacks', num: true }, { label: 'p50 ms', num: true }, { label: 'p99 ms', num: true }],
    data.map((p) => [h('strong', {}, p.name), p.type, p.locality === 'local' ? h('span', { class: 'badge ok' }, 'local') : h('span', { class: 'badge warn' }, 'cloud'),
      p.residency || '–', p.healthy ? h('span', { class: 'badge ok' }, 'healthy') : h('span', { class: 'badge bad' }, 'down'),
      p.breaker === 'closed' ? 'closed' : h('span', { class: 'badge bad' }, p.breaker),
      fmt(p.requests), fmt(p.errors), fmt(p.fallbacks), fmt(p.latency_ms?.p50, 1), fmt(p.latency_ms?.p99, 1)]), 'Providers'));
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const AUDIT_COLUMNS = ['time', 'request_id', 'team', 'key_id', 'surface', 'classification', 'provider', 'model', 'locality', 'status', 'error_type', 'cost_usd', 'latency_ms', 'reason'];

async function auditPage(main, params) {
  const team = h('input', { name: 'team', value: params.get('team') || '', autocomplete: 'off' });
  const level = h('select', { name: 'level' }, h('option', { value: '' }, 'any'), LEVELS.map((l) => h('option', { value: l, selected: params.get('level') === l }, l)));
  const statusSel = h('select', { name: 'status' }, ['', 'ok', 'error', '402', '429', '503'].map((v) => h('option', { value: v, selected: params.get('status') === v }, v || 'any')));
  const since = h('input', { type: 'datetime-local', name: 'since', value: params.get('since') || '' });
  main.append(h('h1', {}, 'Audit'));
  const chain = h('div', { class: 'panel', 'aria-live': 'polite' }, h('h2', {}, 'Audit chain'), h('p', { class: 'muted' }, 'Verifying…'));
  main.append(h('form', { class: 'inline panel', onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (team.value) q.set('team', team.value);
    if (level.value) q.set('level', level.value);
    if (statusSel.value) q.set('status', statusSel.value);
    if (since.value) q.set('since', since.value);
    location.hash = `#/audit?${q}`;
  } }, field('Team', team), field('Classification', level), field('Status', statusSel), field('Since', since), h('button', { type: 'submit' }, 'Filter')), chain);

  // Pages of one listing are anchored at the time it was opened (`until`),
  // so rows written meanwhile do not shift them.
  const filters = new URLSearchParams({ until: params.get('until') || String(Date.now()) });
  if (team.value) filters.set('team', team.value);
  if (level.value) filters.set('classification', level.value);
  if (statusSel.value) filters.set('status', statusSel.value);
  if (since.value) filters.set('since', new Date(since.value).toISOString().replace(/\.\d+Z$/, 'Z'));
  const pageSize = 25;
  let page = 0;
  const holder = h('div');
  const pager = h('div', { class: 'pager' });
  const rowsOf = async (limit, offset) => (await api('GET', `/admin/v1/audit?${filters}&limit=${limit}&offset=${offset}`)).data;
  const exportRows = async (kind) => {
    const rows = await rowsOf(1000, 0);
    if (kind === 'jsonl') download('aegis-audit.jsonl', 'application/x-ndjson', rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    else download('aegis-audit.csv', 'text/csv', [AUDIT_COLUMNS.join(','), ...rows.map((r) => AUDIT_COLUMNS.map((c) => `"${String(r[c] ?? '').replaceAll('"', '""')}"`).join(','))].join('\n') + '\n');
  };
  const draw = async () => {
    const slice = await rowsOf(pageSize + 1, page * pageSize);
    const more = slice.length > pageSize;
    holder.replaceChildren(table(['Time', 'Team', 'Surface', 'Level', 'Entities', 'Provider', 'Status', { label: 'Cost USD', num: true }, { label: 'Latency ms', num: true }, 'Reason'],
      slice.slice(0, pageSize).map((r) => [time(r.time), r.team, r.surface, badge(r.classification), Object.entries(r.entities).map(([t, n]) => `${t}×${n}`).join(', ') || '–',
        `${r.provider || '–'}${r.locality ? ` (${r.locality})` : ''}`, String(r.status), r.cost_usd, fmt(r.latency_ms, 1), r.reason]), 'Audit rows'));
    pager.replaceChildren(
      h('button', { type: 'button', class: 'secondary', disabled: page === 0, onclick: () => { page--; draw(); } }, 'Newer'),
      h('span', { 'data-testid': 'audit-page' }, `Page ${page + 1}`),
      h('button', { type: 'button', class: 'secondary', disabled: !more, onclick: () => { page++; draw(); } }, 'Older'),
      h('button', { type: 'button', class: 'secondary', onclick: () => exportRows('jsonl') }, 'Export JSON Lines'),
      h('button', { type: 'button', class: 'secondary', onclick: () => exportRows('csv') }, 'Export CSV'));
  };
  await draw();
  main.append(pager, holder);
  api('GET', '/admin/v1/audit/verify').then((v) => {
    chain.replaceChildren(h('h2', {}, 'Audit chain'), h('p', {}, v.ok ? h('span', { class: 'badge ok', id: 'chain-status' }, 'intact') : h('span', { class: 'badge bad', id: 'chain-status' }, 'broken'),
      ` ${plural(v.rows, 'row')} in ${plural(v.chains, 'chain')}, ${plural(v.checkpoints, 'signed checkpoint')}.`),
    v.problems && v.problems.length ? h('ul', {}, v.problems.slice(0, 20).map((p) => h('li', {}, `${p.kind}: ${p.message}`))) : null);
  }).catch((err) => chain.replaceChildren(h('h2', {}, 'Audit chain'), h('p', { class: 'error' }, err.message)));
}

async function jobsPage(main) {
  const data = await api('GET', '/admin/v1/jobs/summary');
  main.append(h('h1', {}, 'Jobs'), h('div', { class: 'grid' },
    Object.entries(data.by_state).map(([state, n]) => counter(state, n)),
    counter('Oldest queued (s)', data.oldest_queued_age_s ?? 0)),
  h('h2', {}, 'Recent failures'), table(['Job', 'Team', 'Task', 'Error', 'Finished'],
    data.recent_failures.map((f) => [h('code', {}, f.id), f.team, f.task_type, f.error, time(f.finished_at)]), 'Recent failures'));
}

async function ragPage(main) {
  const { data } = await api('GET', '/admin/v1/rag/collections');
  main.append(h('h1', {}, 'RAG'), table(['Team', 'Collection', { label: 'Documents', num: true }, ...LEVELS.map((l) => ({ label: l, num: true })), ''],
    data.map((c) => [c.team, c.collection, fmt(c.documents), ...LEVELS.map((l) => fmt(c.by_level[l] || 0)),
      h('a', { href: `#/rag?team=${encodeURIComponent(c.team)}&collection=${encodeURIComponent(c.collection)}` }, 'Documents')]), 'Collections'));
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  if (params.get('team')) {
    const q = new URLSearchParams({ team: params.get('team') });
    if (params.get('collection')) q.set('collection', params.get('collection'));
    const docs = await api('GET', `/admin/v1/rag/documents?${q}`);
    main.append(h('h2', {}, `Documents of ${params.get('team')}`), table(['Document', 'Collection', 'Level', 'Created', { label: 'Chunks', num: true }, ''],
      docs.data.map((d) => [h('code', {}, d.id), d.collection, badge(d.level), time(d.created_at), fmt(d.chunks),
        h('button', { type: 'button', class: 'danger', 'aria-label': `Erase document ${d.id}`, onclick: async () => {
          if (!confirm(`Erase document ${d.id} and all its chunks?`)) return;
          try { await api('DELETE', `/admin/v1/rag/documents/${encodeURIComponent(d.id)}`); say('Document erased.'); render(); } catch (err) { say(err.message); }
        } }, 'Erase')]), 'Documents'));
  }
}

// Highlights each finding's span (code points into the text) in place.
function highlight(text, findings) {
  const chars = Array.from(text);
  const spans = [...findings].sort((a, b) => a.start - b.start);
  const out = h('div', { class: 'highlighted', 'data-testid': 'highlighted' });
  let at = 0;
  for (const f of spans) {
    if (f.start < at) continue;
    out.append(chars.slice(at, f.start).join(''));
    out.append(h('mark', { class: f.level, title: `${f.type} (${f.level})` }, chars.slice(f.start, f.end).join('')));
    at = f.end;
  }
  out.append(chars.slice(at).join(''));
  return out;
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(',')[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function tryPage(main) {
  const { teams } = await api('GET', '/admin/v1/teams');
  main.append(h('h1', {}, 'Try it'), h('p', { class: 'muted' },
    'See how the gateway classifies a prompt, what a cloud provider would receive and where it would run — computed by the gateway\'s own pipeline. Nothing is sent to a provider unless you ask.'));
  if (teams.length === 0) {
    main.append(h('p', {}, 'Create a team first: the route depends on its clearance and budget. ', h('a', { href: '#/teams' }, 'Teams')));
    return;
  }
  const team = h('select', { name: 'team' }, teams.map((t) => h('option', { value: t.name }, t.name)));
  const prompt = h('textarea', { name: 'prompt', rows: 6, placeholder: 'Paste a prompt…' });
  let attachment = null;
  const fileInput = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/webp,image/gif,application/pdf' });
  const dropLabel = h('span', {}, 'Drop an image or PDF here, or choose one below.');
  const drop = h('div', { class: 'drop' }, dropLabel);
  const take = async (file) => {
    if (!file) return;
    attachment = { media_type: file.type, data: await readFile(file) };
    dropLabel.textContent = `Attached: ${file.name} (${fmt(file.size)} bytes)`;
  };
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); take(e.dataTransfer.files[0]); });
  fileInput.addEventListener('change', () => take(fileInput.files[0]));
  const result = h('section', { 'aria-live': 'polite', id: 'try-result' });
  const run = async (send) => {
    result.replaceChildren(h('p', { class: 'muted' }, send ? 'Sending…' : 'Inspecting…'));
    try {
      const body = { team: team.value, prompt: prompt.value, send };
      if (attachment) body.attachments = [attachment];
      const r = await api('POST', '/admin/v1/inspect', body);
      const route = r.route || {};
      result.replaceChildren(...[
        h('div', { class: 'panel' }, h('h2', {}, 'Classification'), h('p', { id: 'try-level' }, badge(r.level)),
          highlight(prompt.value, r.findings.filter((f) => (f.message_index ?? 0) === 0 && !f.field)),
          table(['Entity', 'Level', 'Where'], r.findings.map((f) => [f.type, badge(f.level), f.field === 'attachment' ? `attachment ${f.attachment_index + 1}` : `characters ${f.start}–${f.end}`]), 'Findings')),
        h('div', { class: 'panel' }, h('h2', {}, 'Route'),
          h('p', { id: 'try-route' }, h('strong', {}, `${route.provider || 'none'} · ${route.model || '–'}`), ' ',
            route.local ? h('span', { class: 'badge ok' }, 'local') : h('span', { class: 'badge warn' }, 'cloud')),
          h('p', { id: 'try-reason' }, route.reason || '')),
        h('div', { class: 'panel' }, h('h2', {}, 'What a cloud provider would receive'),
          r.masked ? r.masked.map((m) => h('div', { class: 'highlighted', 'data-testid': 'masked' }, `${m.role}: ${m.content}`))
            : h('p', { 'data-testid': 'masked' }, 'Nothing: this request may only run on a local provider.')),
        (r.attachments || []).length ? h('div', { class: 'panel' }, h('h2', {}, 'Attachments'),
          r.attachments.map((a) => h('div', {}, badge(a.level), a.complete ? ' read in full' : ' not read in full (treated as RESTRICTED)', h('pre', { class: 'highlighted' }, a.text),
            a.redacted ? redactedView(a) : null))) : null,
        r.response ? h('div', { class: 'panel' }, h('h2', {}, 'Answer'), h('p', { class: 'muted' }, r.response.route || ''),
          h('div', { class: 'highlighted' }, r.response.text || r.response.error || '')) : null].filter(Boolean));
    } catch (err) { result.replaceChildren(h('p', { class: 'error' }, err.message)); }
  };
  main.append(h('form', { class: 'panel', onsubmit: (e) => { e.preventDefault(); run(false); } },
    field('Team', team), field('Prompt', prompt), drop, field('Image or PDF', fileInput),
    h('p', { class: 'inline' }, h('button', { type: 'submit' }, 'Inspect'), ' ',
      h('button', { type: 'button', class: 'secondary', onclick: () => run(true) }, 'Inspect and send to the provider'))), result);
}

// What a cloud provider would receive in an attachment's place: the image
// with its findings covered, or the redacted PDF to download.
function redactedView(a) {
  const src = `data:${a.redacted.media_type};base64,${a.redacted.data}`;
  const title = h('h3', {}, 'Sent to a cloud provider, redacted');
  if (a.redacted.media_type.startsWith('image/')) {
    return h('figure', { 'data-testid': 'redacted' }, title,
      h('img', { class: 'redacted', src, alt: `Attachment ${a.index + 1} as a cloud provider would receive it, its findings covered` }));
  }
  return h('p', { 'data-testid': 'redacted' }, title, h('a', { href: src, download: `redacted-${a.index + 1}.pdf` }, 'Download the redacted PDF'));
}

async function signInPage(main, params) {
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  const methods = await api('GET', '/ui/auth/methods').catch(() => ({ admin_key: true, oidc: [] }));
  const error = params.get('error');
  const messages = { expired: 'The sign-in took too long or was started elsewhere: try again.', denied: 'The identity provider did not sign you in.',
    failed: 'The identity provider\'s answer could not be verified.', 'not-admin': 'Your identity does not have the admin role.', unavailable: 'The identity provider cannot be reached.' };
  const key = h('input', { type: 'password', name: 'admin_key', autocomplete: 'current-password', required: true });
  const problem = h('p', { class: 'error', role: 'alert' }, error ? (messages[error] || 'Sign-in failed.') : '');
  main.append(h('div', { class: 'sign-in panel' }, h('h1', {}, 'Sign in to Aegis'), problem,
    methods.oidc.map((m) => h('p', {}, h('a', { class: 'button', href: `/ui/auth/oidc/start?issuer=${m.id}`, role: 'button', id: `sso-${m.id}` }, `Sign in with ${m.label}`))),
    methods.admin_key ? h('form', { onsubmit: async (e) => {
      e.preventDefault();
      try {
        session = await api('POST', '/ui/auth/key', { admin_key: key.value });
        key.value = '';
        location.hash = '#/overview';
      } catch (err) { problem.textContent = err.status === 401 ? 'That is not the admin key.' : err.message; }
    } }, h('h2', {}, 'Bootstrap with the admin key'), field('Admin key', key), h('p', {}, h('button', { type: 'submit' }, 'Sign in'))) : null));
}

// ---------------------------------------------------------------- routing

const PAGES = { overview: overviewPage, teams: teamsPage, providers: providersPage, audit: auditPage, jobs: jobsPage, rag: ragPage, try: tryPage };
const TITLES = { overview: 'Overview', teams: 'Teams', providers: 'Providers', audit: 'Audit', jobs: 'Jobs', rag: 'RAG', try: 'Try it', 'sign-in': 'Sign in' };

async function render() {
  const main = document.getElementById('main');
  const [path, query] = (location.hash.replace(/^#\/?/, '') || 'overview').split('?');
  const params = new URLSearchParams(query || '');
  const name = PAGES[path] || path === 'sign-in' ? path : 'overview';
  document.title = `${TITLES[name] || 'Overview'} · Aegis console`;
  main.replaceChildren();
  if (name === 'sign-in') {
    await signInPage(main, params);
    main.dataset.ready = name;
    return;
  }
  if (!session) {
    try { session = await api('GET', '/ui/session'); } catch { return; }
  }
  document.getElementById('nav').hidden = false;
  document.getElementById('who').hidden = false;
  document.getElementById('who-name').textContent = session.name;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === `#/${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  try {
    await PAGES[name](main, params);
  } catch (err) {
    if (err.status !== 401) main.append(h('p', { class: 'error', role: 'alert' }, `Could not load this page: ${err.message}`));
  }
  main.dataset.ready = name;
}

document.getElementById('sign-out').addEventListener('click', async () => {
  try { await api('POST', '/ui/auth/logout'); } catch { /* signed out either way */ }
  session = null;
  location.hash = '#/sign-in';
});
window.addEventListener('hashchange', () => { render().then(() => document.getElementById('main').focus()); });
render();
