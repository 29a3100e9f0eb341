// Mute everyone: a moderator mutes two people who send the tone; their audio stops arriving
// (measured on the moderator's page), their Microphone toggles go off, and with "Let
// participants unmute" off they cannot turn it back on until the moderator allows them — not
// through the UI (refused), and not by a page that turns its track back on anyway (the server
// drops the audio).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { joinMeeting, listen, randomRoom, sleep, tile, waitFor, waitForSilence, waitForTone, SILENCE_RMS } from './lib/meeting.mjs';
import { closeDialog, openParticipants, openSecurity, setSwitch, toolbar, waitForAlert, waitForAnnouncement } from './lib/moderation.mjs';

test('mute everyone silences the others, and they may not unmute until allowed', { timeout: 180_000 }, async () => {
  await withScenario('mute-everyone', async (s) => {
    const room = randomRoom();
    const pages = {};
    for (const name of ['Alice', 'Bob', 'Carol']) {
      pages[name] = await s.newPage(name);
      // Keep a handle on the page's peer connections, so that the test can play a client that
      // ignores the moderator (below); no control is touched this way.
      await pages[name].addInitScript(() => {
        const Original = window.RTCPeerConnection;
        window.__pcs = [];
        window.RTCPeerConnection = class extends Original {
          constructor(...args) {
            super(...args);
            window.__pcs.push(this);
          }
        };
      });
      // Audio is what counts here: no cameras, to spare the two cores.
      await joinMeeting(pages[name], s.server.url, room, name, { camera: false, microphone: name !== 'Alice' });
    }
    const { Alice: alice, Bob: bob, Carol: carol } = pages;
    await waitForTone(tile(alice, 'Bob'), 'Alice hears Bob');
    await waitForTone(tile(alice, 'Carol'), 'Alice hears Carol');

    const security = await openSecurity(alice);
    await setSwitch(security, 'Let participants unmute', false);
    await closeDialog(alice, security);
    await openParticipants(alice);
    await alice.getByRole('button', { name: 'Mute everyone', exact: true }).click();

    for (const [name, page] of [['Bob', bob], ['Carol', carol]]) {
      const mic = toolbar(page).getByRole('button', { name: 'Microphone', exact: true });
      await waitFor(`${name}'s Microphone toggle to go off`, () => mic.getAttribute('aria-pressed'), (v) => v === 'false');
      await waitForAnnouncement(page, /A moderator muted your microphone/, name);
      const silent = await waitForSilence(tile(alice, name), `Alice hears nothing from ${name}`);
      console.log(`Alice <- ${name}, muted by a moderator: ${JSON.stringify(silent.samples ?? silent)}`);
    }

    // Bob tries to unmute: refused, the toggle goes back off, the tile stays silent.
    const bobMic = toolbar(bob).getByRole('button', { name: 'Microphone', exact: true });
    await bobMic.click();
    await waitForAlert(bob, /raise your hand/i, 'Bob, unmuting while not allowed');
    await waitFor("Bob's Microphone toggle to be back off", () => bobMic.getAttribute('aria-pressed'), (v) => v === 'false');
    // Now Bob's page cheats: it turns its microphone track back on behind the UI's back. The
    // server drops his audio all the same.
    const cheated = await bob.evaluate(() => {
      let n = 0;
      for (const pc of window.__pcs) {
        for (const sender of pc.getSenders()) {
          if (sender.track?.kind === 'audio') {
            sender.track.enabled = true;
            n++;
          }
        }
      }
      return n;
    });
    assert.ok(cheated > 0, 'Bob’s page has an audio sender to turn back on');
    await sleep(1_500);
    const still = await listen(tile(alice, 'Bob'), 1_600).catch((e) => ({ error: e.message }));
    console.log(`Alice <- Bob, his track re-enabled behind the moderator's back: ${JSON.stringify(still.samples ?? still)}`);
    assert.ok(still.error || still.samples.every((x) => x.rms < SILENCE_RMS), `Alice still hears nothing from Bob: ${JSON.stringify(still)}`);

    // He raises his hand; Alice sees it and allows him; now he can speak again.
    await toolbar(bob).getByRole('button', { name: 'Raise hand', exact: true }).click();
    await waitForAnnouncement(alice, /Bob raised their hand/, 'Alice');
    await alice.getByRole('button', { name: 'Allow Bob to unmute', exact: true }).click();
    await alice.getByRole('button', { name: 'Mute Bob', exact: true }).waitFor({ state: 'visible' });
    await bobMic.click();
    await waitFor("Bob's Microphone toggle to be on", () => bobMic.getAttribute('aria-pressed'), (v) => v === 'true');
    await waitForTone(tile(alice, 'Bob'), 'Alice hears Bob again');
    // Carol is still muted.
    await waitForSilence(tile(alice, 'Carol'), 'Alice still hears nothing from Carol');
  });
});
