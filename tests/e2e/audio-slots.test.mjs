// Audio slots (docs/protocol.md, "Large rooms" → "Audio slots"). The server counts a room of
// more than 2 as large (MOOT__MEDIA__SELECTIVE_AUDIO_AFTER=2), so three people, cameras off,
// get the others' microphones on 5 audio slots: the last server offer lists 5 `slots` and no
// microphone in `tracks`, and the page receives on 5 audio transceivers. Every fake microphone
// plays the same tone, so one person speaks at a time: Bob's tone is heard on the slot whose
// owner is Bob and rings his tile (not Alice's); Bob stops, Alice speaks: her slot carries the
// tone, the ring moves to her. Without encryption the server's `slot` message is all a page
// knows, so a stale owner (set through the `?debug` hook) takes the ring away from the one
// heard. With end-to-end
// encryption on, the tone still arrives through the slots, the frames are decrypted (counters),
// and a page that is told a stale (or false) owner for a slot still opens its frames with the
// other senders' keys, counted as decrypted (and `slotFallback`), not failed; and the ring stays
// with the sender whose key opens them, not the claimed owner, with a console warning. When one
// leaves, the room is small again: no slots, the microphones back on their tiles.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { joinMeeting, randomRoom, sleep, tile, waitFor, waitForSilence, waitForTone } from './lib/meeting.mjs';
import { closeDialog, openSecurity, setSwitch, toolbar } from './lib/moderation.mjs';

const SLOTS = 5;

/** What the page's last server offer said: its slots and the microphones in its tracks. */
async function lastOffer(page) {
  return page.evaluate(() => {
    const d = window.__mootDebug;
    const o = d?.lastOffer;
    if (!o) return null;
    return { slots: o.slots, microphones: o.tracks.filter((t) => t.source === 'microphone').length, tracks: o.tracks.length, owners: d.slots };
  });
}

/** The page's audio transceivers that receive (not stopped, not our own send-only ones). */
async function audioReceivers(page) {
  return page.evaluate(() => {
    const pc = window.__mootDebug?.pc;
    if (!pc) return null;
    const recv = pc
      .getTransceivers()
      .filter((t) => t.receiver.track.kind === 'audio' && (t.currentDirection === 'recvonly' || t.currentDirection === 'sendrecv'));
    return recv.map((t) => t.mid);
  });
}

/** The <audio> of the slot that carries `id`'s microphone now. */
const slotOf = (page, id) => page.locator(`audio.slot-audio-track[data-participant-id="${id}"]`);

const stats = (page) => page.evaluate(() => ({ ...window.__mootDebug.e2ee.stats }));

/** The counters' change from `a` to `b` (frames only). */
function delta(a, b) {
  return Object.fromEntries(['encrypted', 'decrypted', 'failed', 'noKey', 'slotFallback'].map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0)]));
}

const speaking = (page, name) => tile(page, name).getAttribute('data-speaking');

/** Tells a page (`?debug` hook) that slot `mid` carries `id`, as a `slot` message would. */
const setSlotOwner = (page, mid, id) => page.evaluate(([m, p]) => window.__mootDebug.setSlotOwner(m, p), [mid, id]);

/** Checks `check` every 200 ms for `ms`: a state that must hold, not merely be reached. */
async function holds(ms, check) {
  const end = Date.now() + ms;
  do {
    await check();
    await sleep(200);
  } while (Date.now() < end);
}

test('audio slots: five slots, the speaker heard on their slot and ringed, the ring moves, E2EE through slots', { timeout: 240_000 }, async () => {
  await withScenario(
    'audio-slots',
    async (s) => {
      const t0 = Date.now();
      const at = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
      const room = randomRoom();
      const names = ['Alice', 'Bob', 'Carol'];
      const pages = {};
      for (const name of names) {
        pages[name] = await s.newPage(name);
        await joinMeeting(pages[name], s.server.url, `${room}?debug`, name, { camera: false, microphone: false });
      }
      const { Alice: alice, Bob: bob, Carol: carol } = pages;
      const ids = {};
      for (const name of ['Alice', 'Bob']) ids[name] = await tile(carol, name).getAttribute('data-participant-id');

      // Slot mode negotiated: every page's last offer has the 5 slots and no microphone; the
      // page receives audio on exactly those 5 transceivers.
      for (const name of names) {
        const offer = await waitFor(`${name}'s last offer to list ${SLOTS} slots and no microphone`, () => lastOffer(pages[name]), (o) => !!o && o.slots.length === SLOTS && o.microphones === 0);
        const recv = await waitFor(`${name} to receive audio on the slots only`, () => audioReceivers(pages[name]), (r) => !!r && r.length === SLOTS);
        assert.deepEqual([...recv].sort(), [...offer.slots].sort(), `${name}'s receiving audio transceivers are the slots`);
        assert.equal(await pages[name].locator('audio.slot-audio-track').count(), SLOTS, `${name}'s page plays ${SLOTS} slot <audio> elements`);
        console.log(`${name}: slots ${JSON.stringify(offer.slots)}, ${offer.tracks} tracks (no microphone), receiving audio on ${JSON.stringify(recv)} (${at()})`);
      }

      // Bob speaks: his tone on his slot on Carol's and Alice's pages, his tile rings.
      const mic = (page) => toolbar(page).getByRole('button', { name: 'Microphone', exact: true });
      await mic(bob).click();
      for (const [viewer, page] of [['Carol', carol], ['Alice', alice]]) {
        await slotOf(page, ids.Bob).waitFor({ state: 'attached', timeout: 15_000 });
        const heard = await waitForTone(slotOf(page, ids.Bob), `${viewer} hears Bob on his slot`);
        const mid = await slotOf(page, ids.Bob).getAttribute('data-slot');
        console.log(`${viewer} <- Bob on slot ${mid}: ${heard.samples.map((x) => `${x.peakHz} Hz ${x.rms}`).join(', ')} (${at()})`);
      }
      await waitFor("the speaking ring on Bob's tile (Carol)", () => speaking(carol, 'Bob'), (v) => v === 'true', { timeout: 10_000 });
      assert.equal(await speaking(carol, 'Alice'), 'false', "no ring on silent Alice's tile");
      assert.equal(await slotOf(carol, ids.Bob).count(), 1, 'Bob is on one slot');
      assert.equal(await tile(carol, 'Bob').locator('audio').evaluate((a) => a.srcObject === null), true, 'Bob’s tile plays no microphone track of its own');

      // Bob stops, Alice speaks: the sound still arrives, now on Alice's slot, and the ring moves.
      await mic(bob).click();
      await mic(alice).click();
      await slotOf(carol, ids.Alice).waitFor({ state: 'attached', timeout: 15_000 });
      const aliceHeard = await waitForTone(slotOf(carol, ids.Alice), 'Carol hears Alice on her slot');
      console.log(`Carol <- Alice on slot ${await slotOf(carol, ids.Alice).getAttribute('data-slot')}: ${aliceHeard.samples.map((x) => `${x.peakHz} Hz ${x.rms}`).join(', ')} (${at()})`);
      await waitFor("the ring on Alice's tile (Carol)", () => speaking(carol, 'Alice'), (v) => v === 'true', { timeout: 10_000 });
      await waitFor("the ring off Bob's tile (Carol)", () => speaking(carol, 'Bob'), (v) => v === 'false', { timeout: 10_000 });
      await waitForSilence(slotOf(carol, ids.Bob), "Carol hears nothing on Bob's slot");
      await waitForTone(slotOf(bob, ids.Alice), 'Bob hears Alice on her slot');

      // No encryption: the server's word is all a page knows. Told that Alice's slot is Bob's
      // (a stale owner), Carol's page takes the ring off Alice's tile while her voice plays (and
      // puts none on Bob's: a tile never rings with its microphone off), the slot names Bob;
      // told the truth again, the ring is back on Alice's tile.
      const aliceMid = await slotOf(carol, ids.Alice).getAttribute('data-slot');
      assert.equal(await setSlotOwner(carol, aliceMid, ids.Bob), true, 'the hook took the stale owner');
      await waitFor("the ring off Alice's tile, her slot said to be Bob's (no E2EE)", () => speaking(carol, 'Alice'), (v) => v === 'false', { timeout: 5_000 });
      assert.equal(await carol.locator(`audio.slot-audio-track[data-slot="${aliceMid}"]`).getAttribute('data-participant-id'), ids.Bob, 'the slot names the claimed owner');
      await waitForTone(carol.locator(`audio.slot-audio-track[data-slot="${aliceMid}"]`), `Carol hears Alice on slot ${aliceMid} while her page thinks it is Bob's`);
      assert.equal(await speaking(carol, 'Alice'), 'false', "still no ring on Alice's tile");
      assert.equal(await speaking(carol, 'Bob'), 'false', "Bob's microphone is off: no ring on his tile");
      await setSlotOwner(carol, aliceMid, ids.Alice);
      await waitFor("the ring back on Alice's tile", () => speaking(carol, 'Alice'), (v) => v === 'true', { timeout: 5_000 });
      console.log(`no E2EE, stale owner of slot ${aliceMid}: the ring followed the claim (${at()})`);

      // Settings → Speaker: the slots play on the chosen output, like the tiles' audio.
      await toolbar(carol).getByRole('button', { name: 'Settings', exact: true }).click();
      const settings = carol.getByRole('dialog', { name: 'Settings' });
      await settings.waitFor({ state: 'visible' });
      // The devices are listed once the dialog has enumerated them (the microphones at least).
      const optionsOf = (combo) => combo.evaluate((sel) => [...sel.options].map((o) => o.textContent));
      await waitFor('Settings to list the microphones', () => optionsOf(settings.getByRole('combobox', { name: 'Microphone' })), (o) => o.length >= 1);
      const speaker = settings.getByRole('combobox', { name: 'Speaker' });
      const outputs = (await speaker.count()) && (await speaker.isVisible()) ? await optionsOf(speaker) : [];
      if (outputs.length > 1) {
        await speaker.selectOption({ label: outputs[1] });
        await settings.getByRole('status').filter({ hasText: 'Speaker changed' }).waitFor();
        const wanted = await speaker.inputValue();
        const sinks = await waitFor('every slot on the chosen speaker', () => carol.locator('audio.slot-audio-track').evaluateAll((els) => els.map((a) => a.sinkId)), (v) => v.length === SLOTS && v.every((x) => x === wanted));
        console.log(`speaker: ${outputs[1]}, the ${sinks.length} slots play on sinkId ${wanted.slice(0, 12)}…`);
        await waitForTone(slotOf(carol, ids.Alice), 'Carol still hears Alice on the chosen speaker');
      } else {
        console.log(`speaker: not exercised, outputs ${JSON.stringify(outputs)}`);
      }
      await closeDialog(carol, settings);

      // End-to-end encryption on (Alice is the moderator): the tone still arrives through the
      // slots, as decrypted frames.
      const security = await openSecurity(alice);
      await setSwitch(security, 'End-to-end encryption', true);
      await closeDialog(alice, security);
      for (const page of [alice, bob, carol]) {
        await waitFor('the indicator to say encrypted', () => page.locator('#e2ee-state').textContent(), (x) => x === 'End-to-end encrypted');
      }
      await sleep(1_000); // frames from before the switch are through
      const c0 = await stats(carol);
      await waitForTone(slotOf(carol, ids.Alice), 'Carol hears Alice through encrypted frames');
      const c1 = await waitFor('Carol decrypts Alice’s audio', () => stats(carol), (x) => x.decrypted - c0.decrypted >= 100);
      console.log(`E2EE, Alice speaking: Carol ${JSON.stringify(delta(c0, c1))} (${at()})`);
      assert.ok(c1.failed - c0.failed <= 5, `few frames fail to decrypt: ${JSON.stringify(delta(c0, c1))}`);

      // The speaker changes under encryption.
      const b0 = await stats(bob);
      const c2 = await stats(carol);
      await mic(alice).click();
      await mic(bob).click();
      await waitForTone(slotOf(carol, ids.Bob), 'Carol hears Bob through encrypted frames');
      await waitFor("the ring on Bob's tile again (Carol)", () => speaking(carol, 'Bob'), (v) => v === 'true', { timeout: 10_000 });
      await waitFor("the ring off Alice's tile (Carol)", () => speaking(carol, 'Alice'), (v) => v === 'false', { timeout: 10_000 });
      await waitForTone(slotOf(alice, ids.Bob), 'Alice hears Bob through encrypted frames');
      const c3 = await stats(carol);
      const b1 = await stats(bob);
      console.log(`E2EE, speaker change Alice -> Bob: Carol ${JSON.stringify(delta(c2, c3))}; Bob ${JSON.stringify(delta(b0, b1))} (${at()})`);
      assert.ok(c3.decrypted - c2.decrypted >= 50, 'Carol decrypted Bob’s frames');
      assert.ok(c3.failed - c2.failed <= 5, `few frames fail to decrypt on Carol's page: ${JSON.stringify(delta(c2, c3))}`);

      // A stale (or false) owner: Carol's page is told Bob's slot is Alice's (as a `slot`
      // message would, one that the media outran, or a server that misattributes). Bob's frames
      // still open, with his key after Alice's fails; since only Bob's key opens them, the slot
      // stays Bob's for the page: the ring stays on his tile, none on Alice's, the <audio> names
      // him, and after a second of this a console warning says the server's word is not the key's.
      const mid = await slotOf(carol, ids.Bob).getAttribute('data-slot');
      const slotAudio = carol.locator(`audio.slot-audio-track[data-slot="${mid}"]`);
      assert.equal(await setSlotOwner(carol, mid, ids.Alice), true, 'the hook took the stale owner');
      const c4 = await stats(carol);
      await waitForTone(slotAudio, `Carol hears Bob on slot ${mid} while the server's word is Alice's`);
      const c5 = await waitFor('frames opened by the fallback', () => stats(carol), (x) => x.slotFallback - c4.slotFallback >= 50);
      console.log(`E2EE, stale owner of slot ${mid}: Carol ${JSON.stringify(delta(c4, c5))} (${at()})`);
      assert.ok(c5.failed - c4.failed <= 5, `the fallback's frames are not counted failed: ${JSON.stringify(delta(c4, c5))}`);
      await holds(2_000, async () => {
        assert.equal(await speaking(carol, 'Bob'), 'true', "the ring stays on Bob's tile: his key opens the slot's frames");
        assert.equal(await speaking(carol, 'Alice'), 'false', "no ring on Alice's tile: the server's claim is not believed");
        assert.equal(await slotAudio.getAttribute('data-participant-id'), ids.Bob, 'the slot names Bob');
      });
      const carolLog = s.pages.find((p) => p.name === 'Carol').log;
      const warned = await waitFor(
        'a warning about the mismatch on Carol’s page',
        async () => carolLog.lines.filter((l) => /console\.warn/.test(l) && l.includes(`audio slot ${mid}:`)),
        (w) => w.length >= 1,
        { timeout: 5_000 },
      );
      assert.equal(warned.length, 1, `warned once: ${warned.join(' | ')}`);
      await setSlotOwner(carol, mid, ids.Bob);
      await holds(1_000, async () => assert.equal(await speaking(carol, 'Bob'), 'true', "the ring still on Bob's tile, the claim agreeing again"));
      console.log(`E2EE totals: Carol ${JSON.stringify(await stats(carol))}; Bob ${JSON.stringify(await stats(bob))}; Alice ${JSON.stringify(await stats(alice))}`);

      // Carol leaves: a room of two is small again. The next offer stops the slots and lists
      // the microphones in `tracks`; Bob is heard on his tile again, which rings.
      await carol.getByRole('button', { name: 'Leave meeting' }).click();
      for (const [name, page] of [['Alice', alice], ['Bob', bob]]) {
        const offer = await waitFor(`${name}'s last offer to have no slots and the microphones in tracks`, () => lastOffer(page), (o) => !!o && o.slots.length === 0 && o.microphones === 1);
        await waitFor(`${name}'s slot <audio> elements to go`, () => page.locator('audio.slot-audio-track').count(), (n) => n === 0);
        console.log(`${name} after Carol left: slots ${JSON.stringify(offer.slots)}, ${offer.tracks} tracks, ${offer.microphones} microphone; receiving audio on ${JSON.stringify(await audioReceivers(page))} (${at()})`);
      }
      await waitForTone(tile(alice, 'Bob'), 'Alice hears Bob on his tile again');
      await waitFor("the ring on Bob's tile from his own track (Alice)", () => speaking(alice, 'Bob'), (v) => v === 'true', { timeout: 10_000 });

      // No page error, no console error on any page.
      const problems = s.pages.flatMap(({ name, log }) => log.lines.filter((l) => /PAGE ERROR|console\.error/.test(l)).map((l) => `${name}: ${l}`));
      const warnings = s.pages.flatMap(({ name, log }) => log.lines.filter((l) => /console\.warn/.test(l)).map((l) => `${name}: ${l}`));
      if (warnings.length) console.log(`console warnings:\n${warnings.join('\n')}`);
      assert.deepEqual(problems, [], 'no page or console errors');
      console.log(`done in ${at()}`);
    },
    { env: { MOOT__MEDIA__SELECTIVE_AUDIO_AFTER: '2' } },
  );
});
