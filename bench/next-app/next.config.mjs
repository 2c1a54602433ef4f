// The built app behind bench/next-http.mjs and bench/overhead.mjs (--frameworks next): the same handler bare
// (/bare/[id]) and wrapped by withDrip() (/drip/[id]); /items/[id] is bare, floor or drip by BENCH_MODE;
// /control/* (also /__bench/*) reads counters and flushes. Built into .next by the benchmarks themselves.
export default {
  poweredByHeader: false,
  rewrites: async () => [{ source: '/__bench/:path*', destination: '/control/:path*' }],
};
