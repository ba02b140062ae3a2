// Who is in the open conversation, who of them is here (`presence`) and who is typing (`typing`),
// and its invites. Presence and typing arrive on the watch stream without an id: they are the
// moment's state, not the conversation's, so they live here and not in ConversationState.

const TypingShownFor = 5_000;

export class Presence {
  /** @param {() => void} onChange */
  constructor(onChange) {
    this.onChange = onChange;
    this.online = new Set();
    this.typing = new Map(); // userId → timer that ends it
  }

  /** @param {{type: string, data: any}} event a `presence` or `typing` event */
  apply({ type, data }) {
    if (type === 'presence') this.online = new Set(data.online.map((u) => u.userId));
    else if (type === 'typing') {
      clearTimeout(this.typing.get(data.userId));
      this.typing.set(
        data.userId,
        setTimeout(() => {
          this.typing.delete(data.userId);
          this.onChange();
        }, TypingShownFor),
      );
    } else return;
    this.onChange();
  }

  /** A prompt posted ends its author's typing at once. */
  stoppedTyping(userId) {
    if (!this.typing.has(userId)) return;
    clearTimeout(this.typing.get(userId));
    this.typing.delete(userId);
    this.onChange();
  }

  clear() {
    for (const timer of this.typing.values()) clearTimeout(timer);
    this.typing.clear();
    this.online.clear();
  }
}

/**
 * The member list: each member's name, "owner" for the owner, and "typing…" or "online" in
 * words (the dot beside it only repeats them). The owner gets a Remove button beside everyone else.
 * @param {HTMLElement} list
 * @param {import('./conversation.js').ConversationState} state
 * @param {Presence} presence
 * @param {(member: {userId: string, name: string}) => void} onRemove
 */
export function renderMembers(list, state, presence, onRemove) {
  const owner = state.myRole === 'owner';
  list.replaceChildren(
    ...state.members.map((member) => {
      const item = document.createElement('li');
      item.dataset.userId = member.userId;
      const typing = member.userId !== state.me && presence.typing.has(member.userId);
      const online = presence.online.has(member.userId);
      item.dataset.activity = typing ? 'typing' : online ? 'online' : 'away';
      item.innerHTML = '<span class="dot" aria-hidden="true"></span><span class="name"></span>';
      item.querySelector('.name').textContent = member.name;
      if (member.role === 'owner') item.append(tag('role', 'owner'));
      if (typing || online) item.append(tag('activity', typing ? 'typing…' : 'online'));
      if (owner && member.userId !== state.me) item.append(button('Remove', `Remove ${member.name}`, 'remove quiet', () => onRemove(member)));
      return item;
    }),
  );
}

/** "Ada is typing…", "Ada and Bob are typing…": everyone typing but me. */
export function typingLine(state, presence) {
  const names = state.members.filter((m) => m.userId !== state.me && presence.typing.has(m.userId)).map((m) => m.name);
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…`;
}

/**
 * The conversation's invites: who made each, when, its uses and expiry, and Revoke beside those
 * the viewer may revoke (the owner: all; a member: their own).
 * @param {HTMLElement} list
 * @param {Array<{inviteToken: string, createdBy: string, createdAt: string, expiresAt?: string, maxUses?: number, uses: number}>} invites
 * @param {import('./conversation.js').ConversationState} state
 * @param {(invite: object) => void} onRevoke
 */
export function renderInviteList(list, invites, state, onRevoke) {
  const nameOf = (userId) => state.members.find((m) => m.userId === userId)?.name ?? 'a former member';
  list.replaceChildren(
    ...invites.map((invite) => {
      const item = document.createElement('li');
      const by = nameOf(invite.createdBy);
      const made = new Date(invite.createdAt).toLocaleString();
      const uses = invite.maxUses ? `${invite.uses} of ${invite.maxUses} uses` : `${invite.uses} ${invite.uses === 1 ? 'use' : 'uses'}`;
      const expiry = invite.expiresAt ? ` · expires ${new Date(invite.expiresAt).toLocaleString()}` : '';
      item.append(tag('about', `By ${by}, ${made} · ${uses}${expiry}`));
      if (state.myRole === 'owner' || invite.createdBy === state.me) {
        item.append(button('Revoke', `Revoke the link by ${by} from ${made}`, 'quiet', () => onRevoke(invite)));
      }
      return item;
    }),
  );
}

function button(text, label, className, onClick) {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = className;
  element.textContent = text;
  element.setAttribute('aria-label', label);
  element.addEventListener('click', onClick);
  return element;
}

function tag(className, text) {
  const span = document.createElement('span');
  span.className = className;
  span.textContent = text;
  return span;
}
