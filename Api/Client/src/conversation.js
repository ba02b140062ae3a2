// One conversation as this tab knows it: a snapshot, then the events after it applied strictly
// in id order. Ids are consecutive, so an id at or below the last applied one is a duplicate
// (a replay overlapping what we have, or a second copy from another tab) and an id further on
// than the next one means something was missed: the caller reloads the snapshot.
//
// The snapshot holds only the latest messages (of every branch); older pages are added in front
// by `prependOlder`. A page carries no event id, so a message in it that is not final yet may
// already miss a delta or show one twice: it is marked `approximate` until its
// `message.completed`, whose full text puts it right.

const Final = new Set(['complete', 'cancelled', 'failed']);

export const isFinal = (message) => Final.has(message.status);

export class ConversationState {
  /** @param {string} me the signed-in user's id, to know when a `member.left` is about us */
  constructor(snapshot, me) {
    this.me = me;
    this.load(snapshot);
  }

  load(snapshot) {
    const older = this.olderThan(snapshot);
    this.id = snapshot.id;
    this.title = snapshot.title;
    this.createdAt = snapshot.createdAt;
    this.ownerId = snapshot.ownerId;
    this.members = snapshot.members.map((m) => ({ role: m.userId === snapshot.ownerId ? 'owner' : 'member', ...m }));
    this.messages = new Map(snapshot.messages.map((m) => [m.id, { ...m }]));
    this.head = snapshot.head ?? null;
    this.hasMore = snapshot.hasMore ?? false;
    this.lastEventId = snapshot.lastEventId;
    // A reload (a gap, a reset) keeps the older pages this tab had loaded before it.
    if (older) this.prependOlder(older.messages, older.hasMore);
    /** @type {null | 'left' | 'removed' | 'deleted'} why the conversation is over for us */
    this.ended = null;
  }

  /**
   * The messages held before a reload that the new snapshot does not hold. Both are the latest
   * messages in event order, so these are all older than the snapshot's.
   */
  olderThan(snapshot) {
    if (!this.messages || this.id !== snapshot.id) return null;
    const fresh = new Set(snapshot.messages.map((m) => m.id));
    const messages = [...this.messages.values()].filter((m) => !fresh.has(m.id));
    return messages.length > 0 && (snapshot.hasMore ?? false) ? { messages, hasMore: this.hasMore } : null;
  }

  /** The oldest message held: where the next older page ends. */
  get oldestId() {
    return this.messages.keys().next().value ?? null;
  }

  /** Puts an older page (in event order) in front of what is held. */
  prependOlder(page, hasMore) {
    const older = page.filter((m) => !this.messages.has(m.id)).map((m) => ({ ...m, approximate: !Final.has(m.status) }));
    this.messages = new Map([...older.map((m) => [m.id, m]), ...this.messages]);
    this.hasMore = hasMore;
  }

  /** @returns {'applied' | 'duplicate' | 'gap'} */
  apply({ id, type, data }) {
    if (id <= this.lastEventId) return 'duplicate';
    if (id !== this.lastEventId + 1) return 'gap';
    switch (type) {
      case 'message.created':
        this.messages.set(data.message.id, { ...data.message });
        break;
      case 'message.delta': {
        const message = this.messages.get(data.messageId);
        if (message) {
          message.content += data.delta;
          if (message.status === 'queued') message.status = 'streaming';
        }
        break;
      }
      case 'message.completed': {
        const message = this.messages.get(data.messageId);
        if (!message) break;
        // A reply's text is the concatenation of its deltas; differing here would mean an event was
        // applied twice or missed. The final text wins, and the mistake is reported.
        if (message.content !== data.content && !message.approximate) console.error(`ChatGrains: reply ${message.id} streamed other text than its final text.`);
        Object.assign(message, { status: data.status, content: data.content, error: data.error, approximate: false });
        break;
      }
      case 'conversation.head':
        this.head = data.messageId;
        break;
      case 'member.joined':
        if (!this.members.some((m) => m.userId === data.userId)) this.members.push({ userId: data.userId, name: data.name, role: 'member' });
        break;
      case 'member.left':
        this.members = this.members.filter((m) => m.userId !== data.userId);
        if (data.userId === this.me) this.ended = data.by === this.me ? 'left' : 'removed';
        break;
      case 'conversation.updated':
        this.title = data.title;
        break;
      case 'conversation.deleted':
        this.ended = 'deleted';
        break;
    }
    this.lastEventId = id;
    return 'applied';
  }

  /** My role here: 'owner' or 'member'. */
  get myRole() {
    return this.members.find((m) => m.userId === this.me)?.role ?? 'member';
  }

  /** The reply the Stop button stops: the one streaming, else the first one waiting. */
  get activeReply() {
    let queued = null;
    for (const m of this.messages.values()) {
      if (m.role !== 'assistant') continue;
      if (m.status === 'streaming') return m;
      if (m.status === 'queued') queued ??= m;
    }
    return queued;
  }
}
