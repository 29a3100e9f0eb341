// Privacy: through a whole meeting of two (home page, join, media both ways, leave) neither
// page makes a single request outside the instance's own origin: no CDN, no fonts, no
// avatars, no analytics, and no STUN or TURN server but this instance's own. The privacy
// page is served under the same strict Content-Security-Policy.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { expectFullMedia, joinMeeting, randomRoom } from './lib/meeting.mjs';

// Runs in the page before any of its scripts: records every ICE server a peer connection is
// given, since STUN/TURN traffic never shows up as an HTTP request.
const RECORD_ICE_SERVERS = () => {
  const Original = window.RTCPeerConnection;
  /** @type {any} */ (window).__iceServers = [];
  window.RTCPeerConnection = class extends Original {
    /** @param {RTCConfiguration} [config] */
    constructor(config) {
      for (const server of config?.iceServers ?? []) {
        const urls = Array.isArray(server.urls) ? server.urls : [server.urls];
        /** @type {any} */ (window).__iceServers.push(...urls);
      }
      super(config);
    }
  };
};

test('a meeting of two makes no request outside its own origin', { timeout: 120_000 }, async () => {
  await withScenario('privacy-origin', async (s) => {
    const origin = new URL(s.server.url).origin;
    const host = new URL(s.server.url).hostname;
    const requests = [];
    const foreign = [];
    const pages = {};
    for (const name of ['Ada', 'Grace']) {
      const page = await s.newPage(name);
      await page.addInitScript(RECORD_ICE_SERVERS);
      page.context().on('request', (r) => {
        requests.push(r.url());
        const url = new URL(r.url());
        if (url.origin !== origin && !['data:', 'blob:'].includes(url.protocol)) foreign.push(`${name}: ${r.url()}`);
      });
      page.on('websocket', (ws) => {
        const url = new URL(ws.url());
        if (url.host !== new URL(origin).host) foreign.push(`${name}: websocket ${ws.url()}`);
      });
      pages[name] = page;
    }
    await pages.Ada.goto(s.server.url);
    const room = randomRoom();
    for (const name of ['Ada', 'Grace']) await joinMeeting(pages[name], s.server.url, room, name);
    await expectFullMedia(pages.Ada, 'Grace', 'Ada');
    await expectFullMedia(pages.Grace, 'Ada', 'Grace');
    for (const name of ['Ada', 'Grace']) {
      const ice = await pages[name].evaluate(() => /** @type {any} */ (window).__iceServers);
      for (const url of ice) {
        const target = url.replace(/^(stuns?|turns?):/, '').split(/[?:]/)[0];
        assert.equal(target, host, `${name}'s page uses an ICE server elsewhere: ${url}`);
      }
      await pages[name].getByRole('button', { name: 'Leave meeting' }).click();
    }
    assert.ok(requests.length >= 5, `the request listener saw the page load: ${requests.join(' ')}`);
    assert.deepEqual(foreign, [], `requests outside ${origin}`);

    const privacy = await pages.Ada.goto(`${s.server.url}privacy`);
    assert.equal(privacy?.status(), 200);
    assert.match(privacy?.headers()['content-security-policy'] ?? '', /default-src 'self'/);
    await pages.Ada.getByRole('heading', { name: 'Privacy' }).waitFor({ state: 'visible' });
    await pages.Ada.getByText('Nothing about a meeting is written to disk').waitFor({ state: 'visible' });
    assert.deepEqual(foreign, [], `requests outside ${origin} from the privacy page`);
  });
});
