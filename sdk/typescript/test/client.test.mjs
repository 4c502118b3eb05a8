// The TypeScript SDK, compiled to dist/, against (1) a tiny node:http stub for
// the retry, backoff and error-mapping paths a real gateway cannot be made to
// produce on demand (and the exact request shapes), and (2) a real gateway in
// demo mode, jobs and retrieval (client.rag).
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  Client, AegisError, AuthError, Blocked, BudgetExceeded, Conflict, ConnectionFailed, InvalidRequest,
  JobFailed, NotFound, RateLimited, Timeout, Unavailable, formatWait, backoffDelayMs, parseRetryAfter,
  parseRouteHeader, errorFromResponse,
} from '../dist/index.js';
import { startGateway, freePort } from '../../../tests/js/harness.mjs';

// ------------------------------------------------------------------ stub

const T0 = '2026-11-27T14:45:52.123Z';

function jobJson(status, extra = {}) {
  return {
    id: 'job_1', status, classification: 'INTERNAL', task_type: 'summarize', metadata: {},
    route: null, result: null, error: null, attempts: status === 'queued' ? 0 : 1,
    created_at: T0, started_at: status === 'queued' ? null : T0, finished_at: null, ...extra,
  };
}

function errorBody(type, message = `${type} happened`) {
  return { error: { type, message, request_id: 'req_stub' } };
}

// Answers each request with the next scripted step: {status, body, headers},
// 'reset' (drop the connection), or a function(req) returning a step.
async function startStub() {
  const stub = { requests: [], script: [], fallback: null };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const url = new URL(req.url, 'http://stub');
      stub.requests.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams),
        headers: req.headers, body, at: Date.now() });
      let step = stub.script.length ? stub.script.shift() : stub.fallback;
      if (typeof step === 'function') step = step(req, url);
      if (!step) step = { status: 500, body: errorBody('internal_error', 'stub has no step left') };
      if (step === 'reset') { req.socket.destroy(); return; }
      res.writeHead(step.status, { 'content-type': 'application/json', ...(step.headers ?? {}) });
      res.end(typeof step.body === 'string' ? step.body : JSON.stringify(step.body));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  stub.base = `http://127.0.0.1:${server.address().port}`;
  stub.reset = () => { stub.requests = []; stub.script = []; stub.fallback = null; };
  stub.stop = () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); });
  return stub;
}

describe('offline: stub server', () => {
  let stub;
  let client;
  before(async () => {
    stub = await startStub();
    client = new Client({ baseUrl: `${stub.base}/`, apiKey: 'sk-test', timeoutMs: 5000 });
  });
  after(async () => { await stub.stop(); });
  beforeEach(() => stub.reset());

  test('submit sends the documented body and headers and parses the 202', async () => {
    stub.script.push({ status: 202, body: { id: 'job_1', status: 'queued', classification: 'CONFIDENTIAL', created_at: T0 } });
    const job = await client.submit({
      taskType: 'summarize', messages: [{ role: 'user', content: 'héllo' }], maxTokens: 64, model: 'auto',
      metadata: { ticket: 'T-1' }, classification: 'CONFIDENTIAL', idempotencyKey: 'idem-1',
    });
    assert.equal(job.id, 'job_1');
    assert.equal(job.status, 'queued');
    assert.equal(job.classification, 'CONFIDENTIAL');
    assert.equal(job.createdAt.toISOString(), T0);
    assert.equal(job.startedAt, null);
    assert.equal(job.result, null);
    const [req] = stub.requests;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/jobs');
    assert.equal(req.headers.authorization, 'Bearer sk-test');
    assert.equal(req.headers['idempotency-key'], 'idem-1');
    assert.match(req.headers['content-type'], /^application\/json/);
    assert.deepEqual(JSON.parse(req.body), {
      task_type: 'summarize', messages: [{ role: 'user', content: 'héllo' }], max_tokens: 64, model: 'auto',
      metadata: { ticket: 'T-1' }, classification: 'CONFIDENTIAL',
    });
  });

  test('submit needs exactly one of messages and prompt, and defaults max_tokens', async () => {
    await assert.rejects(client.submit({ taskType: 'x' }), TypeError);
    await assert.rejects(client.submit({ taskType: 'x', prompt: 'a', messages: [] }), TypeError);
    assert.equal(stub.requests.length, 0);
    stub.script.push({ status: 202, body: { id: 'job_2', status: 'queued', classification: 'INTERNAL', created_at: T0 } });
    await client.submit({ taskType: 'x', prompt: 'a' });
    assert.deepEqual(JSON.parse(stub.requests[0].body), { task_type: 'x', prompt: 'a', max_tokens: 1024 });
    assert.equal(stub.requests[0].headers['idempotency-key'], undefined);
  });

  test('a finished job is parsed into typed fields', async () => {
    stub.script.push({ status: 200, body: jobJson('succeeded', {
      metadata: { ticket: 'T-1' },
      route: { tier: 'sonnet', provider: 'anthropic', model: 'claude-sonnet-4-5', reason: 'task tier' },
      result: { text: 'done', usage: { input_tokens: 12, output_tokens: 40 }, cost_usd: 0.000636 },
      finished_at: '2026-11-27T14:45:53.500Z',
    }) });
    const job = await client.get('job_1');
    assert.equal(stub.requests[0].path, '/v1/jobs/job_1');
    assert.deepEqual(stub.requests[0].query, {});
    assert.equal(job.taskType, 'summarize');
    assert.deepEqual(job.metadata, { ticket: 'T-1' });
    assert.deepEqual(job.route, { tier: 'sonnet', provider: 'anthropic', model: 'claude-sonnet-4-5', reason: 'task tier' });
    assert.deepEqual(job.result, { text: 'done', usage: { inputTokens: 12, outputTokens: 40 }, costUsd: 0.000636 });
    assert.ok(job.finishedAt instanceof Date);
    assert.equal(job.finishedAt.getTime() - job.createdAt.getTime(), 1377);
    assert.equal(job.raw.result.cost_usd, 0.000636);
  });

  test('job ids are path-escaped', async () => {
    stub.script.push({ status: 404, body: errorBody('not_found') });
    await assert.rejects(client.get('a/b?c'), NotFound);
    assert.equal(stub.requests[0].path, '/v1/jobs/a%2Fb%3Fc');
  });

  test('error answers map to typed errors with status, type, message and request id', async () => {
    const cases = [
      [400, 'invalid_request', InvalidRequest],
      [401, 'authentication_error', AuthError],
      [403, 'permission_denied', AuthError],
      [402, 'budget_exceeded', BudgetExceeded],
      [404, 'not_found', NotFound],
      [409, 'conflict', Conflict],
      [422, 'pii_blocked', Blocked],
      [429, 'rate_limited', RateLimited],
      [503, 'unavailable', Unavailable],
      [500, 'internal_error', AegisError],
    ];
    for (const [status, type, cls] of cases) {
      stub.script.push({ status, body: errorBody(type, `msg ${status}`), headers: { 'retry-after': '7' } });
      const err = await client.cancel('job_1').then(() => null, (e) => e);
      assert.ok(err instanceof cls, `${status} gave ${err?.name}`);
      assert.ok(err instanceof AegisError);
      assert.equal(err.name, cls.name);
      assert.equal(err.status, status);
      assert.equal(err.type, type);
      assert.equal(err.message, `msg ${status}`);
      assert.equal(err.requestId, 'req_stub');
      if (cls === RateLimited || cls === Unavailable) assert.equal(err.retryAfter, 7);
    }
    assert.ok(stub.requests.every((r) => r.method === 'DELETE'));
  });

  test('a non-JSON error body still gives a typed error', async () => {
    stub.script.push({ status: 429, body: 'slow down', headers: { 'x-request-id': 'req_h' } });
    const err = await client.get('job_1').then(() => null, (e) => e);
    assert.ok(err instanceof RateLimited);
    assert.equal(err.message, 'slow down');
    assert.equal(err.type, 'rate_limited');
    assert.equal(err.requestId, 'req_h');
    assert.equal(err.retryAfter, null);
    stub.script.push({ status: 200, body: '<html>' });
    const bad = await client.get('job_1').then(() => null, (e) => e);
    assert.ok(bad instanceof AegisError);
    assert.equal(bad.type, 'invalid_response');
  });

  test('wait long-polls with ?wait=min(remaining, 60) and returns a final job whatever its status', async () => {
    stub.script.push({ status: 200, body: jobJson('running') });
    stub.script.push({ status: 200, body: jobJson('failed', { error: { type: 'upstream_error', message: 'boom' } }) });
    const job = await client.wait('job_1', { timeoutMs: 300_000, pollIntervalMs: 1 });
    assert.equal(job.status, 'failed');
    assert.deepEqual(job.error, { type: 'upstream_error', message: 'boom' });
    assert.equal(stub.requests.length, 2);
    assert.equal(stub.requests[0].query.wait, '60');

    stub.reset();
    stub.script.push({ status: 200, body: jobJson('cancelled', { error: { type: 'cancelled', message: 'by client' } }) });
    await client.wait('job_1', { timeoutMs: 2500 });
    const w = Number(stub.requests[0].query.wait);
    assert.ok(w > 2 && w <= 2.5, `wait=${stub.requests[0].query.wait}`);
    assert.match(stub.requests[0].query.wait, /^\d+(\.\d{1,3})?$/);
  });

  test('wait retries connection resets, 429 and 503 with backoff, honouring retry-after', async () => {
    stub.script.push({ status: 503, body: errorBody('unavailable'), headers: { 'retry-after': '1' } });
    stub.script.push({ status: 429, body: errorBody('rate_limited') });
    stub.script.push('reset');
    stub.script.push({ status: 200, body: jobJson('succeeded', { result: { text: 'ok', usage: { input_tokens: 1, output_tokens: 2 }, cost_usd: 0.1 } }) });
    const started = Date.now();
    const job = await client.wait('job_1', { timeoutMs: 20_000, pollIntervalMs: 50 });
    assert.equal(job.status, 'succeeded');
    assert.equal(job.result.text, 'ok');
    assert.equal(stub.requests.length, 4);
    const gaps = stub.requests.slice(1).map((r, i) => r.at - stub.requests[i].at);
    assert.ok(gaps[0] >= 950, `retry-after 1 s honoured, waited ${gaps[0]} ms`);
    // Without retry-after: the 2nd and 3rd consecutive failures back off
    // 50 ms doubled once and twice, each jittered over [cap/2, cap).
    assert.ok(gaps[1] >= 45 && gaps[1] < 400, `second backoff ${gaps[1]} ms`);
    assert.ok(gaps[2] >= 95 && gaps[2] < 500, `third backoff ${gaps[2]} ms`);
    assert.ok(Date.now() - started < 5000);
  });

  test('wait does not retry other errors', async () => {
    stub.script.push({ status: 404, body: errorBody('not_found') });
    await assert.rejects(client.wait('job_1', { timeoutMs: 10_000 }), NotFound);
    stub.script.push({ status: 401, body: errorBody('authentication_error') });
    await assert.rejects(client.wait('job_1', { timeoutMs: 10_000 }), AuthError);
    assert.equal(stub.requests.length, 2);
  });

  test('wait rejects with Timeout carrying the last job, without busy-looping on early answers', async () => {
    stub.fallback = { status: 200, body: jobJson('running') };
    const started = Date.now();
    const err = await client.wait('job_1', { timeoutMs: 400, pollIntervalMs: 100 }).then(() => null, (e) => e);
    const took = Date.now() - started;
    assert.ok(err instanceof Timeout, `got ${err}`);
    assert.ok(err instanceof AegisError);
    assert.equal(err.type, 'timeout');
    assert.equal(err.status, null);
    assert.equal(err.jobId, 'job_1');
    assert.equal(err.job.status, 'running');
    assert.ok(took >= 390 && took < 2000, `took ${took} ms`);
    assert.ok(stub.requests.length >= 2 && stub.requests.length <= 7, `${stub.requests.length} polls`);
  });

  test('wait with timeoutMs 0 checks once', async () => {
    stub.fallback = { status: 200, body: jobJson('queued') };
    await assert.rejects(client.wait('job_1', { timeoutMs: 0 }), Timeout);
    assert.equal(stub.requests.length, 1);
    assert.equal(stub.requests[0].query.wait, '0');
  });

  test('an unreachable gateway is ConnectionFailed for get and Timeout for wait', async () => {
    const port = await freePort();
    const dead = new Client({ baseUrl: `http://127.0.0.1:${port}`, apiKey: 'k' });
    const err = await dead.get('job_1').then(() => null, (e) => e);
    assert.ok(err instanceof ConnectionFailed, `got ${err}`);
    assert.equal(err.status, null);
    assert.match(err.message, /ECONNREFUSED/);
    const t = await dead.wait('job_1', { timeoutMs: 300, pollIntervalMs: 20 }).then(() => null, (e) => e);
    assert.ok(t instanceof Timeout, `got ${t}`);
    assert.equal(t.job, null);
    assert.ok(t.cause instanceof ConnectionFailed);
  });

  test('a gateway that does not answer in timeoutMs is ConnectionFailed', async () => {
    const slowStub = http.createServer(() => { /* never answers */ });
    await new Promise((r) => slowStub.listen(0, '127.0.0.1', r));
    try {
      const c = new Client({ baseUrl: `http://127.0.0.1:${slowStub.address().port}`, apiKey: 'k', timeoutMs: 200 });
      const err = await c.cancel('job_1').then(() => null, (e) => e);
      assert.ok(err instanceof ConnectionFailed, `got ${err}`);
      assert.match(err.message, /no answer within 200 ms/);
    } finally {
      slowStub.closeAllConnections?.();
      await new Promise((r) => slowStub.close(r));
    }
  });

  test('run resolves with the succeeded job and rejects with JobFailed or Blocked otherwise', async () => {
    const submitted = { status: 202, body: { id: 'job_1', status: 'queued', classification: 'INTERNAL', created_at: T0 } };
    stub.script.push(submitted, { status: 200, body: jobJson('succeeded', { result: { text: 'hi', usage: { input_tokens: 1, output_tokens: 1 }, cost_usd: 0 } }) });
    const ok = await client.run({ taskType: 't', prompt: 'p', maxTokens: 8 });
    assert.equal(ok.result.text, 'hi');

    for (const type of ['egress_blocked', 'pii_blocked', 'no_local_provider']) {
      stub.script.push(submitted, { status: 200, body: jobJson('failed', { error: { type, message: 'policy' } }) });
      const err = await client.run({ taskType: 't', prompt: 'p', maxTokens: 8 }).then(() => null, (e) => e);
      assert.ok(err instanceof Blocked, `${type} gave ${err}`);
      assert.equal(err.type, type);
      assert.equal(err.job.status, 'failed');
    }
    for (const [status, type] of [['failed', 'upstream_error'], ['cancelled', 'cancelled'], ['expired', 'expired']]) {
      stub.script.push(submitted, { status: 200, body: jobJson(status, { error: { type, message: 'x' } }) });
      const err = await client.run({ taskType: 't', prompt: 'p', maxTokens: 8 }).then(() => null, (e) => e);
      assert.ok(err instanceof JobFailed && !(err instanceof Blocked), `${status} gave ${err}`);
      assert.equal(err.job.status, status);
      assert.equal(err.type, type);
      assert.match(err.message, new RegExp(`job_1 ${status}`));
    }
    stub.script.push({ status: 422, body: errorBody('pii_blocked') });
    const blocked = await client.run({ taskType: 't', prompt: 'p' }).then(() => null, (e) => e);
    assert.ok(blocked instanceof Blocked);
    assert.equal(blocked.status, 422);
    assert.equal(blocked.job, null);
  });

  test('list sends its query and iterJobs follows next_cursor until has_more is false', async () => {
    const page = (ids, next) => ({ status: 200, body: { object: 'list', data: ids.map((id) => ({ ...jobJson('succeeded'), id })), has_more: next !== null, next_cursor: next } });
    stub.script.push(page(['a'], 'c1'));
    const one = await client.list({ status: 'succeeded', limit: 1 });
    assert.deepEqual(stub.requests[0].query, { status: 'succeeded', limit: '1' });
    assert.equal(one.hasMore, true);
    assert.equal(one.nextCursor, 'c1');
    assert.deepEqual(one.data.map((j) => j.id), ['a']);

    stub.reset();
    stub.script.push(page(['a', 'b'], 'c1'), page(['c', 'd'], 'c2'), page(['e'], null));
    const seen = [];
    for await (const job of client.iterJobs({ status: 'failed', pageSize: 2 })) seen.push(job.id);
    assert.deepEqual(seen, ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(stub.requests.map((r) => r.query), [
      { status: 'failed', limit: '2' }, { status: 'failed', limit: '2', cursor: 'c1' }, { status: 'failed', limit: '2', cursor: 'c2' },
    ]);
  });

  // ---------------------------------------------------------------- rag

  const DOC = { document_id: 'doc_1', chunks: [{ index: 0, classification: 'RESTRICTED' }, { index: 1, classification: 'PUBLIC' }] };
  const FULL_DOC = { ...DOC, collection: 'hr', source: 'payroll.txt', classification: 'RESTRICTED', created_at_ms: 1796588475821, metadata: { author: 'ops', year: 2026 } };
  const HIT = { id: 'chk_1', document_id: 'doc_1', index: 0, text: 'Payroll record.', score: 0.39, source: 'payroll.txt', classification: 'RESTRICTED' };
  const ANSWER = { answer: 'Paid on the fifteenth [chk_1].', chunk_ids: ['chk_1', 'chk_2'], model: 'qwen2.5:14b', provider: 'ollama', usage: { input_tokens: 90, output_tokens: 25 } };
  const ROUTE = 'tier=sonnet; provider=ollama; model=qwen2.5:14b; reason=restricted\u2192local-only; task=rag\u2192sonnet; budget ok';
  // As the gateway writes it: UTF-8 bytes (node:http sends a string's code units 0..255 as bytes).
  const ROUTE_WIRE = Buffer.from(ROUTE, 'utf8').toString('latin1');

  test('rag.ingest sends the documented body and reads the levels', async () => {
    stub.script.push({ status: 201, body: DOC, headers: { 'x-aegis-classification': 'RESTRICTED' } });
    const doc = await client.rag.ingest({
      collection: 'hr', text: 'Payroll: SIN 046 454 286, héllo.', source: 'payroll.txt', metadata: { year: 2026 }, classification: 'INTERNAL',
    });
    assert.equal(doc.documentId, 'doc_1');
    assert.deepEqual(doc.chunks, [{ index: 0, classification: 'RESTRICTED' }, { index: 1, classification: 'PUBLIC' }]);
    assert.equal(doc.classification, 'RESTRICTED');
    assert.equal(doc.collection, null);
    assert.equal(doc.createdAt, null);
    assert.deepEqual(doc.metadata, {});
    const [req] = stub.requests;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/rag/documents');
    assert.equal(req.headers.authorization, 'Bearer sk-test');
    assert.match(req.headers['content-type'], /^application\/json/);
    assert.deepEqual(JSON.parse(req.body), {
      collection: 'hr', text: 'Payroll: SIN 046 454 286, héllo.', source: 'payroll.txt', metadata: { year: 2026 }, classification: 'INTERNAL',
    });

    stub.reset();
    stub.script.push({ status: 201, body: DOC });
    const bare = await client.rag.ingest({ collection: 'hr', chunks: ['one', 'two'] });
    assert.equal(bare.classification, null, 'no header: nothing invented');
    assert.deepEqual(JSON.parse(stub.requests[0].body), { collection: 'hr', chunks: ['one', 'two'] });
  });

  test('rag.ingest needs exactly one of text and chunks', async () => {
    await assert.rejects(client.rag.ingest({ collection: 'hr' }), TypeError);
    await assert.rejects(client.rag.ingest({ collection: 'hr', text: 'a', chunks: ['b'] }), TypeError);
    await assert.rejects(client.rag.ingest({ collection: 'hr', chunks: 'one string' }), TypeError);
    assert.equal(stub.requests.length, 0);
  });

  test('rag.list, get and delete', async () => {
    stub.script.push({ status: 200, body: { object: 'list', data: [FULL_DOC] } }, { status: 200, body: FULL_DOC },
      { status: 200, body: { document_id: 'a/b', deleted: true, chunks_deleted: 2 } });
    const docs = await client.rag.list('hr & co');
    assert.deepEqual(docs.map((d) => d.documentId), ['doc_1']);
    const doc = await client.rag.get('doc_1');
    assert.equal(doc.collection, 'hr');
    assert.equal(doc.source, 'payroll.txt');
    assert.equal(doc.classification, 'RESTRICTED');
    assert.equal(doc.createdAt.toISOString(), '2026-12-06T20:21:15.821Z');
    assert.deepEqual(doc.metadata, { author: 'ops', year: 2026 });
    const gone = await client.rag.delete('a/b');
    assert.deepEqual([gone.documentId, gone.deleted, gone.chunksDeleted], ['a/b', true, 2]);
    assert.deepEqual(stub.requests.map((r) => [r.method, r.path]), [
      ['GET', '/v1/rag/documents'], ['GET', '/v1/rag/documents/doc_1'], ['DELETE', '/v1/rag/documents/a%2Fb'],
    ]);
    assert.deepEqual(stub.requests[0].query, { collection: 'hr & co' });
    assert.equal(stub.requests[2].body, '');
    await assert.rejects(client.rag.get(''), TypeError);
  });

  test('rag.query and rag.answer send their bodies and read the governance headers', async () => {
    stub.script.push(
      { status: 200, body: { chunks: [HIT, { ...HIT, id: 'chk_2', score: 0.1 }] }, headers: { 'x-aegis-classification': 'INTERNAL' } },
      { status: 200, body: { chunks: [] } },
      { status: 200, body: ANSWER, headers: { 'x-aegis-classification': 'RESTRICTED', 'x-aegis-route': ROUTE_WIRE, 'x-aegis-cost-usd': '0.000645' } },
      { status: 200, body: ANSWER },
    );
    const result = await client.rag.query({ collection: 'hr', query: 'when is payroll', topK: 3 });
    assert.deepEqual(result.chunks[0], { id: 'chk_1', documentId: 'doc_1', index: 0, text: 'Payroll record.', score: 0.39, source: 'payroll.txt', classification: 'RESTRICTED' });
    assert.deepEqual(result.chunks.map((c) => c.id), ['chk_1', 'chk_2']);
    assert.equal(result.classification, 'INTERNAL');
    assert.deepEqual((await client.rag.query({ collection: 'hr', query: 'q' })).chunks, []);
    const answer = await client.rag.answer({ collection: 'hr', question: 'When?', topK: 2, maxTokens: 64 });
    assert.equal(answer.answer, 'Paid on the fifteenth [chk_1].');
    assert.deepEqual(answer.chunkIds, ['chk_1', 'chk_2']);
    assert.deepEqual([answer.model, answer.provider], ['qwen2.5:14b', 'ollama']);
    assert.deepEqual(answer.usage, { inputTokens: 90, outputTokens: 25 });
    assert.equal(answer.classification, 'RESTRICTED');
    assert.deepEqual(answer.route, { tier: 'sonnet', provider: 'ollama', model: 'qwen2.5:14b', reason: 'restricted\u2192local-only; task=rag\u2192sonnet; budget ok' });
    assert.equal(answer.costUsd, 0.000645);
    const bare = await client.rag.answer({ collection: 'hr', question: 'When?' });
    assert.deepEqual([bare.classification, bare.route, bare.costUsd], [null, null, null]);
    assert.deepEqual(stub.requests.map((r) => [r.path, JSON.parse(r.body)]), [
      ['/v1/rag/query', { collection: 'hr', query: 'when is payroll', top_k: 3 }],
      ['/v1/rag/query', { collection: 'hr', query: 'q' }],
      ['/v1/rag/answer', { collection: 'hr', question: 'When?', top_k: 2, max_tokens: 64 }],
      ['/v1/rag/answer', { collection: 'hr', question: 'When?' }],
    ]);
  });

  test('rag errors are typed and never retried', async () => {
    stub.script.push(
      { status: 404, body: errorBody('not_found', 'no such document') },
      { status: 413, body: errorBody('payload_too_large') },
      { status: 503, body: errorBody('no_local_provider'), headers: { 'retry-after': '1' } },
      { status: 402, body: errorBody('budget_exceeded') },
      { status: 503, body: errorBody('unavailable'), headers: { 'retry-after': '1' } },
    );
    const missing = await client.rag.get('doc_gone').then(() => null, (e) => e);
    assert.ok(missing instanceof NotFound, `got ${missing}`);
    assert.equal(missing.message, 'no such document');
    const big = await client.rag.ingest({ collection: 'hr', text: 'x' }).then(() => null, (e) => e);
    assert.ok(big instanceof InvalidRequest, `got ${big}`);
    assert.deepEqual([big.status, big.type], [413, 'payload_too_large']);
    const blocked = await client.rag.answer({ collection: 'hr', question: 'q' }).then(() => null, (e) => e);
    assert.ok(blocked instanceof Blocked, `got ${blocked}`);
    assert.deepEqual([blocked.status, blocked.type, blocked.job], [503, 'no_local_provider', null]);
    await assert.rejects(client.rag.answer({ collection: 'hr', question: 'q' }), BudgetExceeded);
    const down = await client.rag.query({ collection: 'hr', query: 'q' }).then(() => null, (e) => e);
    assert.ok(down instanceof Unavailable, `got ${down}`);
    assert.equal(down.retryAfter, 1);
    assert.equal(stub.requests.length, 5);
  });

  test('errorFromResponse: policy types are Blocked whatever the status; 413 is InvalidRequest', () => {
    const h = new Headers();
    for (const [status, type, cls] of [[413, 'payload_too_large', InvalidRequest], [503, 'no_local_provider', Blocked],
      [500, 'egress_blocked', Blocked], [422, 'unprocessable', InvalidRequest], [503, 'unavailable', Unavailable],
      [502, 'upstream_error', AegisError]]) {
      const err = errorFromResponse(status, h, JSON.stringify(errorBody(type)));
      assert.equal(err.constructor, cls, `${status} ${type} gave ${err.name}`);
      assert.deepEqual([err.status, err.type], [status, type]);
    }
    assert.equal(errorFromResponse(413, h, '').type, 'payload_too_large');
  });

  test('parseRouteHeader', () => {
    assert.deepEqual(parseRouteHeader(ROUTE), parseRouteHeader(ROUTE_WIRE));
    assert.deepEqual(parseRouteHeader('tier=none; provider=azure; model=m; reason=x'), { tier: 'none', provider: 'azure', model: 'm', reason: 'x' });
    assert.equal(parseRouteHeader(null), null);
    assert.equal(parseRouteHeader(''), null);
  });

  test('helpers: formatWait, backoffDelayMs, parseRetryAfter', () => {
    assert.equal(formatWait(60_000), '60');
    assert.equal(formatWait(120_000), '60');
    assert.equal(formatWait(-5), '0');
    assert.equal(formatWait(1234.4), '1.234');
    assert.equal(formatWait(500), '0.5');
    assert.equal(backoffDelayMs(500, 1, 0), 250);
    assert.equal(backoffDelayMs(500, 2, 0.999999) < 1000, true);
    assert.equal(backoffDelayMs(500, 3, 0), 1000);
    assert.equal(backoffDelayMs(500, 30, 0.999999) <= 5000, true);
    assert.equal(backoffDelayMs(500, 30, 0), 2500);
    assert.equal(parseRetryAfter('3'), 3);
    assert.equal(parseRetryAfter('0.5'), 0.5);
    assert.equal(parseRetryAfter(null), null);
    assert.equal(parseRetryAfter('soon'), null);
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now), 10);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2025 00:00:10 GMT', now), 0);
  });
});

// ------------------------------------------------------------------ real gateway

describe('against a real gateway (demo mode)', () => {
  let gw;
  let client;   // team t1, RESTRICTED clearance
  let other;    // team t2
  const faults = async (mode) => {
    for (const provider of ['anthropic', 'azure', 'ollama']) {
      await gw.admin('POST', '/admin/v1/demo/faults', mode === 'none' ? { provider, mode } : { provider, mode, rate: 1.0 });
    }
  };
  const newTeam = async (name, budget, clearance = 'RESTRICTED') => {
    await gw.admin('POST', '/admin/v1/teams', { name, monthly_budget_usd: budget, clearance });
    const { key } = await gw.admin('POST', '/admin/v1/keys', { team: name });
    return new Client({ baseUrl: gw.base, apiKey: key, timeoutMs: 10_000 });
  };

  before(async () => {
    gw = await startGateway({ demo: true });
    client = await newTeam('t1', 100);
    other = await newTeam('t2', 100);
  });
  after(async () => { if (gw) await gw.stop(); });

  test('submit then wait: a succeeded job with text, usage, cost and route', async () => {
    const submitted = await client.submit({
      taskType: 'summarize', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'typescript sdk says hello' }],
      maxTokens: 64, metadata: { ticket: 'T-1234' },
    });
    assert.match(submitted.id, /^job_/);
    assert.equal(submitted.status, 'queued');
    assert.ok(submitted.createdAt instanceof Date);
    assert.ok(Math.abs(submitted.createdAt.getTime() - Date.now()) < 60_000);
    const job = await client.wait(submitted.id, { timeoutMs: 30_000 });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.raw));
    assert.equal(job.id, submitted.id);
    assert.equal(job.taskType, 'summarize');
    assert.deepEqual(job.metadata, { ticket: 'T-1234' });
    assert.match(job.result.text, /typescript sdk says hello/);
    assert.ok(job.result.usage.inputTokens > 0);
    assert.ok(job.result.usage.outputTokens > 0);
    assert.ok(job.result.costUsd > 0);
    assert.ok(job.route.provider);
    assert.ok(job.route.model);
    assert.equal(job.error, null);
    assert.ok(job.attempts >= 1);
    assert.ok(job.startedAt instanceof Date && job.finishedAt instanceof Date);
    assert.ok(job.createdAt <= job.startedAt && job.startedAt <= job.finishedAt);
  });

  test('run resolves with the succeeded job; a RESTRICTED floor keeps it on the local provider', async () => {
    const job = await client.run({ taskType: 'summarize', prompt: 'run from typescript', maxTokens: 32, classification: 'RESTRICTED', timeoutMs: 30_000 });
    assert.equal(job.status, 'succeeded');
    assert.equal(job.classification, 'RESTRICTED');
    assert.match(job.result.text, /run from typescript/);
    assert.equal(job.route.provider, 'ollama');
  });

  test('an idempotency key returns the first job', async () => {
    const key = `idem-${Date.now()}`;
    const first = await client.submit({ taskType: 'summarize', prompt: 'once only', maxTokens: 16, idempotencyKey: key });
    const second = await client.submit({ taskType: 'summarize', prompt: 'once only', maxTokens: 16, idempotencyKey: key });
    assert.equal(second.id, first.id);
    const third = await client.submit({ taskType: 'summarize', prompt: 'once only', maxTokens: 16, idempotencyKey: `${key}-b` });
    assert.notEqual(third.id, first.id);
    await client.wait(first.id, { timeoutMs: 30_000 });
    await client.wait(third.id, { timeoutMs: 30_000 });
  });

  describe('with every simulated provider hanging', () => {
    before(async () => { await faults('hang'); });
    after(async () => { await faults('none'); });

    test('wait with a tiny timeout rejects with Timeout; cancel cancels; a second cancel is Conflict', async () => {
      const submitted = await client.submit({ taskType: 'summarize', prompt: 'this one hangs', maxTokens: 16 });
      const err = await client.wait(submitted.id, { timeoutMs: 300, pollIntervalMs: 50 }).then(() => null, (e) => e);
      assert.ok(err instanceof Timeout, `got ${err}`);
      assert.equal(err.jobId, submitted.id);
      assert.ok(['queued', 'running'].includes(err.job.status), err.job.status);

      const cancelled = await client.cancel(submitted.id);
      assert.equal(cancelled.id, submitted.id);
      assert.equal(cancelled.status, 'cancelled');
      assert.equal(cancelled.result, null);
      const final = await client.wait(submitted.id, { timeoutMs: 10_000 });
      assert.equal(final.status, 'cancelled');
      const again = await client.cancel(submitted.id).then(() => null, (e) => e);
      assert.ok(again instanceof Conflict, `got ${again}`);
      assert.equal(again.status, 409);
      assert.equal(again.type, 'conflict');
      assert.ok(again.requestId);
    });

    test('run of a cancelled job rejects with JobFailed', async () => {
      // Settled into a value at once: the rejection must not count as unhandled while the test cancels.
      const outcome = client.run({ taskType: 'summarize', prompt: 'cancel me while I run', maxTokens: 16, timeoutMs: 30_000 })
        .then(() => null, (e) => e);
      // run() submits first: find the job it created, then cancel it.
      let id = null;
      for (let i = 0; i < 100 && !id; i++) {
        for await (const job of client.iterJobs({ status: 'running' })) id = job.id;
        if (!id) for await (const job of client.iterJobs({ status: 'queued' })) id = job.id;
        if (!id) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(id, 'the job run() submitted is listed');
      await client.cancel(id);
      const err = await outcome;
      assert.ok(err instanceof JobFailed, `got ${err}`);
      assert.equal(err.job.id, id);
      assert.equal(err.job.status, 'cancelled');
    });
  });

  test('list pages and iterJobs follows next_cursor, oldest first', async () => {
    const lister = await newTeam('lister', 100);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await lister.submit({ taskType: 'summarize', prompt: `job ${i}`, maxTokens: 8 })).id);
    for (const id of ids) await lister.wait(id, { timeoutMs: 30_000 });

    const page = await lister.list({ limit: 2 });
    assert.equal(page.data.length, 2);
    assert.equal(page.hasMore, true);
    assert.ok(page.nextCursor);
    assert.deepEqual(page.data.map((j) => j.id), ids.slice(0, 2));
    const next = await lister.list({ limit: 2, cursor: page.nextCursor });
    assert.deepEqual(next.data.map((j) => j.id), ids.slice(2, 4));

    const all = [];
    for await (const job of lister.iterJobs({ pageSize: 2 })) all.push(job.id);
    assert.deepEqual(all, ids);
    const succeeded = [];
    for await (const job of lister.iterJobs({ status: 'succeeded', pageSize: 3 })) succeeded.push(job);
    assert.deepEqual(succeeded.map((j) => j.id), ids);
    assert.ok(succeeded.every((j) => j.status === 'succeeded' && j.result.text.length > 0));
    const none = [];
    for await (const job of lister.iterJobs({ status: 'failed' })) none.push(job);
    assert.deepEqual(none, []);
    await assert.rejects(lister.list({ limit: 0 }), InvalidRequest);
  });

  test('a team over budget gets BudgetExceeded at submit', async () => {
    const poor = await newTeam('poor', 0.000001);
    const err = await poor.submit({ taskType: 'summarize', prompt: 'too expensive', maxTokens: 1000 }).then(() => null, (e) => e);
    assert.ok(err instanceof BudgetExceeded, `got ${err}`);
    assert.equal(err.status, 402);
    assert.equal(err.type, 'budget_exceeded');
    assert.ok(err.requestId);
    const none = [];
    for await (const job of poor.iterJobs()) none.push(job);
    assert.deepEqual(none, [], 'a rejected submit stores no job');
  });

  test('a wrong key is AuthError', async () => {
    const stranger = new Client({ baseUrl: gw.base, apiKey: 'sk-aegis-not-a-real-key' });
    const err = await stranger.submit({ taskType: 'summarize', prompt: 'hi', maxTokens: 8 }).then(() => null, (e) => e);
    assert.ok(err instanceof AuthError, `got ${err}`);
    assert.equal(err.status, 401);
    await assert.rejects(stranger.list(), AuthError);
  });

  test("another team's job id is NotFound, like an unknown id", async () => {
    const mine = await client.submit({ taskType: 'summarize', prompt: 'private to t1', maxTokens: 8 });
    const err = await other.get(mine.id).then(() => null, (e) => e);
    assert.ok(err instanceof NotFound, `got ${err}`);
    assert.equal(err.status, 404);
    const unknown = await other.get('job_doesnotexist').then(() => null, (e) => e);
    assert.ok(unknown instanceof NotFound);
    assert.equal(err.message, unknown.message.replace('job_doesnotexist', mine.id));
    await assert.rejects(other.cancel(mine.id), NotFound);
    await assert.rejects(other.wait(mine.id, { timeoutMs: 5000 }), NotFound);
    const done = await client.wait(mine.id, { timeoutMs: 30_000 });
    assert.equal(done.status, 'succeeded');
  });

  test('invalid input is InvalidRequest', async () => {
    const err = await client.submit({ taskType: 'bad task type!', prompt: 'x', maxTokens: 8 }).then(() => null, (e) => e);
    assert.ok(err instanceof InvalidRequest, `got ${err}`);
    assert.equal(err.status, 400);
  });

  describe('retrieval (client.rag)', () => {
    // The demo's embeddings are feature-hashed bags of words: a query in a document's own words finds it first.
    const PAYROLL = 'Payroll record: employee SIN 046 454 286 is paid on the fifteenth.';
    const CAFETERIA = 'The cafeteria serves lunch at noon on the third floor every weekday.';
    const ROADMAP = 'The roadmap for next quarter moves the billing service to the new cluster.';
    let rag;     // team rag, RESTRICTED clearance
    let pub;     // team rag-public, PUBLIC clearance
    // A RESTRICTED (Canadian SIN), a declared-PUBLIC and an INTERNAL document.
    const seed = async (c, collection) => [
      await c.rag.ingest({ collection, text: PAYROLL, source: 'payroll.txt', metadata: { owner: 'hr' } }),
      await c.rag.ingest({ collection, text: CAFETERIA, source: 'cafeteria.txt', classification: 'PUBLIC' }),
      await c.rag.ingest({ collection, chunks: [ROADMAP] }),
    ];

    before(async () => {
      rag = await newTeam('rag', 100);
      pub = await newTeam('rag-public', 100, 'PUBLIC');
    });

    test('ingest gives each chunk a level; query finds the text; get and list describe the documents', async () => {
      const [payroll, cafeteria, roadmap] = await seed(rag, 'handbook');
      for (const doc of [payroll, cafeteria, roadmap]) assert.match(doc.documentId, /^doc_/);
      assert.equal(new Set([payroll.documentId, cafeteria.documentId, roadmap.documentId]).size, 3);
      assert.deepEqual(payroll.chunks, [{ index: 0, classification: 'RESTRICTED' }]);
      assert.equal(payroll.classification, 'RESTRICTED');
      assert.deepEqual(cafeteria.chunks.map((c) => c.classification), ['PUBLIC']);
      assert.ok(['PUBLIC', 'INTERNAL'].includes(roadmap.classification), roadmap.classification);
      const floored = await rag.rag.ingest({ collection: 'handbook-floor', chunks: [PAYROLL, 'Nothing here.'], classification: 'PUBLIC' });
      assert.deepEqual(floored.chunks.map((c) => c.classification), ['RESTRICTED', 'PUBLIC'], 'a declared level is a floor');

      const best = await rag.rag.query({ collection: 'handbook', query: PAYROLL, topK: 1 });
      assert.equal(best.chunks.length, 1);
      assert.equal(best.chunks[0].documentId, payroll.documentId);
      assert.equal(best.chunks[0].text, PAYROLL);
      assert.equal(best.chunks[0].classification, 'RESTRICTED');
      assert.equal(best.chunks[0].source, 'payroll.txt');
      assert.match(best.chunks[0].id, /^chk_/);
      assert.equal(best.classification, 'RESTRICTED', 'the query text holds the SIN too');
      const all = await rag.rag.query({ collection: 'handbook', query: 'cafeteria lunch noon', topK: 10 });
      assert.equal(all.chunks.length, 3);
      assert.equal(all.chunks[0].text, CAFETERIA);
      const scores = all.chunks.map((c) => c.score);
      assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
      const owned = await rag.rag.query({ collection: 'handbook', query: 'cafeteria lunch noon', topK: 10, filter: { owner: ['hr', 'it'] } });
      assert.deepEqual(owned.chunks.map((c) => c.documentId), [payroll.documentId], 'only the document whose metadata matches');

      const got = await rag.rag.get(payroll.documentId);
      assert.deepEqual([got.documentId, got.collection, got.source, got.classification], [payroll.documentId, 'handbook', 'payroll.txt', 'RESTRICTED']);
      assert.deepEqual(got.metadata, { owner: 'hr' });
      assert.deepEqual(got.chunks, payroll.chunks);
      assert.ok(Math.abs(got.createdAt.getTime() - Date.now()) < 60_000);
      const listed = await rag.rag.list('handbook');
      assert.deepEqual(listed.map((d) => d.documentId).sort(), [payroll.documentId, cafeteria.documentId, roadmap.documentId].sort());
      assert.ok(!JSON.stringify(listed.map((d) => d.raw)).includes('046 454 286'), 'a listing never holds text');
      assert.deepEqual(await rag.rag.list('no-such-collection'), []);
    });

    test('a team with PUBLIC clearance never sees a RESTRICTED chunk', async () => {
      const [payroll] = await seed(pub, 'public-handbook');
      assert.equal(payroll.classification, 'RESTRICTED');
      for (const question of [PAYROLL, 'payroll SIN employee fifteenth', '046 454 286', 'cafeteria lunch']) {
        const result = await pub.rag.query({ collection: 'public-handbook', query: question, topK: 10 });
        assert.ok(result.chunks.length > 0, question);
        for (const chunk of result.chunks) {
          assert.equal(chunk.classification, 'PUBLIC', question);
          assert.notEqual(chunk.documentId, payroll.documentId, question);
          assert.ok(!chunk.text.includes('454'));
        }
      }
      const visible = new Set((await pub.rag.query({ collection: 'public-handbook', query: 'cafeteria', topK: 10 })).chunks.map((c) => c.id));
      const answer = await pub.rag.answer({ collection: 'public-handbook', question: 'When is the payroll SIN paid?', topK: 10, maxTokens: 64 });
      assert.ok(answer.chunkIds.length > 0);
      assert.ok(answer.chunkIds.every((id) => visible.has(id)), JSON.stringify(answer.chunkIds));
      assert.ok(!answer.answer.includes('454'), 'the demo model echoes its context: the SIN was never in it');
      // The same documents under a RESTRICTED team are found.
      const [restricted] = await seed(rag, 'restricted-handbook');
      const hits = await rag.rag.query({ collection: 'restricted-handbook', query: PAYROLL, topK: 10 });
      assert.equal(hits.chunks[0].documentId, restricted.documentId);
    });

    test('answer with a RESTRICTED chunk in context runs on the local model', async () => {
      const [payroll] = await seed(rag, 'answers');
      const top = await rag.rag.query({ collection: 'answers', query: 'When is the payroll SIN paid?', topK: 2 });
      assert.ok(top.chunks.some((c) => c.documentId === payroll.documentId));
      const answer = await rag.rag.answer({ collection: 'answers', question: 'When is the payroll SIN paid?', topK: 2, maxTokens: 64 });
      assert.ok(answer.answer.trim());
      assert.deepEqual(answer.chunkIds, top.chunks.map((c) => c.id));
      assert.equal(answer.classification, 'RESTRICTED');
      assert.equal(answer.provider, 'ollama');
      assert.ok(answer.model);
      assert.deepEqual([answer.route.provider, answer.route.model], [answer.provider, answer.model]);
      assert.match(answer.route.reason, /local/);
      assert.ok(answer.usage.inputTokens > 0 && answer.usage.outputTokens > 0);
      assert.ok(answer.costUsd > 0);
    });

    test('delete removes the document: queries no longer return it and get is NotFound', async () => {
      const [payroll, cafeteria] = await seed(rag, 'erase');
      assert.ok((await rag.rag.query({ collection: 'erase', query: PAYROLL })).chunks.some((c) => c.documentId === payroll.documentId));
      const gone = await rag.rag.delete(payroll.documentId);
      assert.deepEqual([gone.documentId, gone.deleted, gone.chunksDeleted], [payroll.documentId, true, 1]);
      const hits = await rag.rag.query({ collection: 'erase', query: PAYROLL, topK: 10 });
      assert.equal(hits.chunks.length, 2);
      assert.ok(hits.chunks.every((c) => c.documentId !== payroll.documentId && c.text !== PAYROLL));
      const err = await rag.rag.get(payroll.documentId).then(() => null, (e) => e);
      assert.ok(err instanceof NotFound, `got ${err}`);
      assert.deepEqual([err.status, err.type], [404, 'not_found']);
      assert.ok(err.requestId);
      await assert.rejects(rag.rag.delete(payroll.documentId), NotFound);
      assert.ok(!(await rag.rag.list('erase')).some((d) => d.documentId === payroll.documentId));
      assert.equal((await rag.rag.get(cafeteria.documentId)).documentId, cafeteria.documentId);
    });

    test("another team's documents do not exist for it", async () => {
      const [payroll] = await seed(rag, 'private');
      const stranger = await newTeam('rag-other', 100);
      await assert.rejects(stranger.rag.get(payroll.documentId), NotFound);
      await assert.rejects(stranger.rag.delete(payroll.documentId), NotFound);
      assert.deepEqual((await stranger.rag.query({ collection: 'private', query: PAYROLL })).chunks, []);
      assert.deepEqual(await stranger.rag.list('private'), []);
      assert.equal((await rag.rag.get(payroll.documentId)).classification, 'RESTRICTED');
    });

    test('bad input is InvalidRequest (400, or 413 for a document over the limit); a wrong key is AuthError', async () => {
      for (const call of [
        () => rag.rag.ingest({ collection: 'bad name!', text: 'x' }),
        () => rag.rag.ingest({ collection: 'c', text: 'x', classification: 'SECRET' }),
        () => rag.rag.query({ collection: 'c', query: 'x', topK: 0 }),
        () => rag.rag.answer({ collection: 'c', question: '' }),
      ]) {
        const err = await call().then(() => null, (e) => e);
        assert.ok(err instanceof InvalidRequest, `got ${err}`);
        assert.deepEqual([err.status, err.type], [400, 'invalid_request']);
      }
      const big = await rag.rag.ingest({ collection: 'c', text: 'word '.repeat(300_000) }).then(() => null, (e) => e);
      assert.ok(big instanceof InvalidRequest, `got ${big}`);
      assert.deepEqual([big.status, big.type], [413, 'payload_too_large']);
      assert.deepEqual(await rag.rag.list('c'), []);
      const stranger = new Client({ baseUrl: gw.base, apiKey: 'sk-aegis-not-a-real-key' });
      const auth = await stranger.rag.query({ collection: 'handbook', query: 'x' }).then(() => null, (e) => e);
      assert.ok(auth instanceof AuthError, `got ${auth}`);
      assert.equal(auth.status, 401);
    });
  });
});
