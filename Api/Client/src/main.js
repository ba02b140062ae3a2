// The chat page: guest sign-in, the list of my conversations, and one open conversation.
// Routes live in the URL's hash so the server only ever serves index.html at `/`:
//   #c=<conversationId>                 an open conversation (a reload stays on it)
//   #join=<conversationId>.<inviteToken> an invite link: join, then open the conversation

import './styles.css';
import { Api, ApiError, signInAsGuest } from './api.js';
import { ConversationWatch } from './watch.js';
import { renderMessage } from './render.js';

const $ = (id) => document.getElementById(id);
const SessionKey = 'chatgrains.session';

let session = JSON.parse(localStorage.getItem(SessionKey) ?? 'null');
let api = null;
let open = null; // { id, watch }

// ---- session -------------------------------------------------------------------------------

function showSignedIn() {
  api = new Api(session, signOut);
  $('sign-in').hidden = true;
  $('app').hidden = false;
  $('whoami').hidden = false;
  $('whoami').textContent = `Signed in as ${session.name}`;
  $('sign-out').hidden = false;
  route();
}

function signOut() {
  localStorage.removeItem(SessionKey);
  session = null;
  closeConversation();
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

async function refreshList() {
  const conversations = await api.conversations();
  const list = $('conversation-list');
  list.replaceChildren(
    ...conversations.map((c) => {
      const item = document.createElement('li');
      const link = document.createElement('a');
      link.href = `#c=${encodeURIComponent(c.id)}`;
      link.textContent = displayTitle(c);
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
  refreshList().catch(() => {});
}

addEventListener('hashchange', route);

// ---- the open conversation -----------------------------------------------------------------

function closeConversation() {
  open?.watch.close();
  open = null;
  $('conversation').hidden = true;
  $('nothing-open').hidden = false;
  showInvitePanel(false);
}

function openConversation(id) {
  closeConversation();
  $('nothing-open').hidden = true;
  $('conversation').hidden = false;
  $('conversation-error').hidden = true;
  $('messages').replaceChildren();
  $('conversation-title').textContent = '';
  $('members').textContent = '';
  showConnection('connecting');
  const watch = new ConversationWatch(api, id, {
    onLoad: renderAll,
    onEvent: (event) => renderEvent(watch.state, event),
    onStatus: showConnection,
    onFatal: (err) =>
      showConversationError(err.status === 404 ? 'This conversation does not exist, or you are not a member.' : err.message),
  });
  open = { id, watch };
  watch.open();
}

function renderAll(state) {
  $('conversation-title').textContent = displayTitle(state);
  document.title = `${displayTitle(state)} · ChatGrains`;
  renderMembers(state);
  const list = $('messages');
  list.replaceChildren();
  for (const message of state.messages.values()) renderMessage(list, message);
  updateStop(state);
  list.scrollTop = list.scrollHeight;
}

function renderEvent(state, event) {
  if (event.type === 'member.joined') {
    renderMembers(state);
    return;
  }
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  const messageId = event.data.messageId ?? event.data.message.id;
  renderMessage(list, state.messages.get(messageId));
  updateStop(state);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function renderMembers(state) {
  $('members').textContent = `With ${state.members.map((m) => m.name).join(', ')}`;
}

function updateStop(state) {
  $('stop').hidden = !state.activeReply;
}

function showConnection(status) {
  $('connection').hidden = status !== 'reconnecting';
}

function showConversationError(text) {
  $('conversation').hidden = false;
  $('nothing-open').hidden = true;
  $('conversation-error').textContent = text;
  $('conversation-error').hidden = false;
}

// ---- composing, stopping, inviting ---------------------------------------------------------

const prompt = $('prompt');

prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});

$('composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const content = prompt.value;
  if (!open || !content.trim()) return;
  prompt.value = '';
  $('send').disabled = true;
  $('conversation-error').hidden = true;
  try {
    await api.postPrompt(open.id, content);
  } catch (err) {
    prompt.value ||= content;
    showConversationError(`Your message was not sent: ${err.message}`);
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
  const { inviteToken } = await api.invite(open.id);
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

// ---- start ---------------------------------------------------------------------------------

if (session) showSignedIn();
else signOut();
