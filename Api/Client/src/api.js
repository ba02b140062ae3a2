// The HTTP API as the page uses it (../../../shared/CONTRACT.md): JSON in, JSON or
// problem+json out, the guest token on every call.

/** A refusal from the API, carrying the problem+json `detail` when there is one. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `The server answered ${status}.`);
    this.status = status;
    this.problem = problem;
  }
}

/** How many messages the page asks for at once: the snapshot's latest, and each older page. */
export const PageSize = 50;

/** When the caller's daily token budget resets, if this is the budget's refusal (429 with `resetsAt`). */
export function budgetResetsAt(error) {
  if (!(error instanceof ApiError) || error.status !== 429 || !error.problem?.resetsAt) return null;
  const at = new Date(error.problem.resetsAt);
  return Number.isNaN(at.getTime()) ? null : at;
}

/** Waits for the n-th retry: 0.5 s, 1 s, 2 s, … up to 10 s, with jitter so tabs do not retry in step. */
export function backoff(attempt) {
  const base = Math.min(10_000, 500 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

export const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh Idempotency-Key. `crypto.randomUUID` exists only in secure contexts (https, localhost). */
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

const transient = (status) => status === 429 || status >= 500;

/** Worth asking again: a lost connection, a 5xx, or a rate limit — not the day's budget, which asking again does not change. */
const retriable = (error) => !(error instanceof ApiError) || (transient(error.status) && !budgetResetsAt(error));

export async function signInAsGuest(name) {
  const response = await fetch('/api/auth/guest', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  return readBody(response);
}

async function readBody(response) {
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export class Api {
  /** @param {{token: string}} session @param {() => void} onUnauthorized called when the token is refused */
  constructor(session, onUnauthorized) {
    this.session = session;
    this.onUnauthorized = onUnauthorized;
  }

  get authorization() {
    return `Bearer ${this.session.token}`;
  }

  async request(method, path, body, headers = {}) {
    const response = await fetch(path, {
      method,
      headers: {
        authorization: this.authorization,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) this.onUnauthorized();
    return readBody(response);
  }

  conversations = () => this.request('GET', '/api/conversations');
  createConversation = (title) => this.request('POST', '/api/conversations', title ? { title } : {});
  snapshot = (id) => this.request('GET', `${path(id)}?limit=${PageSize}`);
  /** `{messages, hasMore}`: the page of messages before `before`, in event order. */
  olderMessages = (id, before) => this.request('GET', `${path(id, 'messages')}?before=${encodeURIComponent(before)}&limit=${PageSize}`);
  /** Moves the shared head: every member's thread follows it. */
  setHead = (id, messageId) => this.request('POST', path(id, 'head'), { messageId });
  /** A new conversation of mine holding the path up to `messageId`: its snapshot. */
  fork = (id, messageId) => this.request('POST', path(id, 'fork'), { messageId });
  rename = (id, title) => this.request('PATCH', path(id), { title });
  deleteConversation = (id) => this.request('DELETE', path(id));
  invite = (id) => this.request('POST', path(id, 'invites'));
  invites = (id) => this.request('GET', path(id, 'invites'));
  revokeInvite = (id, inviteToken) => this.request('DELETE', path(id, 'invites', inviteToken));
  join = (id, inviteToken) => this.request('POST', path(id, 'members'), { inviteToken });
  /** Leaving is removing oneself. */
  removeMember = (id, userId) => this.request('DELETE', path(id, 'members', userId));
  typing = (id) => this.request('POST', path(id, 'typing'));
  read = (id, lastEventId) => this.request('POST', path(id, 'read'), { lastEventId });
  cancel = (id, messageId) => this.request('POST', path(id, 'messages', messageId, 'cancel'));

  /**
   * Posts a prompt and answers once the service has it (202). The reply itself arrives on the
   * conversation's watch stream, which every tab already has. `parentId`: the assistant message
   * it follows, `null` for a new first prompt; left out, the head. A lost connection or a
   * 429/5xx is retried with the same Idempotency-Key, so a prompt is never posted twice.
   */
  postPrompt = (id, content, parentId) =>
    this.sendOnce(path(id, 'messages'), parentId === undefined ? { content } : { content, parentId });

  /** Asks for a new reply beside a final one; retried as posting is. */
  regenerate = (id, messageId) => this.sendOnce(path(id, 'messages', messageId, 'regenerate'));

  /** A POST that creates something, retried under one Idempotency-Key until it is accepted or refused. */
  async sendOnce(to, body) {
    const key = newKey();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request('POST', to, body, { accept: 'application/json', 'idempotency-key': key });
      } catch (error) {
        if (!retriable(error) || attempt >= 8) throw error;
        await delay(backoff(attempt));
      }
    }
  }

  /** Reads retry the same way: a tab that is resyncing should not give up on a blip. */
  snapshotWithRetry = (id) => withRetry(() => this.snapshot(id));
  conversationsWithRetry = () => withRetry(() => this.conversations());
}

async function withRetry(read) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (error instanceof ApiError && !transient(error.status)) throw error;
      await delay(backoff(attempt));
    }
  }
}

/** `/api/conversations/{id}/…`, each part escaped. */
const path = (...parts) => ['/api/conversations', ...parts.map(encodeURIComponent)].join('/');
