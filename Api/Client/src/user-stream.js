// The sidebar's list of my conversations, kept current from my own stream (`/api/me/events`),
// ONE connection per browser whatever the number of tabs (the same leader election as a
// conversation's watch, in shared-stream.js, but held by a hidden tab too: the list is what
// tells the user about a conversation they are not looking at).
//
// Each event carries the whole list item (or the id of one removed), so applying the events
// after a point to any list at least as new as that point gives the current list. The list
// (GET /api/conversations) has no event id of its own; it is always at least as new as an id
// seen before it was asked for. So a tab starts from the last id this browser applied (kept in
// localStorage; 0 the first time, which replays the stream from its start), loads the list,
// and resumes from that id; after a `reset` it loads the list again and resumes from the id
// the reset names.

import { SharedStream } from './shared-stream.js';

export class ConversationList {
  constructor(items, lastEventId) {
    this.items = new Map(items.map((c) => [c.id, c]));
    this.lastEventId = lastEventId;
  }

  /** @returns {'applied' | 'duplicate' | 'gap'} */
  apply({ id, type, data }) {
    if (id <= this.lastEventId) return 'duplicate';
    if (id !== this.lastEventId + 1) return 'gap';
    if (type === 'conversation.added' || type === 'conversation.updated') this.items.set(data.id, data);
    else if (type === 'conversation.removed') this.items.delete(data.id);
    this.lastEventId = id;
    return 'applied';
  }

  /** Most recent activity first, as the service orders the list. */
  get sorted() {
    return [...this.items.values()].sort((a, b) => Date.parse(b.lastActivityAt) - Date.parse(a.lastActivityAt));
  }
}

export class UserStream extends SharedStream {
  /**
   * @param {import('./api.js').Api} api
   * @param {{
   *   onLoad: (list: ConversationList) => void,
   *   onEvent: (event: {id: number, type: string, data: any}) => void,
   *   onFatal: (error: Error) => void,
   * }} handlers
   */
  constructor(api, handlers) {
    super(api, `chatgrains:${api.session.userId}:me`, '/api/me/events', handlers);
    this.positionKey = `chatgrains.me.${api.session.userId}.lastEventId`;
    this.list = null;
  }

  get position() {
    return this.list?.lastEventId ?? 0;
  }

  async loadState(resumeAt) {
    // Read before the list is asked for: the list then includes everything up to it.
    const stored = Number(localStorage.getItem(this.positionKey)) || 0;
    const items = await this.api.conversationsWithRetry();
    this.list = new ConversationList(items, resumeAt ?? stored);
    if (resumeAt !== undefined) localStorage.setItem(this.positionKey, String(resumeAt));
  }

  afterLoad() {
    this.handlers.onLoad(this.list);
  }

  applyEvent(event) {
    return this.list.apply(event);
  }

  applied(event) {
    if (this.leading) localStorage.setItem(this.positionKey, String(event.id));
    this.handlers.onEvent(event);
  }
}
