// Two people meet with every packet going through a real coturn (Debian's `coturn`), using the
// short-lived credentials Moot hands out in `welcome.ice_servers` (TURN shared-secret scheme).
//
// The page is opened with `?relay=1`, so its RTCPeerConnection has iceTransportPolicy 'relay':
// the browser offers only relayed candidates, and the SFU (ICE-lite) sees the connectivity
// checks come from coturn's relay address. getStats must show a selected candidate pair whose
// local candidate is of type "relay", and the video and tone must arrive.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Scenario } from './lib/browser.mjs';
import { startServer } from './lib/server.mjs';
import { expectFullMedia, joinMeeting, randomRoom, waitFor } from './lib/meeting.mjs';
import { framesDecoded, recordPeerConnections, selectedPair } from './lib/peerstats.mjs';
import { freeUdpPort, startProcess } from './lib/processes.mjs';

const TURNSERVER = process.env.TURNSERVER ?? '/usr/bin/turnserver';
const SECRET = 'moot-e2e-turn-secret';

test('two people meet through a real coturn relay (iceTransportPolicy relay)', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moot-turn-'));
  const s = new Scenario('turn-relay');
  /** @type {import('./lib/processes.mjs').RunningProcess | null} */
  let turn = null;
  try {
    const port = await freeUdpPort();
    turn = await startCoturn(dir, port);
    s.cleanups.push(() => turn?.stop() ?? Promise.resolve());
    const config = join(dir, 'moot.toml');
    writeFileSync(
      config,
      `[turn]\nurls = ["turn:127.0.0.1:${port}?transport=udp"]\nshared_secret = "${SECRET}"\nttl_seconds = 600\n`,
    );
    s.server = await startServer({ args: ['--config', config] });

    const room = randomRoom();
    const ann = await s.newPage('Ann');
    const bob = await s.newPage('Bob');
    for (const page of [ann, bob]) await page.addInitScript(recordPeerConnections);
    await joinMeeting(ann, s.server.url, `${room}?relay=1`, 'Ann');
    await joinMeeting(bob, s.server.url, `${room}?relay=1`, 'Bob');

    for (const [page, name] of [[ann, 'Ann'], [bob, 'Bob']]) {
      // The page built its connection from welcome.ice_servers, with the relay-only policy.
      const configs = await page.evaluate(() => window.__mootPcConfigs);
      assert.ok(configs.length >= 1, `${name}: an RTCPeerConnection was made`);
      const cfg = configs.at(-1);
      assert.equal(cfg.iceTransportPolicy, 'relay', `${name}: relay-only policy from ?relay=1`);
      assert.equal(cfg.iceServers.length, 1, `${name}: one ICE server from welcome`);
      assert.deepEqual(cfg.iceServers[0].urls, [`turn:127.0.0.1:${port}?transport=udp`]);
      assert.match(cfg.iceServers[0].username, /^\d{10}:[A-Za-z0-9]+$/, `${name}: username is <expiry>:<random>`);
      const expiry = Number(cfg.iceServers[0].username.split(':')[0]);
      const now = Date.now() / 1000;
      assert.ok(expiry > now + 500 && expiry < now + 700, `${name}: expiry ≈ now + ttl_seconds (600): ${expiry - now}`);

      // The connection's selected pair runs over a relayed local candidate.
      const pair = await waitFor(
        `${name}: a selected candidate pair`,
        () => page.evaluate(selectedPair),
        (p) => !!p && p.state === 'succeeded',
      );
      console.log(`${name}: selected pair ${JSON.stringify(pair)}`);
      assert.equal(pair.localType, 'relay', `${name}: the local candidate is the TURN relay`);
      assert.equal(pair.localRelayProtocol, 'udp', `${name}: relayed over UDP to coturn`);
      assert.ok(pair.localTypes.every((t) => t === 'relay'), `${name}: only relay candidates gathered: ${pair.localTypes}`);
    }

    // Media flows both ways through the relay: the right picture, moving, and the tone.
    const a = await expectFullMedia(ann, 'Bob', 'Ann');
    const b = await expectFullMedia(bob, 'Ann', 'Bob');
    console.log(`Ann <- Bob: ${a.frames.frames} frames; Bob <- Ann: ${b.frames.frames} frames`);
    for (const [page, name] of [[ann, 'Ann'], [bob, 'Bob']]) {
      const pair = await page.evaluate(selectedPair);
      assert.ok(pair.bytesReceived > 50_000, `${name}: media received over the relayed pair: ${pair.bytesReceived}`);
      const decoded = await page.evaluate(framesDecoded);
      assert.ok(decoded > 0, `${name}: video frames decoded: ${decoded}`);
    }
    // coturn saw the allocations (its log names the realm user of the TURN REST scheme).
    assert.match(turn.output(), /ALLOCATE|allocation/i, 'coturn logged allocations');
  } catch (err) {
    if (turn) process.stderr.write(`\n-------- coturn output (last 60 lines):\n${turn.output().split('\n').slice(-60).join('\n')}\n`);
    await s.dump(err);
    throw err;
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Starts Debian's coturn in the foreground on 127.0.0.1:`port`, every file it writes in `dir`,
 * and waits until it listens.
 * @param {string} dir
 * @param {number} port
 * @returns {Promise<import('./lib/processes.mjs').RunningProcess>}
 */
async function startCoturn(dir, port) {
  const args = [
    '-n', // no /etc/turnserver.conf
    '--listening-ip', '127.0.0.1',
    '--listening-port', String(port),
    '--relay-ip', '127.0.0.1',
    '--allow-loopback-peers',
    '--use-auth-secret',
    '--static-auth-secret', SECRET,
    '--realm', 'moot.test',
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    '--no-tcp-relay',
    '--log-file', 'stdout',
    '--simple-log',
    '--pidfile', join(dir, 'turnserver.pid'),
    '--db', join(dir, 'turndb'),
    '--verbose',
  ];
  const turn = startProcess('coturn', TURNSERVER, args, { cwd: dir });
  try {
    await waitFor(
      `coturn listening on 127.0.0.1:${port}`,
      async () => ({ exited: turn.exited(), listening: /UDP listener opened on/.test(turn.output()) }),
      (v) => v.listening || !!v.exited,
      { timeout: 15_000, interval: 100 },
    ).catch((e) => {
      throw new Error(`${e.message}\ncoturn output:\n${turn.output()}`);
    });
    if (turn.exited()) throw new Error(`coturn exited (${JSON.stringify(turn.exited())}):\n${turn.output()}`);
  } catch (e) {
    await turn.stop();
    throw e;
  }
  return turn;
}
