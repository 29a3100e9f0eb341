// Someone who turns the camera off before joining is seen as an avatar and still heard.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { expectFullMedia, joinMeeting, randomRoom, sleep, tile, videoElementStats, waitForTone } from './lib/meeting.mjs';

test('camera off in pre-join: an avatar tile, audio still heard', { timeout: 150_000 }, async () => {
  await withScenario('audio-only', async (s) => {
    const room = randomRoom();
    const erin = await s.newPage('Erin');
    const dave = await s.newPage('Dave');
    await joinMeeting(erin, s.server.url, room, 'Erin');
    await joinMeeting(dave, s.server.url, room, 'Dave', { camera: false });

    // The toolbar's Camera toggle says off.
    const cam = dave.getByRole('toolbar', { name: 'Meeting controls' }).getByRole('button', { name: 'Camera', exact: true });
    assert.equal(await cam.getAttribute('aria-pressed'), 'false', "Dave's Camera toggle in the meeting is off");

    // Dave gets Erin in full.
    await expectFullMedia(dave, 'Erin', 'Dave');

    // Erin sees Dave's tile, hears him, and gets no video from him.
    const t = tile(erin, 'Dave');
    await t.waitFor({ state: 'visible' });
    const tone = await waitForTone(t, 'Erin hears Dave');
    console.log(`Erin <- Dave (camera off): tone ${JSON.stringify(tone.samples.at(-1))}`);
    const box = await t.boundingBox();
    assert.ok(box && box.width > 40 && box.height > 40, `Dave's tile has room for an avatar: ${JSON.stringify(box)}`);

    // Over two seconds, no visible video in Dave's tile shows a frame.
    const first = await videoFramesIn(t);
    await sleep(2_000);
    const second = await videoFramesIn(t);
    for (let i = 0; i < second.length; i++) {
      const v = second[i];
      if (!v.visible) continue;
      assert.ok(
        v.width === 0 && v.frames <= (first[i]?.frames ?? 0),
        `Dave's tile shows no video while his camera is off: ${JSON.stringify({ first, second })}`,
      );
    }
  });
});

/** Visibility and frame counts of every <video> in a tile. */
async function videoFramesIn(t) {
  const n = await t.locator('video').count();
  const out = [];
  for (let i = 0; i < n; i++) {
    const v = t.locator('video').nth(i);
    out.push({ visible: await v.isVisible(), ...(await videoElementStats(v)) });
  }
  return out;
}
