// Three people meet: everyone sees and hears the two others, with the right picture and tone;
// one leaves and vanishes from the others' pages.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { expectFullMedia, joinMeeting, randomRoom, tile, waitFor, waitForSilence, waitForTone } from './lib/meeting.mjs';

test('three people meet, see and hear each other, and one leaves', { timeout: 180_000 }, async () => {
  await withScenario('three-people', async (s) => {
    const room = randomRoom();
    const names = ['Alice', 'Bob', 'Carol'];
    const pages = {};
    for (const name of names) {
      pages[name] = await s.newPage(name);
      await joinMeeting(pages[name], s.server.url, room, name);
    }

    // Each page: its own tile and one tile per other person, each with moving video showing
    // the quadrants and audio carrying the tone. Pages are checked one after another: three
    // pages checking at once make six decoders fight over two cores for no gain.
    for (const viewer of names) {
      const page = pages[viewer];
      await tile(page, `${viewer} (you)`).waitFor({ state: 'visible' });
      for (const other of names.filter((n) => n !== viewer)) {
        const got = await expectFullMedia(page, other, viewer);
        const last = got.tone.samples.at(-1);
        const rms = got.tone.samples.map((x) => x.rms).join(' ');
        console.log(
          `${viewer} <- ${other}: video ${got.frames.width}x${got.frames.height}, ` +
            `colours ${JSON.stringify(got.colours.colours)}, tone ${last.peakHz} Hz rms ${rms}`,
        );
      }
    }

    // Routing: everyone sends the same picture and tone, so check that each tile carries its
    // own person's media by silencing one of them. Bob turns his microphone off: his tile goes
    // silent for Alice and Carol while they still hear each other.
    const bobMic = pages.Bob.getByRole('toolbar', { name: 'Meeting controls' }).getByRole('button', { name: 'Microphone', exact: true });
    assert.equal(await bobMic.getAttribute('aria-pressed'), 'true', "Bob's Microphone toggle starts on");
    await bobMic.click();
    await waitFor("Bob's Microphone toggle to be off", () => bobMic.getAttribute('aria-pressed'), (v) => v === 'false');
    const silent = await waitForSilence(tile(pages.Alice, 'Bob'), 'Alice hears nothing from Bob');
    console.log(`Alice <- Bob, microphone off: ${JSON.stringify(silent)}`);
    await waitForSilence(tile(pages.Carol, 'Bob'), 'Carol hears nothing from Bob');
    await waitForTone(tile(pages.Alice, 'Carol'), 'Alice still hears Carol');
    await waitForTone(tile(pages.Carol, 'Alice'), 'Carol still hears Alice');
    await bobMic.click();
    await waitForTone(tile(pages.Alice, 'Bob'), 'Alice hears Bob again');

    // Carol leaves.
    const carol = pages.Carol;
    await carol.getByRole('button', { name: 'Leave meeting' }).click();
    await carol.getByText('You left the meeting').waitFor({ state: 'visible' });
    await carol.getByRole('button', { name: 'Rejoin' }).waitFor({ state: 'visible' });
    assert.equal(await carol.getByRole('toolbar', { name: 'Meeting controls' }).count(), 0, 'the meeting toolbar is gone after leaving');

    for (const viewer of ['Alice', 'Bob']) {
      await tile(pages[viewer], 'Carol').waitFor({ state: 'hidden', timeout: 10_000 }).catch((e) => {
        throw new Error(`Carol's tile still on ${viewer}'s page 10 s after she left: ${e.message.split('\n')[0]}`);
      });
      // The one who stays still sees the other.
      await tile(pages[viewer], viewer === 'Alice' ? 'Bob' : 'Alice').waitFor({ state: 'visible' });
    }
  });
});
