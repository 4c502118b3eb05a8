// Images and PDFs through the official SDKs (openai: chat.completions.create
// with image_url and file parts, responses.create with input_image;
// @anthropic-ai/sdk: messages.create with image and document blocks),
// unchanged but for the base URL, against Aegis in demo mode. The images
// are tests/media/media_fixtures.py's, rendered by ImageMagick.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startGateway } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'aegis-js-media-'));
execFileSync('python3', [join(here, '..', 'media', 'media_fixtures.py'), dir, 'sin.png', 'person_email.png',
  'two_pages.pdf']);
const b64 = (name) => readFileSync(join(dir, name)).toString('base64');

describe('official SDKs with images and PDFs -> Aegis (demo mode)', () => {
  let gw;
  let openai;
  let anthropic;
  before(async () => {
    gw = await startGateway({ demo: true });
    openai = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: gw.key, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: gw.base, apiKey: gw.key, maxRetries: 0 });
  });
  after(async () => { await gw.stop(); });

  const log = async () => (await gw.admin('GET', '/admin/v1/demo/upstream-log')).requests
    .filter((r) => r.method === 'POST');

  test('chat.completions.create: an image with a SIN runs on the local vision provider', async () => {
    const since = (await log()).length;
    const { data, response } = await openai.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: [
        { type: 'text', text: 'What does this card say?' },
        { type: 'image_url', image_url: { url: `data:image/png;base64,${b64('sin.png')}`, detail: 'high' } },
      ] }],
    }).withResponse();
    assert.equal(response.headers.get('x-aegis-classification'), 'RESTRICTED');
    assert.match(response.headers.get('x-aegis-route'), /provider=ollama/);
    assert.match(data.choices[0].message.content, /^Echo:/);
    const sent = (await log()).slice(since);
    assert.ok(sent.length > 0);
    for (const r of sent) assert.equal(r.locality, 'local');
  });

  test('chat.completions.create: a name and e-mail image reaches the cloud redacted', async () => {
    const since = (await log()).length;
    const original = b64('person_email.png');
    const { data, response } = await openai.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: [
        { type: 'text', text: 'Who is this?' },
        { type: 'image_url', image_url: { url: `data:image/png;base64,${original}` } },
      ] }],
    }).withResponse();
    assert.notEqual(response.headers.get('x-aegis-classification'), 'RESTRICTED');
    const cloud = (await log()).slice(since).filter((r) => r.locality === 'cloud');
    assert.ok(cloud.length > 0);
    const body = cloud.at(-1).body;
    assert.ok(!body.includes(original), 'the original image reached the cloud');
    assert.ok(!body.includes('jane.tremblay@example.com'));
    assert.match(body, /EMAIL_ADDRESS_0/);
    assert.match(data.choices[0].message.content, /jane\.tremblay@example\.com/);  // restored for the client
  });

  test('chat.completions.create: a PDF file part with a scanned SIN stays local', async () => {
    const { response } = await openai.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: [
        { type: 'text', text: 'Summarise' },
        { type: 'file', file: { filename: 'two_pages.pdf', file_data: `data:application/pdf;base64,${b64('two_pages.pdf')}` } },
      ] }],
    }).withResponse();
    assert.equal(response.headers.get('x-aegis-classification'), 'RESTRICTED');
    assert.match(response.headers.get('x-aegis-route'), /provider=ollama/);
  });

  test('responses.create: input_image is governed like chat', async () => {
    const { response } = await openai.responses.create({
      model: 'auto',
      input: [{ role: 'user', content: [
        { type: 'input_text', text: 'Read it' },
        { type: 'input_image', image_url: `data:image/png;base64,${b64('sin.png')}`, detail: 'auto' },
      ] }],
    }).withResponse();
    assert.equal(response.headers.get('x-aegis-classification'), 'RESTRICTED');
    assert.match(response.headers.get('x-aegis-route'), /provider=ollama/);
  });

  test('anthropic messages.create: image and document blocks', async () => {
    const { response } = await anthropic.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: b64('sin.png') } },
        { type: 'text', text: 'What is the number?' },
      ] }],
    }).withResponse();
    assert.equal(response.headers.get('x-aegis-classification'), 'RESTRICTED');
    assert.match(response.headers.get('x-aegis-route'), /provider=ollama/);

    const pdf = await anthropic.messages.create({
      model: 'auto',
      max_tokens: 64,
      messages: [{ role: 'user', content: [
        { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: b64('two_pages.pdf') } },
        { type: 'text', text: 'Summarise' },
      ] }],
    }).withResponse();
    assert.equal(pdf.response.headers.get('x-aegis-classification'), 'RESTRICTED');
  });
});
