// `candor card init`: the template names every field the card reads, is valid card.json as written (comments
// and empty strings are dropped), a filled field counts as given, an existing card.json is not overwritten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CARD_FIELDS, cardTemplate } from '../../src/cards/card-template.js';
import { CARD_USER_SCHEMA, loadUserInfo } from '../../src/cards/user-info.js';
import { complianceMap } from '../../src/cards/compliance.js';
import { tempDir, tinyRun } from '../ledger/fixtures.js';
import { candor } from '../cli/run.js';

/** Every string field of the card.json schema, as 'field' or 'group.field'. */
function schemaFields(): string[] {
  const props = (CARD_USER_SCHEMA as { properties: object }).properties as Record<
    string,
    { type?: string; properties?: object }
  >;
  return Object.entries(props).flatMap(([k, v]) =>
    k === '$schema' ? [] : v.type === 'object' ? Object.keys(v.properties ?? {}).map((f) => `${k}.${f}`) : [k],
  );
}

test('the template documents every card.json field, and every missing item names one of them', async () => {
  assert.deepEqual(CARD_FIELDS.map(([f]) => f).sort(), schemaFields().sort());
  const json = JSON.parse(cardTemplate()) as Record<string, unknown>;
  assert.equal(typeof json['//'], 'string');
  assert.equal(json.intendedUse, '');
  assert.equal(typeof json['//intendedUse'], 'string');
  const run = await tinyRun({ evaluate: false, options: { energy: false } });
  const fields = new Set(CARD_FIELDS.map(([f]) => f));
  for (const g of complianceMap(run.record, {}))
    for (const i of g.items) {
      const named = /set `([\w.]+)` in card\.json/.exec(i.content)?.[1];
      if (named) assert.ok(fields.has(named), `${i.ref}: ${named} is not a card.json field`);
    }
  run.dispose();
});

test('candor card init writes a valid template; filled fields count; it never overwrites', async () => {
  const tmp = tempDir();
  try {
    const r = candor('card', 'init', tmp.dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /wrote .*card\.json/);
    let loaded = await loadUserInfo(tmp.dir);
    assert.deepEqual(loaded.info, {}, 'an untouched template gives nothing');
    const file = join(tmp.dir, 'card.json');
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string> | string>;
    json.intendedUse = 'Digit recognition demos.';
    (json.testSignOff as Record<string, string>).by = 'A. Tester';
    writeFileSync(file, JSON.stringify(json, null, 2));
    loaded = await loadUserInfo(tmp.dir);
    assert.deepEqual(loaded.info, { intendedUse: 'Digit recognition demos.', testSignOff: { by: 'A. Tester' } });
    const again = candor('card', 'init', tmp.dir);
    assert.notEqual(again.code, 0);
    assert.match(again.err, /exists; remove it or pass --force/);
    assert.equal(candor('card', 'init', tmp.dir, '--force').code, 0);
    assert.deepEqual((await loadUserInfo(tmp.dir)).info, {});
  } finally {
    tmp.done();
  }
});
