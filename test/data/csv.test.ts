// CSV: RFC 4180 records (quotes, escaped quotes, delimiters and newlines in quotes), label columns and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { parseCsv, parseCsvRecords, loadCsv } from '../../src/data/index.js';
import { FormatError } from '../../src/io/safetensors.js';

test('parseCsvRecords follows RFC 4180', () => {
  const text = 'a,b,c\r\n1,"x, y",3\r\n"he said ""hi""",,"multi\nline"\n\n"",last,\n';
  const records = parseCsvRecords(text);
  assert.deepEqual(
    records.map((r) => r.fields),
    [
      ['a', 'b', 'c'],
      ['1', 'x, y', '3'],
      ['he said "hi"', '', 'multi\nline'],
      ['', 'last', ''],
    ],
  );
  assert.deepEqual(
    records.map((r) => r.line),
    [1, 2, 3, 6],
    'lines count newlines inside quotes; blank lines are skipped',
  );
  assert.deepEqual(
    parseCsvRecords('\ufeffx;y\n1;2').map((r) => r.fields),
    [['x;y'], ['1;2']],
    'the BOM is dropped',
  );
  assert.deepEqual(
    parseCsvRecords('\ufeffx;y\n1;2', ';').map((r) => r.fields),
    [
      ['x', 'y'],
      ['1', '2'],
    ],
  );
  assert.deepEqual(parseCsvRecords('').length, 0);
  assert.deepEqual(
    parseCsvRecords('"a"').map((r) => r.fields),
    [['a']],
  );
});

test('parseCsvRecords rejects malformed quoting with the line', () => {
  assert.throws(
    () => parseCsvRecords('a,b\n1,"open\n2,3\n'),
    (e: unknown) => e instanceof FormatError && /line 2: quoted field never closes/.test(e.message),
  );
  assert.throws(() => parseCsvRecords('a,b\n"x"y,2'), /line 2: unexpected "y" after a closing quote \(field 1\)/);
  assert.throws(() => parseCsvRecords('a,b\n1,2"3'), /line 2: field 2 \("2\\"3"\) has a quote but is not quoted/);
  assert.throws(() => parseCsvRecords('a', '"'), c.ArgumentError);
});

const IRIS = `sepal_length,sepal_width,species
5.1,3.5,setosa
7.0,3.2,versicolor
6.3,3.3,virginica
4.9,3.0,setosa
`;

test('parseCsv: features, a label column by name or index, numeric and string labels', () => {
  const { x, y, columns, labelColumn, classes } = parseCsv(IRIS, { label: 'species' });
  assert.deepEqual([...x.shape], [4, 2]);
  assert.equal(x.dtype, 'float32');
  assert.deepEqual(Array.from(x.dataSync()), Array.from(Float32Array.from([5.1, 3.5, 7.0, 3.2, 6.3, 3.3, 4.9, 3.0])));
  assert.deepEqual(columns, ['sepal_length', 'sepal_width']);
  assert.equal(labelColumn, 'species');
  assert.deepEqual(classes, ['setosa', 'versicolor', 'virginica']);
  assert.equal(y!.dtype, 'int32');
  assert.deepEqual(Array.from(y!.dataSync()), [0, 1, 2, 0]);

  const num = parseCsv('f,label,g\n1,0,2\n3,1,4\n5e-1,2,-inf\n', { label: 1, dtype: 'float64' });
  assert.equal(num.x.dtype, 'float64');
  assert.deepEqual(num.x.toArray(), [
    [1, 2],
    [3, 4],
    [0.5, -Infinity],
  ]);
  assert.deepEqual([num.y!.dtype, num.y!.toArray()], ['int32', [0, 1, 2]]);
  const reg = parseCsv('a,t\n1,0.5\n2,1\n', { label: 't' });
  assert.deepEqual([reg.y!.dtype, reg.y!.toArray()], ['float32', [0.5, 1]]);
  const forced = parseCsv('a,t\n1,3\n2,1\n', { label: 't', labelType: 'classes' });
  assert.deepEqual(
    [forced.classes, forced.y!.toArray()],
    [
      ['1', '3'],
      [1, 0],
    ],
  );
  const noLabel = parseCsv('1,2\n3,4\n', { header: false });
  assert.deepEqual(
    [noLabel.columns, noLabel.x.toArray(), noLabel.y],
    [
      ['col0', 'col1'],
      [
        [1, 2],
        [3, 4],
      ],
      undefined,
    ],
  );
  const quoted = parseCsv('"a, b","c"\n"1","2"\n', { label: 'c' });
  assert.deepEqual([quoted.columns, quoted.x.toArray()], [['a, b'], [[1]]]);
  c.dispose([x, y, num, reg, forced, noLabel, quoted]);
});

test('parseCsv errors name the line and the column', () => {
  const bad = (text: string, opts: Parameters<typeof parseCsv>[1], pattern: RegExp) =>
    assert.throws(
      () => parseCsv(text, opts),
      (e: unknown) => e instanceof c.CandorError && pattern.test(e.message),
    );
  bad('a,b\n1,2\n3,x4\n', {}, /line 3, column 2 \("b"\): "x4" is not a number/);
  bad('a,b\n1,2\n"7\n",4\n5,0x10\n', {}, /line 5, column 2 \("b"\): "0x10" is not a number/);
  bad('a,b\n1,\n', {}, /line 2, column 2 \("b"\): empty value/);
  bad('a,b\n1,2,3\n', {}, /line 2 has 3 fields, expected 2/);
  bad('a,b\n1,2\n', { label: 'c' }, /no column named "c"; columns are "a", "b"/);
  bad('a,b\n1,2\n', { label: 5 }, /label column 5 is out of range for 2 columns/);
  bad(
    'a,t\n1,2.5\n',
    { label: 't', labelType: 'int32' },
    /line 2, column 2 \("t"\): label "2.5" is not an int32 integer/,
  );
  bad('a,t\n1,cat\n', { label: 't', labelType: 'float32' }, /line 2, column 2 \("t"\): label "cat" is not a number/);
  bad('', {}, /empty; expected a header/);
  const filled = parseCsv('a,b\n1,\n', { missing: -1 });
  assert.deepEqual(filled.x.toArray(), [[1, -1]]);
  c.dispose(filled);
});

test('loadCsv reads a file, plain or gzipped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'candor-csv-'));
  try {
    await writeFile(join(dir, 'iris.csv'), IRIS);
    await writeFile(join(dir, 'packed.csv.gz'), gzipSync(IRIS));
    const a = await loadCsv(join(dir, 'iris.csv'), { label: 'species' });
    const b = await loadCsv(join(dir, 'packed.csv'), { label: 'species' });
    assert.deepEqual(a.x.toArray(), b.x.toArray());
    assert.deepEqual(b.classes, ['setosa', 'versicolor', 'virginica']);
    await assert.rejects(loadCsv(join(dir, 'nope.csv')), /nope.csv not found/);
    c.dispose([a, b]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
