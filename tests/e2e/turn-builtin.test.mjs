// Two people meet with every packet going through Moot's own built-in TURN relay
// (`[turn_server] enabled = true`), no coturn anywhere: the credentials in
// `welcome.ice_servers` are signed with a secret the server made in memory at start.
//
// The pages are opened with `?relay=1` (iceTransportPolicy 'relay'), so the browser offers only
// relayed candidates; getStats must show a selected pair whose local candidate is a relay, and
// the picture and tone must arrive. The second case hands out only the `?transport=tcp` URL
// (the UDP listener does not even run), as for a network that blocks UDP.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Scenario } from './lib/browser.mjs';
import { startServer } from './lib/server.mjs';
import { expectFullMedia, joinMeeting, randomRoom, waitFor } from './lib/meeting.mjs';
import { framesDecoded, recordPeerConnections, selectedPair } from './lib/peerstats.mjs';

for (const transport of ['udp', 'tcp']) {
  test(`two people meet through the built-in TURN relay over ${transport.toUpperCase()}`, { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moot-turn-builtin-'));
    const s = new Scenario(`turn-builtin-${transport}`);
    try {
      const config = join(dir, 'moot.toml');
      // port 0: UDP and TCP listeners share one free port, found by the server.
      writeFileSync(config, `[turn_server]\nenabled = true\nport = 0\ntransports = ["${transport}"]\n[turn]\nttl_seconds = 600\n`);
      s.server = await startServer({ args: ['--config', config] });

      const room = randomRoom();
      const ann = await s.newPage('Ann');
      const bob = await s.newPage('Bob');
      for (const page of [ann, bob]) await page.addInitScript(recordPeerConnections);
      await joinMeeting(ann, s.server.url, `${room}?relay=1`, 'Ann');
      await joinMeeting(bob, s.server.url, `${room}?relay=1`, 'Bob');

      for (const [page, name] of [[ann, 'Ann'], [bob, 'Bob']]) {
        const configs = await page.evaluate(() => window.__mootPcConfigs);
        assert.ok(configs.length >= 1, `${name}: an RTCPeerConnection was made`);
        const cfg = configs.at(-1);
        assert.equal(cfg.iceTransportPolicy, 'relay', `${name}: relay-only policy from ?relay=1`);
        assert.equal(cfg.iceServers.length, 1, `${name}: one ICE server from welcome`);
        const urls = cfg.iceServers[0].urls;
        assert.equal(urls.length, 1, `${name}: only the ${transport} URL: ${urls}`);
        assert.match(urls[0], new RegExp(`^turn:127\\.0\\.0\\.1:\\d+\\?transport=${transport}$`), `${name}: ${urls[0]}`);
        assert.match(cfg.iceServers[0].username, /^\d{10}:[A-Za-z0-9]+$/, `${name}: username is <expiry>:<random>`);
        const expiry = Number(cfg.iceServers[0].username.split(':')[0]);
        const now = Date.now() / 1000;
        assert.ok(expiry > now + 500 && expiry < now + 700, `${name}: expiry ≈ now + ttl_seconds (600): ${expiry - now}`);

        const pair = await waitFor(
          `${name}: a selected candidate pair`,
          () => page.evaluate(selectedPair),
          (p) => !!p && p.state === 'succeeded',
        );
        console.log(`${name}: selected pair ${JSON.stringify(pair)}`);
        assert.equal(pair.localType, 'relay', `${name}: the local candidate is the built-in relay`);
        assert.equal(pair.localRelayProtocol, transport, `${name}: relayed over ${transport} to the relay`);
        assert.ok(pair.localTypes.every((t) => t === 'relay'), `${name}: only relay candidates gathered: ${pair.localTypes}`);
      }

      const a = await expectFullMedia(ann, 'Bob', 'Ann');
      const b = await expectFullMedia(bob, 'Ann', 'Bob');
      console.log(`Ann <- Bob: ${a.frames.frames} frames; Bob <- Ann: ${b.frames.frames} frames`);
      for (const [page, name] of [[ann, 'Ann'], [bob, 'Bob']]) {
        const pair = await page.evaluate(selectedPair);
        assert.ok(pair.bytesReceived > 50_000, `${name}: media received over the relayed pair: ${pair.bytesReceived}`);
        const decoded = await page.evaluate(framesDecoded);
        assert.ok(decoded > 0, `${name}: video frames decoded: ${decoded}`);
      }

      // The relay counted both allocations and the bytes it carried (no names in /metrics).
      const metrics = await (await fetch(new URL('/metrics', s.server.url))).text();
      const allocations = Number(/^moot_turn_allocations (\d+)$/m.exec(metrics)?.[1]);
      const toPeer = Number(/^moot_turn_relayed_bytes_total\{direction="to_peer"\} (\d+)$/m.exec(metrics)?.[1]);
      const toClient = Number(/^moot_turn_relayed_bytes_total\{direction="to_client"\} (\d+)$/m.exec(metrics)?.[1]);
      console.log(`metrics: ${allocations} allocations, ${toPeer} bytes to the SFU, ${toClient} bytes to browsers`);
      assert.ok(allocations >= 2, `two people, at least two allocations: ${allocations}`);
      assert.ok(toPeer > 100_000 && toClient > 100_000, `media went through the relay both ways: ${toPeer} / ${toClient}`);
    } catch (err) {
      await s.dump(err);
      throw err;
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
