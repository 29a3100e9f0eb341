// Tile view stays usable with 25 tiles, on a desktop window and on a phone screen, and speaker
// view keeps one large tile there too. No media needed: the page's own modules (tiles.js,
// layout.js) lay out 25 participants in a stage-sized box, and we measure the boxes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';

/** Lays out `n` tiles in a box filling the viewport; returns sizes and overflow. */
async function layOut(page, n, mode) {
  return page.evaluate(
    async ({ n, mode }) => {
      const { TileGrid } = await import('/assets/js/tiles.js');
      const { Layout } = await import('/assets/js/layout.js');
      document.querySelector('.test-stage')?.remove();
      const stage = document.createElement('section');
      stage.className = 'stage test-stage';
      stage.style.cssText = 'position:fixed;inset:0;z-index:10;background:#000;display:flex;';
      const grid = new TileGrid();
      stage.append(grid.el);
      document.body.append(stage);
      const layout = new Layout(grid);
      layout.setMode(mode);
      for (let i = 0; i < n; i++) {
        grid.add({ id: `p${i}`, name: `Person ${i + 1}`, audio: true, video: false, screen: false, moderator: false, hand_raised: false, audio_blocked: false, video_blocked: false }, i === 0);
      }
      layout.me = 'p0';
      layout.setDominant('p7');
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const boxes = [...grid.el.querySelectorAll('.tile')].map((t) => t.getBoundingClientRect());
      const featured = grid.el.querySelector('.tile[data-featured="true"]');
      return {
        viewport: { w: innerWidth, h: innerHeight },
        minWidth: Math.min(...boxes.map((b) => b.width)),
        maxRight: Math.max(...boxes.map((b) => b.right)),
        scrollWidth: grid.el.scrollWidth,
        clientWidth: grid.el.clientWidth,
        scrolls: grid.el.scrollHeight > grid.el.clientHeight,
        featured: featured ? { name: featured.getAttribute('aria-label'), ...featured.getBoundingClientRect().toJSON() } : null,
        nameWidths: [...grid.el.querySelectorAll('.tile-name')].map((e) => e.getBoundingClientRect().width),
      };
    },
    { n, mode },
  );
}

test('tile view with 25 tiles on a desktop and a phone; speaker view keeps one large tile', { timeout: 60_000 }, async () => {
  await withScenario('tile-layout', async (s) => {
    const page = await s.newPage('Layout');
    await page.goto(s.server.url);

    const desk = await layOut(page, 25, 'tile');
    console.log(`desktop, 25 tiles: smallest ${Math.round(desk.minWidth)} px wide, scrolls ${desk.scrolls}`);
    assert.ok(desk.minWidth >= 200, `desktop: 25 tiles are at least 200 px wide: ${JSON.stringify(desk)}`);
    assert.equal(desk.scrolls, false, 'desktop: 25 tiles fit without scrolling');

    await page.setViewportSize({ width: 375, height: 667 });
    const phone = await layOut(page, 25, 'tile');
    console.log(`phone, 25 tiles: smallest ${Math.round(phone.minWidth)} px wide, scrolls ${phone.scrolls}`);
    assert.ok(phone.minWidth >= 150, `phone: tiles stay at least 150 px wide: ${JSON.stringify(phone)}`);
    assert.ok(phone.maxRight <= phone.viewport.w + 0.5 && phone.scrollWidth <= phone.clientWidth, `phone: no sideways scrolling: ${JSON.stringify(phone)}`);
    assert.equal(phone.scrolls, true, 'phone: the grid scrolls vertically instead');

    const speaker = await layOut(page, 25, 'speaker');
    console.log(`phone, speaker view: large tile ${JSON.stringify(speaker.featured)}`);
    assert.equal(speaker.featured?.name, 'Person 8', 'the dominant speaker is the large tile');
    assert.ok(speaker.featured.width >= speaker.viewport.w - 40 && speaker.featured.height >= 200, `the large tile fills the width: ${JSON.stringify(speaker.featured)}`);
    assert.ok(speaker.scrollWidth <= speaker.clientWidth, 'speaker view: no sideways scrolling on a phone');
  });
});
