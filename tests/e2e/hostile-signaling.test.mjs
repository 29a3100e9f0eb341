// A hostile client speaking the signaling protocol by hand gets the documented errors
// (docs/protocol.md, "Errors") and harms nobody: the browser participants keep their media.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { joinMeeting, randomRoom, tile, waitForQuadrants, waitForVideoFrames } from './lib/meeting.mjs';
import { RawClient, wsUrl } from './lib/rawws.mjs';

/** Sends `data` and expects an `error` with `code` and `fatal`; a fatal one must close. */
async function expectError(client, what, data, code, fatal) {
  client.send(data);
  const e = await client.nextError(what);
  assert.equal(e.code, code, `${what}: error code (got ${JSON.stringify(e)})`);
  assert.equal(e.fatal, fatal, `${what}: fatal flag (got ${JSON.stringify(e)})`);
  assert.equal(typeof e.message, 'string', `${what}: has a message`);
  assert.ok(e.message.length > 0, `${what}: message is not empty`);
  if (fatal) {
    const closed = await client.waitClosed(5_000);
    assert.ok(closed, `${what}: the server closes the connection after a fatal error`);
  } else {
    assert.equal(client.closed, null, `${what}: a non-fatal error leaves the connection open`);
  }
  return e;
}

test('hostile signaling gets documented errors and harms no one', { timeout: 180_000 }, async () => {
  await withScenario('hostile-signaling', async (s) => {
    const room = randomRoom();
    const alice = await s.newPage('Alice');
    const bob = await s.newPage('Bob');
    await joinMeeting(alice, s.server.url, room, 'Alice');
    await joinMeeting(bob, s.server.url, room, 'Bob');
    await waitForVideoFrames(tile(alice, 'Bob'), 'Alice sees Bob (before)');
    await waitForVideoFrames(tile(bob, 'Alice'), 'Bob sees Alice (before)');

    // A well-formed answer SDP from a real browser, so that where only the *order* is wrong,
    // nothing else is.
    const realAnswer = await alice.evaluate(async () => {
      const a = new RTCPeerConnection();
      const b = new RTCPeerConnection();
      a.addTransceiver('audio', { direction: 'sendonly' });
      a.addTransceiver('video', { direction: 'sendonly' });
      await a.setLocalDescription();
      await b.setRemoteDescription(/** @type {RTCSessionDescription} */ (a.localDescription));
      await b.setLocalDescription();
      const sdp = /** @type {RTCSessionDescription} */ (b.localDescription).sdp;
      a.close();
      b.close();
      return sdp;
    });

    const url = wsUrl(s.server.url);
    const clients = [];
    const client = async (label) => {
      const c = new RawClient(url, label);
      clients.push(c);
      s.cleanups.push(async () => c.close());
      await c.open();
      return c;
    };

    // Before hello: anything but hello is out of order, and fatal.
    const early = await client('early answer');
    await expectError(early, 'an answer before hello', { type: 'answer', sdp: realAnswer }, 'out_of_order', true);

    const v99 = await client('version 99');
    await expectError(v99, 'hello with version 99', { type: 'hello', version: 99, room, name: 'Mallory' }, 'version_mismatch', true);

    const dots = await client('room ../x');
    await expectError(dots, 'hello with room "../x"', { type: 'hello', version: 1, room: '../x', name: 'Mallory' }, 'bad_room_name', true);

    const longRoom = await client('room too long');
    await expectError(longRoom, 'hello with a 129-character room', { type: 'hello', version: 1, room: 'a'.repeat(129), name: 'Mallory' }, 'bad_room_name', true);

    const ctl = await client('control name');
    await expectError(ctl, 'hello with a control character in the name', { type: 'hello', version: 1, room, name: 'Mal\u0007lory' }, 'bad_display_name', true);

    // In the room, Mallory sends garbage; each gets its documented, non-fatal error.
    const m = await client('Mallory');
    m.send({ type: 'hello', version: 1, room, name: 'Mallory' });
    const welcome = await m.next((x) => x.type === 'welcome' || x.type === 'error', 10_000, 'welcome');
    assert.equal(welcome.type, 'welcome', `a valid hello is welcomed (got ${JSON.stringify(welcome)})`);
    assert.equal(welcome.version, 1);
    assert.deepEqual(
      welcome.participants.map((p) => p.name).sort(),
      ['Alice', 'Bob'],
      'welcome lists the two people already there',
    );

    await expectError(m, 'invalid JSON', '{"type": "hello",', 'invalid_json', false);
    await expectError(m, 'JSON that is not an object', '[1, 2, 3]', 'invalid_json', false);
    await expectError(m, 'an object without type', '{"sdp": "x"}', 'invalid_json', false);
    await expectError(m, 'an unknown type', { type: 'launch_missiles' }, 'unknown_type', false);
    await expectError(m, 'a binary frame', Buffer.from([0x7b, 0x7d, 0x00, 0xff]), 'bad_frame', false);
    const big = JSON.stringify({ type: 'media_state', audio: true, video: true, pad: 'x'.repeat(300 * 1024) });
    await expectError(m, 'a 300 KiB message', big, 'too_large', false);
    await expectError(m, 'media_state with a string field', { type: 'media_state', audio: 'yes', video: true }, 'bad_message', false);
    await expectError(m, 'an offer without sdp', { type: 'offer' }, 'bad_message', false);
    await expectError(m, 'an answer with no offer outstanding', { type: 'answer', sdp: realAnswer }, 'out_of_order', false);
    await expectError(m, 'a second hello', { type: 'hello', version: 1, room, name: 'Mallory' }, 'out_of_order', false);
    await expectError(m, 'an offer whose SDP is garbage', { type: 'offer', sdp: 'this is not SDP' }, 'bad_sdp', false);
    // Still a member in good standing: a valid message gets no error.
    m.send({ type: 'media_state', audio: false, video: false });
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!m.queue.some((x) => x.type === 'error'), `a valid media_state after the garbage gets no error: ${m.summary()}`);
    assert.equal(m.closed, null, 'Mallory is still connected after non-fatal errors');

    // A flood: 150 valid messages at once, over the burst of 100. Some get rate_limited, none
    // is fatal.
    m.queue.length = 0;
    for (let i = 0; i < 150; i++) m.send({ type: 'media_state', audio: false, video: i % 2 === 0 });
    const limited = await m.nextError('a flood of 150 messages');
    assert.equal(limited.code, 'rate_limited', `a flood gets rate_limited (got ${JSON.stringify(limited)})`);
    assert.equal(limited.fatal, false, 'rate_limited is not fatal');
    await new Promise((r) => setTimeout(r, 3_000)); // let the bucket refill
    assert.equal(m.closed, null, 'Mallory is still connected after being rate limited');
    assert.ok(
      m.queue.every((x) => x.type !== 'error' || x.code === 'rate_limited'),
      `only rate_limited errors for the flood: ${m.summary()}`,
    );

    // Mallory shows up as an ordinary participant, then goes.
    await tile(alice, 'Mallory').waitFor({ state: 'visible' });
    m.send({ type: 'leave' });
    await tile(alice, 'Mallory').waitFor({ state: 'hidden', timeout: 10_000 });
    await tile(bob, 'Mallory').waitFor({ state: 'hidden', timeout: 10_000 });

    // Nobody was harmed: both still get moving video with the right picture.
    await waitForVideoFrames(tile(alice, 'Bob'), 'Alice sees Bob (after)');
    await waitForVideoFrames(tile(bob, 'Alice'), 'Bob sees Alice (after)');
    await waitForQuadrants(tile(alice, 'Bob'), 'Alice sees Bob (after)');
    await waitForQuadrants(tile(bob, 'Alice'), 'Bob sees Alice (after)');
    assert.equal(s.server.exited(), null, 'the server is still running');
    for (const c of clients) c.close();
  });
});
