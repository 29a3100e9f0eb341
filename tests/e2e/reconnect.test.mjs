// Reconnection: Alice's signaling socket drops (through the `?debug` hook, as a network failure
// would: no `leave`). Her page says "Reconnecting…" (role=status), comes back with the resume
// token as the same participant (same id, still moderator, same name), and media flows both
// ways again. Bob's page never hears "Alice left" or "lost the connection", and Alice's tile
// never leaves it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { joinMeeting, randomRoom, tile, waitFor, waitForVideoFrames, waitForTone } from './lib/meeting.mjs';
import { openParticipants } from './lib/moderation.mjs';

test('a dropped connection recovers by itself, unseen by the others', { timeout: 120_000 }, async () => {
  await withScenario('reconnect', async (s) => {
    const room = randomRoom();
    const alice = await s.newPage('Alice');
    const bob = await s.newPage('Bob');
    await joinMeeting(alice, s.server.url, `${room}?debug`, 'Alice');
    await joinMeeting(bob, s.server.url, room, 'Bob');
    const aliceOnBob = tile(bob, 'Alice');
    await waitForVideoFrames(aliceOnBob, 'Bob sees Alice');
    await waitForVideoFrames(tile(alice, 'Bob'), 'Alice sees Bob');
    const idBefore = await aliceOnBob.getAttribute('data-participant-id');

    // Bob's page records every announcement and any removal of Alice's tile from now on.
    await bob.evaluate(() => {
      const w = /** @type {any} */ (window);
      w.__heard = [];
      w.__aliceTileRemoved = false;
      new MutationObserver((records) => {
        for (const r of records) {
          for (const n of r.addedNodes) if (n.textContent) w.__heard.push(n.textContent);
        }
      }).observe(document.getElementById('announcer'), { childList: true, subtree: true });
      new MutationObserver((records) => {
        for (const r of records) {
          for (const n of r.removedNodes) {
            if (n instanceof Element && n.getAttribute('aria-label') === 'Alice') w.__aliceTileRemoved = true;
          }
        }
      }).observe(document.querySelector('.tile-grid'), { childList: true });
    });

    await alice.evaluate(() => window.__mootDebug.dropSocket());
    const status = alice.getByRole('status').filter({ hasText: 'Reconnecting' });
    await status.waitFor({ state: 'visible', timeout: 5_000 });
    // Back: the message goes, no "Connection lost" alert.
    await status.waitFor({ state: 'hidden', timeout: 15_000 });
    assert.equal(await alice.getByRole('alert').filter({ hasText: 'Connection lost' }).count(), 0, 'no Connection lost alert');
    assert.equal(await alice.getByRole('button', { name: 'Rejoin' }).count(), 0, 'no Rejoin button');

    // Media flows both ways again (new peer connection, new tracks).
    await waitForVideoFrames(aliceOnBob, 'Bob sees Alice after the reconnection');
    await waitForVideoFrames(tile(alice, 'Bob'), 'Alice sees Bob after the reconnection');
    await waitForTone(tile(bob, 'Alice'), 'Bob hears Alice after the reconnection');

    // Same participant, same role, same name.
    assert.equal(await aliceOnBob.getAttribute('data-participant-id'), idBefore, 'Alice kept her participant id');
    await tile(alice, 'Alice (you)').waitFor({ state: 'visible' });
    const list = await openParticipants(alice);
    await waitFor('Alice still a moderator', () => list.getByRole('listitem', { name: 'Alice' }).getAttribute('data-moderator'), (v) => v === 'true');

    // Bob saw nothing of it.
    const seen = await bob.evaluate(() => ({ heard: window.__heard, removed: window.__aliceTileRemoved }));
    console.log(`Bob heard during the reconnection: ${JSON.stringify(seen.heard)}`);
    assert.equal(seen.removed, false, 'Alice’s tile never left Bob’s page');
    assert.ok(!seen.heard.some((t) => /Alice (left|lost|joined)/.test(t)), `no leave or join announced: ${JSON.stringify(seen.heard)}`);
    assert.equal(await bob.getByRole('group', { name: 'Alice', exact: true }).count(), 1, 'one Alice tile');
  });
});
