// Keeps a tab's copy of one conversation current, with ONE watch stream per conversation for
// all of this browser's tabs.
//
// Browsers open at most 6 HTTP/1.1 connections per origin, and a watch stream holds one for as
// long as the tab is open: a seventh tab with its own stream would hang, page load included.
// So the tabs of a conversation elect a leader with a Web Lock. The leader holds the stream and
// rebroadcasts every event on a BroadcastChannel; the others apply what it sends. When the
// leader's tab closes or navigates away, the browser hands the lock to a waiting tab, which
// opens the stream from the last id *it* applied, so nothing is lost in the handover.
//
// Every tab applies events in id order and drops duplicates (ConversationState.apply); a tab
// that sees a gap, or a leader that is told `reset`, reloads the snapshot and carries on.

import { fetchEventSource, EventStreamContentType } from '@microsoft/fetch-event-source';
import { backoff, delay } from './api.js';
import { ConversationState } from './conversation.js';

/** Thrown from the stream callbacks to stop retrying: the answer will not change by asking again. */
class FatalStreamError extends Error {
  constructor(status) {
    super(`The watch stream was refused (${status}).`);
    this.status = status;
  }
}

class StreamEnded extends Error {}

// A silent stream is a dead one: the service sends `: keep-alive` at least every 15 s.
const SilenceLimit = 45_000;

export class ConversationWatch {
  /**
   * @param {import('./api.js').Api} api
   * @param {string} conversationId
   * @param {{
   *   onLoad: (state: ConversationState) => void,
   *   onEvent: (event: {id: number, type: string, data: any}) => void,
   *   onStatus: (status: 'connecting' | 'live' | 'reconnecting') => void,
   *   onFatal: (error: Error) => void,
   * }} handlers
   */
  constructor(api, conversationId, handlers) {
    this.api = api;
    this.id = conversationId;
    this.handlers = handlers;
    this.state = null;
    this.status = 'connecting';
    this.closed = false;
    this.leading = false;
    this.loading = null;
    this.pending = [];
    this.reloadedAt = 0;
    this.stream = null;
    this.heardAt = 0;
    this.lockRequest = new AbortController();
    this.release = () => {};
    this.onOnline = () => this.leading && this.connect();
    this.onOffline = () => {
      this.setStatus('reconnecting');
      if (this.leading) this.connect();
    };
  }

  async open() {
    const name = `chatgrains:${this.api.session.userId}:${this.id}`;
    this.channel = new BroadcastChannel(name);
    this.channel.onmessage = (e) => this.fromChannel(e.data);
    await this.reload();
    if (this.closed || !this.state) return;
    this.channel.postMessage({ kind: 'hello' });
    addEventListener('online', this.onOnline);
    addEventListener('offline', this.onOffline);
    this.watchdog = setInterval(() => {
      if (this.leading && this.status === 'live' && Date.now() - this.heardAt > SilenceLimit) this.connect();
    }, 5_000);
    if (navigator.locks) {
      navigator.locks
        .request(name, { signal: this.lockRequest.signal }, () => this.lead())
        .catch((error) => error.name === 'AbortError' || this.handlers.onFatal(error));
    } else {
      // Web Locks exist only in secure contexts (https, localhost): elsewhere each tab watches alone.
      this.lead();
    }
  }

  close() {
    this.closed = true;
    this.lockRequest.abort();
    this.stream?.abort();
    this.release();
    this.channel?.close();
    clearInterval(this.watchdog);
    removeEventListener('online', this.onOnline);
    removeEventListener('offline', this.onOffline);
  }

  /** Runs while this tab holds the lock; the lock is released when the promise settles. */
  lead() {
    if (this.closed) return;
    this.leading = true;
    this.connect();
    return new Promise((resolve) => (this.release = resolve));
  }

  /** (Re)opens the watch stream from the last id this tab applied. */
  connect() {
    this.stream?.abort();
    if (this.closed) return;
    const stream = (this.stream = new AbortController());
    let attempt = 0;
    fetchEventSource(`/api/conversations/${encodeURIComponent(this.id)}/events`, {
      method: 'POST',
      // Lower case: fetch-event-source keeps `last-event-id` current itself on every retry.
      headers: { authorization: this.api.authorization, 'last-event-id': String(this.state.lastEventId) },
      signal: stream.signal,
      openWhenHidden: true,
      onopen: async (response) => {
        const type = response.headers.get('content-type') ?? '';
        if (response.ok && type.startsWith(EventStreamContentType)) {
          attempt = 0;
          this.heardAt = Date.now();
          this.setStatus('live');
          return;
        }
        if (response.status === 429 || response.status >= 500) throw new Error(`The watch stream answered ${response.status}.`);
        throw new FatalStreamError(response.status);
      },
      onmessage: (message) => {
        this.heardAt = Date.now();
        // The `retry:` block that opens the stream and each `: keep-alive` reach us as empty messages.
        if (!message.event) return;
        if (message.event === 'reset') {
          this.resetFromSnapshot();
          return;
        }
        const event = { id: Number(message.id), type: message.event, data: JSON.parse(message.data) };
        this.channel.postMessage({ kind: 'event', event });
        this.receive(event);
      },
      onclose: () => {
        throw new StreamEnded('The watch stream ended.');
      },
      onerror: (error) => {
        if (error instanceof FatalStreamError) throw error;
        this.setStatus('reconnecting');
        return backoff(attempt++);
      },
    }).catch((error) => {
      if (stream !== this.stream || this.closed) return;
      if (error instanceof FatalStreamError && error.status === 401) this.api.onUnauthorized();
      this.handlers.onFatal(error);
    });
  }

  fromChannel(message) {
    switch (message.kind) {
      case 'event':
        if (!this.leading) this.receive(message.event);
        break;
      case 'status':
        if (!this.leading) this.setStatus(message.status, false);
        break;
      case 'hello':
        if (this.leading) this.channel.postMessage({ kind: 'status', status: this.status });
        break;
      case 'reload':
        if (!this.leading) this.reload();
        break;
    }
  }

  receive(event) {
    if (this.closed) return;
    if (this.loading || !this.state) {
      this.pending.push(event);
      return;
    }
    const result = this.state.apply(event);
    if (result === 'applied') this.handlers.onEvent(event);
    else if (result === 'gap') this.reload();
  }

  /**
   * Loads the snapshot, then applies what arrived meanwhile. Concurrent calls share one load;
   * a tab that keeps seeing gaps reloads at most once a second.
   */
  reload() {
    this.loading ??= (async () => {
      const wait = this.reloadedAt + 1_000 - Date.now();
      if (wait > 0) await delay(wait);
      try {
        const snapshot = await this.api.snapshotWithRetry(this.id);
        if (this.closed) return;
        if (this.state) this.state.load(snapshot);
        else this.state = new ConversationState(snapshot);
      } catch (error) {
        this.handlers.onFatal(error);
        return;
      } finally {
        this.loading = null;
        this.reloadedAt = Date.now();
      }
      this.handlers.onLoad(this.state);
      const pending = this.pending.sort((a, b) => a.id - b.id);
      this.pending = [];
      for (const event of pending) this.receive(event);
    })();
    return this.loading;
  }

  /** `reset`: our resume point can no longer be replayed. Start again from a fresh snapshot. */
  async resetFromSnapshot() {
    this.stream?.abort();
    await this.reload();
    this.channel.postMessage({ kind: 'reload' });
    if (this.leading) this.connect();
  }

  setStatus(status, broadcast = true) {
    if (this.status === status) return;
    this.status = status;
    this.handlers.onStatus(status);
    if (broadcast && this.leading) this.channel.postMessage({ kind: 'status', status });
  }
}
