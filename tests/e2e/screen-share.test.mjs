// Screen share: Alice shares her (fake, 1280x720) screen; Bob sees a separate tile
// "Alice (screen)" at the real resolution, first in tile view and large in speaker view. Alice
// stops with the toggle: the tile goes. She shares again and stops from the browser's own
// "Stop sharing" (the track ends): the tile goes again and her toggle says off.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { joinMeeting, randomRoom, tile, waitFor, waitForVideoFrames } from './lib/meeting.mjs';
import { toolbar } from './lib/moderation.mjs';

test('screen share: a separate tile at its real resolution, stopped from the toggle and from the browser', { timeout: 120_000 }, async () => {
  await withScenario('screen-share', async (s) => {
    const room = randomRoom();
    const alice = await s.newPage('Alice');
    const bob = await s.newPage('Bob');
    await joinMeeting(alice, s.server.url, `${room}?debug`, 'Alice');
    await joinMeeting(bob, s.server.url, room, 'Bob');
    await tile(bob, 'Alice').waitFor({ state: 'visible' });

    const share = toolbar(alice).getByRole('button', { name: 'Share screen', exact: true });
    assert.equal(await share.getAttribute('aria-pressed'), 'false', 'Share screen starts off');
    await share.click();
    await waitFor('Share screen to be on', () => share.getAttribute('aria-pressed'), (v) => v === 'true');

    // Bob: a tile of its own, with the screen at its real size.
    const screenTile = tile(bob, 'Alice (screen)');
    await screenTile.waitFor({ state: 'visible' });
    await waitForVideoFrames(screenTile, 'Bob sees Alice’s screen');
    const size = await waitFor(
      'Alice’s screen at 1280x720 on Bob’s page',
      () => screenTile.locator('video').first().evaluate((v) => ({ w: v.videoWidth, h: v.videoHeight })),
      (d) => d.w === 1280 && d.h === 720,
      { timeout: 30_000, interval: 500 },
    );
    console.log(`Bob <- Alice's screen: ${size.w}x${size.h}`);
    // Alice's camera tile is still there with its own video.
    await waitForVideoFrames(tile(bob, 'Alice'), 'Bob still sees Alice’s camera');

    // Tile view: the screen share comes first.
    const firstTile = await bob.locator('.tile-grid [role="group"]').first().getAttribute('aria-label');
    assert.equal(firstTile, 'Alice (screen)', 'the screen share is the first tile in tile view');

    // Speaker view: the screen share is the large tile.
    const view = toolbar(bob).getByRole('button', { name: 'Speaker view', exact: true });
    assert.equal(await view.getAttribute('aria-pressed'), 'false', 'tile view is the default');
    await view.click();
    assert.equal(await view.getAttribute('aria-pressed'), 'true', 'Speaker view is on');
    await waitFor('the screen tile to be featured', () => screenTile.getAttribute('data-featured'), (v) => v === 'true');
    const big = await screenTile.boundingBox();
    const small = await tile(bob, 'Alice').boundingBox();
    assert.ok(big && small && big.height > 2 * small.height, `the screen tile is large in speaker view: ${JSON.stringify({ big, small })}`);
    await view.click(); // back to tile view
    assert.equal(await view.getAttribute('aria-pressed'), 'false');

    // Alice stops with the toggle: the tile goes from Bob's page.
    await share.click();
    await waitFor('Share screen to be off', () => share.getAttribute('aria-pressed'), (v) => v === 'false');
    await screenTile.waitFor({ state: 'detached' });

    // Again, stopped from the browser's own "Stop sharing" bar: the track ends.
    await share.click();
    await waitFor('Share screen to be on again', () => share.getAttribute('aria-pressed'), (v) => v === 'true');
    await screenTile.waitFor({ state: 'visible' });
    await alice.evaluate(() => {
      const track = window.__mootDebug.screenTrack;
      track.stop(); // what the browser does; it also fires 'ended', which stop() alone does not
      track.dispatchEvent(new Event('ended'));
    });
    await waitFor('Share screen to be off after the browser stopped it', () => share.getAttribute('aria-pressed'), (v) => v === 'false');
    await screenTile.waitFor({ state: 'detached' });
    await tile(bob, 'Alice').waitFor({ state: 'visible' });
  });
});
