// axe-core scans of the home page, the pre-join page and the meeting view (with the chat and
// participants panels and the reactions bar open, and the help dialog): no serious or critical
// violations. One browser, a context per person.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { joinMeeting, randomRoom, tile } from './lib/meeting.mjs';
import { openParticipants, toolbar } from './lib/moderation.mjs';
import { openChat, sendChat, waitForMessage } from './lib/social.mjs';
import { report, scan } from './lib/axe.mjs';

/** Scans and fails on serious or critical violations; prints the milder ones. */
async function expectAccessible(page, view) {
  const r = await scan(page);
  const mild = r.violations.filter((v) => !r.blocking.includes(v));
  console.log(`axe, ${view}: ${r.passes} rules passed, ${r.blocking.length} serious/critical, ${mild.length} minor/moderate${mild.length ? `\n${report(mild)}` : ''}`);
  assert.equal(r.blocking.length, 0, `${view}: serious or critical axe-core violations:\n${report(r.blocking)}`);
}

test('axe-core: home, pre-join and meeting views have no serious or critical violations', { timeout: 90_000 }, async () => {
  await withScenario('axe', async (s) => {
    const room = randomRoom();
    // The page's CSP allows no inline script: this context lets the test inject axe-core.
    const alice = await s.newPage('Alice', { bypassCSP: true });
    await alice.goto(s.server.url);
    await alice.getByRole('textbox', { name: 'Room name' }).waitFor({ state: 'visible' });
    await expectAccessible(alice, 'home');

    await alice.goto(s.server.url + room);
    await alice.getByRole('textbox', { name: 'Your name' }).fill('Alice');
    // Once the devices are known (the toggles get aria-pressed).
    await alice.locator('button[aria-pressed]').first().waitFor({ state: 'visible' });
    await expectAccessible(alice, 'pre-join');

    await joinMeeting(alice, s.server.url, room, 'Alice');
    const bob = await s.newPage('Bob');
    await joinMeeting(bob, s.server.url, room, 'Bob', { camera: false });
    await tile(alice, 'Bob').waitFor({ state: 'visible' });
    await alice.locator('.tile[data-local] video').waitFor({ state: 'visible' });
    await expectAccessible(alice, 'meeting');

    await sendChat(bob, 'Hello https://example.com/');
    await waitForMessage(alice, 'Hello', 'Alice');
    await sendChat(alice, 'Hi Bob', 'Bob');
    await waitForMessage(alice, 'Hi Bob', 'Alice');
    await openParticipants(alice);
    await toolbar(alice).getByRole('button', { name: 'Raise hand', exact: true }).click();
    await alice.getByRole('list', { name: 'Raised hands' }).waitFor({ state: 'visible' });
    await toolbar(alice).getByRole('button', { name: 'Reactions', exact: true }).click();
    await alice.getByRole('group', { name: 'Reactions' }).waitFor({ state: 'visible' });
    await expectAccessible(alice, 'meeting with chat, participants and reactions open');
    await alice.keyboard.press('Escape');

    await openChat(alice);
    await alice.getByRole('button', { name: 'Keyboard shortcuts' }).click();
    await alice.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor({ state: 'visible' });
    await expectAccessible(alice, 'keyboard shortcuts dialog');
    await alice.keyboard.press('Escape');
    await toolbar(alice).getByRole('button', { name: 'Invite', exact: true }).click();
    await alice.getByRole('dialog', { name: 'Invite' }).waitFor({ state: 'visible' });
    await expectAccessible(alice, 'Invite dialog');
  });
});
