// The example app stepline builds, tests and deploys: a tiny HTTP service with a health endpoint.
// Plain JavaScript on Node's standard library, so its build needs nothing but node.

/** What the service says about itself; the build writes version.json beside it. */
export function describe(version) {
  return { service: 'web-app', version: version.version ?? 'dev', commit: version.commit ?? 'unknown' };
}

/** Handles one request: GET /health for the load balancer, GET / for people. */
export function handle(request, version) {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (request.method !== 'GET') return { status: 405, body: { error: 'method not allowed' } };
  if (url.pathname === '/health') return { status: 200, body: { status: 'ok' } };
  if (url.pathname === '/') return { status: 200, body: describe(version) };
  return { status: 404, body: { error: `no route for ${url.pathname}` } };
}
