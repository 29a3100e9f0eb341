// Opus DTX: the server asks browsers for it (`usedtx=1` in its SDP, `media.opus_dtx`, on by
// default), so a muted microphone sends a packet every 400 ms or so instead of 50 a second, and
// unmuting brings the sound back at once. With `media.opus_dtx = false` a muted microphone
// keeps sending 50 packets a second: the difference is the server's doing, not Chromium's.
// With end-to-end encryption the same holds (the frame transform passes DTX's empty frames on
// unsealed, so they stay unsent), and nothing fails to decrypt.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { joinMeeting, randomRoom, sleep, tile, waitFor, waitForTone } from './lib/meeting.mjs';
import { toolbar } from './lib/moderation.mjs';
import { recordPeerConnections } from './lib/peerstats.mjs';

/** In the page: audio packets sent so far (outbound-rtp, every connection). */
async function audioPacketsSent() {
  let sent = 0;
  for (const pc of window.__mootPcs) {
    const stats = await pc.getStats();
    stats.forEach((r) => {
      if (r.type === 'outbound-rtp' && r.kind === 'audio') sent += r.packetsSent ?? 0;
    });
  }
  return sent;
}

/** Audio packets a second the page sends, over `ms`. */
async function audioPacketRate(page, ms) {
  const before = await page.evaluate(audioPacketsSent);
  await sleep(ms);
  const after = await page.evaluate(audioPacketsSent);
  return ((after - before) * 1000) / ms;
}

for (const dtx of [true, false]) {
  test(`opus_dtx = ${dtx}: a muted microphone sends ${dtx ? 'a few packets' : '50 packets'} a second`, { timeout: 120_000 }, async () => {
    await withScenario(`opus-dtx-${dtx}`, async (s) => {
      const room = randomRoom();
      const ann = await s.newPage('Ann');
      const bob = await s.newPage('Bob');
      await ann.addInitScript(recordPeerConnections);
      await joinMeeting(ann, s.server.url, room, 'Ann');
      await joinMeeting(bob, s.server.url, room, 'Bob');
      await waitForTone(tile(bob, 'Ann'), 'Bob hears Ann');

      // The fake microphone plays a steady tone: never silence, so DTX sends it all.
      const speaking = await audioPacketRate(ann, 2_000);
      assert.ok(speaking >= 40, `Ann's tone goes out at 50 packets a second: ${speaking}/s`);

      const mic = toolbar(ann).getByRole('button', { name: 'Microphone', exact: true });
      await mic.click();
      await waitFor("Ann's Microphone toggle to say off", () => mic.getAttribute('aria-pressed'), (p) => p === 'false');
      await sleep(1_000); // the encoder's hangover before it stops sending silence
      const muted = await audioPacketRate(ann, 3_000);
      console.log(`opus_dtx = ${dtx}: speaking ${speaking.toFixed(1)}/s, muted ${muted.toFixed(1)}/s`);
      if (dtx) assert.ok(muted <= 10, `muted with DTX: a packet every few hundred ms, not ${muted}/s`);
      else assert.ok(muted >= 40, `muted without DTX: silence still sent at 50/s, not ${muted}/s`);

      await mic.click();
      await waitFor("Ann's Microphone toggle to say on", () => mic.getAttribute('aria-pressed'), (p) => p === 'true');
      await waitForTone(tile(bob, 'Ann'), 'Bob hears Ann again after she unmutes');
      const again = await audioPacketRate(ann, 2_000);
      assert.ok(again >= 40, `unmuted, Ann's tone goes out at 50 packets a second again: ${again}/s`);
    }, { env: { MOOT__MEDIA__OPUS_DTX: String(dtx) } });
  });
}

test('with E2EE, a muted microphone still sends a few packets a second and every frame decrypts', { timeout: 120_000 }, async () => {
  await withScenario('opus-dtx-e2ee', async (s) => {
    const room = randomRoom();
    const ann = await s.newPage('Ann');
    const bob = await s.newPage('Bob');
    await ann.addInitScript(recordPeerConnections);
    await joinMeeting(ann, s.server.url, `${room}?debug`, 'Ann');
    await joinMeeting(bob, s.server.url, `${room}?debug`, 'Bob');
    for (const p of [ann, bob]) {
      await waitFor('the indicator to say encrypted', () => p.locator('#e2ee-state').textContent(), (t) => t === 'End-to-end encrypted');
    }
    await waitForTone(tile(bob, 'Ann'), 'Bob hears Ann, encrypted');
    const stats = () => bob.evaluate(() => window.__mootDebug.e2ee.stats);
    // A frame may beat its key to a newcomer: counted from here.
    const settled = await stats();

    const mic = toolbar(ann).getByRole('button', { name: 'Microphone', exact: true });
    await mic.click();
    await waitFor("Ann's Microphone toggle to say off", () => mic.getAttribute('aria-pressed'), (p) => p === 'false');
    await sleep(1_000);
    const before = await stats();
    const muted = await audioPacketRate(ann, 3_000);
    const after = await stats();
    console.log(`E2EE: muted ${muted.toFixed(1)}/s; Bob ${JSON.stringify(after)}`);
    assert.ok(muted <= 10, `muted with DTX and E2EE: a packet every few hundred ms, not ${muted}/s`);
    assert.equal(after.failed - before.failed, 0, 'no frame failed to decrypt while muted');
    assert.equal(after.noKey - before.noKey, 0, 'no frame came with an unknown key while muted');

    await mic.click();
    await waitForTone(tile(bob, 'Ann'), 'Bob hears Ann again after she unmutes, encrypted');
    const end = await stats();
    assert.equal(end.failed - settled.failed, 0, `no frame failed to decrypt through mute and unmute: ${JSON.stringify(end)}`);
    assert.ok(end.decrypted > after.decrypted, 'the sound after unmuting decrypted');
    // Encrypted from the start (rooms.e2ee_by_default): switching it on mid-meeting is
    // e2ee.test.mjs's subject.
  }, { env: { MOOT__ROOMS__E2EE_BY_DEFAULT: 'true' } });
});
