// End-to-end encryption across a resumed reconnection (docs/e2ee.md, "Reconnection"). Ana's
// signaling socket drops (the `?debug` hook) and her page is kept offline, so she stays away
// (the server's 10 s resume grace) while Cara joins and Ben leaves; then she comes back with
// her resume token. The rules of docs/e2ee.md ("Keys") must hold on that path as on the live
// one: Ana gets Cara's key (sent while she was away) and decodes her picture, and Ana's key has
// moved to a new generation, so Ben's copy of Ana's old key opens none of her new frames.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { expectFullMedia, joinMeeting, randomRoom, tile, waitFor, waitForQuadrants } from './lib/meeting.mjs';
import { canDecryptWith, fromBase64 } from '../../web/assets/js/e2ee.js';

const indicator = (page) => page.locator('#e2ee-state');

/** The video frames a page received from `owner` before decryption, as base64. */
async function receivedFrom(page, owner) {
  return page.evaluate((id) => {
    const list = window.__mootDebug?.captured?.['received-wire'] ?? [];
    const b64 = (bytes) => {
      let text = '';
      for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
      return btoa(text);
    };
    return list.filter((f) => f.owner === id).map((f) => b64(f.bytes));
  }, owner);
}

/**
 * Runs a check and returns its failure message instead of throwing, so that the test reports
 * every broken rule at once.
 * @param {string[]} failures
 * @param {() => Promise<unknown>} check
 */
async function soft(failures, check) {
  try {
    await check();
  } catch (err) {
    failures.push(err instanceof Error ? err.message : String(err));
  }
}

test('E2EE: a member who resumes after someone joined and someone left gets the newcomer’s key and rekeys', { timeout: 180_000 }, async () => {
  await withScenario('e2ee-resume', async (s) => {
    const room = randomRoom();
    const ana = await s.newPage('Ana');
    const ben = await s.newPage('Ben');
    const cara = await s.newPage('Cara');
    await joinMeeting(ana, s.server.url, `${room}?debug`, 'Ana');
    await joinMeeting(ben, s.server.url, `${room}?debug`, 'Ben');
    for (const p of [ana, ben]) {
      await waitFor('the indicator to say encrypted', () => indicator(p).textContent(), (t) => t === 'End-to-end encrypted');
    }
    await expectFullMedia(ben, 'Ana', 'Ben');
    await waitForQuadrants(tile(ana, 'Ben'), 'Ana sees Ben');
    const anaId = await tile(ben, 'Ana').getAttribute('data-participant-id');
    // Cara waits on the pre-join page, so that joining while Ana is away takes one click.
    await cara.goto(`${s.server.url}${room}?debug`);
    await cara.getByRole('textbox', { name: 'Your name' }).fill('Cara');

    // What Ben holds of Ana's key, and Ana's key generation, before she drops.
    const bensCopy = await ben.evaluate((id) => window.__mootDebug.e2ee.exportPeerKeys(id), anaId);
    assert.ok(bensCopy.length > 0, "Ben holds Ana's key");
    const genBefore = await ana.evaluate(() => window.__mootDebug.e2ee.gen);

    // Ana's socket drops and her page stays offline: every reconnection try fails.
    await ana.context().setOffline(true);
    await ana.evaluate(() => window.__mootDebug.dropSocket());
    const reconnecting = ana.getByRole('status').filter({ hasText: 'Reconnecting' });
    await reconnecting.waitFor({ state: 'visible', timeout: 5_000 });

    // Meanwhile Cara joins and Ben leaves.
    await cara.getByRole('button', { name: 'Join meeting' }).click();
    await cara.getByRole('toolbar', { name: 'Meeting controls' }).waitFor({ state: 'visible' });
    await tile(cara, 'Ben').waitFor({ state: 'visible' });
    await ben.getByRole('toolbar', { name: 'Meeting controls' }).getByRole('button', { name: 'Leave meeting', exact: true }).click();
    await ben.getByText('You left the meeting').waitFor({ state: 'visible' });
    await tile(cara, 'Ben').waitFor({ state: 'detached' });
    await tile(cara, 'Ana').waitFor({ state: 'visible' });
    assert.ok(await reconnecting.isVisible(), 'Ana was still away while Cara joined and Ben left');

    // Ana comes back: resumed, not a new participant.
    await ana.context().setOffline(false);
    await reconnecting.waitFor({ state: 'hidden', timeout: 15_000 });
    assert.equal(await ana.getByRole('button', { name: 'Rejoin' }).count(), 0, 'Ana resumed (no Rejoin)');
    await tile(ana, 'Cara').waitFor({ state: 'visible' });
    await tile(ana, 'Ben').waitFor({ state: 'detached' });
    assert.equal(await tile(cara, 'Ana').getAttribute('data-participant-id'), anaId, 'Ana kept her participant id');

    /** @type {string[]} */
    const failures = [];
    // Cara's key was sent to Ana while she was away: Ana must have it and decode Cara.
    await soft(failures, () => waitForQuadrants(tile(ana, 'Cara'), 'Ana sees Cara after resuming'));
    // Ben left while Ana was away: Ana's key must be a new generation.
    await soft(failures, () => waitFor("Ana's key generation to move on", () => ana.evaluate(() => window.__mootDebug.e2ee.gen), (g) => g > genBefore, { timeout: 10_000 }));
    // And Ben's copy opens none of what Ana sends now (Cara receives it, and can open it).
    await soft(failures, () => waitForQuadrants(tile(cara, 'Ana'), 'Cara sees Ana after she resumed'));
    await soft(failures, async () => {
      const frames = await waitFor('frames from Ana at Cara', () => receivedFrom(cara, anaId), (l) => l.length >= 10);
      let opened = 0;
      for (const b64 of frames.slice(-10)) if (await canDecryptWith(bensCopy, 'video', fromBase64(b64))) opened += 1;
      assert.equal(opened, 0, `Ben's copy of Ana's old key opens ${opened} of the last 10 frames Ana sent after resuming`);
    });
    assert.deepEqual(failures, [], 'the E2EE rules hold across a resumed reconnection');
  }, { env: { MOOT__ROOMS__E2EE_BY_DEFAULT: 'true' } });
});
