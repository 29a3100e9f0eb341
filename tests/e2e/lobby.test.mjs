// The lobby: a moderator turns it on in the Security dialog; newcomers wait and learn nothing
// about the meeting; the moderator is told and admits one (who then sees and hears the room)
// and rejects another (who is told "declined").

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { askToJoin, joinMeeting, randomRoom, sleep, tile, waitForQuadrants, waitForVideoFrames } from './lib/meeting.mjs';
import { assertNotInMeeting, closeDialog, openSecurity, setSwitch, toolbar, waitForAlert, waitForAnnouncement } from './lib/moderation.mjs';

test('lobby: waiting guests get nothing; admit lets one in, reject declines another', { timeout: 150_000 }, async () => {
  await withScenario('lobby', async (s) => {
    const room = randomRoom();
    const alice = await s.newPage('Alice');
    await joinMeeting(alice, s.server.url, room, 'Alice');

    // Alice, who created the room, turns the lobby on. The dialog gives focus back on Escape.
    const security = await openSecurity(alice);
    await setSwitch(security, 'Lobby', true);
    await closeDialog(alice, security);
    const focused = await alice.evaluate(() => document.activeElement?.textContent ?? '');
    assert.match(focused, /Security/, 'focus is back on the Security button after Escape');

    // Bob knocks: he is told he is waiting, and gets nothing about the room.
    const bob = await s.newPage('Bob');
    await askToJoin(bob, s.server.url, room, 'Bob', { knock: 'Bob from the design team' });
    await bob.getByRole('status').filter({ hasText: /waiting/i }).waitFor({ state: 'visible' });
    await sleep(1_000);
    await assertNotInMeeting(bob, 'Bob in the lobby');

    // Alice is told, sees his message, and admits him.
    await waitForAnnouncement(alice, /Bob is waiting in the lobby/, 'Alice');
    const admit = alice.getByRole('button', { name: 'Admit Bob', exact: true });
    await admit.waitFor({ state: 'visible' });
    await alice.getByText('Bob from the design team').waitFor({ state: 'visible' });
    await alice.getByRole('button', { name: 'Reject Bob', exact: true }).waitFor({ state: 'visible' });
    await admit.click();
    await toolbar(bob).waitFor({ state: 'visible' });
    await waitForVideoFrames(tile(bob, 'Alice'), 'Bob, admitted, sees Alice');
    await waitForQuadrants(tile(bob, 'Alice'), 'Bob, admitted, sees Alice');
    await tile(alice, 'Bob').waitFor({ state: 'visible' });
    await admit.waitFor({ state: 'detached' });

    // Bob is not a moderator: his Security dialog shows the lobby on, read-only.
    const bobSecurity = await openSecurity(bob);
    const bobLobby = bobSecurity.getByRole('switch', { name: 'Lobby', exact: true });
    assert.equal(await bobLobby.getAttribute('aria-checked'), 'true', 'Bob sees the lobby on');
    assert.equal(await bobLobby.isEnabled(), false, "Bob's Lobby switch is read-only");
    await closeDialog(bob, bobSecurity);

    // Carol knocks and is turned away.
    const carol = await s.newPage('Carol');
    await askToJoin(carol, s.server.url, room, 'Carol', { camera: false });
    await carol.getByRole('status').filter({ hasText: /waiting/i }).waitFor({ state: 'visible' });
    await alice.getByRole('button', { name: 'Reject Carol', exact: true }).click();
    const said = await waitForAlert(carol, /declined/i, 'Carol, rejected');
    console.log(`Carol, rejected: ${said}`);
    await assertNotInMeeting(carol, 'Carol after being declined');
    assert.equal(await tile(alice, 'Carol').count(), 0, 'no tile for Carol on Alice’s page');
  });
});
