// What the apps of bench/overhead.mjs record per request besides Drip, each behind the same small interface:
//   floor    an event object pushed into an array per request, drained every 100 ms: the least any metering
//            can cost (no keys, no serialisation, no network).
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
