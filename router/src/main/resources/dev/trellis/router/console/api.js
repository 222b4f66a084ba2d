// The console's only way to the router: POST /api/v1/{Method} with the request as proto3 JSON.
// The admin token lives in this tab's sessionStorage and travels only as a bearer header on
// admin calls, never in a URL or a cookie.
const TOKEN_KEY = 'trellis.adminToken';
const ACTOR_KEY = 'trellis.actor';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function actor() {
  return sessionStorage.getItem(ACTOR_KEY) || '';
}

export function setToken(value, name) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
  if (name) sessionStorage.setItem(ACTOR_KEY, name);
  else sessionStorage.removeItem(ACTOR_KEY);
}

/** An error answer: the gRPC code, its message verbatim, the reason and the field violations. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body.error || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || '';
    this.reason = body.reason || '';
    this.violations = body.field_violations || [];
  }

  toString() {
    return `${this.status} ${this.code}: ${this.message}`;
  }
}

export async function call(method, request = {}, { admin = false } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (admin && token()) headers.Authorization = `Bearer ${token()}`;
  if (admin && actor()) headers['X-Trellis-Actor'] = actor();
  const response = await fetch(`/api/v1/${method}`, {
    method: 'POST', headers, body: JSON.stringify(request), cache: 'no-store', credentials: 'omit',
  });
  let body = {};
  try {
    body = await response.json();
  } catch (e) {
    body = { error: `HTTP ${response.status} without a JSON body` };
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/** Like call, but NOT_FOUND answers null (e.g. a model without a rollout). */
export async function maybe(method, request) {
  try {
    return await call(method, request);
  } catch (e) {
    if (e instanceof ApiError && e.code === 'NOT_FOUND') return null;
    throw e;
  }
}
