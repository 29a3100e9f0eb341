// Security and moderation as a person does them in the web client: the Security dialog, the
// Participants panel, the lobby and the pre-join refusals. Controls by role + accessible name.

import assert from 'node:assert/strict';
import { waitFor } from './meeting.mjs';

/** @param {import('playwright-core').Page} page */
export function toolbar(page) {
  return page.getByRole('toolbar', { name: 'Meeting controls' });
}

/** Opens the Security dialog and returns it. */
export async function openSecurity(page) {
  await toolbar(page).getByRole('button', { name: 'Security', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Security' });
  await dialog.waitFor({ state: 'visible' });
  return dialog;
}

/** Closes a dialog with Escape and waits for it to go. */
export async function closeDialog(page, dialog) {
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
}

/**
 * Turns a switch (role=switch) in `scope` on or off and waits until the server's answer shows
 * in aria-checked.
 */
export async function setSwitch(scope, name, on) {
  const sw = scope.getByRole('switch', { name, exact: true });
  if ((await sw.getAttribute('aria-checked')) !== String(on)) await sw.click();
  await waitFor(`switch "${name}" to be ${on ? 'on' : 'off'}`, () => sw.getAttribute('aria-checked'), (v) => v === String(on));
}

/** Opens the Participants panel (if closed) and returns its list. */
export async function openParticipants(page) {
  const toggle = toolbar(page).getByRole('button', { name: 'Participants', exact: true });
  if ((await toggle.getAttribute('aria-pressed')) !== 'true') await toggle.click();
  const list = page.getByRole('list', { name: 'Participants' });
  await list.waitFor({ state: 'visible' });
  return list;
}

/** The text of the aria-live announcer (README: `#announcer`). */
export function announcements(page) {
  return page.locator('#announcer').textContent();
}

/** Waits until the announcer has said something matching `re`. */
export async function waitForAnnouncement(page, re, what) {
  return waitFor(`${what}: an announcement matching ${re}`, () => announcements(page), (t) => re.test(t ?? ''));
}

/** Waits for a role=alert whose text matches `re`; returns its text. */
export async function waitForAlert(page, re, what) {
  const alert = page.getByRole('alert').filter({ hasText: re });
  await alert.first().waitFor({ state: 'visible' }).catch(async (e) => {
    const seen = await page.getByRole('alert').allTextContents().catch(() => []);
    throw new Error(`${what}: no role=alert matching ${re} (alerts: ${JSON.stringify(seen)}): ${e.message.split('\n')[0]}`);
  });
  return alert.first().textContent();
}

/** Asserts there is no meeting on the page: no toolbar and no participant tile at all. */
export async function assertNotInMeeting(page, what) {
  assert.equal(await toolbar(page).count(), 0, `${what}: no meeting toolbar`);
  assert.equal(await page.getByRole('group').count(), 0, `${what}: no participant tiles`);
  assert.equal(await page.locator('video:not(.preview-video), audio').count(), 0, `${what}: no remote media elements`);
}
