// The conversation's messages form a tree (../../../shared/CONTRACT.md, "Messages as a tree"):
// every message names the one it follows in `parentId` (null for a first prompt), and the shared
// `head` is the assistant message that ends the thread everyone sees. These are pure functions of
// the messages this tab holds, a Map in event order (older pages may not be loaded: a walk that
// reaches a parent it does not hold stops there).

/** Children of each message in event order; the first prompts are the children of `null`. */
export function childrenOf(messages) {
  const children = new Map();
  for (const message of messages.values()) {
    const parent = message.parentId ?? null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(message);
  }
  return children;
}

/**
 * The thread shown: the path from the first prompt to the head.
 * @returns {{messages: object[], complete: boolean}} `complete` is false when the path reaches a
 *   parent that is not loaded (an older page holds the rest), or the head itself is not loaded.
 */
export function threadTo(messages, head) {
  const path = [];
  let id = head ?? null;
  // At most one step per message: a malformed tree cannot loop.
  while (id !== null && path.length <= messages.size) {
    const message = messages.get(id);
    if (!message) break;
    path.push(message);
    id = message.parentId ?? null;
  }
  return { messages: path.reverse(), complete: id === null };
}

/** A message's versions: it and its siblings (same parent), and its 0-based position among them. */
export function versionsOf(children, message) {
  const siblings = children.get(message.parentId ?? null) ?? [message];
  return { siblings, index: siblings.indexOf(message) };
}

/**
 * Where switching to a version leads: the most recent assistant message in its subtree, as
 * ChatGPT does. It is always a leaf: anything under an assistant message was created after it.
 */
export function latestReplyUnder(messages, children, message) {
  let latest = message.role === 'assistant' ? message : null;
  const order = new Map([...messages.values()].map((m, i) => [m, i]));
  const pending = [...(children.get(message.id) ?? [])];
  while (pending.length > 0) {
    const next = pending.pop();
    if (next.role === 'assistant' && (latest === null || order.get(next) > order.get(latest))) latest = next;
    pending.push(...(children.get(next.id) ?? []));
  }
  return latest;
}
