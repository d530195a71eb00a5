// `candor anonymize`: the report of a CSV, anonymising it to a file with the shipped Adult hierarchies or a
// JSON file of hierarchies, and usage errors (exit status 2) and bad input (exit status 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { candor } from './run.js';
import { tempDir } from '../ledger/fixtures.js';
import { privacy } from '../../src/index.js';

const sample = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'adult-sample.csv');

test('candor anonymize: report, anonymise to a CSV, an encrypted input, errors', async () => {
  const tmp = tempDir();
  try {
    const report = candor('anonymize', sample, '--qi', 'age,sex,race', '--sensitive', 'Y', '--json');
    assert.equal(report.code, 0, report.err);
    const { rows } = privacy.parseTable(readFileSync(sample, 'utf8'));
    const expected = privacy.kAnonymityReport(rows, { quasiIdentifiers: ['age', 'sex', 'race'], sensitive: 'Y' });
    assert.deepEqual(JSON.parse(report.out), expected);

    const out = join(tmp.dir, 'anon.csv');
    const qi = 'age,sex,race,native-country,education';
    const args = ['--qi', qi, '--k', '5', '--hierarchies', 'adult', '--max-suppression', '0.05', '--out', out];
    const r = candor('anonymize', sample, ...args, '--json');
    assert.equal(r.code, 0, r.err);
    const printed = JSON.parse(r.out);
    const written = privacy.parseTable(readFileSync(out, 'utf8'));
    assert.equal(written.rows.length, 326 - printed.suppressed);
    assert.equal(written.columns.length, 15);
    const after = privacy.kAnonymityReport(written.rows, { quasiIdentifiers: qi.split(','), k: 5 });
    assert.deepEqual(after, printed.after);
    assert.ok(after.k >= 5);
    const text = candor('anonymize', sample, ...args);
    assert.match(text.out, /^before: 326 rows in \d+ classes, k = 1 /m);
    assert.match(text.out, /^levels: age \d\/4, sex \d\/1/m);

    const hierarchies = join(tmp.dir, 'h.json');
    writeFileSync(hierarchies, JSON.stringify({ age: { kind: 'interval', widths: [10] } }));
    const own = candor('anonymize', sample, '--qi', 'age,sex', '--k', '3', '--hierarchies', hierarchies, '--json');
    assert.equal(own.code, 0, own.err);
    assert.equal(JSON.parse(own.out).heights.age, 2);

    const secret = join(tmp.dir, 'adult.csv');
    const passphrase = join(tmp.dir, 'passphrase');
    writeFileSync(passphrase, 'correct horse\n');
    await privacy.writeEncrypted(secret, readFileSync(sample), 'correct horse');
    const encrypted = candor(
      'anonymize',
      secret,
      '--qi',
      'age,sex,race',
      '--sensitive',
      'Y',
      '--json',
      '--passphrase-file',
      passphrase,
    );
    assert.equal(encrypted.code, 0, encrypted.err);
    assert.deepEqual(JSON.parse(encrypted.out), expected);

    assert.equal(candor('anonymize', sample, '--k', '5').code, 2, 'no --qi');
    assert.equal(candor('anonymize', sample, '--qi', 'age', '--k', 'five').code, 2);
    assert.equal(candor('anonymize', sample, '--qi', 'age', '--out', out).code, 2, '--out without --k');
    const missing = candor('anonymize', sample, '--qi', 'age,zip', '--k', '2');
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no column "zip"/);
    const bad = candor('anonymize', sample, '--qi', 'age', '--k', '0');
    assert.match(bad.err, /k must be an integer >= 1/);
  } finally {
    tmp.done();
  }
});
