// A page request for an invalid room name gets a 400 page that says why.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';

test('an invalid room name in the URL gets a 400 page that says why', { timeout: 60_000 }, async () => {
  await withScenario('bad-room', async (s) => {
    const base = s.server.url;
    const bad = ['bad%20name', 'a.b', 'x'.repeat(129), 'caf%C3%A9', '%3Cb%3Eloud'];
    for (const path of bad) {
      const res = await fetch(base + path, { redirect: 'manual' });
      const body = await res.text();
      assert.equal(res.status, 400, `GET /${path} answers 400 (got ${res.status}: ${body.slice(0, 200)})`);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/, `GET /${path} answers a page`);
      assert.match(body, /room name/i, `the page for /${path} says the room name is the problem: ${body.slice(0, 300)}`);
      // It must explain the rule, not just refuse: name the allowed characters or the length.
      assert.match(body, /letters|digits|characters|A[–-]Z|128/i, `the page for /${path} says what a valid name is`);
      assert.ok(!body.includes('<b>loud'), `the page for /${path} does not echo the raw name as HTML`);
    }

    // A valid name (any case) is a page, not an error.
    const ok = await fetch(base + 'Team-Sync_42');
    assert.equal(ok.status, 200, 'GET /Team-Sync_42 answers 200');

    // And a person sees the explanation in the browser too.
    const page = await s.newPage('Visitor');
    const res = await page.goto(base + 'bad%20name');
    assert.equal(res?.status(), 400);
    const text = await page.locator('body').innerText();
    assert.match(text, /room name/i, `the browser shows why: ${text.slice(0, 300)}`);
  });
});
