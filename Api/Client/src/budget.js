// The daily token budget, as a person reads it: the service refuses a prompt or a regenerate
// with 429 and `resetsAt` (the next UTC midnight, ../../../shared/CONTRACT.md "Token budgets"),
// and the page says when that is on the reader's own clock.

import { budgetResetsAt } from './api.js';

/** "… It resets at 05:30 (your time)." — or "tomorrow at", when the reset falls on the next local day. */
export function overBudgetText(resetsAt, now = new Date()) {
  const time = resetsAt.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const day = resetsAt.toDateString() === now.toDateString() ? 'at' : 'tomorrow at';
  return `You have used today's token budget. It resets ${day} ${time} (your time).`;
}

/** The budget's words for a refusal, or null when the refusal is something else. */
export function budgetRefusal(error) {
  const resetsAt = budgetResetsAt(error);
  return resetsAt ? overBudgetText(resetsAt) : null;
}
