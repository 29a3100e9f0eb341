// Views and quality. Three people, all microphones off; Carol uses speaker view. When Bob turns
// his microphone on (every fake microphone plays the same tone, so only one may), the server
// names him dominant speaker and Carol's large tile becomes his, with the speaking indicator.
// Then Carol picks "Audio only" in Settings: her peer connection receives no more video bytes
// (getStats through the `?debug` hook); back to "High", video flows again.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { joinMeeting, randomRoom, sleep, tile, waitFor, waitForVideoFrames } from './lib/meeting.mjs';
import { closeDialog, toolbar } from './lib/moderation.mjs';

/**
 * Video received so far by the page's peer connection (all inbound video streams): packets
 * (media and padding) and payload bytes that were not retransmissions. Chromium adds a frame's
 * bytes to `bytesReceived` only when the frame is complete, which can be seconds after its
 * last packet arrived (a frame waiting for a retransmission).
 */
async function inboundVideo(page) {
  return page.evaluate(async () => {
    const pc = window.__mootDebug?.pc;
    if (!pc) return { packets: -1, bytes: -1 };
    let packets = 0;
    let bytes = 0;
    for (const r of (await pc.getStats()).values()) {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        packets += r.packetsReceived ?? 0;
        // Padding may be old packets sent again (RTX): not new video.
        bytes += (r.bytesReceived ?? 0) - (r.retransmittedBytesReceived ?? 0);
      }
    }
    return { packets, bytes };
  });
}

test('speaker view follows the dominant speaker; Audio only receives no video, High brings it back', { timeout: 150_000 }, async () => {
  await withScenario('views-quality', async (s) => {
    const room = randomRoom();
    const alice = await s.newPage('Alice');
    const bob = await s.newPage('Bob');
    const carol = await s.newPage('Carol');
    await joinMeeting(alice, s.server.url, room, 'Alice', { microphone: false });
    await joinMeeting(bob, s.server.url, room, 'Bob', { microphone: false });
    await joinMeeting(carol, s.server.url, `${room}?debug`, 'Carol', { microphone: false });
    await waitForVideoFrames(tile(carol, 'Alice'), 'Carol sees Alice');
    await waitForVideoFrames(tile(carol, 'Bob'), 'Carol sees Bob');

    // Speaker view: with nobody speaking, the first other person is large.
    const view = toolbar(carol).getByRole('button', { name: 'Speaker view', exact: true });
    await view.click();
    assert.equal(await view.getAttribute('aria-pressed'), 'true');
    await waitFor('Alice large before anyone speaks', () => tile(carol, 'Alice').getAttribute('data-featured'), (v) => v === 'true');

    // Bob speaks: the server names him, Carol's large tile is his.
    await toolbar(bob).getByRole('button', { name: 'Microphone', exact: true }).click();
    await waitFor('Bob to be the dominant speaker on Carol’s page', () => tile(carol, 'Bob').getAttribute('data-dominant'), (v) => v === 'true', { timeout: 15_000 });
    await waitFor('Bob large in speaker view', () => tile(carol, 'Bob').getAttribute('data-featured'), (v) => v === 'true');
    assert.equal(await tile(carol, 'Alice').getAttribute('data-featured'), 'false');
    const big = await tile(carol, 'Bob').boundingBox();
    const small = await tile(carol, 'Alice').boundingBox();
    assert.ok(big && small && big.height > 2 * small.height, `Bob's tile is the large one: ${JSON.stringify({ big, small })}`);
    await waitFor('the speaking indicator on Bob’s tile', () => tile(carol, 'Bob').getAttribute('data-speaking'), (v) => v === 'true');
    console.log(`speaker view: Bob ${Math.round(big.width)}x${Math.round(big.height)}, Alice ${Math.round(small.width)}x${Math.round(small.height)}`);

    // Quality: Audio only.
    await toolbar(carol).getByRole('button', { name: 'Settings', exact: true }).click();
    const settings = carol.getByRole('dialog', { name: 'Settings' });
    await settings.waitFor({ state: 'visible' });
    const quality = settings.getByRole('radiogroup', { name: 'Video quality' });
    assert.equal(await quality.getByRole('radio', { name: 'High', exact: true }).isChecked(), true, 'High is the default');
    await quality.getByRole('radio', { name: 'Audio only', exact: true }).check();
    await closeDialog(carol, settings);
    // What was in flight arrives, and frames that waited for a retransmission complete
    // (Chromium counts a frame's bytes only then, seconds after its last packet at worst).
    await sleep(4_000);
    const before = await inboundVideo(carol);
    await sleep(2_500);
    const after = await inboundVideo(carol);
    // Packets may still arrive: with bandwidth estimation on, str0m keeps padding the video
    // streams, partly with earlier packets sent again (docs/performance.md). New video must not.
    console.log(`audio only: inbound video packets ${before.packets} -> ${after.packets}, bytes ${before.bytes} -> ${after.bytes}`);
    assert.ok(before.bytes > 0, 'video was received before');
    assert.equal(after.bytes, before.bytes, 'no video bytes arrive with Audio only');

    // Back to High: video again.
    await toolbar(carol).getByRole('button', { name: 'Settings', exact: true }).click();
    await settings.getByRole('radio', { name: 'High', exact: true }).check();
    await closeDialog(carol, settings);
    await waitFor('video bytes to flow again with High', () => inboundVideo(carol), (v) => v.bytes > after.bytes + 20_000, { timeout: 15_000, interval: 500 });
    await waitForVideoFrames(tile(carol, 'Alice'), 'Carol sees Alice again');
  });
});
