// Keeps a tab's copy of one conversation current, with ONE watch stream per conversation for
// all of this browser's tabs (the leader election and the channel are in shared-stream.js).
//
// The stream is held only by a visible tab: a conversation shown only in hidden tabs holds no
// connection (the sidebar's user stream still counts its unread messages), and a hidden tab
// catches up from its last id when it is shown again. `presence` and `typing` pass through to
// every tab of the conversation; the latest `presence` is handed to a tab that opens later.
//
// The conversation ends for this tab when it applies its user's `member.left` or a
// `conversation.deleted`: the service ends the stream after either, and the tab stops asking.

import { SharedStream } from './shared-stream.js';
import { ConversationState } from './conversation.js';

export class ConversationWatch extends SharedStream {
  /**
   * @param {import('./api.js').Api} api
   * @param {string} conversationId
   * @param {{
   *   onLoad: (state: ConversationState) => void,
   *   onEvent: (event: {id: number, type: string, data: any}) => void,
   *   onEphemeral: (event: {type: 'presence' | 'typing', data: any}) => void,
   *   onEnded: (reason: 'left' | 'removed' | 'deleted') => void,
   *   onStatus: (status: 'connecting' | 'live' | 'reconnecting') => void,
   *   onFatal: (error: Error) => void,
   * }} handlers
   */
  constructor(api, conversationId, handlers) {
    super(
      api,
      `chatgrains:${api.session.userId}:${conversationId}`,
      `/api/conversations/${encodeURIComponent(conversationId)}/events`,
      handlers,
      { whileVisible: true, sticky: ['presence'] },
    );
    this.id = conversationId;
    this.state = null;
  }

  get position() {
    return this.state?.lastEventId ?? 0;
  }

  async loadState() {
    const snapshot = await this.api.snapshotWithRetry(this.id);
    if (this.state) this.state.load(snapshot);
    else this.state = new ConversationState(snapshot, this.api.session.userId);
  }

  afterLoad() {
    this.handlers.onLoad(this.state);
  }

  applyEvent(event) {
    return this.state.apply(event);
  }

  applied(event) {
    this.handlers.onEvent(event);
    if (this.state.ended) {
      this.stop();
      this.handlers.onEnded(this.state.ended);
    }
  }

  ephemeral(event) {
    this.handlers.onEphemeral(event);
  }
}
