// The built app behind bench/next-http.mjs: the same handler bare (/bare/[id]) and wrapped by withDrip()
// (/drip/[id]); /control/* reads counters and flushes. Built into .next by the benchmark itself.
export default { poweredByHeader: false };
