// Turning messages into DOM. Replies are Markdown from a model, so they are untrusted: marked
// turns them into HTML and DOMPurify removes anything that could run or load. Prompts are shown
// as plain text.

import { marked } from 'marked';
import DOMPurify from 'dompurify';

marked.setOptions({ gfm: true, breaks: false, async: false });

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

// Beyond DOMPurify's defaults: no forms or controls (a reply could fake a sign-in form), and no
// inline styles, which the page's Content-Security-Policy (style-src 'self') refuses anyway.
const Sanitize = {
  FORBID_TAGS: ['form', 'input', 'button', 'select', 'textarea', 'style'],
  FORBID_ATTR: ['style'],
};

export const markdownToSafeHtml = (text) => DOMPurify.sanitize(marked.parse(text), Sanitize);

const StatusLabels = {
  queued: 'Queued',
  streaming: 'Writing…',
  cancelled: 'Stopped',
  failed: 'Failed',
};

/**
 * Creates the list item of one message, or updates `item`, its existing one: who wrote it, its
 * status and its text. The item's `.controls` (thread-view.js) are left as they are.
 */
export function renderMessage(item, message) {
  if (!item) {
    item = document.createElement('li');
    item.dataset.id = message.id;
    item.className = `message ${message.role}`;
    item.innerHTML = '<div class="meta"><span class="author"></span><span class="status"></span></div><div class="body"></div><div class="controls"></div>';
    item.querySelector('.author').textContent = message.role === 'user' ? message.authorName : 'Assistant';
  }
  item.dataset.status = message.status;
  item.setAttribute('aria-busy', String(message.status === 'queued' || message.status === 'streaming'));
  const label = StatusLabels[message.status] ?? '';
  const status = item.querySelector('.status');
  status.textContent = message.status === 'failed' && message.error ? `${label}: ${message.error}` : label;
  status.hidden = !label;
  const body = item.querySelector('.body');
  if (message.role === 'user') body.textContent = message.content;
  else body.innerHTML = markdownToSafeHtml(message.content);
  return item;
}
