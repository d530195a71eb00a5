// A small JSON Schema (draft 2020-12) validator for the subset of keywords Candor's schemas use. A schema
// using any other keyword is rejected up front, so a schema can never silently promise a check that is
// not made.
import { ArgumentError } from '../errors.js';
import { SchemaError } from './errors.js';

export type Schema = boolean | { [keyword: string]: unknown };

const ANNOTATIONS = new Set([
  '$schema',
  '$id',
  '$comment',
  'title',
  'description',
  'examples',
  'default',
  '$defs',
  'format',
]);
const ASSERTIONS = new Set([
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'minItems',
  'maxItems',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'minLength',
  'maxLength',
  'pattern',
  'anyOf',
  'oneOf',
  'allOf',
  '$ref',
]);
const TYPES = new Set(['null', 'boolean', 'object', 'array', 'number', 'integer', 'string']);
/** format is an annotation in 2020-12; Candor asserts the one format it uses. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function matchesType(v: unknown, t: string): boolean {
  switch (t) {
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    default:
      return typeOf(v) === t;
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeOf(a) !== typeOf(b) || typeof a !== 'object' || a === null) return false;
  if (Array.isArray(a))
    return a.length === (b as unknown[]).length && a.every((x, i) => deepEqual(x, (b as unknown[])[i]));
  const ka = Object.keys(a),
    kb = Object.keys(b as object);
  return (
    ka.length === kb.length &&
    ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

/** Checks that a schema uses only the supported keywords, with well-formed values; throws ArgumentError otherwise. */
function checkSchema(schema: Schema, path: string, root: Schema): void {
  if (typeof schema === 'boolean') return;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    throw new ArgumentError(`JSON Schema: ${path} must be an object or a boolean`);
  for (const [k, v] of Object.entries(schema)) {
    if (!ANNOTATIONS.has(k) && !ASSERTIONS.has(k))
      throw new ArgumentError(`JSON Schema: ${path} uses '${k}', which this validator does not support`);
    if (k === 'type') {
      const ts = Array.isArray(v) ? v : [v];
      for (const t of ts)
        if (!TYPES.has(t as string))
          throw new ArgumentError(`JSON Schema: ${path}.type has unknown type '${String(t)}'`);
    }
    if (k === 'format' && v !== 'date-time')
      throw new ArgumentError(`JSON Schema: ${path} uses format '${String(v)}'; only 'date-time' is supported`);
    if (k === '$ref') resolveRef(root, v as string, path);
    if (k === 'pattern') new RegExp(v as string, 'u');
    if (k === 'properties' || k === '$defs')
      for (const [p, s] of Object.entries(v as object)) checkSchema(s as Schema, `${path}.${k}.${p}`, root);
    if (k === 'additionalProperties' || k === 'items' || k === 'propertyNames')
      checkSchema(v as Schema, `${path}.${k}`, root);
    if (k === 'anyOf' || k === 'oneOf' || k === 'allOf')
      (v as Schema[]).forEach((s, i) => checkSchema(s, `${path}.${k}[${i}]`, root));
  }
}

function resolveRef(root: Schema, ref: string, path: string): Schema {
  if (typeof ref !== 'string' || !ref.startsWith('#/'))
    throw new ArgumentError(`JSON Schema: ${path}.$ref '${ref}' is not a local reference ('#/...')`);
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    node =
      typeof node === 'object' && node !== null
        ? (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')]
        : undefined;
    if (node === undefined) throw new ArgumentError(`JSON Schema: ${path}.$ref '${ref}' points nowhere`);
  }
  return node as Schema;
}

/** A compiled validator: validate(value) lists the violations ('$.path: message'), [] when valid. */
export class JsonSchemaValidator {
  constructor(readonly schema: Schema) {
    checkSchema(schema, '$', schema);
  }

  validate(value: unknown): string[] {
    const problems: string[] = [];
    this.check(this.schema, value, '$', problems);
    return problems;
  }

  /** Throws SchemaError naming every violation. */
  assert(value: unknown, what = 'value'): void {
    const problems = this.validate(value);
    if (problems.length) throw new SchemaError(what, problems);
  }

  private check(schema: Schema, v: unknown, path: string, out: string[]): void {
    if (schema === true) return;
    if (schema === false) {
      out.push(`${path}: no value is allowed here`);
      return;
    }
    const s = schema as Record<string, unknown>;
    if (s.$ref !== undefined) this.check(resolveRef(this.schema, s.$ref as string, path), v, path, out);
    if (s.type !== undefined) {
      const ts = (Array.isArray(s.type) ? s.type : [s.type]) as string[];
      if (!ts.some((t) => matchesType(v, t))) {
        out.push(`${path}: expected ${ts.join(' or ')}, got ${typeOf(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
        return;
      }
    }
    if (s.enum !== undefined && !(s.enum as unknown[]).some((e) => deepEqual(e, v)))
      out.push(`${path}: ${JSON.stringify(v)} is not one of ${JSON.stringify(s.enum)}`);
    if (s.const !== undefined && !deepEqual(s.const, v)) out.push(`${path}: must be ${JSON.stringify(s.const)}`);
    if (typeof v === 'number') {
      if (typeof s.minimum === 'number' && v < s.minimum) out.push(`${path}: ${v} is below the minimum ${s.minimum}`);
      if (typeof s.maximum === 'number' && v > s.maximum) out.push(`${path}: ${v} is above the maximum ${s.maximum}`);
      if (typeof s.exclusiveMinimum === 'number' && v <= s.exclusiveMinimum)
        out.push(`${path}: ${v} must be greater than ${s.exclusiveMinimum}`);
    }
    if (typeof v === 'string') {
      if (typeof s.minLength === 'number' && [...v].length < s.minLength)
        out.push(`${path}: shorter than ${s.minLength} characters`);
      if (typeof s.maxLength === 'number' && [...v].length > s.maxLength)
        out.push(`${path}: longer than ${s.maxLength} characters`);
      if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v))
        out.push(`${path}: ${JSON.stringify(v)} does not match /${s.pattern}/`);
      if (s.format === 'date-time' && !(DATE_TIME.test(v) && !Number.isNaN(Date.parse(v))))
        out.push(`${path}: ${JSON.stringify(v)} is not an RFC 3339 date-time`);
    }
    if (Array.isArray(v)) {
      if (typeof s.minItems === 'number' && v.length < s.minItems) out.push(`${path}: fewer than ${s.minItems} items`);
      if (typeof s.maxItems === 'number' && v.length > s.maxItems) out.push(`${path}: more than ${s.maxItems} items`);
      if (s.items !== undefined) v.forEach((item, i) => this.check(s.items as Schema, item, `${path}[${i}]`, out));
    }
    if (typeOf(v) === 'object') {
      const obj = v as Record<string, unknown>;
      // A property whose value is undefined is absent, as in the JSON text the value serializes to.
      for (const r of (s.required as string[] | undefined) ?? [])
        if (obj[r] === undefined) out.push(`${path}: missing required property '${r}'`);
      const props = (s.properties as Record<string, Schema> | undefined) ?? {};
      for (const [k, val] of Object.entries(obj)) {
        if (val === undefined) continue;
        if (s.propertyNames !== undefined) this.check(s.propertyNames as Schema, k, `${path}{${k}}`, out);
        if (k in props) this.check(props[k], val, `${path}.${k}`, out);
        else if (s.additionalProperties !== undefined) {
          if (s.additionalProperties === false) out.push(`${path}: unexpected property '${k}'`);
          else this.check(s.additionalProperties as Schema, val, `${path}.${k}`, out);
        }
      }
    }
    for (const sub of (s.allOf as Schema[] | undefined) ?? []) this.check(sub, v, path, out);
    if (s.anyOf !== undefined) {
      const results = (s.anyOf as Schema[]).map((sub) => {
        const o: string[] = [];
        this.check(sub, v, path, o);
        return o;
      });
      if (!results.some((r) => r.length === 0))
        out.push(`${path}: matches none of anyOf (${results.map((r) => r[0]).join(' | ')})`);
    }
    if (s.oneOf !== undefined) {
      const results = (s.oneOf as Schema[]).map((sub) => {
        const o: string[] = [];
        this.check(sub, v, path, o);
        return o;
      });
      const ok = results.filter((r) => r.length === 0).length;
      if (ok !== 1)
        out.push(
          `${path}: matches ${ok} of oneOf, expected exactly 1` +
            `${ok === 0 ? ` (${results.map((r) => r[0]).join(' | ')})` : ''}`,
        );
    }
  }
}
