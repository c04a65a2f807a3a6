// api.js: the hub's HTTPS API (docs/API.md) from the same origin the dashboard is served from.
// Errors come back as {"error":{"code","message","field"}} and are thrown as ApiError.
export class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error ?? {};
    super(e.message ? `${e.message}${e.field ? ` (field ${e.field})` : ''}` : `HTTP ${status}`);
    this.status = status;
    this.code = e.code;
    this.field = e.field;
  }
}

export class Api {
  constructor(token = '') { this.token = token; }

  async call(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', credentials: 'omit' });
    if (r.status === 204) return null;
    let j = null;
    try { j = await r.json(); } catch { /* not JSON */ }
    if (!r.ok) throw new ApiError(r.status, j);
    return j;
  }

  get(path) { return this.call('GET', path); }
  post(path, body) { return this.call('POST', path, body ?? {}); }
  patch(path, body) { return this.call('PATCH', path, body); }
  del(path) { return this.call('DELETE', path); }

  /** stream opens GET /v1/stream; the token travels as the subprotocol pair "ness.bearer, <token>"
   * because a browser cannot set headers on a WebSocket. */
  stream(after) {
    const u = new URL('/v1/stream', location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    if (after) u.searchParams.set('after', after);
    return new WebSocket(u, ['ness.bearer', this.token]);
  }
}
