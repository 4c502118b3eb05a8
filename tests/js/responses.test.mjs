// The official OpenAI SDK's Responses API (client.responses.create and
// client.responses.stream), unchanged but for the base URL, against Aegis in
// demo mode: the request is translated to the canonical chat model, governed
// like chat, answered by the simulated Anthropic upstream, and written back
// in the Responses API's shapes and typed stream events.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startGateway } from './harness.mjs';

const NAME = 'Jennifer Walsh';
// The harness's team is `sdk`: its conversations are stored (previous_response_id).
const CONFIG = `
responses:
  store:
    default: false
    sdk: true
  retention_s: 600
`;

describe('OpenAI SDK Responses API -> Aegis -> Anthropic upstream (demo mode)', () => {
  let gw;
  let client;
  before(async () => {
    gw = await startGateway({ demo: true, config: CONFIG });
    client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: gw.key, maxRetries: 0 });
  });
  after(async () => { await gw.stop(); });

  const cloudBodies = async (since) => (await gw.admin('GET', '/admin/v1/demo/upstream-log')).requests
    .filter((r) => r.method === 'POST' && r.locality === 'cloud').slice(since).map((r) => r.body);
  const cloudCount = async () => (await cloudBodies(0)).length;

  test('responses.create: the answer as a Response, with output_text', async () => {
    const response = await client.responses.create({
      model: 'claude-sonnet-4-5',
      instructions: 'Be brief.',
      input: 'Hello from the responses API',
      max_output_tokens: 64,
      temperature: 0.5,
    });
    assert.match(response.id, /^resp_/);
    assert.equal(response.object, 'response');
    assert.equal(response.status, 'completed');
    assert.equal(response.model, 'claude-sonnet-4-5');
    assert.equal(response.output_text, 'Echo: Hello from the responses API');
    assert.equal(response.output[0].type, 'message');
    assert.equal(response.output[0].content[0].type, 'output_text');
    assert.ok(response.usage.input_tokens > 0);
    assert.equal(response.usage.total_tokens, response.usage.input_tokens + response.usage.output_tokens);
    assert.equal(response.instructions, 'Be brief.');
    assert.equal(response.store, true);
  });

  test('responses.create with .withResponse(): governance headers', async () => {
    const { data, response } = await client.responses.create({ model: 'sonnet', input: 'headers please' })
      .withResponse();
    assert.equal(data.output_text, 'Echo: headers please');
    assert.equal(response.headers.get('x-aegis-classification'), 'INTERNAL');
    assert.match(response.headers.get('x-aegis-route'), /provider=anthropic/);
    assert.ok(response.headers.get('x-aegis-cost-usd'));
  });

  test('responses.stream: typed events, deltas and the final response', async () => {
    const since = await cloudCount();
    const stream = client.responses.stream({
      model: 'claude-sonnet-4-5',
      input: [{ role: 'user', content: [{ type: 'input_text', text: `Stream a note for ${NAME}` }] }],
    });
    const types = [];
    let deltas = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') deltas += event.delta;
    }
    const final = await stream.finalResponse();
    assert.equal(types[0], 'response.created');
    assert.equal(types.at(-1), 'response.completed');
    assert.ok(types.includes('response.output_text.done'));
    assert.equal(deltas, `Echo: Stream a note for ${NAME}`);
    assert.equal(final.output_text, deltas);
    assert.equal(final.status, 'completed');
    // The name went to the cloud simulator only as a placeholder.
    const sent = await cloudBodies(since);
    assert.equal(sent.length, 1);
    assert.ok(!sent[0].includes('Walsh'), sent[0]);
    assert.match(sent[0], /PERSON_\d+/);
  });

  test('previous_response_id continues a stored conversation, masked per turn', async () => {
    const first = await client.responses.create({ model: 'sonnet', input: `My name is ${NAME}` });
    assert.equal(first.output_text, `Echo: My name is ${NAME}`);
    const since = await cloudCount();
    const second = await client.responses.create({
      model: 'sonnet', input: 'What is my name?', previous_response_id: first.id,
    });
    assert.equal(second.output_text, 'Echo: What is my name?');
    assert.equal(second.previous_response_id, first.id);
    const sent = await cloudBodies(since);
    assert.equal(sent.length, 1);
    assert.ok(!sent[0].includes('Walsh'), sent[0]);
    assert.match(sent[0], /My name is PERSON_\d+/);

    const streamed = client.responses.stream({ model: 'sonnet', input: 'And again?', previous_response_id: second.id });
    const final = await streamed.finalResponse();
    assert.equal(final.output_text, 'Echo: And again?');

    const fetched = await client.responses.retrieve(first.id);
    assert.equal(fetched.id, first.id);
    await client.responses.delete(first.id);
    await assert.rejects(client.responses.retrieve(first.id), (err) => err.status === 404);
  });

  test('responses.stream: an upstream cut off after the first event is an error the SDK raises', async () => {
    await gw.admin('POST', '/admin/v1/demo/faults', { provider: 'anthropic', mode: 'truncate', count: 1 });
    const stream = client.responses.stream({ model: 'sonnet', input: 'one two three four five six seven eight' });
    const types = [];
    await assert.rejects((async () => {
      for await (const event of stream) types.push(event.type);
      await stream.finalResponse();
    })());
    assert.equal(types[0], 'response.created');
    assert.ok(!types.includes('response.completed'), types.join(','));
  });

  test('what cannot be translated is a 400 the SDK raises', async () => {
    await assert.rejects(
      client.responses.create({ model: 'sonnet', input: 'search', tools: [{ type: 'web_search' }] }),
      (err) => err instanceof OpenAI.BadRequestError && /web_search/.test(err.message),
    );
    await assert.rejects(
      client.responses.create({ model: 'sonnet', input: [{ type: 'input_image_of_a_cat' }] }),
      (err) => err.status === 400 && /unknown input item type/.test(err.message),
    );
  });
});
