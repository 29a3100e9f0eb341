// End-to-end encryption without a browser: the SFrame layout (RFC 9605), the pairwise key
// exchange, the ratchet on join and the fresh key on leave, and the verification codes, with
// Node's WebCrypto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHeader, decodeHeader, clearBytes, deriveFrameKey, encryptFrame, decryptFrame, frameTransformStream } from '../assets/js/sframe.js';
import { E2eeKeys, verificationCode, canDecryptWith, fromBase64, CHAT_PREFIX, MAX_E2EE_CHAT_BYTES, utf8Length } from '../assets/js/e2ee.js';

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

test('the frame transform passes empty frames (Opus DTX) on untouched and seals the rest', async () => {
  const seen = [];
  const stream = frameTransformStream(async (data) => {
    seen.push(data.length);
    return Uint8Array.from([9, ...data]);
  });
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const frames = [{ data: new ArrayBuffer(0) }, { data: Uint8Array.from([0xfc, 1]).buffer }, { data: new ArrayBuffer(0) }];
  for (const f of frames) void writer.write(f);
  const out = [];
  for (let i = 0; i < frames.length; i++) out.push([...new Uint8Array((await reader.read()).value.data)]);
  assert.deepEqual(seen, [2], 'only the frame with bytes went through the cipher');
  assert.deepEqual(out, [[], [9, 0xfc, 1], []], 'in order; empty frames stay empty (no packet for the RTP sender)');
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

// Chat (docs/e2ee.md, "Chat"): the same keys as the frames for group messages, the pairwise
// key for private ones.

test('a group chat message round-trips under the sender key; the relayed text is not the plaintext', async () => {
  const [a, b, c] = await people(3);
  await a.sendKey('p2');
  await a.sendKey('p3');
  await deliver([a, b, c]);
  const text = 'Meet at 10, room 4 — café ☕';
  const wire = await a.encryptChat(text, null);
  assert.ok(wire.startsWith(CHAT_PREFIX), 'documented prefix');
  assert.ok(!wire.includes('Meet') && !wire.includes(Buffer.from('Meet at 10').toString('base64').slice(0, 8)), 'no plaintext in the relayed text');
  assert.match(wire.slice(CHAT_PREFIX.length), /^[A-Za-z0-9+/]+=*$/, 'base64: no control characters, passes the server rules');
  assert.deepEqual(await b.decryptChat('p1', null, wire), { ok: true, text });
  assert.deepEqual(await c.decryptChat('p1', null, wire), { ok: true, text });
  assert.deepEqual(await a.decryptChat('p1', null, wire), { ok: true, text }, 'the sender reads its own echo');
  // A fresh IV each time: the same text never gives the same ciphertext.
  assert.notEqual(await a.encryptChat(text, null), wire);
});

test('chat: a wrong key, a changed sender, a changed recipient or changed bytes fail', async () => {
  const [a, b, c] = await people(3);
  await a.sendKey('p2');
  await a.sendKey('p3');
  await c.sendKey('p2');
  await deliver([a, b, c]);
  const wire = await a.encryptChat('secret plan', null);
  c.corruptPeerKeys('p1');
  assert.deepEqual(await c.decryptChat('p1', null, wire), { ok: false, reason: 'failed' }, 'wrong key');
  const [, stranger] = await people(2);
  assert.deepEqual(await stranger.decryptChat('p1', null, wire), { ok: false, reason: 'no-key' }, 'no key for that sender at all');
  assert.equal((await b.decryptChat('p1', null, wire)).ok, true);
  assert.equal((await b.decryptChat('p3', null, wire)).ok, false, 'as if from someone else (c has a key): fails');
  assert.equal((await b.decryptChat('p1', 'p2', wire)).ok, false, 'group turned private by the server: fails');
  const bytes = fromBase64(wire.slice(CHAT_PREFIX.length));
  bytes[bytes.length - 1] ^= 1;
  assert.equal((await b.decryptChat('p1', null, CHAT_PREFIX + Buffer.from(bytes).toString('base64'))).ok, false, 'changed bytes');
  assert.equal((await b.decryptChat('p1', null, 'e2ee:v1:not base64!')).ok, false, 'malformed');
  assert.equal((await b.decryptChat('p1', null, 'hello')).ok, false, 'not encrypted at all');
});

test('a private chat message uses the pairwise key: only sender and recipient open it', async () => {
  const [a, b, c] = await people(3);
  // No sender key was exchanged: private messages need none.
  const wire = await a.encryptChat('just for you', 'p2');
  assert.deepEqual(await b.decryptChat('p1', 'p2', wire), { ok: true, text: 'just for you' });
  assert.deepEqual(await a.decryptChat('p1', 'p2', wire), { ok: true, text: 'just for you' }, 'the sender reads its echo');
  assert.equal((await c.decryptChat('p1', 'p3', wire)).ok, false, 'redirected to c by the server: fails');
  assert.equal((await c.decryptChat('p1', 'p2', wire)).ok, false, 'c is neither party');
  assert.equal((await b.decryptChat('p1', null, wire)).ok, false, 'private turned group: fails');
  // And the pairwise key is what opens it: a's sender key is not involved.
  await a.sendKey('p3');
  await deliver([a, b, c]);
  assert.equal((await c.decryptChat('p1', 'p2', wire)).ok, false);
});

test('chat and rekeying: a newcomer reads what follows, not what came before; the removed one reads nothing new', async () => {
  const [a, b, n] = await people(3);
  await a.sendKey('p2');
  await deliver([a, b, n]);
  const before = await a.encryptChat('before you came', null);
  await a.joined('p3');
  await deliver([a, b, n]);
  const after = await a.encryptChat('welcome', null);
  assert.deepEqual(await n.decryptChat('p1', null, after), { ok: true, text: 'welcome' });
  assert.equal((await n.decryptChat('p1', null, before)).ok, false, 'the newcomer cannot read earlier messages');
  assert.deepEqual(await b.decryptChat('p1', null, after), { ok: true, text: 'welcome' }, 'b ratchets by itself');
  assert.deepEqual(await b.decryptChat('p1', null, before), { ok: true, text: 'before you came' }, 'b still reads one in flight under the previous step');
  a.removePeer('p3');
  b.removePeer('p3');
  await a.left();
  await deliver([a, b]);
  const late = await a.encryptChat('after you left', null);
  assert.deepEqual(await b.decryptChat('p1', null, late), { ok: true, text: 'after you left' });
  assert.equal((await n.decryptChat('p1', null, late)).ok, false, 'the removed one cannot');
});

test('a chat message that arrives before its key waits for it', async () => {
  const [a, b] = await people(2);
  const wire = await a.encryptChat('early bird', null);
  const waiting = b.decryptChatWaiting('p1', null, wire, 2000);
  setTimeout(() => void a.sendKey('p2').then(() => deliver([a, b])), 50);
  assert.deepEqual(await waiting, { ok: true, text: 'early bird' });
  const [c, d] = await people(2);
  const lost = await c.encryptChat('never keyed', null);
  const t0 = Date.now();
  assert.deepEqual(await d.decryptChatWaiting('p1', null, lost, 150), { ok: false, reason: 'no-key' });
  assert.ok(Date.now() - t0 >= 140, 'it waited');
});

test('the encrypted text fits the server limit at the plaintext cap, and the cap is enforced', async () => {
  const [a, b] = await people(2);
  await a.sendKey('p2');
  await deliver([a, b]);
  assert.equal(MAX_E2EE_CHAT_BYTES, 1457);
  const longest = 'x'.repeat(MAX_E2EE_CHAT_BYTES);
  const wire = await a.encryptChat(longest, null);
  assert.ok([...wire].length <= 2000, `${[...wire].length} characters`);
  assert.equal((await b.decryptChat('p1', null, wire)).ok, true);
  const pWire = await a.encryptChat('é'.repeat(Math.floor(MAX_E2EE_CHAT_BYTES / 2)), 'p2');
  assert.ok([...pWire].length <= 2000);
  await assert.rejects(a.encryptChat(`${longest}y`, null));
  assert.equal(utf8Length('é☕'), 5);
});
