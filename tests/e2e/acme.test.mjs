// Built-in ACME against Pebble, Let's Encrypt's test CA (Debian package `pebble`), with real
// TLS-ALPN-01 validation: Pebble's validator resolves the name through pebble-challtestsrv's
// DNS (every name -> 127.0.0.1) and connects to Moot's HTTPS port offering only `acme-tls/1`.
// (PEBBLE_VA_ALWAYS_VALID is NOT used: the challenge is really answered.)
//
// 1. Moot gets a certificate for meet.moot.test and serves it: a TLS client trusting only
//    Pebble's root accepts it for that name, and the page loads over it.
// 2. Pebble is stopped and Moot restarted with the same state_dir: the same certificate is
//    served at once (kept across restarts, no CA needed).
// 3. A new Pebble (new root) is started. Pebble issues 60-second certificates here, so Moot
//    renews at two thirds of the lifetime while running and the listener serves the new
//    certificate without a restart.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MOOT_BIN } from './lib/server.mjs';
import { freeTcpPorts, freeUdpPort, startProcess } from './lib/processes.mjs';

const PEBBLE = process.env.PEBBLE ?? '/usr/bin/pebble';
const CHALLTESTSRV = process.env.PEBBLE_CHALLTESTSRV ?? '/usr/bin/pebble-challtestsrv';
const DOMAIN = 'meet.moot.test';
/** Lifetime of the certificates Pebble issues here (seconds); Moot renews at 2/3 of it. */
const VALIDITY = 60;

test('ACME with Pebble: TLS-ALPN-01, kept across restarts, renewed while running', { timeout: 300_000 }, async (t) => {
  if (!existsSync(PEBBLE)) {
    t.skip(`${PEBBLE} is missing (Debian package pebble)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'moot-acme-'));
  /** @type {Array<() => Promise<void>>} */
  const cleanups = [];
  try {
    const caPem = makeWfeCertificate(dir);
    const [mootPort, wfePort, mgmtPort, challMgmtPort] = await freeTcpPorts(4);
    const dnsPort = await freeUdpPort();
    const pebbleConfig = join(dir, 'pebble.json');
    writeFileSync(
      pebbleConfig,
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${wfePort}`,
          managementListenAddress: `127.0.0.1:${mgmtPort}`,
          certificate: join(dir, 'wfe.pem'),
          privateKey: join(dir, 'wfe.key'),
          httpPort: 5002, // HTTP-01 is not used: Moot only answers TLS-ALPN-01
          tlsPort: mootPort, // where the validator connects: Moot's HTTPS port
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
          certificateValidityPeriod: VALIDITY,
        },
      }),
    );
    const chall = startProcess('challtestsrv', CHALLTESTSRV, [
      '-dns01', `127.0.0.1:${dnsPort}`,
      '-defaultIPv4', '127.0.0.1',
      '-defaultIPv6', '', // no AAAA answers: Moot listens on IPv4 only here
      '-http01', '', '-https01', '', '-tlsalpn01', '', // Moot answers the challenges itself
      '-management', `127.0.0.1:${challMgmtPort}`,
    ]);
    cleanups.push(chall.stop);
    const startPebble = async () => {
      const p = startProcess('pebble', PEBBLE, ['-config', pebbleConfig, '-dnsserver', `127.0.0.1:${dnsPort}`, '-strict=false'], {
        env: { PEBBLE_VA_NOSLEEP: '1' }, // validate at once instead of after 0-15 s
      });
      cleanups.push(p.stop);
      await waitFor('Pebble directory', () => httpsGet(`https://localhost:${wfePort}/dir`, caPem).catch(() => null), (r) => r?.status === 200, 20_000, p.output);
      return p;
    };
    let pebble = await startPebble();
    let pebbleRoot = (await httpsGet(`https://localhost:${mgmtPort}/roots/0`, caPem)).body;

    const state = join(dir, 'state');
    const mootConfig = join(dir, 'moot.toml');
    writeFileSync(
      mootConfig,
      [
        `state_dir = "${state}"`,
        '[http]',
        `listen = "0.0.0.0:${mootPort}"`,
        '[media]',
        'port = 0',
        '[tls]',
        `acme_domains = ["${DOMAIN}"]`,
        'acme_contact = "mailto:ops@moot.test"',
        `acme_directory = "https://localhost:${wfePort}/dir"`,
        `acme_ca_roots = "${join(dir, 'wfe-ca.pem')}"`,
        '[log]',
        // tls=debug: Moot logs each validation handshake it answered (no addresses).
        'level = "info,moot_server::tls=debug"',
        '',
      ].join('\n'),
    );

    // 1. The first certificate, validated for real.
    let moot = await startMoot(mootConfig);
    cleanups.push(moot.stop);
    assert.equal(moot.url, `https://${DOMAIN}:${mootPort}/`, 'the printed URL names the ACME domain');
    const first = await waitFor(
      'a certificate from Pebble',
      () => peerCertificate(mootPort, pebbleRoot).catch(() => null),
      (c) => !!c,
      60_000,
      () => `${moot.output()}\n${pebble.output()}`,
    );
    console.log(`issued: subject ${JSON.stringify(first.subject)}, issuer ${first.issuer.CN}, ${first.valid_from} .. ${first.valid_to}`);
    assert.match(first.issuer.CN, /^Pebble Intermediate CA/, 'issued by Pebble');
    assert.equal(first.subjectaltname, `DNS:${DOMAIN}`, 'for the configured name only');
    assert.match(pebble.output(), /set VALID by completed challenge/, 'Pebble validated the challenge');
    assert.match(moot.output(), /answered an ACME tls-alpn-01 validation/, 'by connecting to Moot with acme-tls/1');
    const page = await httpsGet(`https://${DOMAIN}:${mootPort}/`, pebbleRoot);
    assert.equal(page.status, 200, 'the page loads over the ACME certificate');
    assert.match(page.headers['content-security-policy'] ?? '', /default-src 'self'/, 'security headers as always');
    assert.ok(existsSync(join(state, 'acme')), 'kept in state_dir');

    // 2. Restart without any CA: the kept certificate is served straight away.
    await moot.stop();
    await pebble.stop();
    moot = await startMoot(mootConfig);
    cleanups.push(moot.stop);
    assert.match(moot.output(), /SHA-256 fingerprint now/, 'a kept certificate is announced at start');
    const again = await peerCertificate(mootPort, pebbleRoot);
    assert.equal(again.fingerprint256, first.fingerprint256, 'the same certificate after a restart');
    const page2 = await httpsGet(`https://${DOMAIN}:${mootPort}/healthz`, pebbleRoot);
    assert.equal(page2.status, 200);

    // 3. Renewal while running, from a new Pebble (a new root: Pebble forgets everything).
    pebble = await startPebble();
    const newRoot = (await httpsGet(`https://localhost:${mgmtPort}/roots/0`, caPem)).body;
    assert.notEqual(newRoot, pebbleRoot, 'a fresh Pebble has a fresh root');
    const renewed = await waitFor(
      'the renewed certificate (due at 2/3 of the first one’s lifetime)',
      () => peerCertificate(mootPort, newRoot).catch(() => null),
      (c) => !!c,
      150_000,
      () => `${moot.output()}\n${pebble.output()}`,
    );
    console.log(`renewed: issuer ${renewed.issuer.CN}, ${renewed.valid_from} .. ${renewed.valid_to}`);
    assert.notEqual(renewed.fingerprint256, first.fingerprint256, 'a new certificate');
    assert.equal(renewed.subjectaltname, `DNS:${DOMAIN}`);
    const renewedAt = Date.parse(first.valid_from) + ((Date.parse(first.valid_to) - Date.parse(first.valid_from)) * 2) / 3;
    assert.ok(Date.now() >= renewedAt - 2_000, 'not renewed before it was due');
    assert.equal(moot.exited(), null, 'the same process, no restart');
    assert.equal((await httpsGet(`https://${DOMAIN}:${mootPort}/`, newRoot)).status, 200);
  } finally {
    for (const stop of cleanups.reverse()) await stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A CA and a `localhost` certificate for Pebble's own HTTPS API (the Debian package ships none). */
function makeWfeCertificate(dir) {
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'wfe-ca.key', '-out', 'wfe-ca.pem', '-days', '2', '-subj', '/CN=moot test: Pebble API CA');
  run('req', ...ec, '-keyout', 'wfe.key', '-out', 'wfe.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'wfe.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  run('x509', '-req', '-in', 'wfe.csr', '-CA', 'wfe-ca.pem', '-CAkey', 'wfe-ca.key', '-CAcreateserial', '-out', 'wfe.pem', '-days', '2', '-extfile', 'wfe.ext');
  return readFileSync(join(dir, 'wfe-ca.pem'), 'utf8');
}

/** Every name resolves to 127.0.0.1, as Pebble's DNS says; node may ask for one or all. */
function lookup(_host, opts, cb) {
  if (opts?.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}

/** GET over HTTPS trusting only `ca`. */
function httpsGet(url, ca) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, lookup, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The certificate Moot serves for DOMAIN, verified against `ca` (name and chain). */
function peerCertificate(port, ca) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: DOMAIN, ca, ALPNProtocols: ['http/1.1'] }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert);
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('timeout')));
    socket.on('error', reject);
  });
}

/**
 * Polls `probe` every 500 ms until `ok(value)`. Unlike lib/meeting.mjs's `waitFor`, a probe that
 * throws fails at once, and the timeout error carries `context()` (the processes' output).
 * @template T
 * @param {string} what
 * @param {() => Promise<T>} probe
 * @param {(v: T) => boolean} ok
 * @param {number} timeoutMs
 * @param {() => string} [context]
 * @returns {Promise<T>}
 */
async function waitFor(what, probe, ok, timeoutMs, context = () => '') {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}\n${context()}`);
}

/** Starts moot with only a config file (lib/server.mjs always adds a loopback --listen). */
async function startMoot(config) {
  const p = startProcess('moot', MOOT_BIN, ['--config', config]);
  const line = await waitFor('moot to print its URL', async () => p.output().match(/Moot is running at (\S+)/), (m) => !!m || !!p.exited(), 20_000, p.output);
  if (!line) throw new Error(`moot exited: ${JSON.stringify(p.exited())}\n${p.output()}`);
  // The line after the URL says which certificate is in use.
  await waitFor('the certificate line', async () => /HTTPS with ACME/.test(p.output()), (x) => x, 5_000, p.output);
  return { ...p, url: line[1] };
}
