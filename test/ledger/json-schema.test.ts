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

test('validator: unevaluatedProperties sees through $ref, allOf, anyOf, if/then, not through failed branches', () => {
  const v = new JsonSchemaValidator({
    $defs: { named: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
    allOf: [{ $ref: '#/$defs/named' }],
    anyOf: [
      { properties: { a: { const: 1 } }, required: ['a'] },
      { properties: { b: { const: 2 } }, required: ['b'] },
    ],
    if: { properties: { kind: { const: 'x' } }, required: ['kind'] },
    then: { properties: { x: { type: 'number' } } },
    else: { properties: { y: { type: 'number' } } },
    unevaluatedProperties: false,
  });
  assert.deepEqual(v.validate({ name: 'n', a: 1, kind: 'x', x: 3 }), []);
  assert.deepEqual(v.validate({ name: 'n', b: 2, y: 3 }), []);
  // 'x' is evaluated only by 'then', which does not apply when kind is not 'x'; 'b' only by a failing branch.
  assert.deepEqual(v.validate({ name: 'n', a: 1, x: 3 }), ["$: unexpected property 'x'"]);
  assert.deepEqual(v.validate({ name: 'n', a: 1, b: 3 }), ["$: unexpected property 'b'"]);
  assert.deepEqual(v.validate({ name: 'n', a: 1, kind: 'x', x: 'no' }), ['$.x: expected number, got string']);
  assert.ok(v.validate({ a: 1 }).includes("$: missing required property 'name'"));
});

test('validator: uniqueItems, not, tuple items with additionalItems, formats, definitions', () => {
  const v = new JsonSchemaValidator({
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: {
      set: { type: 'array', uniqueItems: true },
      notString: { not: { type: 'string' } },
      pair: { type: 'array', items: [{ type: 'string' }, { type: 'integer' }], additionalItems: false },
      link: { type: 'string', format: 'iri-reference' },
      uri: { type: 'string', format: 'uri' },
      mail: { type: 'string', format: 'idn-email' },
      thing: { $ref: '#/definitions/thing' },
    },
    definitions: { thing: { enum: ['a', 'b'], 'meta:enum': { a: 'the a', b: 'the b' }, deprecated: false } },
  });
  assert.deepEqual(
    v.validate({
      set: [1, { a: 1 }, [1]],
      notString: 1,
      pair: ['a', 1],
      link: '../x#y',
      uri: 'https://example.org/a',
      mail: 'ä@example.org',
      thing: 'a',
    }),
    [],
  );
  assert.deepEqual(
    v
      .validate({
        set: [{ a: 1 }, 2, { a: 1 }],
        notString: 's',
        pair: ['a', 'b', 3],
        link: 'has space',
        uri: 'relative/path',
        mail: 'nobody',
        thing: 'c',
      })
      .sort(),
    [
      '$.link: "has space" is not a valid iri-reference',
      '$.mail: "nobody" is not a valid idn-email',
      "$.notString: must not match the schema under 'not'",
      '$.pair[1]: expected integer, got string',
      '$.pair[2]: no value is allowed here',
      '$.set[2]: repeats an earlier item',
      '$.thing: "c" is not one of ["a","b"]',
      '$.uri: "relative/path" is not a valid uri',
    ].sort(),
  );
});

test('validator: a union that fails names the problem of the branch whose discriminator matched', () => {
  const cls = (name: string, field: string) => ({
    type: 'object',
    properties: { type: { oneOf: [{ const: name }] }, [field]: { type: 'integer' } },
    required: ['type', field],
  });
  const v = new JsonSchemaValidator({ type: 'array', items: { anyOf: [cls('A', 'a'), cls('B', 'b'), cls('C', 'c')] } });
  assert.deepEqual(v.validate([{ type: 'B', b: 1 }]), []);
  assert.deepEqual(v.validate([{ type: 'B', b: 'x' }]), [
    '$[0]: matches none of anyOf (nearest: $[0].b: expected integer, got string)',
  ]);
  assert.deepEqual(v.validate([{ type: 'C' }]), [
    "$[0]: matches none of anyOf (nearest: $[0]: missing required property 'c')",
  ]);
  // No branch's discriminator matched: each branch's first problem.
  assert.match(v.validate([{ type: 'D' }])[0], /^\$\[0\]: matches none of anyOf \(\$\[0\]\.type: .* \| .* \| .*\)$/);
});

test('validator: $ref into another document, found by $id and resolved against the referring one', () => {
  const ids = { $id: 'http://example.org/schema/ids.schema.json', enum: ['MIT', 'Apache-2.0'] };
  const sig = { $id: 'http://example.org/schema/sig.schema.json', definitions: { sig: { required: ['alg'] } } };
  const main = {
    $id: 'http://example.org/schema/main.schema.json',
    properties: { licence: { $ref: 'ids.schema.json' }, signature: { $ref: 'sig.schema.json#/definitions/sig' } },
  };
  const v = new JsonSchemaValidator(main, { schemas: [ids, sig] });
  assert.deepEqual(v.validate({ licence: 'MIT', signature: { alg: 'ES256' } }), []);
  assert.deepEqual(v.validate({ licence: 'MITx', signature: {} }), [
    '$.licence: "MITx" is not one of ["MIT","Apache-2.0"]',
    "$.signature: missing required property 'alg'",
  ]);
  assert.throws(
    () => new JsonSchemaValidator(main, { schemas: [ids] }),
    /'sig\.schema\.json#\/definitions\/sig' names no/,
  );
  assert.throws(() => new JsonSchemaValidator(main, { schemas: [{ enum: [1] }] }), /must have an \$id/);
});

test('validator refuses schemas that use keywords it does not check', () => {
  assert.throws(() => new JsonSchemaValidator({ type: 'object', dependentRequired: {} }), /does not support/);
  assert.throws(
    () => new JsonSchemaValidator({ properties: { a: { patternProperties: {} } } }),
    /\$\.properties\.a uses 'patternProperties'/,
  );
  assert.throws(() => new JsonSchemaValidator({ $ref: 'http://elsewhere/x' }), /names no schema given/);
  assert.throws(() => new JsonSchemaValidator({ $ref: '#anchor' }), /only JSON pointer fragments/);
  assert.throws(() => new JsonSchemaValidator({ $defs: { a: { $id: 'x' } } }), /only a document's root/);
  assert.throws(() => new JsonSchemaValidator({ $ref: '#/$defs/none' }), /points nowhere/);
  assert.throws(() => new JsonSchemaValidator({ type: 'float' }), /unknown type/);
  assert.throws(() => new JsonSchemaValidator({ format: 'email' }), /format 'email'; supported: date-time, uri/);
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
