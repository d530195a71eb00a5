// Headless Chromium renders a model card with explanation heatmaps: the screenshot decodes, shows many distinct
// heatmap colours, and the page logged nothing; a page with a script error is caught. Skipped (with the reason)
// where Debian's `chromium` package is not installed: CI does not install it (see docs/explain.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { buildCard } from '../../src/cards/card.js';
import { renderHtml } from '../../src/cards/document.js';
import { explanationRecord } from '../../src/explain/record.js';
import { checkPage, findChromium } from '../../tools/screenshot-page.js';
import { tempDir, tinyRun } from '../ledger/fixtures.js';

const chromium = findChromium();
const skip = chromium ? false : 'chromium is not installed (apt-get install chromium); the render check is skipped';

test('a card with heatmaps renders in headless Chromium without errors', { skip }, async () => {
  const { dir, done } = tempDir();
  const run = await tinyRun({ evaluate: false });
  try {
    // Three 16 x 16 maps of a signed pattern: many distinct colours on the diverging scale.
    const values = Float32Array.from({ length: 3 * 256 }, (_, i) => Math.sin(i / 7) * Math.cos(i / 29));
    const attributions = c.tensor(values, [3, 16, 16, 1]);
    const inputs = c.tensor(new Float32Array(3 * 256).fill(0.5), [3, 16, 16, 1]);
    const explanation = explanationRecord(
      {
        method: 'integratedGradients',
        attributions,
        target: [0, 1, 2],
        logit: false,
        scores: [0.9, 0.8, 0.7],
        parameters: { steps: 16 },
        completenessGap: [1e-6, 2e-6, 3e-6],
        seconds: 0.01,
      },
      { inputs },
    );
    const page = join(dir, 'card.html');
    writeFileSync(page, renderHtml(buildCard({ ...run.record, explanations: [explanation] })));
    const check = checkPage(page, { chromium, width: 1000, height: 6000 });
    assert.deepEqual(check.problems, []);
    assert.ok(check.saturatedColours >= 50, `only ${check.saturatedColours} distinct heatmap colours`);
    assert.deepEqual([check.width, check.height], [1000, 6000]);

    // The check sees script errors (a card has no scripts; this page is made to fail).
    const broken = join(dir, 'broken.html');
    writeFileSync(broken, '<!DOCTYPE html><html><body><p>x</p><script>null.boom()</script></body></html>');
    const bad = checkPage(broken, { chromium, width: 400, height: 300 });
    assert.equal(bad.problems.length, 1);
    assert.match(bad.problems[0], /Uncaught TypeError/);
    assert.equal(bad.saturatedColours, 0);
    c.dispose([attributions, inputs]);
  } finally {
    run.dispose();
    done();
  }
});
