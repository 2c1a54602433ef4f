// What the apps of bench/overhead.mjs record per request besides Drip, each behind the same small interface:
//   floor    an event object pushed into an array per request, drained every 100 ms: the least any metering
//            can cost (no keys, no serialisation, no network).
//   floor-deliver  the least any metering that delivers what Drip delivers can cost: per request the same two
//            records @drip sends (a usage item and a run with one event, the same fields and keys of the same
//            length), pushed into arrays and POSTed in bulk (250 a batch, or every 100 ms) over one keep-alive
//            node:http agent to the sink's Drip routes, answers parsed. No validation, retry, scope or outcome.
//   posthog  posthog-node 5 with its defaults (batches of 20, gzip), one `capture()` per request, delivered to
//            the sink (`host` = the sink's prefix for this app).
//   otel     OpenTelemetry's Node tracer with the AsyncLocalStorage context manager, two spans per request (the
//            request's span started by a middleware, a child span in the handler), a BatchSpanProcessor with its
//            defaults and the OTLP/HTTP JSON exporter delivering to the sink.
// Each returns { start(req): handle, inHandler(handle, customerId), end(handle), flush(), delivered() }.

/** The in-memory floor. */
export function floorMeter() {
  let queue = [];
  let drained = 0;
  const timer = setInterval(() => {
    drained += queue.length;
    queue = [];
  }, 100);
  timer.unref();
  return {
    inHandler(_handle, customerId) {
      queue.push({ customerId, eventType: 'bench.lookup', quantity: 1, at: Date.now() });
    },
    async flush() {
      drained += queue.length;
      queue = [];
    },
    delivered: () => drained,
  };
}

/** posthog-node, delivering to `${sinkPrefix}`. */
export async function posthogMeter(sinkPrefix) {
  const { PostHog } = await import('posthog-node');
  const client = new PostHog('phc_bench', { host: sinkPrefix, disableGeoip: true });
  return {
    inHandler(_handle, customerId) {
      client.capture({
        distinctId: customerId,
        event: 'bench.lookup',
        properties: { quantity: 1, route: '/items/:id' },
      });
    },
    async flush() {
      await client.flush();
    },
    close: () => client.shutdown(),
  };
}

/** OpenTelemetry with two spans per request, exporting OTLP/HTTP JSON to `${sinkPrefix}/v1/traces`. */
export async function otelMeter(sinkPrefix) {
  const api = await import('@opentelemetry/api');
  const { NodeTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-node');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const provider = new NodeTracerProvider({
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${sinkPrefix}/v1/traces` }))],
  });
  provider.register();
  const tracer = api.trace.getTracer('bench');
  return {
    /** Starts the request's span; `run(fn)` calls fn with it as the active span. */
    start(name) {
      const span = tracer.startSpan(name, { kind: api.SpanKind.SERVER });
      const ctx = api.trace.setSpan(api.context.active(), span);
      return { span, run: (fn) => api.context.with(ctx, fn) };
    },
    inHandler(_handle, customerId) {
      const span = tracer.startSpan('bench.lookup', {
        attributes: { 'customer.id': customerId, quantity: 1 },
      });
      span.end();
    },
    end(handle, status) {
      handle.span.setAttribute('http.response.status_code', status);
      handle.span.end();
    },
    async flush() {
      await provider.forceFlush();
    },
  };
}

/** The delivering floor: @drip's two records per request, sent in bulk with nothing else around them. */
export async function deliveringFloorMeter(sinkPrefix) {
  const http = await import('node:http');
  const agent = new http.Agent({ keepAlive: true });
  const base = new URL(`${sinkPrefix}/v1`);
  let usage = [];
  let runs = [];
  let n = 0;
  let inFlight = 0;
  const waiters = [];
  const post = (path, body) =>
    new Promise((resolve, reject) => {
      const text = JSON.stringify(body);
      const req = http.request(
        {
          agent,
          method: 'POST',
          host: base.hostname,
          port: base.port,
          path: `${base.pathname}${path}`,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
            authorization: 'Bearer sk_test_bench',
          },
        },
        (res) => {
          let answer = '';
          res.setEncoding('utf8');
          res.on('data', (d) => {
            answer += d;
          });
          res.on('end', () => resolve(JSON.parse(answer)));
        },
      );
      req.once('error', reject);
      req.end(text);
    });
  const send = () => {
    if (usage.length > 0) {
      const events = usage;
      usage = [];
      inFlight++;
      post('/usage/internal/bulk', { events }).finally(done);
    }
    if (runs.length > 0) {
      const batch = runs;
      runs = [];
      inFlight++;
      post('/runs/record/bulk', { runs: batch }).finally(done);
    }
  };
  const done = () => {
    inFlight--;
    if (inFlight === 0) for (const w of waiters.splice(0)) w();
  };
  const timer = setInterval(send, 100);
  timer.unref();
  const prefix = `fl:cus_bench:${process.pid.toString(36)}${Date.now().toString(36)}.`;
  return {
    inHandler(_handle, customerId) {
      const key = `${prefix}${++n}`;
      const at = new Date().toISOString();
      usage.push({
        customerId,
        usageType: 'api_calls',
        quantity: 1,
        idempotencyKey: `${key}:api_calls:0`,
        metadata: { method: 'GET', route: '/items/:id' },
      });
      runs.push({
        customerId,
        workflow: 'get-items-id',
        status: 'COMPLETED',
        events: [{ eventType: 'bench.lookup', quantity: 1 }],
        externalRunId: key,
        idempotencyKey: key,
        metadata: { method: 'GET', route: '/items/:id', status: 200 },
        startedAt: at,
        endedAt: at,
      });
      if (usage.length >= 250) send();
    },
    async flush() {
      send();
      if (inFlight > 0) await new Promise((resolve) => waiters.push(resolve));
    },
  };
}
