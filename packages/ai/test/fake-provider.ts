/**
 * A local fake of the OpenAI and Anthropic HTTP APIs on loopback: realistic JSON and SSE bodies with
 * usage (cached and reasoning tokens included), plus faults: a 500 before a success, a stream cut
 * mid-way.
 */

import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeProvider {
  url: string;
  /** Requests received, by path. */
  hits: string[];
  /** The next `n` requests answer 500 (with `retry-after-ms: 1` so the SDK retries at once). */
  failNext(n: number): void;
  /** The next streamed answer stops after two deltas, without its final events. */
  cutNextStream(): void;
  close(): Promise<void>;
}

export const OPENAI_USAGE = {
  prompt_tokens: 120,
  completion_tokens: 40,
  total_tokens: 160,
  prompt_tokens_details: { cached_tokens: 100, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 16, audio_tokens: 0 },
};

export const RESPONSES_USAGE = {
  input_tokens: 80,
  input_tokens_details: { cached_tokens: 64 },
  output_tokens: 30,
  output_tokens_details: { reasoning_tokens: 12 },
  total_tokens: 110,
};

export const ANTHROPIC_USAGE = {
  input_tokens: 25,
  cache_creation_input_tokens: 200,
  cache_read_input_tokens: 1000,
  output_tokens: 60,
};

const DELTAS = ['Paris ', 'is the ', 'capital ', 'of France.'];

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
}

function sse(res: ServerResponse, events: Array<{ event?: string; data: unknown }>, cut: boolean): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const limit = cut ? 4 : events.length;
  for (const e of events.slice(0, limit)) {
    res.write(
      `${e.event ? `event: ${e.event}\n` : ''}data: ${typeof e.data === 'string' ? e.data : JSON.stringify(e.data)}\n\n`,
    );
  }
  if (cut) {
    // The connection drops: no final events, no clean end of the body.
    setTimeout(() => res.socket?.destroy(), 20);
    return;
  }
  res.end();
}

function chat(body: Record<string, unknown>, res: ServerResponse, cut: boolean): void {
  const model = 'gpt-4o-mini-2024-07-18';
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: DELTAS.join('') },
            finish_reason: 'stop',
            logprobs: null,
          },
        ],
        usage: OPENAI_USAGE,
      }),
    );
    return;
  }
  const includeUsage =
    (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    data: {
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 1,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    },
  });
  const events: Array<{ event?: string; data: unknown }> = [
    chunk({ role: 'assistant', content: '' }, null),
    ...DELTAS.map((d) => chunk({ content: d }, null)),
  ];
  events.push(chunk({}, 'stop'));
  if (includeUsage) {
    events.push({
      data: {
        id: 'chatcmpl-1',
        object: 'chat.completion.chunk',
        created: 1,
        model,
        choices: [],
        usage: OPENAI_USAGE,
      },
    });
  }
  events.push({ data: '[DONE]' });
  sse(res, events, cut);
}

function responses(body: Record<string, unknown>, res: ServerResponse, cut: boolean): void {
  const response = {
    id: 'resp_1',
    object: 'response',
    created_at: 1,
    model: 'o4-mini-2025-04-16',
    status: 'completed',
    output: [
      {
        type: 'message',
        id: 'msg_1',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: DELTAS.join(''), annotations: [] }],
      },
    ],
    usage: RESPONSES_USAGE,
  };
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(response));
    return;
  }
  const events = [
    {
      event: 'response.created',
      data: {
        type: 'response.created',
        response: { ...response, status: 'in_progress', output: [], usage: null },
      },
    },
    ...DELTAS.map((delta) => ({
      event: 'response.output_text.delta',
      data: {
        type: 'response.output_text.delta',
        item_id: 'msg_1',
        output_index: 0,
        content_index: 0,
        delta,
      },
    })),
    { event: 'response.completed', data: { type: 'response.completed', response } },
  ];
  sse(res, events, cut);
}

function messages(body: Record<string, unknown>, res: ServerResponse, cut: boolean): void {
  const model = 'claude-sonnet-4-5-20250929';
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text: DELTAS.join('') }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: ANTHROPIC_USAGE,
      }),
    );
    return;
  }
  const { output_tokens: _out, ...inputUsage } = ANTHROPIC_USAGE;
  const events = [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...inputUsage, output_tokens: 1 },
        },
      },
    },
    {
      event: 'content_block_start',
      data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    },
    ...DELTAS.map((text) => ({
      event: 'content_block_delta',
      data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } },
    })),
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: ANTHROPIC_USAGE.output_tokens },
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ];
  sse(res, events, cut);
}

export async function startFakeProvider(): Promise<FakeProvider> {
  let failures = 0;
  let cut = false;
  const hits: string[] = [];
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    hits.push(path);
    const body = await readBody(req);
    if (failures > 0) {
      failures--;
      res.writeHead(500, { 'content-type': 'application/json', 'retry-after-ms': '1' });
      res.end(JSON.stringify({ error: { message: 'The server had an error', type: 'server_error' } }));
      return;
    }
    const cutThis = cut && body.stream === true;
    if (cutThis) cut = false;
    if (path === '/v1/chat/completions') chat(body, res, cutThis);
    else if (path === '/v1/responses') responses(body, res, cutThis);
    else if (path === '/v1/messages') messages(body, res, cutThis);
    else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'not found' } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    failNext(n) {
      failures = n;
    },
    cutNextStream() {
      cut = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
