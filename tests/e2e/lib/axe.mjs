// An axe-core accessibility scan of the current page (the npm package's own build, injected from
// node_modules: nothing is fetched).

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const AXE_PATH = require.resolve('axe-core/axe.min.js');

/** Impacts that fail a scan. */
export const BLOCKING = ['serious', 'critical'];

/**
 * Runs axe-core on the page (WCAG 2.x A/AA rules and best practices) and returns every
 * violation, with `blocking` the serious and critical ones.
 * @param {import('playwright-core').Page} page
 */
export async function scan(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE_PATH });
  const result = await page.evaluate(async () => {
    // @ts-ignore injected above
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return {
      passes: r.passes.length,
      violations: r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
      })),
    };
  });
  return { ...result, blocking: result.violations.filter((v) => BLOCKING.includes(v.impact ?? '')) };
}

/** A short report of violations for messages. */
export function report(violations) {
  return violations
    .map((v) => `[${v.impact}] ${v.id}: ${v.help}\n${v.nodes.map((n) => `    ${n.target}: ${n.summary?.replace(/\n/g, ' ')}`).join('\n')}`)
    .join('\n');
}
