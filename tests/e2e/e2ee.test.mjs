// End-to-end encryption in real Chromium (docs/e2ee.md): the switch in Security, the
// indicator, picture and tone through encrypted frames, a client that cannot encrypt is
// refused, the bytes that cross the server are not the frames (and are with E2EE off), the
// verification codes match and can be confirmed, a removed participant's copy of the old key
// opens nothing sent after the removal, and a wrong key shows no picture.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { expectFullMedia, joinMeeting, randomRoom, sleep, tile, videoElementStats, waitFor, waitForQuadrants } from './lib/meeting.mjs';
import { openParticipants, openSecurity, closeDialog, setSwitch } from './lib/moderation.mjs';
import { RawClient, wsUrl } from './lib/rawws.mjs';
import { canDecryptWith, fromBase64 } from '../../web/assets/js/e2ee.js';
import { clearBytes } from '../../web/assets/js/sframe.js';

/** The frames a page's encryption layer saw at `where`, as base64, with their owner. */
async function captured(page, where) {
  return page.evaluate((w) => {
    const list = window.__mootDebug?.captured?.[w] ?? [];
    const b64 = (bytes) => {
      let text = '';
      for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
      return btoa(text);
    };
    return list.map((f) => ({ owner: f.owner, b64: b64(f.bytes) }));
  }, where);
}

const indicator = (page) => page.locator('#e2ee-state');

/** A window of plaintext past the clear prefix, to look for in what crossed the server. */
function plainWindow(bytes) {
  const from = clearBytes('video', bytes);
  return Buffer.from(bytes.subarray(from, from + 24));
}

test('E2EE: encrypted picture and tone, refusal, server blindness, codes, rekey on removal, wrong key', { timeout: 180_000 }, async () => {
  await withScenario('e2ee', async (s) => {
    const room = randomRoom();
    const ana = await s.newPage('Ana');
    const ben = await s.newPage('Ben');
    await joinMeeting(ana, s.server.url, `${room}?debug`, 'Ana');
    await joinMeeting(ben, s.server.url, `${room}?debug`, 'Ben');
    assert.equal(await indicator(ana).textContent(), 'Not end-to-end encrypted');
    await expectFullMedia(ben, 'Ana', 'Ben');
    const anaId = await tile(ben, 'Ana').getAttribute('data-participant-id');

    // With E2EE off, the server forwards the very frames Ana's encoder made.
    const plainOff = new Set((await captured(ana, 'sent-plain')).map((f) => f.b64));
    const wireOff = (await captured(ben, 'received-wire')).filter((f) => f.owner === anaId);
    assert.ok(wireOff.length > 5, 'Ben captured frames from Ana');
    assert.ok(wireOff.some((f) => plainOff.has(f.b64)), 'unencrypted: received bytes are the sent frames');

    // Ana (moderator) turns it on; it then cannot be turned off.
    const security = await openSecurity(ana);
    await setSwitch(security, 'End-to-end encryption', true);
    assert.equal(await security.getByRole('switch', { name: 'End-to-end encryption', exact: true }).isDisabled(), true, 'once on, it stays on');
    await closeDialog(ana, security);
    for (const p of [ana, ben]) {
      await waitFor('the indicator to say encrypted', () => indicator(p).textContent(), (t) => t === 'End-to-end encrypted');
    }

    // A client that cannot encrypt is refused.
    const raw = new RawClient(wsUrl(s.server.url), 'no-e2ee');
    await raw.open();
    raw.send({ type: 'hello', version: 1, room, name: 'Plain' });
    const refusal = await raw.nextError('hello without e2ee');
    assert.equal(refusal.code, 'e2ee_unsupported');
    assert.equal(refusal.fatal, true);
    assert.ok(await raw.waitClosed(), 'the server closes the connection');

    // Picture and tone both ways, through encrypted frames.
    await sleep(1_500); // frames from before the switch are gone from the captures
    await expectFullMedia(ben, 'Ana', 'Ben');
    await expectFullMedia(ana, 'Ben', 'Ana');

    // Server blindness: what reached Ben through the server is not what Ana's encoder made,
    // holds no run of it past the clear prefix, and is exactly what Ana's encryptor produced.
    const sentPlain = (await captured(ana, 'sent-plain')).map((f) => fromBase64(f.b64));
    const sentWire = new Set((await captured(ana, 'sent-wire')).map((f) => f.b64));
    const received = (await captured(ben, 'received-wire')).filter((f) => f.owner === anaId);
    const opened = new Set((await captured(ben, 'received-plain')).filter((f) => f.owner === anaId).map((f) => f.b64));
    assert.ok(received.length > 10 && sentPlain.length > 10, 'frames were captured');
    const plainSet = new Set(sentPlain.map((b) => Buffer.from(b).toString('base64')));
    const windows = sentPlain.map(plainWindow).filter((w) => w.length === 24);
    for (const f of received) {
      assert.ok(!plainSet.has(f.b64), 'no received frame equals a plaintext frame');
      const bytes = Buffer.from(fromBase64(f.b64));
      for (const w of windows) assert.equal(bytes.indexOf(w), -1, 'no plaintext run past the clear prefix');
    }
    // The captures keep the last 60 frames each: Ana's holds every simulcast layer she sends
    // (up to three, so ~20 frames of the one Ben receives), Ben's only that layer; they
    // overlap by a few dozen frames at most. Any exact match of an encrypted frame is proof.
    const unchanged = received.filter((f) => sentWire.has(f.b64)).length;
    console.log(`server blindness: ${unchanged} of ${received.length} received frames are byte-for-byte Ana's encrypted frames`);
    assert.ok(unchanged >= 5, `the server passed the encrypted frames on unchanged: ${unchanged} of ${received.length} received frames are Ana's encryptor's output`);
    assert.ok([...opened].some((b) => plainSet.has(b)), "Ben's decryption gives back Ana's frames");

    // Verification codes: the same on both sides; both confirm → verified.
    await openParticipants(ana);
    await openParticipants(ben);
    const codeOf = (page, name) => page.getByRole('listitem', { name }).locator('.verify-code');
    const aCode = await waitFor('a code for Ben', () => codeOf(ana, 'Ben').textContent(), (t) => /\d{5} \d{5} \d{5} \d{5}/.test(t ?? ''));
    const bCode = await waitFor('a code for Ana', () => codeOf(ben, 'Ana').textContent(), (t) => /\d{5} \d{5} \d{5} \d{5}/.test(t ?? ''));
    assert.equal(aCode, bCode, 'both see the same verification code');
    await ana.getByRole('button', { name: 'Mark Ben as verified', exact: true }).click();
    await ben.getByRole('button', { name: 'Mark Ana as verified', exact: true }).click();
    for (const [p, other] of [[ana, 'Ben'], [ben, 'Ana']]) {
      await waitFor(`${other} verified`, () => p.getByRole('listitem', { name: other }).getAttribute('data-verified'), (v) => v === 'true');
    }

    // Rekey on removal: Cara joins, keeps her copy of Ana's key, is removed.
    const cara = await s.newPage('Cara');
    await joinMeeting(cara, s.server.url, `${room}?debug`, 'Cara');
    await waitForQuadrants(tile(cara, 'Ana'), 'Cara sees Ana');
    const stolen = await cara.evaluate((id) => window.__mootDebug.e2ee.exportPeerKeys(id), anaId);
    assert.ok(stolen.length > 0, "Cara holds Ana's key");
    const before = (await captured(ben, 'received-wire')).filter((f) => f.owner === anaId).slice(-5);
    assert.ok((await Promise.all(before.map((f) => canDecryptWith(stolen, 'video', fromBase64(f.b64))))).some(Boolean), "Cara's key opens frames from while she was there");
    const genBefore = await ana.evaluate(() => window.__mootDebug.e2ee.gen);
    await ana.getByRole('button', { name: 'Remove Cara', exact: true }).click();
    await ana.getByRole('dialog', { name: 'Remove Cara?' }).getByRole('button', { name: 'Remove', exact: true }).click();
    await waitFor("Ana's new key", () => ana.evaluate(() => window.__mootDebug.e2ee.gen), (g) => g > genBefore);
    await sleep(1_500);
    await waitForQuadrants(tile(ben, 'Ana'), 'Ben still sees Ana after the new key');
    const after = (await captured(ben, 'received-wire')).filter((f) => f.owner === anaId).slice(-10);
    assert.ok(after.length >= 5, 'frames after the removal');
    for (const f of after) {
      assert.equal(await canDecryptWith(stolen, 'video', fromBase64(f.b64)), false, "Cara's old key opens nothing sent after her removal");
    }

    // A wrong key: Ben's copy of Ana's key is replaced by random bytes → no more picture.
    await ben.evaluate((id) => window.__mootDebug.e2ee.corruptPeerKeys(id), anaId);
    await sleep(1_000);
    const v = tile(ben, 'Ana').locator('video').first();
    const f1 = (await videoElementStats(v)).frames;
    await sleep(2_500);
    const f2 = (await videoElementStats(v)).frames;
    assert.ok(f2 - f1 <= 2, `with a wrong key no frame is shown (decoded ${f1} → ${f2})`);
    const stats = await ben.evaluate(() => ({ ...window.__mootDebug.e2ee.stats }));
    assert.ok(stats.failed > 0, `decryption failed: ${JSON.stringify(stats)}`);
    raw.close();
  });
});
