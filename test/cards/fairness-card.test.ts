// The card's results by group: the new fairness figures (FPR, calibration, ratio and four-fifths rule,
// equalised odds, bootstrap intervals) appear tagged with their record paths and equal to the record; a
// report written before they existed still renders, without them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCard } from '../../src/cards/card.js';
import { renderHtml, renderMarkdown } from '../../src/cards/document.js';
import { classificationReport } from '../../src/ledger/evaluation.js';
import type { FairnessReport } from '../../src/ledger/fairness.js';
import { tinyRun } from '../ledger/fixtures.js';
import { checkFigures } from './html.js';

test('card: fairness figures, intervals, four-fifths rule, calibration; older reports still render', async () => {
  const run = await tinyRun({ options: { write: false, energy: false } });
  try {
    const record = structuredClone(run.record);
    const actual = [1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1];
    const predicted = [1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1];
    const scores = [0.9, 0.4, 0.7, 0.2, 0.05, 0.8, 0.6, 0.3, 0.55, 0.9, 0.1, 0.7];
    const groups = ['f', 'f', 'f', 'f', 'f', 'm', 'm', 'm', 'm', 'm', 'm', 'm'];
    const report = classificationReport(predicted, actual, { groups, scores, attribute: 'sex', calibrationBins: 2 });
    record.evaluation[0].report = report;
    const html = renderHtml(buildCard(record));
    const keys = checkFigures(html, JSON.parse(JSON.stringify(record))).map((e) => e.attrs['data-key']);
    const fk = 'evaluation.0.report.fairness';
    for (const k of [
      `${fk}.demographicParityRatio.value`,
      `${fk}.equalizedOddsDifference.value`,
      `${fk}.confidenceIntervals.intervals.equalizedOddsDifference.0`,
      `${fk}.groups.1.calibration.meanScore`,
    ])
      assert.ok(keys.includes(k), `${k} is shown`);
    const md = renderMarkdown(buildCard(record));
    assert.match(md, /Four-fifths rule: the lowest group selection rate is .* it FAILS/);
    assert.match(md, /Equalised-odds difference/);
    assert.match(md, /False-positive rate/);
    assert.match(md, /percentile bootstrap, .* 1,000 resamples, seed 0/);
    assert.match(md, /Calibration by sex/);
    // An older report: no FPR, ratio, equalised odds, rule, intervals or calibration.
    const old = report.fairness as Partial<FairnessReport>;
    for (const k of ['demographicParityRatio', 'equalizedOddsDifference', 'fourFifthsRule', 'confidenceIntervals'])
      delete old[k as keyof FairnessReport];
    for (const g of old.groups!) (delete g.falsePositiveRate, delete g.calibration);
    const oldMd = renderMarkdown(buildCard(record));
    assert.match(oldMd, /Demographic-parity difference/);
    assert.doesNotMatch(oldMd, /Equalised-odds|Four-fifths|False-positive rate|Calibration by/);
    checkFigures(renderHtml(buildCard(record)), JSON.parse(JSON.stringify(record)));
  } finally {
    run.dispose();
  }
});
