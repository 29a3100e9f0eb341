// roster.js: the one place people are added, updated and removed, for live events and for a
// `welcome` alike; and the encryption's rekeying that follows it (meeting-e2ee.js,
// `rekeyWithRoster`), which must run on the resync after a reconnection too (docs/e2ee.md,
// "Reconnection").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Roster } from '../assets/js/roster.js';
import { rekeyWithRoster } from '../assets/js/meeting-e2ee.js';
import { E2eeKeys, canDecryptWith } from '../assets/js/e2ee.js';

/** A participant as the decoder gives it. */
function person(id, extra = {}) {
  return { id, name: `Person ${id}`, audio: false, video: false, moderator: false, hand_raised: false, audio_blocked: false, video_blocked: false, hand_seq: null, screen: false, e2ee_public_key: null, ...extra };
}

/** A roster whose listener writes down every call, as `kind id cause`. */
function recorded() {
  const roster = new Roster();
  const log = [];
  roster.listen({
    me: (me, before) => log.push(`me ${me.id} ${before ? before.id : '-'}`),
    joined: (p, c) => log.push(`joined ${p.id} ${c.cause}`),
    updated: (p, before, c) => log.push(`updated ${p.id} ${before.name}->${p.name} ${c.cause}`),
    left: (p, c) => log.push(`left ${p.id} ${c.cause}${c.reason ? ` ${c.reason}` : ''}`),
  });
  return { roster, log };
}

test('upsert adds someone new, then updates them; remove tells who it was', async () => {
  const { roster, log } = recorded();
  assert.equal(await roster.upsert(person('b'), { cause: 'live' }), 'joined');
  assert.equal(await roster.upsert(person('b', { name: 'Bea' }), { cause: 'live' }), 'updated');
  assert.equal(roster.others.get('b')?.name, 'Bea');
  assert.equal((await roster.remove('b', { cause: 'live', reason: 'removed' }))?.name, 'Bea');
  assert.equal(await roster.remove('b', { cause: 'live' }), null, 'removing someone unknown does nothing');
  assert.deepEqual(log, ['joined b live', 'updated b Person b->Bea live', 'left b live removed']);
  assert.equal(roster.others.size, 0);
});

test('me is not one of the others: setMe tells the listeners, upsert of me is ignored', async () => {
  const { roster, log } = recorded();
  await roster.setMe(person('a'));
  assert.equal(await roster.upsert(person('a', { name: 'Ana' }), { cause: 'live' }), null);
  await roster.setMe(person('a', { name: 'Ana' }));
  await roster.setMe(person('a2')); // back under a new id after a reconnection that was not resumed
  assert.deepEqual(log, ['me a -', 'me a a', 'me a2 a']);
  assert.equal(roster.others.size, 0);
  assert.equal(roster.count, 1);
  assert.equal(roster.nameOf('a2'), 'Person a2');
  assert.ok(roster.isMe('a2') && !roster.isMe('a'));
});

test('sync makes the roster what a welcome says: the gone removed first, then the rest in order', async () => {
  const { roster, log } = recorded();
  await roster.setMe(person('a'));
  await roster.sync([person('b'), person('c')], 'welcome');
  log.length = 0;
  // While we were away: c left, d joined, b renamed.
  const changes = await roster.sync([person('b', { name: 'Bea' }), person('d')], 'resync');
  assert.deepEqual(log, ['left c resync', 'updated b Person b->Bea resync', 'joined d resync']);
  assert.deepEqual(changes.joined.map((p) => p.id), ['d']);
  assert.deepEqual(changes.left.map((p) => p.id), ['c']);
  assert.deepEqual([...roster.others.keys()], ['b', 'd']);
  assert.equal(roster.count, 3);
});

test('listeners run in order and are awaited: a slow one finishes before the next starts', async () => {
  const roster = new Roster();
  const order = [];
  roster.listen({
    joined: async (p) => {
      await new Promise((r) => setTimeout(r, 20));
      order.push(`slow ${p.id}`);
    },
  });
  const stop = roster.listen({ joined: (p) => void order.push(`fast ${p.id}`) });
  await roster.upsert(person('b'), { cause: 'live' });
  order.push('after upsert');
  stop();
  await roster.upsert(person('c'), { cause: 'live' });
  assert.deepEqual(order, ['slow b', 'fast b', 'after upsert', 'slow c']);
});

/** Participants with encryption keys, wired as the server relays key messages. */
async function keyed(ids) {
  const all = new Map();
  for (const id of ids) {
    const keys = await E2eeKeys.create();
    keys.me = id;
    keys.inbox = [];
    all.set(id, keys);
  }
  for (const keys of all.values()) keys.send = (to, payload) => all.get(to)?.inbox.push([keys.me, payload]);
  return all;
}

async function deliver(keys) {
  for (const [from, payload] of keys.inbox.splice(0)) await keys.receive(from, payload);
}

test('rekeying follows the roster on a resync as on live events: a ratchet for the newcomer, a fresh key for the gone', async () => {
  const all = await keyed(['a', 'b', 'c']);
  const a = all.get('a');
  const withKey = (id) => person(id, { e2ee_public_key: all.get(id).publicKey });
  const roster = new Roster();
  const known = [];
  rekeyWithRoster(roster, () => a, (id) => known.push(id));
  await roster.setMe(person('a'));
  // At the first welcome b is here already: no ratchet (we are the newcomer).
  await roster.sync([withKey('b')], 'welcome');
  assert.deepEqual([a.gen, a.step], [0, 0]);
  await a.sendKey('b');
  const b = all.get('b');
  b.addPeer('a', a.publicKey);
  await deliver(b);
  const bensCopy = b.exportPeerKeys('a');
  const early = await a.encrypt('video', Uint8Array.from({ length: 40 }, (_, i) => i | 1));
  assert.ok(await canDecryptWith(bensCopy, 'video', early));

  // a was away; meanwhile c joined and b left. The resumed welcome says so.
  await roster.sync([withKey('c')], 'resync');
  assert.deepEqual(known, ['b', 'c'], 'verification codes for both');
  assert.ok(!a.peers.has('b') && a.peers.has('c'));
  assert.equal(a.gen, 1, 'a fresh key after b left');
  const c = all.get('c');
  c.addPeer('a', a.publicKey);
  await deliver(c);
  const late = await a.encrypt('video', Uint8Array.from({ length: 40 }, (_, i) => i | 1));
  assert.ok(await c.decrypt('video', 'a', late), 'the newcomer got our key');
  assert.equal(await canDecryptWith(bensCopy, 'video', late), false, "b's copy of the old key opens nothing new");
  assert.equal(b.inbox.length, 0, 'nothing was sent to b after it left');
});

test('rekeying: a live join ratchets once and sends only to the newcomer; no keys, nothing happens', async () => {
  const all = await keyed(['a', 'b', 'c']);
  const a = all.get('a');
  const withKey = (id) => person(id, { e2ee_public_key: all.get(id).publicKey });
  const roster = new Roster();
  rekeyWithRoster(roster, () => a, () => {});
  await roster.setMe(person('a'));
  await roster.sync([withKey('b')], 'welcome');
  await roster.upsert(withKey('c'), { cause: 'live' });
  assert.deepEqual([a.gen, a.step], [0, 1]);
  assert.equal(all.get('c').inbox.length, 1);
  assert.equal(all.get('b').inbox.length, 0, 'b ratchets by itself');
  // Someone whose browser cannot encrypt (no key) changes nothing.
  await roster.upsert(person('x'), { cause: 'live' });
  assert.deepEqual([a.gen, a.step], [0, 1]);

  const plain = new Roster();
  rekeyWithRoster(plain, () => null, () => assert.fail('no keys, no codes'));
  await plain.upsert(withKey('b'), { cause: 'live' });
  await plain.remove('b', { cause: 'live' });
});
