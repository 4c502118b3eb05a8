// The official OpenAI and Anthropic SDKs, unchanged but for the base URL,
// talk to Aegis, which talks to providers in a different protocol.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startGateway, startSimulator } from './harness.mjs';

describe('OpenAI SDK -> Aegis -> Anthropic upstream (demo mode)', () => {
  let gw;
  let client;
  before(async () => {
    gw = await startGateway({ demo: true });
    client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: gw.key, maxRetries: 0 });
  });
  after(async () => { await gw.stop(); });

  const upstreamLog = async () => (await gw.admin('GET', '/admin/v1/demo/upstream-log')).requests;

  test('non-streaming completion is translated both ways', async () => {
    const completion = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello from the openai sdk' }],
      max_tokens: 64,
      temperature: 0.7,
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'claude-sonnet-4-5');
    assert.equal(completion.choices[0].message.role, 'assistant');
    assert.match(completion.choices[0].message.content, /Hello from the openai sdk/);
    assert.equal(completion.choices[0].finish_reason, 'stop');
    assert.ok(completion.usage.prompt_tokens > 0);
    assert.equal(completion.usage.total_tokens, completion.usage.prompt_tokens + completion.usage.completion_tokens);

    const seen = (await upstreamLog()).filter((r) => r.provider === 'anthropic' && r.path === '/v1/messages');
    assert.ok(seen.length >= 1);
    const body = JSON.parse(seen.at(-1).body);
    assert.equal(body.model, 'claude-sonnet-4-5');
    assert.equal(body.system, 'Be brief.');
    assert.equal(body.max_tokens, 64);
    assert.equal(body.temperature, 0.7);
    assert.deepEqual(body.messages, [{ role: 'user', content: 'Hello from the openai sdk' }]);
  });

  test('streaming deltas and usage arrive through the SDK', async () => {
    const stream = await client.chat.completions.create({
      model: 'auto',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'stream these words please' }],
    });
    let text = '';
    let finish = null;
    let usage = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      if (chunk.choices.length > 0) {
        text += chunk.choices[0].delta.content ?? '';
        finish = chunk.choices[0].finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(chunks > 3, `only ${chunks} chunks`);
    assert.match(text, /stream these words please/);
    assert.equal(finish, 'stop');
    assert.ok(usage && usage.completion_tokens > 0);
  });

  test('an upstream failure reaches the SDK as an error it raises', async () => {
    // One failing provider is hidden by fallback; the SDK sees an error once the whole chain failed.
    for (const provider of ['anthropic', 'azure', 'ollama']) {
      await gw.admin('POST', '/admin/v1/demo/faults', { provider, mode: 'status_500', count: 1 });
    }
    await assert.rejects(
      client.chat.completions.create({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof OpenAI.APIError && err.status === 502,
    );
  });

  test('a stream cut mid-way raises instead of ending cleanly', async () => {
    await gw.admin('POST', '/admin/v1/demo/faults', { provider: 'anthropic', mode: 'truncate', count: 1 });
    const consume = async () => {
      const stream = await client.chat.completions.create({
        model: 'claude-haiku-4-5', stream: true,
        messages: [{ role: 'user', content: 'a fairly long answer is wanted here with many words to cut' }],
      });
      for await (const chunk of stream) { void chunk; }
    };
    await assert.rejects(consume(), (err) => err instanceof Error);
  });

  test('a bad key is an authentication error in the SDK', async () => {
    const bad = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'aeg_0000000000000000_' + 'A'.repeat(43), maxRetries: 0 });
    await assert.rejects(bad.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof OpenAI.AuthenticationError);
  });

  test('models are listed', async () => {
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    for (const want of ['auto', 'haiku', 'sonnet', 'opus', 'claude-sonnet-4-5', 'gpt-4o', 'llama3.2:3b']) {
      assert.ok(ids.includes(want), `${want} missing from ${ids}`);
    }
  });

  test('embeddings through the SDK', async () => {
    const result = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['one', 'two'] });
    assert.equal(result.data.length, 2);
    assert.ok(result.data[0].embedding.length > 100);
    assert.notDeepEqual(result.data[0].embedding, result.data[1].embedding);
  });
});

describe('Anthropic SDK -> Aegis -> OpenAI-compatible upstream (vLLM-style)', () => {
  let sim;
  let gw;
  let client;
  before(async () => {
    sim = await startSimulator();
    gw = await startGateway({
      config: `
providers:
  - name: vllm
    type: openai_compat
    base_url: ${sim.base}/v1
    api_key: "\${VLLM_API_KEY}"
    locality: local
    models: {haiku: qwen-small, sonnet: qwen-medium, opus: qwen-large}
`,
    });
    client = new Anthropic({ baseURL: gw.base, apiKey: gw.key, maxRetries: 0 });
  });
  after(async () => { await gw.stop(); await sim.stop(); });

  test('non-streaming message is translated both ways', async () => {
    await sim.clear();
    const message = await client.messages.create({
      model: 'sonnet', max_tokens: 100, system: 'You are terse.',
      stop_sequences: ['END'],
      messages: [{ role: 'user', content: 'Hello from the anthropic sdk' }],
    });
    assert.equal(message.type, 'message');
    assert.equal(message.role, 'assistant');
    assert.equal(message.model, 'qwen-medium');
    assert.equal(message.content[0].type, 'text');
    assert.match(message.content[0].text, /Hello from the anthropic sdk/);
    assert.equal(message.stop_reason, 'end_turn');
    assert.ok(message.usage.input_tokens > 0 && message.usage.output_tokens > 0);

    const seen = (await sim.requests()).filter((r) => r.path === '/v1/chat/completions');
    assert.equal(seen.length, 1);
    const body = JSON.parse(seen[0].body);
    assert.equal(body.model, 'qwen-medium');
    assert.deepEqual(body.messages[0], { role: 'system', content: 'You are terse.' });
    assert.deepEqual(body.stop, ['END']);
    assert.equal(body.max_tokens, 100);
    assert.equal(seen[0].headers.authorization, undefined, 'credentials must not be recorded');
  });

  test('streaming uses the exact event sequence the SDK requires', async () => {
    const stream = client.messages.stream({
      model: 'haiku', max_tokens: 50, messages: [{ role: 'user', content: 'count one two three' }],
    });
    const types = [];
    stream.on('streamEvent', (event) => types.push(event.type));
    const final = await stream.finalMessage();
    assert.match(final.content[0].text, /count one two three/);
    assert.equal(final.stop_reason, 'end_turn');
    assert.ok(final.usage.output_tokens > 0);
    assert.equal(types[0], 'message_start');
    assert.equal(types.at(-1), 'message_stop');
    assert.ok(types.includes('content_block_delta'));
    assert.ok(types.indexOf('content_block_stop') < types.indexOf('message_delta'));
  });

  test('max_tokens cut-off is reported as max_tokens', async () => {
    const message = await client.messages.create({
      model: 'haiku', max_tokens: 2, messages: [{ role: 'user', content: 'many many many words here' }],
    });
    assert.equal(message.stop_reason, 'max_tokens');
  });

  test('an upstream 429 becomes a RateLimitError in the SDK', async () => {
    await sim.fault('status_429', 1);
    await assert.rejects(
      client.messages.create({ model: 'haiku', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof Anthropic.RateLimitError,
    );
  });

  test('a stream cut mid-way raises an error in the SDK', async () => {
    await sim.fault('truncate', 1);
    const stream = client.messages.stream({
      model: 'haiku', max_tokens: 50,
      messages: [{ role: 'user', content: 'a long enough answer to be cut in the middle of it' }],
    });
    await assert.rejects(stream.finalMessage());
  });

  test('garbage from upstream is a clean 502', async () => {
    await sim.fault('garbage', 1);
    await assert.rejects(
      client.messages.create({ model: 'haiku', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof Anthropic.APIError && err.status === 502,
    );
  });
});
