// One resumable event stream for all of this browser's tabs that follow the same log: a
// conversation (watch.js) or the user's own list (user-stream.js).
//
// Browsers open at most 6 HTTP/1.1 connections per origin, and a stream holds one for as long
// as it is open: a seventh with its own stream would hang, page load included. So the tabs that
// follow a log elect a leader with a Web Lock. The leader holds the stream and rebroadcasts every
// event on a BroadcastChannel; the others apply what it sends. When the leader's tab closes or
// navigates away, the browser hands the lock to a waiting tab, which opens the stream from the
// last id *it* applied, so nothing is lost in the handover.
//
// Every tab applies numbered events in id order and drops duplicates (the log's `apply`); a tab
// that sees a gap, or a leader that is told `reset`, reloads and carries on. Events without an
// id (`presence`, `typing`) are not changes of the log: they are passed on to every tab and
// never applied. The latest of a "sticky" kind (presence) is handed to a tab that joins later.
//
// A log opened `whileVisible` is led only by a visible tab: a hidden tab gives the stream up
// (another visible tab of it takes over, or nobody holds it) and catches up when it is shown.

import { fetchEventSource, EventStreamContentType } from '@microsoft/fetch-event-source';
import { backoff, delay } from './api.js';

/** Thrown from the stream callbacks to stop retrying: the answer will not change by asking again. */
class FatalStreamError extends Error {
  constructor(status) {
    super(`The event stream was refused (${status}).`);
    this.status = status;
  }
}

class StreamEnded extends Error {}

// A silent stream is a dead one: the service sends `: keep-alive` at least every 15 s.
const SilenceLimit = 45_000;

/**
 * The leader election, the stream and the channel. A subclass says what the log is:
 *   `loadState(resumeAt)` (re)loads it from the service (`resumeAt`: an id the load is known to
 *   include, from a `reset` or a gap, else undefined); `position` is the last id applied;
 *   `applyEvent(event)` answers 'applied' | 'duplicate' | 'gap'; `applied(event)` and
 *   `ephemeral(event)` are told what happened.
 */
export class SharedStream {
  /**
   * @param {import('./api.js').Api} api
   * @param {string} name the lock's and the channel's name: one per user and log
   * @param {string} path the stream's URL
   * @param {{onStatus: (status: 'connecting' | 'live' | 'reconnecting') => void, onFatal: (error: Error) => void}} handlers
   * @param {{whileVisible?: boolean, sticky?: string[]}} options
   */
  constructor(api, name, path, handlers, { whileVisible = false, sticky = [] } = {}) {
    this.api = api;
    this.name = name;
    this.path = path;
    this.handlers = handlers;
    this.whileVisible = whileVisible;
    this.stickyTypes = new Set(sticky);
    this.sticky = new Map();
    this.status = 'connecting';
    this.closed = false;
    this.stopped = false;
    this.leading = false;
    this.loaded = false;
    this.loading = null;
    this.pending = [];
    this.reloadedAt = 0;
    this.stream = null;
    this.heardAt = 0;
    this.lockRequest = null;
    this.release = () => {};
    this.onOnline = () => this.leading && this.connect();
    this.onOffline = () => {
      this.setStatus('reconnecting');
      if (this.leading) this.connect();
    };
    this.onVisibility = () => {
      if (document.visibilityState === 'visible') {
        this.channel.postMessage({ kind: 'hello' });
        this.requestLead();
      } else this.stepDown();
    };
  }

  async open() {
    this.channel = new BroadcastChannel(this.name);
    this.channel.onmessage = (e) => this.fromChannel(e.data);
    await this.reload();
    if (this.closed || !this.loaded) return;
    this.channel.postMessage({ kind: 'hello' });
    addEventListener('online', this.onOnline);
    addEventListener('offline', this.onOffline);
    if (this.whileVisible) document.addEventListener('visibilitychange', this.onVisibility);
    this.watchdog = setInterval(() => {
      if (this.leading && this.status === 'live' && Date.now() - this.heardAt > SilenceLimit) this.connect();
    }, 5_000);
    this.requestLead();
  }

  close() {
    this.closed = true;
    this.stepDown();
    this.channel?.close();
    clearInterval(this.watchdog);
    removeEventListener('online', this.onOnline);
    removeEventListener('offline', this.onOffline);
    document.removeEventListener('visibilitychange', this.onVisibility);
  }

  /** The log has ended for us (we were removed, or it was deleted): no more connecting, but the lock is kept so no other tab tries. */
  stop() {
    this.stopped = true;
    this.stream?.abort();
  }

  requestLead() {
    if (this.closed || this.lockRequest || (this.whileVisible && document.visibilityState !== 'visible')) return;
    if (!navigator.locks) {
      // Web Locks exist only in secure contexts (https, localhost): elsewhere each tab streams alone.
      this.lockRequest = new AbortController();
      this.lead();
      return;
    }
    const request = (this.lockRequest = new AbortController());
    navigator.locks
      .request(this.name, { signal: request.signal }, () => this.lead())
      .catch((error) => error.name === 'AbortError' || this.handlers.onFatal(error))
      .finally(() => {
        if (this.lockRequest === request) this.lockRequest = null;
      });
  }

  /** Gives the stream up (or the wait for it): the tab was hidden or closed. */
  stepDown() {
    this.lockRequest?.abort();
    this.leading = false;
    this.stream?.abort();
    this.stream = null;
    this.release();
    this.release = () => {};
    this.sticky.clear();
    this.lockRequest = null;
  }

  /** Runs while this tab holds the lock; the lock is released when the promise settles. */
  lead() {
    if (this.closed || (this.whileVisible && document.visibilityState !== 'visible')) return;
    this.leading = true;
    if (!this.stopped) this.connect();
    return new Promise((resolve) => (this.release = resolve));
  }

  /** (Re)opens the stream from the last id this tab applied. */
  connect() {
    this.stream?.abort();
    if (this.closed || this.stopped) return;
    const stream = (this.stream = new AbortController());
    let attempt = 0;
    fetchEventSource(this.path, {
      method: 'POST',
      // Lower case: fetch-event-source keeps `last-event-id` current itself on every retry.
      headers: { authorization: this.api.authorization, 'last-event-id': String(this.position) },
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
        if (response.status === 429 || response.status >= 500) throw new Error(`The event stream answered ${response.status}.`);
        throw new FatalStreamError(response.status);
      },
      onmessage: (message) => {
        this.heardAt = Date.now();
        // The `retry:` block that opens the stream and each `: keep-alive` reach us as empty messages.
        if (!message.event) return;
        const data = JSON.parse(message.data);
        if (message.event === 'reset') {
          this.resetFrom(data.lastEventId);
          return;
        }
        if (message.id === '') {
          const event = { id: 0, type: message.event, data };
          if (this.stickyTypes.has(event.type)) this.sticky.set(event.type, event);
          this.channel.postMessage({ kind: 'ephemeral', event });
          this.receiveEphemeral(event);
          return;
        }
        const event = { id: Number(message.id), type: message.event, data };
        this.channel.postMessage({ kind: 'event', event });
        this.receive(event);
      },
      onclose: () => {
        throw new StreamEnded('The event stream ended.');
      },
      onerror: (error) => {
        if (error instanceof FatalStreamError) throw error;
        this.setStatus('reconnecting');
        return backoff(attempt++);
      },
    }).catch((error) => {
      if (stream !== this.stream || this.closed || this.stopped) return;
      if (error instanceof FatalStreamError && error.status === 401) this.api.onUnauthorized();
      this.handlers.onFatal(error);
    });
  }

  fromChannel(message) {
    switch (message.kind) {
      case 'event':
        if (!this.leading) this.receive(message.event);
        break;
      case 'ephemeral':
        if (!this.leading) this.receiveEphemeral(message.event);
        break;
      case 'status':
        if (this.leading) break;
        this.setStatus(message.status, false);
        // A tab that was hidden without a leader may be behind the one that leads now.
        if (this.loaded && !this.loading && message.position > this.position) this.reload(message.position);
        break;
      case 'hello':
        if (!this.leading) break;
        this.channel.postMessage({ kind: 'status', status: this.status, position: this.position });
        for (const event of this.sticky.values()) this.channel.postMessage({ kind: 'ephemeral', event });
        break;
      case 'reload':
        if (!this.leading) this.reload(message.resumeAt);
        break;
    }
  }

  receive(event) {
    if (this.closed || this.stopped) return;
    if (this.loading || !this.loaded) {
      this.pending.push(event);
      return;
    }
    const result = this.applyEvent(event);
    if (result === 'applied') this.applied(event);
    else if (result === 'gap') this.reload(event.id);
  }

  receiveEphemeral(event) {
    if (!this.closed && !this.stopped) this.ephemeral(event);
  }

  /**
   * Loads the log, then applies what arrived meanwhile. Concurrent calls share one load;
   * a tab that keeps seeing gaps reloads at most once a second.
   */
  reload(resumeAt) {
    this.loading ??= (async () => {
      const wait = this.reloadedAt + 1_000 - Date.now();
      if (wait > 0) await delay(wait);
      try {
        await this.loadState(resumeAt);
        if (this.closed) return;
        this.loaded = true;
      } catch (error) {
        this.handlers.onFatal(error);
        return;
      } finally {
        this.loading = null;
        this.reloadedAt = Date.now();
      }
      this.afterLoad();
      const pending = this.pending.sort((a, b) => a.id - b.id);
      this.pending = [];
      for (const event of pending) this.receive(event);
    })();
    return this.loading;
  }

  /** `reset`: our resume point can no longer be replayed. Start again from a fresh load. */
  async resetFrom(lastEventId) {
    this.stream?.abort();
    await this.reload(lastEventId);
    this.channel.postMessage({ kind: 'reload', resumeAt: lastEventId });
    if (this.leading) this.connect();
  }

  setStatus(status, broadcast = true) {
    if (this.status === status) return;
    this.status = status;
    this.handlers.onStatus?.(status);
    if (broadcast && this.leading) this.channel.postMessage({ kind: 'status', status, position: this.position });
  }

  // Overridden by the log.
  get position() {
    return 0;
  }
  async loadState() {}
  applyEvent() {
    return 'applied';
  }
  afterLoad() {}
  applied() {}
  ephemeral() {}
}
