// Chat, raised hands and reactions as a person uses them in the web client (web/README.md):
// controls found by role + accessible name only.

import { waitFor } from './meeting.mjs';
import { toolbar } from './moderation.mjs';

/** The Chat toggle in the toolbar. */
export function chatToggle(page) {
  return toolbar(page).getByRole('button', { name: 'Chat', exact: true });
}

/** The chat's message log (role=log **Messages**). */
export function chatLog(page) {
  return page.getByRole('log', { name: 'Messages' });
}

/** Opens the chat panel (if closed) and returns its log. */
export async function openChat(page) {
  const toggle = chatToggle(page);
  if ((await toggle.getAttribute('aria-pressed')) !== 'true') await toggle.click();
  const log = chatLog(page);
  await log.waitFor({ state: 'visible' });
  return log;
}

/**
 * Sends a chat message through the panel: to everyone, or privately to `to` (a display name in
 * **Send to**).
 */
export async function sendChat(page, text, to = 'Everyone') {
  await openChat(page);
  await page.getByRole('combobox', { name: 'Send to' }).selectOption({ label: to });
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
}

/** Opens the chat and waits until its log holds a message containing `text`; returns that message. */
export async function waitForMessage(page, text, what) {
  await openChat(page);
  const msg = chatLog(page).locator('.chat-msg').filter({ hasText: text });
  await msg.first().waitFor({ state: 'attached' }).catch((e) => {
    throw new Error(`${what}: no chat message containing ${JSON.stringify(text)}: ${e.message.split('\n')[0]}`);
  });
  return msg.first();
}

/** The text of the Chat toggle's accessible description (the unread count), via aria-describedby. */
export async function chatDescription(page) {
  return chatToggle(page).evaluate((b) =>
    (b.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent ?? '')
      .join(' ')
      .trim(),
  );
}

/** Waits for the Chat toggle's description to match `re`. */
export async function waitForUnread(page, re, what) {
  return waitFor(`${what}: Chat toggle description matching ${re}`, () => chatDescription(page), (d) => re.test(d));
}

/** The names in the **Raised hands** list, in order. */
export async function raisedHands(page) {
  return page.getByRole('list', { name: 'Raised hands' }).getByRole('listitem').evaluateAll((items) => items.map((li) => li.getAttribute('aria-label')));
}
