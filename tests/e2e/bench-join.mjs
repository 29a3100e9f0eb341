// Join-time benchmark (not part of the test command).
//
//   node tests/e2e/bench-join.mjs            (after `cargo build -p moot-server --bin moot`)
//   unshare -n -- bash -c 'ip link set lo up && node tests/e2e/bench-join.mjs'   (isolated)
//   MOOT_BIN=target/release/moot RUNS=9 ...                                      (options)
//
// Measures, on loopback, with Debian's Chromium and the fake camera:
//  - join to first frame: from the click on "Join meeting" of a second participant (the first
//    already in the room) to the first remote video frame presented on the joiner's page, both
//    read from the page's own clock (performance.now() and requestVideoFrameCallback); median
//    of RUNS runs;
//  - the baseline, in the same run: a loopback RTCPeerConnection pair inside one page, from
//    createOffer to the first frame presented (camera already open): what the browser itself
//    needs, with no server, no signaling and no UI;
//  - the server's resident memory (VmRSS) idle, with 3 participants sending and receiving
//    video, and after they left.

import http from 'node:http';
import { launchBrowser } from './lib/browser.mjs';
import { joinMeeting, randomRoom, sleep, tile, waitForVideoFrames } from './lib/meeting.mjs';
import { MOOT_BIN, rssKiB, startServer } from './lib/server.mjs';

const RUNS = Number(process.env.RUNS ?? 5);

// Installed in every page before its own scripts: notes the time of the last click and of the
// first frame presented by every <video> that ever enters the document.
const HOOKS = () => {
  /** @type {any} */ (window).__lastClick = null;
  document.addEventListener('click', () => (/** @type {any} */ (window).__lastClick = performance.now()), true);
  const hook = (v) => {
    if (v.__hooked) return;
    v.__hooked = true;
    v.__firstFrameAt = null;
    v.__loadedAt = null;
    v.addEventListener('loadeddata', () => (v.__loadedAt ??= performance.now()));
    if (typeof v.requestVideoFrameCallback === 'function') {
      v.requestVideoFrameCallback((now) => (v.__firstFrameAt = now));
    }
  };
  new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) {
        if (!(n instanceof Element)) continue;
        if (n instanceof HTMLVideoElement) hook(n);
        n.querySelectorAll('video').forEach(hook);
      }
    }
  }).observe(document, { childList: true, subtree: true });
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (ms) => `${ms.toFixed(0)} ms`;
const mib = (kib) => `${(kib / 1024).toFixed(1)} MiB`;

async function joinToFirstFrame(browser, baseUrl) {
  const room = randomRoom('bench-');
  const ctxA = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const ctxB = await browser.newContext({ permissions: ['camera', 'microphone'] });
  try {
    const a = await ctxA.newPage();
    await joinMeeting(a, baseUrl, room, 'First');
    await tile(a, 'First (you)').waitFor({ state: 'visible' });

    const b = await ctxB.newPage();
    await b.addInitScript(HOOKS);
    await b.goto(baseUrl + room);
    await b.getByRole('textbox', { name: 'Your name' }).fill('Joiner');
    // Let the pre-join settle (camera preview running) so only the join itself is timed.
    await b.getByRole('button', { name: 'Join meeting' }).waitFor({ state: 'visible' });
    await sleep(1_000);
    await b.getByRole('button', { name: 'Join meeting' }).click();
    const remote = tile(b, 'First');
    await waitForVideoFrames(remote, 'joiner sees the first participant');
    const r = await remote.locator('video').first().evaluate((v) => ({
      click: /** @type {any} */ (window).__lastClick,
      frame: /** @type {any} */ (v).__firstFrameAt,
      loaded: /** @type {any} */ (v).__loadedAt,
      hooked: !!(/** @type {any} */ (v).__hooked),
    }));
    if (!r.hooked || r.click == null) throw new Error(`hooks missing: ${JSON.stringify(r)}`);
    const at = r.frame ?? r.loaded;
    if (at == null) throw new Error(`no first-frame time: ${JSON.stringify(r)}`);
    return { ms: at - r.click, via: r.frame != null ? 'rVFC' : 'loadeddata' };
  } finally {
    await ctxA.close();
    await ctxB.close();
  }
}

// The baseline page: two peer connections in one page, no server involved.
const LOOPBACK_PAGE = `<!doctype html><meta charset=utf-8><video autoplay playsinline muted></video>
<script>
window.measure = async () => {
  const s = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
  await new Promise((r) => setTimeout(r, 500));
  const v = document.createElement('video');
  v.autoplay = true; v.muted = true; v.playsInline = true;
  document.body.append(v);
  const t0 = performance.now();
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const first = new Promise((res) => v.requestVideoFrameCallback((now) => res(now)));
  b.ontrack = (e) => { if (e.track.kind === 'video') v.srcObject = new MediaStream([e.track]); };
  s.getTracks().forEach((t) => a.addTrack(t, s));
  await a.setLocalDescription(); await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(); await a.setRemoteDescription(b.localDescription);
  const t1 = await first;
  a.close(); b.close(); s.getTracks().forEach((t) => t.stop()); v.remove();
  return t1 - t0;
};
</script>`;

async function baseline(browser) {
  const srv = http
    .createServer((_q, r) => {
      r.writeHead(200, { 'content-type': 'text/html' });
      r.end(LOOPBACK_PAGE);
    })
    .listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const ctx = await browser.newContext({ permissions: ['camera', 'microphone'] });
  try {
    const p = await ctx.newPage();
    await p.goto(`http://127.0.0.1:${/** @type {any} */ (srv.address()).port}/`);
    return await p.evaluate(() => /** @type {any} */ (window).measure());
  } finally {
    await ctx.close();
    srv.close();
  }
}

async function main() {
  const server = await startServer();
  const browser = await launchBrowser();
  try {
    await sleep(1_000);
    const rssIdle = await rssKiB(server.process.pid);

    const joins = [];
    const bases = [];
    for (let i = 0; i < RUNS; i++) {
      const j = await joinToFirstFrame(browser, server.url);
      const b = await baseline(browser);
      joins.push(j.ms);
      bases.push(b);
      console.log(`run ${i + 1}/${RUNS}: join to first frame ${fmt(j.ms)} (${j.via}); baseline ${fmt(b)}`);
    }

    // Three participants in one room, all sending and receiving.
    const room = randomRoom('bench-');
    const ctxs = [];
    const pages = [];
    const names = ['P1', 'P2', 'P3'];
    for (const name of names) {
      const ctx = await browser.newContext({ permissions: ['camera', 'microphone'] });
      ctxs.push(ctx);
      const page = await ctx.newPage();
      pages.push(page);
      await joinMeeting(page, server.url, room, name);
    }
    for (let i = 0; i < 3; i++) {
      for (const other of names.filter((n) => n !== names[i])) {
        await waitForVideoFrames(tile(pages[i], other), `${names[i]} sees ${other}`);
      }
    }
    await sleep(5_000);
    const rss3 = await rssKiB(server.process.pid);
    for (const c of ctxs) await c.close();
    await sleep(3_000);
    const rssAfter = await rssKiB(server.process.pid);

    const mj = median(joins);
    const mb = median(bases);
    const rows = [
      ['join click -> first remote frame (median of ' + RUNS + ')', fmt(mj), `min ${fmt(Math.min(...joins))}, max ${fmt(Math.max(...joins))}`],
      ['baseline: in-page loopback offer -> first frame (median)', fmt(mb), `ratio ${(mj / mb).toFixed(2)}x`],
      ['server RSS idle', mib(rssIdle), ''],
      ['server RSS, 3 participants in a room', mib(rss3), `+${mib(rss3 - rssIdle)}`],
      ['server RSS after they left', mib(rssAfter), ''],
    ];
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    console.log(`\nserver: ${MOOT_BIN} (MOOT_BIN overrides; a release build measures lower)`);
    console.log(`${'measure'.padEnd(w0)}  ${'value'.padStart(w1)}  note`);
    console.log(`${'-'.repeat(w0)}  ${'-'.repeat(w1)}  ----`);
    for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
  } catch (e) {
    console.error(e);
    console.error('server output:\n' + server.output().split('\n').slice(-60).join('\n'));
    process.exitCode = 1;
  } finally {
    await browser.close();
    await server.stop();
  }
}

await main();
