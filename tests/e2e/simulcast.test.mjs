// Simulcast adaptation in real browsers. Alice's fake camera is 1280x720, so Chromium sends it
// in three layers (q 320x180, h 640x360, f 1280x720). Bob, in speaker view, shows Alice large
// and receives the full-size layer; when his window becomes small and he switches to tile view
// (so her tile is small), his page
// reports the small tile (`view_sizes`) and receives the 180-line layer instead; nobody needs
// the top layer any more, so the server tells Alice's page to pause it (`layers`) and her
// browser stops encoding it (getStats: that encoding is no longer active). When Bob's window
// is large again (speaker view), the layer resumes and Bob gets 720 lines again.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchBrowser, withScenario } from './lib/browser.mjs';
import { ensureHdVideo } from './lib/media.mjs';
import { joinMeeting, randomRoom, tile, waitFor, waitForVideoFrames } from './lib/meeting.mjs';
import { toolbar } from './lib/moderation.mjs';

/** Alice's camera encodings as getStats reports them: rid → {active, height}. */
async function outboundLayers(page) {
  return page.evaluate(async () => {
    const pc = window.__mootDebug?.pc;
    /** @type {Record<string, {active: boolean, height: number, frames: number}>} */
    const layers = {};
    if (!pc) return layers;
    for (const r of (await pc.getStats()).values()) {
      if (r.type !== 'outbound-rtp' || r.kind !== 'video' || !r.rid) continue;
      layers[r.rid] = { active: r.active !== false, height: r.frameHeight ?? 0, frames: r.framesEncoded ?? 0 };
    }
    return layers;
  });
}

/** The frame height of the video Bob receives now (the busiest inbound video stream). */
async function inboundHeight(page) {
  return page.evaluate(async () => {
    const pc = window.__mootDebug?.pc;
    if (!pc) return -1;
    let best = { bytes: -1, height: 0 };
    for (const r of (await pc.getStats()).values()) {
      if (r.type === 'inbound-rtp' && r.kind === 'video' && (r.bytesReceived ?? 0) > best.bytes) {
        best = { bytes: r.bytesReceived ?? 0, height: r.frameHeight ?? 0 };
      }
    }
    return best.height;
  });
}

test('a large tile gets the top layer, a small one the bottom layer, and the unneeded layer pauses at the sender', { timeout: 180_000 }, async () => {
  await withScenario('simulcast', async (s) => {
    s.browser = await launchBrowser({ video: ensureHdVideo() });
    const room = randomRoom();
    const bob = await s.newPage('Bob');
    const alice = await s.newPage('Alice');
    await joinMeeting(bob, s.server.url, `${room}?debug`, 'Bob', { camera: false, microphone: false });
    // Speaker view: the other person is the large tile.
    const view = toolbar(bob).getByRole('button', { name: 'Speaker view', exact: true });
    await view.click();
    assert.equal(await view.getAttribute('aria-pressed'), 'true');
    await joinMeeting(alice, s.server.url, `${room}?debug`, 'Alice', { microphone: false });
    await waitForVideoFrames(tile(bob, 'Alice'), 'Bob sees Alice');
    await waitFor('Alice large on Bob’s page', () => tile(bob, 'Alice').getAttribute('data-featured'), (v) => v === 'true');

    // Three layers leave Alice's browser, all encoding.
    const all = await waitFor(
      'three active camera layers q/h/f at Alice',
      () => outboundLayers(alice),
      (l) => ['q', 'h', 'f'].every((rid) => l[rid]?.active && l[rid].frames > 0),
      { timeout: 20_000, interval: 500 },
    );
    console.log(`Alice sends: ${JSON.stringify(all)}`);
    assert.ok(all.f.height >= 700, `the top layer is full size: ${JSON.stringify(all)}`);
    assert.ok(all.q.height <= 200, `the bottom layer is a quarter: ${JSON.stringify(all)}`);

    // Bob's large tile gets the full-size layer (once the bandwidth estimate has grown).
    const large = await tile(bob, 'Alice').boundingBox();
    await waitFor('Bob to receive the 720-line layer', () => inboundHeight(bob), (h) => h >= 700, { timeout: 40_000, interval: 500 });
    console.log(`large tile ${Math.round(large?.width ?? 0)}x${Math.round(large?.height ?? 0)}: Bob receives 720 lines`);

    // Bob's window shrinks and he goes back to tile view: Alice's tile is small, the layer
    // follows.
    await bob.setViewportSize({ width: 480, height: 270 });
    await view.click();
    assert.equal(await view.getAttribute('aria-pressed'), 'false');
    await waitFor('Bob to receive the 180-line layer', () => inboundHeight(bob), (h) => h > 0 && h <= 200, { timeout: 20_000, interval: 500 });
    const small = await tile(bob, 'Alice').boundingBox();
    console.log(`small tile ${Math.round(small?.width ?? 0)}x${Math.round(small?.height ?? 0)}: Bob receives ${await inboundHeight(bob)} lines`);

    // Nobody needs the top layer now: Alice's browser is told to stop encoding it.
    const paused = await waitFor(
      'the top layer paused at Alice',
      () => outboundLayers(alice),
      (l) => l.f && !l.f.active && l.q?.active,
      { timeout: 20_000, interval: 500 },
    );
    console.log(`Alice sends after the tile shrank: ${JSON.stringify(paused)}`);
    const framesThen = paused.f.frames;
    await new Promise((r) => setTimeout(r, 2_000));
    const later = await outboundLayers(alice);
    assert.ok(later.f.frames - framesThen <= 2, `a paused layer encodes no frames: ${framesThen} -> ${later.f.frames}`);

    // Large again: the layer resumes and Bob gets the full size back.
    await bob.setViewportSize({ width: 1280, height: 720 });
    await view.click();
    await waitFor('the top layer active again at Alice', () => outboundLayers(alice), (l) => l.f?.active, { timeout: 20_000, interval: 500 });
    await waitFor('Bob to receive 720 lines again', () => inboundHeight(bob), (h) => h >= 700, { timeout: 40_000, interval: 500 });
  });
});

// A newcomer to a large room (`media.loss_based_estimation_after`, here 1 so that Bob, the
// second, is one) is estimated from the loss and round-trip reports that str0m keeps from
// Chromium's transport-wide feedback, without str0m's delay-based estimator and pacer. His
// estimate starts at 150 kbit/s, too little for more than the 180-line layer, and has to grow
// from Chromium's reports of nothing lost before he gets 720 lines.
test('a newcomer to a large room climbs to the top layer on the loss-based estimate', { timeout: 120_000 }, async () => {
  await withScenario(
    'simulcast-loss-based',
    async (s) => {
      s.browser = await launchBrowser({ video: ensureHdVideo() });
      const room = randomRoom();
      const alice = await s.newPage('Alice');
      const bob = await s.newPage('Bob');
      await joinMeeting(alice, s.server.url, `${room}?debug`, 'Alice', { microphone: false });
      await joinMeeting(bob, s.server.url, `${room}?debug`, 'Bob', { camera: false, microphone: false });
      await toolbar(bob).getByRole('button', { name: 'Speaker view', exact: true }).click();
      await waitForVideoFrames(tile(bob, 'Alice'), 'Bob sees Alice');
      await waitFor('Bob to receive the 720-line layer', () => inboundHeight(bob), (h) => h >= 700, { timeout: 40_000, interval: 500 });
      // The reports that drove it: Chromium's feedback arrived (a loss figure, not None) and
      // the estimate grew from its start (without feedback it would stay at 150 kbit/s, or
      // after 3 s have no figure at all). How far it grew by the time 720 lines arrive
      // depends on how fast Chromium's own encoder ramps up: 298k to 457k in 8 runs here.
      const reports = s.server
        .output()
        .replace(/\x1b\[[0-9;]*m/g, '')
        .split('\n')
        .map((line) => line.match(/loss-based estimate .*loss: Some\([\d.e-]+\).*estimate=Some\((\d+)\)/))
        .filter(Boolean)
        .map((m) => Number(m[1]));
      assert.ok(reports.length > 0, 'loss-based reports with Chromium feedback in the server log');
      assert.ok(Math.max(...reports) > 150_000, `the estimate grew from 150 kbit/s: ${reports.join(', ')}`);
      console.log(`Bob's loss-based estimate, once a second: ${reports.join(', ')}`);
    },
    {
      env: {
        MOOT__MEDIA__LOSS_BASED_ESTIMATION_AFTER: '1',
        MOOT__MEDIA__INITIAL_BANDWIDTH_KBPS: '150',
        MOOT_LOG: 'warn,moot_sfu::sfu::adaptation=trace',
      },
    },
  );
});
