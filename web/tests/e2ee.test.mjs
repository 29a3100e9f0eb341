// End-to-end encryption without a browser: the SFrame layout (RFC 9605), the pairwise key
// exchange, the ratchet on join and the fresh key on leave, and the verification codes, with
// Node's WebCrypto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHeader, decodeHeader, clearBytes, deriveFrameKey, encryptFrame, decryptFrame } from '../assets/js/sframe.js';
import { E2eeKeys, verificationCode, canDecryptWith, fromBase64 } from '../assets/js/e2ee.js';

test('the SFrame header encodes KID and CTR in the shortest form and decodes back', () => {
  assert.deepEqual([...encodeHeader(0, 0)], [0x00]);
  assert.deepEqual([...encodeHeader(7, 5)], [0x75]);
  // KID 0x1ff needs 2 bytes (X=1, K=1), CTR 0xaa one byte (Y=1, C=0).
  assert.deepEqual([...encodeHeader(0x1ff, 0xaa)], [0x98, 0x01, 0xff, 0xaa]);
  for (const [kid, ctr] of [[0, 0], [7, 7], [8, 8], [65536, 1], [2 ** 40 + 3, 2 ** 31], [Number.MAX_SAFE_INTEGER, 12345]]) {
    const h = encodeHeader(kid, ctr);
    assert.deepEqual(decodeHeader(h), { kid, ctr, length: h.length });
  }
  assert.equal(decodeHeader(Uint8Array.from([0x98, 0x01])), null, 'cut short');
});

test('clear bytes: 10 of a VP8 keyframe, 3 of a delta frame, 1 of Opus', () => {
  assert.equal(clearBytes('video', Uint8Array.from([0x10, 1, 2, 0x9d, 0x01, 0x2a, 0, 0, 0, 0, 9, 9])), 10);
  assert.equal(clearBytes('video', Uint8Array.from([0x11, 1, 2, 3, 4])), 3);
  assert.equal(clearBytes('audio', Uint8Array.from([0xfc, 1, 2])), 1);
});

test('a frame encrypts past its clear prefix and only the right key opens it', async () => {
  const base = crypto.getRandomValues(new Uint8Array(16));
  const fk = await deriveFrameKey(base, 65536);
  const frame = Uint8Array.from({ length: 200 }, (_, i) => (i * 7) & 0xff);
  frame[0] = 0x10; // keyframe
  const wire = await encryptFrame(fk, 3, frame, 10);
  assert.deepEqual([...wire.subarray(0, 10)], [...frame.subarray(0, 10)], 'prefix in clear');
  assert.equal(wire.length, 200 + encodeHeader(65536, 3).length + 16);
  const body = Buffer.from(wire.subarray(10));
  assert.equal(body.indexOf(Buffer.from(frame.subarray(10, 26))), -1, 'no plaintext past the prefix');
  assert.deepEqual([...(await decryptFrame(fk, wire, 10))], [...frame]);
  const wrong = await deriveFrameKey(crypto.getRandomValues(new Uint8Array(16)), 65536);
  await assert.rejects(decryptFrame(wrong, wire, 10));
  const tampered = wire.slice();
  tampered[1] ^= 1; // the clear prefix is authenticated too
  await assert.rejects(decryptFrame(fk, tampered, 10));
});

/** Two or more participants wired to each other as the server would relay. */
async function people(n) {
  const all = [];
  for (let i = 0; i < n; i++) {
    const k = await E2eeKeys.create();
    k.me = `p${i + 1}`;
    k.inbox = [];
    all.push(k);
  }
  for (const k of all) {
    k.send = (to, payload) => all.find((o) => o.me === to).inbox.push([k.me, payload]);
    for (const o of all) if (o !== k) k.addPeer(o.me, o.publicKey);
  }
  return all;
}

async function deliver(all) {
  for (const k of all) {
    const inbox = k.inbox.splice(0);
    for (const [from, payload] of inbox) await k.receive(from, payload);
  }
}

test('sender keys travel pairwise; frames decrypt only with them', async () => {
  const [a, b, c] = await people(3);
  await a.sendKey('p2');
  await deliver([a, b, c]);
  const frame = Uint8Array.from({ length: 50 }, (_, i) => i + 1);
  const wire = await a.encrypt('video', frame);
  assert.deepEqual([...(await b.decrypt('video', 'p1', wire))], [...frame]);
  assert.equal(await c.decrypt('video', 'p1', wire), null, 'c never got the key');
  // The payload is bound to sender and recipient: replayed to someone else it fails.
  const payload = await a.seal('p2', { t: 'key', gen: 0, step: 0, key: 'AAAA' });
  await assert.rejects(c.receive('p1', payload));
  // A frame from a as if from c (a track moved by the server): no key of c's opens it.
  assert.equal(await b.decrypt('video', 'p3', wire), null);
});

test('a newcomer gets the ratcheted key and cannot decrypt earlier frames', async () => {
  const [a, b, n] = await people(3);
  await a.sendKey('p2');
  await deliver([a, b, n]);
  const before = await a.encrypt('audio', Uint8Array.from([0xfc, 1, 2, 3, 4, 5]));
  await a.joined('p3');
  await deliver([a, b, n]);
  const after = await a.encrypt('audio', Uint8Array.from([0xfc, 6, 7, 8, 9, 10]));
  assert.ok(await n.decrypt('audio', 'p1', after), 'the newcomer decrypts what follows');
  assert.equal(await n.decrypt('audio', 'p1', before), null, 'but not what came before');
  assert.ok(await b.decrypt('audio', 'p1', after), 'the others ratchet by themselves');
});

test('after someone leaves, their copy of the old key opens nothing new', async () => {
  const [a, b, gone] = await people(3);
  await a.sendKey('p2');
  await a.sendKey('p3');
  await deliver([a, b, gone]);
  const old = gone.exportPeerKeys('p1');
  const early = await a.encrypt('video', Uint8Array.from({ length: 40 }, (_, i) => i | 1));
  assert.ok(await canDecryptWith(old, 'video', early), 'the capture works on old frames');
  a.removePeer('p3');
  b.removePeer('p3');
  await a.left();
  await deliver([a, b]);
  const late = await a.encrypt('video', Uint8Array.from({ length: 40 }, (_, i) => i | 1));
  assert.ok(await b.decrypt('video', 'p1', late), 'those still here decrypt');
  assert.equal(await canDecryptWith(old, 'video', late), false, 'the removed one cannot');
  assert.equal(a.stats.encrypted, 2);
});

test('verification codes match on both sides and differ when a key was swapped', async () => {
  const [a, b] = await people(2);
  const ab = await a.peers.get('p2').code;
  const ba = await b.peers.get('p1').code;
  assert.match(ab, /^\d{5} \d{5} \d{5} \d{5}$/);
  assert.equal(ab, ba);
  assert.equal(await verificationCode(a.publicRaw, b.publicRaw), ab);
  // The server hands a a key of its own instead of b's (a man in the middle).
  const mallory = await E2eeKeys.create();
  const tampered = new E2eeKeys(a.identity, a.publicRaw);
  tampered.addPeer('p2', mallory.publicKey);
  const seenByA = await tampered.peers.get('p2').code;
  assert.notEqual(seenByA, ba, 'the codes differ, so comparing them exposes it');
  assert.notEqual(await verificationCode(mallory.publicRaw, b.publicRaw), ab);
  assert.equal(fromBase64(a.publicKey).length, 65, 'an uncompressed P-256 point');
});
