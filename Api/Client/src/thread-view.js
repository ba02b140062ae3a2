// The thread on screen: the path from the first prompt to the shared head (tree.js), with the
// controls of the message tree beside each message:
//   - `‹ 2/3 ›` on a message that has other versions (siblings: the same parent), which moves
//     the head to the most recent reply under the chosen version, for everyone;
//   - Edit on a prompt: an inline editor whose Send posts the new text beside the old one;
//   - Regenerate and Fork on a finished reply;
//   - "Load earlier messages" at the top while older messages exist.
// What the buttons do is the caller's (`actions`); this module only draws and asks.

import { renderMessage } from './render.js';
import { isFinal } from './conversation.js';
import { childrenOf, latestReplyUnder, threadTo, versionsOf } from './tree.js';

/**
 * @typedef {{
 *   edit: (message: object, content: string) => Promise<boolean>,
 *   regenerate: (message: object) => void,
 *   fork: (message: object) => void,
 *   switchTo: (reply: object) => void,
 *   loadOlder: (before: string) => Promise<{messages: object[], hasMore: boolean} | null>,
 * }} ThreadActions  `edit` answers whether the edit was sent; `loadOlder` null when the page no longer fits
 */

export class ThreadView {
  /** @param {HTMLOListElement} list @param {ThreadActions} actions */
  constructor(list, actions) {
    this.list = list;
    this.actions = actions;
    this.state = null;
    /** messageId → the text in its open editor: kept while the message is off screen, so nothing typed is lost. */
    this.drafts = new Map();
    /** After a switch, the button to focus again once the other version is shown. */
    this.refocus = null;
    this.loading = false;
    this.earlier = document.createElement('li');
    this.earlier.className = 'earlier';
    this.earlierButton = button('Load earlier messages', 'Load earlier messages', 'quiet', () => this.loadEarlier());
    this.earlier.append(this.earlierButton);
  }

  /** Draws the thread of `state` anew: after a load, a new message, a completion, a head move. */
  render(state, { toBottom = false } = {}) {
    if (this.closed) return;
    this.state = state;
    const list = this.list;
    const atBottom = toBottom || list.scrollHeight - list.scrollTop - list.clientHeight < 48;
    const children = childrenOf(state.messages);
    const thread = threadTo(state.messages, state.head);
    const items = thread.messages.map((message) => {
      const item = renderMessage(this.itemOf(message.id), message);
      this.renderControls(item, message, children);
      this.renderEditor(item, message);
      return item;
    });
    this.earlierButton.disabled = this.loading;
    this.earlierButton.textContent = this.loading ? 'Loading…' : 'Load earlier messages';
    place(list, state.hasMore ? [this.earlier, ...items] : items);
    this.restoreFocus();
    if (atBottom) list.scrollTop = list.scrollHeight;
    // The head is older than every message loaded (someone switched to an old branch): fetch back to it.
    if (state.hasMore && !thread.complete && thread.messages.length === 0 && !this.loading) this.loadEarlier();
  }

  /** Another conversation is opened in the same list: this view draws nothing more. */
  close() {
    this.closed = true;
  }

  /** A delta: only that message's text changes, and only if it is on screen. */
  update(message) {
    if (this.closed) return;
    const item = this.itemOf(message.id);
    if (!item) return;
    const list = this.list;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
    renderMessage(item, message);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  itemOf(id) {
    return this.list.querySelector(`:scope > [data-id="${CSS.escape(id)}"]`);
  }

  renderControls(item, message, children) {
    const { siblings, index } = versionsOf(children, message);
    const kind = message.role === 'user' ? 'prompt' : 'reply';
    const canEdit = message.role === 'user';
    const finished = message.role === 'assistant' && isFinal(message);
    // Rebuilt only when they change, so a focused button is not replaced under the keyboard.
    const key = `${index}/${siblings.length}|${canEdit}|${finished}`;
    const controls = item.querySelector('.controls');
    if (controls.dataset.key === key) return;
    controls.dataset.key = key;
    const parts = [];
    if (siblings.length > 1) parts.push(this.switcher(message, kind, siblings, index));
    if (canEdit) parts.push(button('Edit', 'Edit', 'quiet edit', () => this.openEditor(message)));
    if (finished) {
      parts.push(button('Regenerate', 'Regenerate', 'quiet', () => this.actions.regenerate(message)));
      parts.push(button('Fork', 'Fork', 'quiet', () => this.actions.fork(message), 'A new conversation of your own with the messages up to here'));
    }
    controls.replaceChildren(...parts);
    controls.hidden = parts.length === 0;
  }

  /** `‹ 2/3 ›`: the previous and next versions, and which one this is. */
  switcher(message, kind, siblings, index) {
    const group = document.createElement('div');
    group.className = 'versions';
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', `Versions of this ${kind}`);
    const go = (to, label) => () => {
      const reply = latestReplyUnder(this.state.messages, childrenOf(this.state.messages), siblings[to]);
      if (!reply) return;
      this.refocus = { index: [...this.list.children].indexOf(group.closest('li')), fromId: message.id, label };
      this.actions.switchTo(reply);
    };
    const previous = button('‹', `Previous ${kind}`, 'quiet', go(index - 1, `Previous ${kind}`));
    const next = button('›', `Next ${kind}`, 'quiet', go(index + 1, `Next ${kind}`));
    previous.disabled = index === 0;
    next.disabled = index === siblings.length - 1;
    const position = document.createElement('span');
    position.className = 'position';
    position.innerHTML = '<span aria-hidden="true"></span><span class="visually-hidden"></span>';
    position.firstChild.textContent = `${index + 1}/${siblings.length}`;
    position.lastChild.textContent = `${kind} ${index + 1} of ${siblings.length}`;
    group.append(previous, position, next);
    return group;
  }

  restoreFocus() {
    if (!this.refocus) return;
    const item = this.list.children[this.refocus.index];
    if (!item || item.dataset.id === this.refocus.fromId) return;
    const target = [...item.querySelectorAll('.versions button')].find((b) => b.getAttribute('aria-label') === this.refocus.label);
    this.refocus = null;
    if (document.activeElement === document.body || !document.activeElement) (target?.disabled ? item.querySelector('.versions button:not(:disabled)') : target)?.focus();
  }

  // ---- editing a prompt ------------------------------------------------------------------

  openEditor(message) {
    if (!this.drafts.has(message.id)) this.drafts.set(message.id, message.content);
    this.render(this.state);
    this.itemOf(message.id)?.querySelector('.editor textarea')?.focus();
  }

  closeEditor(message) {
    this.drafts.delete(message.id);
    const item = this.itemOf(message.id);
    this.render(this.state);
    item?.querySelector('.controls .edit')?.focus();
  }

  /** Opens, keeps or removes the inline editor of a prompt, as `drafts` says. */
  renderEditor(item, message) {
    const editing = this.drafts.has(message.id);
    let editor = item.querySelector('.editor');
    item.classList.toggle('editing', editing);
    if (!editing) {
      editor?.remove();
      return;
    }
    if (editor) return;
    editor = document.createElement('form');
    editor.className = 'editor';
    const text = document.createElement('textarea');
    text.rows = 3;
    text.value = this.drafts.get(message.id);
    text.setAttribute('aria-label', 'Edit your message');
    const cancel = button('Cancel', 'Cancel editing', 'quiet', () => this.closeEditor(message));
    const send = document.createElement('button');
    send.type = 'submit';
    send.textContent = 'Send';
    send.setAttribute('aria-label', 'Send edited message');
    const row = document.createElement('div');
    row.className = 'row end';
    row.append(cancel, send);
    editor.append(text, row);
    text.addEventListener('input', () => this.drafts.set(message.id, text.value));
    text.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.closeEditor(message);
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        editor.requestSubmit();
      }
    });
    editor.addEventListener('submit', async (e) => {
      e.preventDefault();
      const content = text.value;
      if (!content.trim()) return;
      send.disabled = true;
      try {
        if (await this.actions.edit(message, content)) {
          this.drafts.delete(message.id);
          this.render(this.state);
        }
      } finally {
        send.disabled = false;
      }
    });
    item.querySelector('.body').after(editor);
  }

  // ---- older pages -----------------------------------------------------------------------

  /**
   * Loads older pages until the thread on screen shows more (a message, or another version to
   * switch to) or there is nothing older: a page may hold only other branches' messages.
   */
  async loadEarlier() {
    const state = this.state;
    if (this.loading || !state?.hasMore) return;
    this.loading = true;
    this.render(state);
    const list = this.list;
    const fromBottom = list.scrollHeight - list.scrollTop;
    const before = shown(state);
    try {
      while (state.hasMore && shown(state) === before) {
        const oldest = state.oldestId;
        const page = await this.actions.loadOlder(oldest);
        // A reload replaced what is held meanwhile, or the conversation was closed: stop here.
        if (!page || this.state !== state || state.oldestId !== oldest) return;
        state.prependOlder(page.messages, page.hasMore);
      }
    } finally {
      this.loading = false;
      if (this.state === state && !this.closed) {
        this.render(state);
        // What was on screen stays where it was; the older messages appear above it.
        list.scrollTop = list.scrollHeight - fromBottom;
      }
    }
  }
}

/** What the thread shows, as a string: its messages and each one's number of versions. */
function shown(state) {
  const children = childrenOf(state.messages);
  return threadTo(state.messages, state.head)
    .messages.map((m) => `${m.id}:${versionsOf(children, m).siblings.length}`)
    .join(',');
}

/** Puts `items` in `list` in order, moving only what is out of place (a node that stays keeps its focus). */
function place(list, items) {
  items.forEach((item, i) => {
    if (list.children[i] !== item) list.insertBefore(item, list.children[i] ?? null);
  });
  while (list.children.length > items.length) list.lastElementChild.remove();
}

function button(text, label, className, onClick, title) {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = className;
  element.textContent = text;
  if (label !== text) element.setAttribute('aria-label', label);
  if (title) element.title = title;
  element.addEventListener('click', onClick);
  return element;
}
