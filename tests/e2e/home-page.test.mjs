// The home page proposes an unguessable room name and warns about guessable ones.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { waitFor } from './lib/meeting.mjs';

/** The texts of all role=status elements on the page. */
async function statusTexts(page) {
  return page.getByRole('status').evaluateAll((els) => els.map((e) => e.textContent ?? ''));
}

test('home page: prefilled unguessable name, warning for a guessable one, Start meeting', { timeout: 90_000 }, async () => {
  await withScenario('home-page', async (s) => {
    const page = await s.newPage('Visitor');
    await page.goto(s.server.url);
    const box = page.getByRole('textbox', { name: 'Room name' });
    await box.waitFor({ state: 'visible' });
    const proposed = await waitFor('the Room name to be prefilled', () => box.inputValue(), (v) => v.length > 0);
    assert.match(proposed, /^[A-Za-z0-9_-]{16,128}$/, `the proposed name "${proposed}" is a valid, long room name`);
    // Give a late warning a chance to show before saying there is none.
    await page.waitForTimeout(500);
    const before = await statusTexts(page);
    assert.ok(!before.some((t) => /guess/i.test(t)), `no "guess" warning for "${proposed}", got ${JSON.stringify(before)}`);

    // A second visit proposes another name.
    await page.reload();
    const again = await waitFor('the Room name to be prefilled again', () => box.inputValue(), (v) => v.length > 0);
    assert.notEqual(again, proposed, 'each visit proposes a new random name');

    await box.fill('test');
    await waitFor(
      'a role=status containing "guess" after typing "test"',
      () => statusTexts(page),
      (texts) => texts.some((t) => /guess/i.test(t)),
    );

    // Back to a strong name: the warning goes.
    await box.fill(proposed);
    await waitFor(
      'the "guess" warning to go for a strong name',
      () => statusTexts(page),
      (texts) => !texts.some((t) => /guess/i.test(t)),
    );

    await box.fill('test');
    await page.getByRole('button', { name: 'Start meeting' }).click();
    await page.waitForURL((u) => u.pathname === '/test');
    await page.getByRole('textbox', { name: 'Your name' }).waitFor({ state: 'visible' });
  });
});
