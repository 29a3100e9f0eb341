// ICE-TCP: two people meet on a network that drops every UDP packet.
//
// Inside the test's network namespace (scripts/test.sh: `unshare -n`, loopback only) an
// nftables rule drops all UDP on loopback, so the browsers' UDP checks to the SFU's UDP host
// candidate vanish. The only way left is the server's passive TCP candidate on the same port
// number (RFC 6544, RFC 4571 framing): getStats must show a selected pair over TCP, the rule's
// counter must show that UDP really was tried and dropped, and picture and tone must arrive.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { Scenario } from './lib/browser.mjs';
import { startServer } from './lib/server.mjs';
import { expectFullMedia, joinMeeting, randomRoom, waitFor } from './lib/meeting.mjs';
import { recordPeerConnections, selectedPair } from './lib/peerstats.mjs';

const NFT = process.env.NFT ?? 'nft';
const TABLE = 'moottest';

/** @param {string[]} args */
function nft(...args) {
  return execFileSync(NFT, args, { encoding: 'utf8' });
}

/** Packets the drop rule has dropped so far. */
function droppedUdp() {
  const listing = nft('list', 'chain', 'inet', TABLE, 'out');
  const m = listing.match(/udp counter packets (\d+)/);
  assert.ok(m, `the drop rule is in place:\n${listing}`);
  return Number(m[1]);
}

test('with UDP blocked, two people meet over ICE-TCP', { timeout: 180_000 }, async () => {
  const s = new Scenario('ice-tcp');
  try {
    nft('add', 'table', 'inet', TABLE);
    s.cleanups.push(async () => {
      nft('delete', 'table', 'inet', TABLE);
    });
    nft('add', 'chain', 'inet', TABLE, 'out', '{ type filter hook output priority 0; }');
    nft('add', 'rule', 'inet', TABLE, 'out', 'meta', 'l4proto', 'udp', 'counter', 'drop');

    s.server = await startServer();
    const room = randomRoom();
    const ann = await s.newPage('Ann');
    const bob = await s.newPage('Bob');
    for (const page of [ann, bob]) await page.addInitScript(recordPeerConnections);
    await joinMeeting(ann, s.server.url, room, 'Ann');
    await joinMeeting(bob, s.server.url, room, 'Bob');

    for (const [page, name] of [[ann, 'Ann'], [bob, 'Bob']]) {
      const pair = await waitFor(
        `${name}: a selected candidate pair`,
        () => page.evaluate(selectedPair),
        (p) => !!p && p.state === 'succeeded',
      );
      console.log(`${name}: selected pair ${JSON.stringify(pair)}`);
      assert.equal(pair.localProtocol, 'tcp', `${name}: the local candidate is TCP`);
      assert.equal(pair.localTcpType, 'active', `${name}: the browser connects out (active)`);
      assert.equal(pair.remoteProtocol, 'tcp', `${name}: the server's candidate is TCP`);
      assert.equal(pair.remoteType, 'host', `${name}: the server's host candidate, no relay`);
    }
    // The browsers did try UDP first; the rule dropped it (so TCP was not taken by chance).
    const dropped = droppedUdp();
    assert.ok(dropped > 0, `UDP packets dropped: ${dropped}`);

    const a = await expectFullMedia(ann, 'Bob', 'Ann');
    const b = await expectFullMedia(bob, 'Ann', 'Bob');
    console.log(`Ann <- Bob: ${a.frames.frames} frames; Bob <- Ann: ${b.frames.frames} frames; UDP dropped: ${droppedUdp()}`);
    for (const [page, name] of [[ann, 'Ann'], [bob, 'Bob']]) {
      const pair = await page.evaluate(selectedPair);
      assert.equal(pair.localProtocol, 'tcp', `${name}: still on TCP`);
      assert.ok(pair.bytesReceived > 50_000, `${name}: media received over the TCP pair: ${pair.bytesReceived}`);
    }
  } catch (err) {
    await s.dump(err);
    throw err;
  } finally {
    await s.close();
  }
});
