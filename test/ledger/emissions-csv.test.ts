// emissions.csv: CodeCarbon's columns (a fixture copied from its EmissionsData dataclass), its units (kWh from
// joules, kg CO2e), CSV quoting, one row per run across repeated finish() calls, and a foreign header backed up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CODECARBON_COLUMNS, csvField, writeEmissionsCsv } from '../../src/ledger/emissions-csv.js';
import { tempDir, tinyRun } from './fixtures.js';

const fixture = JSON.parse(readFileSync('test/fixtures/codecarbon/emissions-columns.json', 'utf8')) as {
  source: string;
  columns: string[];
};

/** A CSV line split into fields (RFC 4180 quotes), the slow obvious way. */
function parseLine(line: string): string[] {
  const out: string[] = [];
  let field = '',
    quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') ((field += '"'), i++);
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') (out.push(field), (field = ''));
    else field += ch;
  }
  out.push(field);
  return out;
}

test("the header is CodeCarbon's EmissionsData fields, in order", () => {
  assert.match(fixture.source, /emissions_data\.py.*b05965e4/);
  assert.deepEqual([...CODECARBON_COLUMNS], fixture.columns);
});

test('CSV quoting: commas, quotes and newlines are quoted, quotes doubled', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField(1.5), '1.5');
  assert.equal(csvField(NaN), '');
  assert.deepEqual(parseLine('"a,b","say ""hi""",3'), ['a,b', 'say "hi"', '3']);
});

test("finish() writes one row per run in CodeCarbon's units; a foreign header is backed up", async () => {
  const tmp = tempDir();
  process.env.CANDOR_CONFIG_DIR = tmp.dir;
  const name = 'tiny, "blobs"';
  const run = await tinyRun({ dir: tmp.dir, evaluate: false, options: { name, grid: { region: 'FR' } } });
  try {
    await run.recorder.finish();
    await run.recorder.finish(); // model.save() then publishing: still one row for the run
    const file = join(tmp.dir, 'emissions.csv');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.equal(lines[0], fixture.columns.join(','));
    const row = Object.fromEntries(parseLine(lines[1]).map((v, i) => [fixture.columns[i], v]));
    const r = run.record;
    const e = r.energy!;
    assert.equal(row.project_name, name, 'quoted and read back whole');
    assert.equal(row.run_id, r.id);
    assert.equal(Number(row.duration), e.wallSeconds);
    assert.equal(Number(row.energy_consumed), e.joules / 3.6e6, 'kWh from joules');
    assert.equal(Number(row.cpu_energy), (e.components.cpu! * e.pue) / 3.6e6);
    assert.equal(Number(row.ram_energy), (e.components.dram! * e.pue) / 3.6e6);
    assert.equal(Number(row.emissions), r.emissions!.gCO2e / 1000, 'kg CO2e');
    const kg = (e.joules / 3.6e6) * r.emissions!.grid.gPerKWh * 1e-3;
    assert.ok(Math.abs(Number(row.emissions) - kg) <= 1e-12 * kg, 'kg = kWh x g/kWh / 1000');
    assert.equal(Number(row.cpu_power), e.components.cpu! / e.wallSeconds, 'W');
    assert.deepEqual([row.country_name, row.country_iso_code], ['France', 'FRA']);
    assert.deepEqual([row.tracking_mode, row.gpu_count, row.pue], ['process', '0', String(e.pue)]);
    // A second run appends its row under the same header.
    const second = await tinyRun({ dir: tmp.dir, evaluate: false });
    await second.recorder.finish();
    assert.equal(readFileSync(file, 'utf8').trimEnd().split('\n').length, 3);
    second.dispose();
    // Another format's file is kept as emissions.csv.bak, and a new file started (as CodeCarbon does).
    writeFileSync(file, 'timestamp,project_name,run_id,duration\nx,y,z,1\n');
    const out = await writeEmissionsCsv(run.record, tmp.dir);
    assert.equal(out.backup, join(tmp.dir, 'emissions.csv.bak'));
    assert.ok(existsSync(out.backup!));
    assert.equal(readFileSync(file, 'utf8').trimEnd().split('\n').length, 2);
  } finally {
    run.dispose();
    tmp.done();
  }
});
