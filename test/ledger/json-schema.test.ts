// The JSON Schema subset validator and canonical JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonSchemaValidator } from '../../src/ledger/json-schema.js';
import { canonicalJson, hashJson, jsonSafe } from '../../src/ledger/canonical.js';
import { CanonicalJsonError, SchemaError } from '../../src/ledger/errors.js';

test('validator: types, required, additionalProperties, enum/const, ranges, patterns, items, $ref, anyOf/oneOf', () => {
  const v = new JsonSchemaValidator({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    required: ['n', 'tags'],
    additionalProperties: false,
    properties: {
      n: { type: 'integer', minimum: 0, maximum: 10 },
      x: { type: ['number', 'null'], exclusiveMinimum: 0 },
      tags: { type: 'array', minItems: 1, items: { $ref: '#/$defs/tag' } },
      kind: { enum: ['a', 'b'] },
      v: { const: 1 },
      when: { type: 'string', format: 'date-time' },
      either: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
      one: { oneOf: [{ type: 'number' }, { type: 'integer' }] },
      map: { type: 'object', additionalProperties: { type: 'boolean' } },
    },
    $defs: { tag: { type: 'string', pattern: '^[a-z]+$', minLength: 2 } },
  });
  assert.deepEqual(
    v.validate({
      n: 3,
      tags: ['ab'],
      x: null,
      kind: 'a',
      v: 1,
      when: '2024-05-01T10:00:00.123Z',
      either: 'x',
      one: 1.5,
      map: { a: true },
    }),
    [],
  );
  const p = v.validate({
    n: 3.5,
    tags: [],
    x: 0,
    kind: 'c',
    v: 2,
    when: 'yesterday',
    either: 1.5,
    one: 2,
    map: { a: 1 },
    extra: 1,
    u: undefined,
  });
  const want = [
    /\$\.n: expected integer, got number 3\.5/,
    /\$\.tags: fewer than 1 items/,
    /\$\.x: 0 must be greater than 0/,
    /\$\.kind: "c" is not one of/,
    /\$\.v: must be 1/,
    /\$\.when: "yesterday" is not an RFC 3339 date-time/,
    /\$\.either: matches none of anyOf/,
    /\$\.one: matches 2 of oneOf/,
    /\$\.map\.a: expected boolean/,
    /\$: unexpected property 'extra'/,
  ];
  for (const re of want)
    assert.ok(
      p.some((m) => re.test(m)),
      `${re} in\n${p.join('\n')}`,
    );
  assert.ok(!p.some((m) => /'u'/.test(m)), 'an undefined property is absent, as in JSON');
  assert.deepEqual(
    v.validate({ tags: ['A'] }).sort(),
    [
      '$.tags[0]: "A" does not match /^[a-z]+$/',
      '$.tags[0]: shorter than 2 characters',
      "$: missing required property 'n'",
    ].sort(),
  );
  assert.throws(
    () => v.assert({}, 'thing'),
    (e: Error) => e instanceof SchemaError && /thing: 2 schema violations/.test(e.message),
  );
});

test('validator refuses schemas that use keywords it does not check', () => {
  assert.throws(() => new JsonSchemaValidator({ type: 'object', dependentRequired: {} }), /does not support/);
  assert.throws(
    () => new JsonSchemaValidator({ properties: { a: { uniqueItems: true } } }),
    /\$\.properties\.a uses 'uniqueItems'/,
  );
  assert.throws(() => new JsonSchemaValidator({ $ref: 'http://elsewhere/x' }), /not a local reference/);
  assert.throws(() => new JsonSchemaValidator({ $ref: '#/$defs/none' }), /points nowhere/);
  assert.throws(() => new JsonSchemaValidator({ type: 'float' }), /unknown type/);
  assert.throws(() => new JsonSchemaValidator({ format: 'email' }), /only 'date-time'/);
  assert.deepEqual(new JsonSchemaValidator(true).validate(42), []);
  assert.deepEqual(new JsonSchemaValidator(false).validate(42), ['$: no value is allowed here']);
});

test('canonical JSON: sorted keys, no whitespace, JSON numbers; refuses what JSON cannot carry', () => {
  assert.equal(
    canonicalJson({ b: [1, 'x', null, true], a: { d: 1.5, c: -0 }, u: undefined }),
    '{"a":{"c":0,"d":1.5},"b":[1,"x",null,true]}',
  );
  assert.equal(canonicalJson({ é: 1, z: 2, A: 3 }), '{"A":3,"z":2,"é":1}');
  assert.equal(canonicalJson('a"\n'), '"a\\"\\n"');
  assert.equal(hashJson({ a: 1, b: 2 }), hashJson({ b: 2, a: 1 }));
  assert.throws(
    () => canonicalJson({ a: NaN }),
    (e: Error) => e instanceof CanonicalJsonError && /\$\.a is NaN/.test(e.message),
  );
  assert.throws(() => canonicalJson([1, undefined]), /\$\[1\] is undefined/);
  assert.throws(() => canonicalJson({ f: () => 1 }), /function/);
  assert.throws(() => canonicalJson(new Float32Array(2)), /typed array/);
  const cyc: Record<string, unknown> = {};
  cyc.self = cyc;
  assert.throws(() => canonicalJson(cyc), /cycle/);
  assert.deepEqual(jsonSafe({ a: Infinity, b: new Float32Array([1, NaN]), c: undefined, d: [NaN] }), {
    a: null,
    b: [1, null],
    d: [null],
  });
});
