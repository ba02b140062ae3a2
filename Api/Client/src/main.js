// The chat page: guest sign-in, the list of my conversations, and one open conversation.
// Routes live in the URL's hash so the server only ever serves index.html at `/`:
//   #c=<conversationId>                 an open conversation (a reload stays on it)
//   #join=<conversationId>.<inviteToken> an invite link: join, then open the conversation

import './styles.css';
import { Api, ApiError, signInAsGuest } from './api.js';
import { ConversationWatch } from './watch.js';
import { UserStream } from './user-stream.js';
import { Presence, renderInviteList, renderMembers, typingLine } from './people.js';
import { ThreadView } from './thread-view.js';
import { budgetRefusal } from './budget.js';

const $ = (id) => document.getElementById(id);
const SessionKey = 'chatgrains.session';

let session = JSON.parse(localStorage.getItem(SessionKey) ?? 'null');
let api = null;
let mine = null; // UserStream: the sidebar's list, live
let open = null; // { id, watch, presence, view, ended, readTo }

// ---- session -------------------------------------------------------------------------------

function showSignedIn() {
  api = new Api(session, signOut);
  $('sign-in').hidden = true;
  $('app').hidden = false;
  $('whoami').hidden = false;
  $('whoami').textContent = `Signed in as ${session.name}`;
  $('sign-out').hidden = false;
  watchMyConversations();
  route();
}

function signOut() {
  localStorage.removeItem(SessionKey);
  session = null;
  closeConversation();
  mine?.close();
  mine = null;
  $('conversation-list').replaceChildren();
  $('app').hidden = true;
  $('whoami').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  $('guest-name').focus();
}

$('sign-in-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const error = $('sign-in-form').querySelector('.error');
  error.hidden = true;
  try {
    const answer = await signInAsGuest($('guest-name').value.trim());
    session = { token: answer.token, userId: answer.userId, name: answer.name };
    localStorage.setItem(SessionKey, JSON.stringify(session));
    showSignedIn();
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  }
});

$('sign-out').addEventListener('click', signOut);

// Another tab signed in or out: follow it, so every tab acts as the same person.
addEventListener('storage', (e) => {
  if (e.key !== SessionKey) return;
  session = JSON.parse(e.newValue ?? 'null');
  if (session) {
    closeConversation();
    showSignedIn();
  } else signOut();
});

// ---- conversation list ---------------------------------------------------------------------

function watchMyConversations() {
  mine?.close();
  $('conversation-list').replaceChildren();
  $('no-conversations').hidden = true;
  mine = new UserStream(api, {
    onLoad: renderList,
    onEvent: (event) => {
      renderList();
      if (event.type === 'conversation.removed' && event.data.id === open?.id) endConversation(event.data.reason);
      if (event.type === 'conversation.updated' && event.data.id === open?.id) readSoon();
    },
    onFatal: (err) => console.warn(`The list of conversations is not live: ${err.message}`),
  });
  mine.open();
}

/** The open conversation is being read: its unread badge stays hidden (the read it posts clears it on the service). */
const reading = (id) => !!open && id === open.id && !open.ended && document.visibilityState === 'visible';

function renderList() {
  const conversations = mine?.list?.sorted;
  if (!conversations) return;
  $('conversation-list').replaceChildren(
    ...conversations.map((c) => {
      const item = document.createElement('li');
      const link = document.createElement('a');
      link.href = `#c=${encodeURIComponent(c.id)}`;
      link.innerHTML = '<span class="title"></span><span class="unread"><span class="count"></span><span class="visually-hidden"> unread</span></span>';
      link.querySelector('.title').textContent = displayTitle(c);
      link.querySelector('.count').textContent = String(c.unread ?? 0);
      link.querySelector('.unread').hidden = !(c.unread > 0) || reading(c.id);
      if (c.id === open?.id) link.setAttribute('aria-current', 'page');
      item.append(link);
      return item;
    }),
  );
  $('no-conversations').hidden = conversations.length > 0;
}

const displayTitle = (c) => c.title || `Conversation of ${new Date(c.createdAt).toLocaleString()}`;

$('new-conversation-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const created = await api.createConversation($('new-title').value.trim());
  $('new-title').value = '';
  location.hash = `c=${encodeURIComponent(created.id)}`;
});

// ---- routing -------------------------------------------------------------------------------

async function route() {
  if (!session) return;
  const hash = new URLSearchParams(location.hash.slice(1));
  const join = hash.get('join');
  if (join) {
    const dot = join.indexOf('.');
    const id = join.slice(0, dot);
    try {
      await api.join(id, join.slice(dot + 1));
      location.replace(`#c=${encodeURIComponent(id)}`);
    } catch (err) {
      showConversationError(err instanceof ApiError && err.status === 404 ? 'This invite link is not valid.' : err.message);
    }
    return;
  }
  const id = hash.get('c');
  if (id && id !== open?.id) openConversation(id);
  if (!id) closeConversation();
  document.body.classList.toggle('conversation-open', !!id);
  renderList();
}

addEventListener('hashchange', route);

// ---- the open conversation -----------------------------------------------------------------

function closeConversation() {
  open?.watch.close();
  open?.presence.clear();
  open?.view.close();
  open = null;
  $('conversation').hidden = true;
  $('conversation').classList.remove('ended');
  $('nothing-open').hidden = false;
  showInvitePanel(false);
  showSettings(false);
}

function openConversation(id) {
  closeConversation();
  $('nothing-open').hidden = true;
  $('conversation').hidden = false;
  $('conversation-error').hidden = true;
  $('messages').replaceChildren();
  $('conversation-title').textContent = '';
  $('members').replaceChildren();
  $('typing').textContent = '';
  showConnection('connecting');
  const presence = new Presence(() => renderPeople());
  const watch = new ConversationWatch(api, id, {
    onLoad: renderAll,
    onEvent: (event) => renderEvent(watch.state, event),
    onEphemeral: (event) => presence.apply(event),
    onEnded: endConversation,
    onStatus: showConnection,
    onFatal: (err) => {
      if (open?.watch !== watch || open.ended) return;
      showConversationError(err.status === 404 ? NotAMember : err.message);
    },
  });
  const view = new ThreadView($('messages'), branchActions(id));
  open = { id, watch, presence, view, ended: null, readTo: 0 };
  watch.open();
}

const NotAMember = 'This conversation does not exist, or you are not a member.';

const EndedBecause = {
  removed: 'You were removed from this conversation.',
  deleted: 'This conversation was deleted.',
  left: 'You left this conversation.',
};

/** The conversation is over for us, told by its watch stream or by our own: say why, and offer nothing more to do in it. */
function endConversation(reason) {
  if (!open || open.ended) return;
  open.ended = reason;
  open.watch.stop();
  open.presence.clear();
  showInvitePanel(false);
  showSettings(false);
  $('conversation').classList.add('ended');
  $('connection').hidden = true;
  showConversationError(EndedBecause[reason] ?? EndedBecause.removed);
  renderList();
}

function renderAll(state) {
  renderTitle(state);
  renderPeople();
  open.view.render(state, { toBottom: true });
  updateStop(state);
  readSoon();
}

function renderTitle(state) {
  $('conversation-title').textContent = displayTitle(state);
  document.title = `${displayTitle(state)} · ChatGrains`;
}

function renderEvent(state, event) {
  switch (event.type) {
    case 'member.joined':
    case 'member.left':
      renderPeople();
      if (!$('settings-panel').hidden) renderSettings();
      break;
    case 'conversation.updated':
      renderTitle(state);
      break;
    case 'message.delta': {
      const message = state.messages.get(event.data.messageId);
      if (message) open.view.update(message);
      updateStop(state);
      break;
    }
    case 'message.created':
    case 'message.completed':
    case 'conversation.head': {
      open.view.render(state);
      const created = event.type === 'message.created' && event.data.message;
      if (created?.role === 'user') open.presence.stoppedTyping(created.authorId);
      updateStop(state);
      break;
    }
  }
  // Deltas change no unread count: the reply's message.completed moves the read position on.
  if (event.type !== 'message.delta') readSoon();
}

function renderPeople() {
  const state = open?.watch.state;
  if (!state) return;
  renderMembers($('members'), state, open.presence, removeMember);
  $('typing').textContent = typingLine(state, open.presence);
}

function updateStop(state) {
  $('stop').hidden = !state.activeReply;
}

function showConnection(status) {
  $('connection').hidden = status !== 'reconnecting' || !!open?.ended;
}

function showConversationError(text) {
  $('conversation').hidden = false;
  $('nothing-open').hidden = true;
  $('conversation-error').textContent = text;
  $('conversation-error').hidden = false;
}

/** A refused action, in words: what the status means for this action, else the service's own detail. */
function refused(err, messages) {
  const text = err instanceof ApiError ? messages[err.status] ?? err.message : err.message;
  showConversationError(text);
}

// ---- read state ----------------------------------------------------------------------------

// While the open conversation is on screen, the service is told how far it has been read: at
// most once a second, and again when the tab is shown.
const ReadInterval = 1_000;
let readTimer = null;
let readSentAt = 0;

function readSoon() {
  if (readTimer || !reading(open?.id) || !open.watch.state) return;
  readTimer = setTimeout(sendRead, Math.max(0, readSentAt + ReadInterval - Date.now()));
}

async function sendRead() {
  readTimer = null;
  const current = open;
  if (!reading(current?.id) || !current.watch.state) return;
  const upTo = current.watch.state.lastEventId;
  const item = mine?.list?.items.get(current.id);
  if (upTo <= Math.max(current.readTo, item?.lastReadEventId ?? 0)) return;
  current.readTo = upTo;
  readSentAt = Date.now();
  // A refusal (404 once removed) is shown by the streams; a lost one is sent again with the next event.
  await api.read(current.id, upTo).catch(() => (current.readTo = 0));
}

document.addEventListener('visibilitychange', () => {
  renderList();
  readSoon();
});

// ---- the message tree: edit, regenerate, versions, fork, older pages ------------------------

/** "Your message was not sent: …", or with the budget's reset time when that is why. */
function notSent(what, err) {
  const budget = budgetRefusal(err);
  return budget ? `${what} was not sent. ${budget}` : `${what} was not sent: ${err.message}`;
}

/** What the thread's buttons do in conversation `id`. Each moves the shared head (or opens a fork); every tab follows on its stream. */
function branchActions(id) {
  const stillOpen = () => open?.id === id && !open.ended;
  const attempt = async (action, describe) => {
    if (!stillOpen()) return false;
    $('conversation-error').hidden = true;
    try {
      await action();
      return true;
    } catch (err) {
      if (stillOpen()) showConversationError(describe(err));
      return false;
    }
  };
  return {
    // An edit is a new prompt beside the old one: under the same parent (null for a first prompt).
    edit: (message, content) => attempt(() => api.postPrompt(id, content, message.parentId ?? null), (err) => notSent('Your edit', err)),
    regenerate: (message) =>
      attempt(() => api.regenerate(id, message.id), (err) =>
        err instanceof ApiError && err.status === 409 ? 'That reply is not finished yet.' : notSent('Your request for a new reply', err)),
    switchTo: (reply) => attempt(() => api.setHead(id, reply.id), (err) => `Could not switch: ${err.message}`),
    fork: (message) =>
      attempt(async () => {
        const fork = await api.fork(id, message.id);
        location.hash = `c=${encodeURIComponent(fork.id)}`;
      }, (err) => `Could not fork: ${err.message}`),
    loadOlder: async (before) => {
      if (!stillOpen()) return null;
      try {
        return await api.olderMessages(id, before);
      } catch (err) {
        if (stillOpen()) showConversationError(`Could not load earlier messages: ${err.message}`);
        return null;
      }
    },
  };
}

// ---- composing, stopping, inviting ---------------------------------------------------------

const prompt = $('prompt');

prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});

// Others see "typing…" for about 5 s after each of these; the service forwards one per 2 s anyway.
const TypingInterval = 2_000;
let typingSentAt = 0;

prompt.addEventListener('input', () => {
  if (!open || open.ended || !prompt.value.trim() || Date.now() - typingSentAt < TypingInterval) return;
  typingSentAt = Date.now();
  api.typing(open.id).catch(() => {});
});

$('composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const content = prompt.value;
  if (!open || !content.trim()) return;
  prompt.value = '';
  $('send').disabled = true;
  $('conversation-error').hidden = true;
  try {
    // After the thread on screen: its head, as this tab shows it (none yet: the service's head).
    await api.postPrompt(open.id, content, open.watch.state?.head ?? undefined);
  } catch (err) {
    prompt.value ||= content;
    showConversationError(notSent('Your message', err));
  } finally {
    $('send').disabled = false;
  }
});

$('stop').addEventListener('click', async () => {
  const reply = open?.watch.state?.activeReply;
  if (!reply) return;
  try {
    await api.cancel(open.id, reply.id);
  } catch (err) {
    // 409: it finished in the meantime, which the stream shows anyway.
    if (!(err instanceof ApiError && err.status === 409)) showConversationError(err.message);
  }
});

// The Invite button opens the panel with a fresh link, and closes it again.
$('invite').addEventListener('click', async () => {
  if (!$('invite-panel').hidden) {
    showInvitePanel(false);
    return;
  }
  let inviteToken;
  try {
    ({ inviteToken } = await api.invite(open.id));
  } catch (err) {
    refused(err, { 404: NotAMember });
    return;
  }
  if (!$('settings-panel').hidden) renderInvites();
  const link = new URL(location.href);
  link.hash = `join=${open.id}.${inviteToken}`;
  $('invite-link').value = link.href;
  $('copy-result').textContent = '';
  showInvitePanel(true);
  $('invite-link').select();
});

function showInvitePanel(show) {
  $('invite-panel').hidden = !show;
  $('invite').setAttribute('aria-expanded', String(show));
}

$('copy-invite').addEventListener('click', async () => {
  const input = $('invite-link');
  try {
    await navigator.clipboard.writeText(input.value);
    $('copy-result').textContent = 'Copied.';
  } catch {
    // No clipboard access (plain http away from localhost): leave it selected to copy by hand.
    input.select();
    $('copy-result').textContent = 'Press Ctrl+C to copy.';
  }
});

// ---- managing the conversation: rename, invites, leave, delete, remove -----------------------

$('settings').addEventListener('click', () => {
  const show = $('settings-panel').hidden;
  showSettings(show);
  if (show) {
    $('rename-title').value = open.watch.state?.title ?? '';
    renderSettings();
    renderInvites();
  }
});

function showSettings(show) {
  $('settings-panel').hidden = !show;
  $('settings').setAttribute('aria-expanded', String(show));
  $('delete-confirm').hidden = true;
}

/** The owner deletes; everyone else leaves (the owner cannot leave: the service answers 409). */
function renderSettings() {
  const owner = open?.watch.state?.myRole === 'owner';
  $('leave').hidden = owner;
  $('delete').hidden = !owner;
}

$('rename-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    renderTitle(await api.rename(open.id, $('rename-title').value.trim()));
    showSettings(false);
  } catch (err) {
    refused(err, { 400: 'A title has 1 to 200 characters.', 404: NotAMember });
  }
});

async function renderInvites() {
  const current = open;
  let invites;
  try {
    invites = await api.invites(current.id);
  } catch (err) {
    refused(err, { 404: NotAMember });
    return;
  }
  if (current !== open || !current.watch.state) return;
  renderInviteList($('invite-list'), invites, current.watch.state, async (invite) => {
    try {
      await api.revokeInvite(current.id, invite.inviteToken);
    } catch (err) {
      refused(err, { 403: 'Only the owner or whoever made an invite can revoke it.', 404: 'That invite no longer exists.' });
    }
    renderInvites();
  });
  $('no-invites').hidden = invites.length > 0;
}

$('leave').addEventListener('click', async () => {
  try {
    await api.removeMember(open.id, session.userId);
    location.hash = '';
  } catch (err) {
    refused(err, { 409: 'The owner cannot leave: delete the conversation instead.', 404: NotAMember });
  }
});

$('delete').addEventListener('click', () => {
  $('delete-confirm').hidden = false;
  $('delete-cancel').focus();
});
$('delete-cancel').addEventListener('click', () => ($('delete-confirm').hidden = true));
$('delete-yes').addEventListener('click', async () => {
  try {
    await api.deleteConversation(open.id);
    location.hash = '';
  } catch (err) {
    refused(err, { 403: 'Only the owner can delete this conversation.', 404: NotAMember });
  }
});

async function removeMember(member) {
  try {
    await api.removeMember(open.id, member.userId);
  } catch (err) {
    refused(err, {
      403: `Only the owner can remove ${member.name}.`,
      404: `${member.name} is no longer a member.`,
      409: `${member.name} cannot be removed.`,
    });
  }
}

// ---- start ---------------------------------------------------------------------------------

if (session) showSignedIn();
else signOut();
