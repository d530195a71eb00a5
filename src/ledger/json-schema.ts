// A small JSON Schema validator (draft 2020-12, and the draft-07 schemas CycloneDX publishes) for the keywords
// Candor's own schemas and the vendored SPDX 3.0.1 and CycloneDX 1.6 schemas use. A schema using any other
// keyword is rejected up front, so a schema can never silently promise a check that is not made.
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
  'deprecated',
  // CycloneDX's documentation of each enum value: an annotation (draft-07 ignores unknown keywords).
  'meta:enum',
  '$defs',
  'definitions',
  'format',
]);
const ASSERTIONS = new Set([
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'unevaluatedProperties',
  'propertyNames',
  'items',
  'additionalItems',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'minLength',
  'maxLength',
  'pattern',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  'if',
  'then',
  'else',
  '$ref',
]);
const TYPES = new Set(['null', 'boolean', 'object', 'array', 'number', 'integer', 'string']);
/** Keywords whose value is one subschema, a map of subschemas, or a list of them. */
const ONE_SCHEMA = ['additionalProperties', 'unevaluatedProperties', 'propertyNames', 'additionalItems', 'not'];
const SCHEMA_MAPS = ['properties', '$defs', 'definitions'];
const SCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf'];
/**
 * format is an annotation in 2020-12; Candor asserts the formats its schemas use. date-time is RFC 3339's;
 * uri needs a scheme and no white space; iri-reference and idn-email are checked loosely (no white space or
 * characters RFC 3987 excludes; one '@' between non-empty parts), which is what a generated document can get wrong.
 */
const FORMATS: Record<string, RegExp> = {
  'date-time': /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
  uri: /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"{}|\\^`]*$/u,
  'iri-reference': /^[^\s<>"{}|\\^`]*$/u,
  'idn-email': /^[^\s@]+@[^\s@]+$/u,
};
/** The names of the instance's properties that a schema evaluated (for unevaluatedProperties). */
type Evaluated = Set<string>;
/** A schema document: its root and the URI relative references in it resolve against (its $id). */
interface Doc {
  root: Schema;
  base: string;
}
const NO_BASE = 'candor:/schema';

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

function isSchemaObject(s: unknown): s is Record<string, unknown> {
  return typeof s === 'object' && s !== null && !Array.isArray(s);
}

/** The document's base URI: its root $id without a fragment. */
function baseOf(root: Schema): string {
  const id = isSchemaObject(root) && typeof root.$id === 'string' ? root.$id : '';
  return id ? new URL(id, NO_BASE).href.replace(/#.*$/, '') : NO_BASE;
}

/** An enum's values for a message: all of a short list, the first few of a long one (SPDX licence ids). */
function listed(values: unknown[]): string {
  return values.length <= 12
    ? JSON.stringify(values)
    : `${values.length} values (${values
        .slice(0, 5)
        .map((x) => JSON.stringify(x))
        .join(', ')}, ...)`;
}

/** A problem that is only a constant not matched: in a discriminated union (SPDX's classes), a branch not meant. */
const CONST_MISS = /^\S*: (matches 0 of oneOf, expected exactly 1 \(\S*: )?must be "[^"]*"\)?$/;

/**
 * Why no branch of an anyOf/oneOf matched: the problem of the one branch whose discriminator matched, else of the
 * branch that got deepest into the value, else the first problem of each branch (at most 5).
 */
function nearest(results: { problems: string[] }[]): string {
  const all = results.map((r) => r.problems[0]);
  const firsts = all.filter((p) => !CONST_MISS.test(p));
  if (firsts.length === 1) return `nearest: ${firsts[0]}`;
  // The deepest path named anywhere in the problem, nested branches' problems included.
  const depth = (p: string) => Math.max(...(p.match(/\$[^\s:]*/g) ?? ['']).map((q) => q.split(/[.[{]/).length));
  const depths = firsts.map(depth);
  const max = Math.max(...depths);
  if (depths.filter((d) => d === max).length === 1 && max > Math.min(...depths))
    return `nearest: ${firsts[depths.indexOf(max)]}`;
  return all.length <= 5 ? all.join(' | ') : `${all.slice(0, 5).join(' | ')} | ... ${all.length - 5} more`;
}

/** Follows a JSON pointer ('/a/b') from a document's root; undefined when it points nowhere. */
function pointer(root: Schema, fragment: string): Schema | undefined {
  let node: unknown = root;
  for (const part of fragment === '' ? [] : fragment.slice(1).split('/')) {
    const key = decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~');
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined;
    if (node === undefined) return undefined;
  }
  return node as Schema;
}

/** A compiled validator: validate(value) lists the violations ('$.path: message'), [] when valid. */
export class JsonSchemaValidator {
  private readonly docs = new Map<string, Doc>();
  private readonly main: Doc;
  private readonly refs = new Map<string, { schema: Schema; doc: Doc }>();
  private readonly patterns = new Map<string, RegExp>();

  /**
   * `schemas`: other documents that `schema` refers to by URI (e.g. CycloneDX's spdx.schema.json), each found
   * by its $id; a relative $ref resolves against the $id of the document it is in.
   */
  constructor(
    readonly schema: Schema,
    options: { schemas?: Schema[] } = {},
  ) {
    this.main = { root: schema, base: baseOf(schema) };
    for (const root of options.schemas ?? []) {
      const base = baseOf(root);
      if (base === NO_BASE) throw new ArgumentError('JSON Schema: a referenced schema must have an $id');
      this.docs.set(base, { root, base });
    }
    this.docs.set(this.main.base, this.main);
    for (const doc of this.docs.values()) this.checkSchema(doc.root, '$', doc, true);
  }

  validate(value: unknown): string[] {
    const problems: string[] = [];
    this.check(this.schema, value, '$', problems, this.main, false);
    return problems;
  }

  /** Throws SchemaError naming every violation. */
  assert(value: unknown, what = 'value'): void {
    const problems = this.validate(value);
    if (problems.length) throw new SchemaError(what, problems);
  }

  /** Checks that a schema uses only the supported keywords, with well-formed values; throws ArgumentError otherwise. */
  private checkSchema(schema: Schema, path: string, doc: Doc, isRoot: boolean): void {
    if (typeof schema === 'boolean') return;
    if (!isSchemaObject(schema)) throw new ArgumentError(`JSON Schema: ${path} must be an object or a boolean`);
    for (const [k, v] of Object.entries(schema)) {
      if (!ANNOTATIONS.has(k) && !ASSERTIONS.has(k))
        throw new ArgumentError(`JSON Schema: ${path} uses '${k}', which this validator does not support`);
      if (k === '$id' && !isRoot)
        throw new ArgumentError(`JSON Schema: ${path} has an $id; only a document's root may have one here`);
      if (k === 'type')
        for (const t of Array.isArray(v) ? v : [v])
          if (!TYPES.has(t as string))
            throw new ArgumentError(`JSON Schema: ${path}.type has unknown type '${String(t)}'`);
      if (k === 'format' && !(typeof v === 'string' && v in FORMATS))
        throw new ArgumentError(
          `JSON Schema: ${path} uses format '${String(v)}'; supported: ${Object.keys(FORMATS).join(', ')}`,
        );
      if (k === '$ref') this.resolve(v as string, doc, path);
      if (k === 'pattern') this.regex(v as string);
      if (SCHEMA_MAPS.includes(k))
        for (const [p, sub] of Object.entries(v as object))
          this.checkSchema(sub as Schema, `${path}.${k}.${p}`, doc, false);
      if (ONE_SCHEMA.includes(k) || k === 'if' || k === 'then' || k === 'else')
        this.checkSchema(v as Schema, `${path}.${k}`, doc, false);
      // items: one schema, or (draft-07) a list of schemas, one per position, with additionalItems for the rest.
      if (k === 'items')
        if (Array.isArray(v)) v.forEach((sub, i) => this.checkSchema(sub as Schema, `${path}.items[${i}]`, doc, false));
        else this.checkSchema(v as Schema, `${path}.items`, doc, false);
      if (SCHEMA_LISTS.includes(k))
        (v as Schema[]).forEach((sub, i) => this.checkSchema(sub, `${path}.${k}[${i}]`, doc, false));
    }
  }

  private regex(source: string): RegExp {
    let re = this.patterns.get(source);
    if (!re) this.patterns.set(source, (re = new RegExp(source, 'u')));
    return re;
  }

  /** The schema a $ref names and the document it is in: '#/json/pointer', or 'file.json#/pointer' by $id. */
  private resolve(ref: string, doc: Doc, path: string): { schema: Schema; doc: Doc } {
    const key = `${doc.base} ${ref}`;
    const known = this.refs.get(key);
    if (known) return known;
    if (typeof ref !== 'string') throw new ArgumentError(`JSON Schema: ${path}.$ref must be a string`);
    const hash = ref.indexOf('#');
    const uri = hash < 0 ? ref : ref.slice(0, hash);
    const fragment = hash < 0 ? '' : ref.slice(hash + 1);
    const target = uri === '' ? doc : this.docs.get(new URL(uri, doc.base).href);
    if (!target) throw new ArgumentError(`JSON Schema: ${path}.$ref '${ref}' names no schema given to this validator`);
    if (fragment !== '' && !fragment.startsWith('/'))
      throw new ArgumentError(`JSON Schema: ${path}.$ref '${ref}': only JSON pointer fragments are supported`);
    const schema = pointer(target.root, fragment);
    if (schema === undefined) throw new ArgumentError(`JSON Schema: ${path}.$ref '${ref}' points nowhere`);
    const found = { schema, doc: target };
    this.refs.set(key, found);
    return found;
  }

  /** Validates each subschema on its own; the lists of problems, and the properties each valid one evaluated. */
  private branches(subs: Schema[], v: unknown, path: string, doc: Doc): { problems: string[]; seen: Evaluated }[] {
    return subs.map((sub) => {
      const problems: string[] = [];
      // quick: a failing branch only needs its first problem.
      const seen = this.check(sub, v, path, problems, doc, true);
      return { problems, seen };
    });
  }

  /**
   * Appends v's violations of schema to out and returns the names of v's properties the schema evaluated (what
   * unevaluatedProperties needs). With quick, it stops at the first violation (used inside anyOf/oneOf/not/if).
   * Note: $ref's siblings are applied as in 2020-12; in the draft-07 CycloneDX schema they are only annotations and
   * a 'type' that agrees with the target.
   */
  private check(schema: Schema, v: unknown, path: string, out: string[], doc: Doc, quick: boolean): Evaluated {
    const seen: Evaluated = new Set();
    if (schema === true) return seen;
    if (schema === false) {
      out.push(`${path}: no value is allowed here`);
      return seen;
    }
    const s = schema as Record<string, unknown>;
    const add = (names: Evaluated) => names.forEach((n) => seen.add(n));
    const stop = () => quick && out.length > 0;
    if (s.$ref !== undefined) {
      const { schema: target, doc: targetDoc } = this.resolve(s.$ref as string, doc, path);
      add(this.check(target, v, path, out, targetDoc, quick));
      if (stop()) return seen;
    }
    if (s.type !== undefined) {
      const ts = (Array.isArray(s.type) ? s.type : [s.type]) as string[];
      if (!ts.some((t) => matchesType(v, t))) {
        out.push(`${path}: expected ${ts.join(' or ')}, got ${typeOf(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
        return seen;
      }
    }
    if (s.enum !== undefined && !(s.enum as unknown[]).some((e) => deepEqual(e, v)))
      out.push(`${path}: ${JSON.stringify(v)} is not one of ${listed(s.enum as unknown[])}`);
    if (s.const !== undefined && !deepEqual(s.const, v)) out.push(`${path}: must be ${JSON.stringify(s.const)}`);
    if (stop()) return seen;
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
      if (typeof s.pattern === 'string' && !this.regex(s.pattern).test(v))
        out.push(`${path}: ${JSON.stringify(v)} does not match /${s.pattern}/`);
      const format = s.format as string | undefined;
      if (format !== undefined && !(FORMATS[format].test(v) && (format !== 'date-time' || !isNaN(Date.parse(v)))))
        out.push(
          `${path}: ${JSON.stringify(v)} is not ${format === 'date-time' ? 'an RFC 3339' : 'a valid'} ${format}`,
        );
    }
    if (Array.isArray(v)) {
      if (typeof s.minItems === 'number' && v.length < s.minItems) out.push(`${path}: fewer than ${s.minItems} items`);
      if (typeof s.maxItems === 'number' && v.length > s.maxItems) out.push(`${path}: more than ${s.maxItems} items`);
      if (s.uniqueItems === true)
        for (let i = 1; i < v.length; i++)
          if (v.slice(0, i).some((w) => deepEqual(w, v[i]))) out.push(`${path}[${i}]: repeats an earlier item`);
      if (Array.isArray(s.items)) {
        const tuple = s.items as Schema[];
        v.forEach((item, i) => {
          const sub = i < tuple.length ? tuple[i] : s.additionalItems;
          if (sub !== undefined) this.check(sub as Schema, item, `${path}[${i}]`, out, doc, quick);
        });
      } else if (s.items !== undefined)
        v.forEach((item, i) => this.check(s.items as Schema, item, `${path}[${i}]`, out, doc, quick));
    }
    if (stop()) return seen;
    if (typeOf(v) === 'object') {
      const obj = v as Record<string, unknown>;
      // A property whose value is undefined is absent, as in the JSON text the value serializes to.
      const props = (s.properties as Record<string, Schema> | undefined) ?? {};
      for (const [k, val] of Object.entries(obj)) {
        if (val === undefined) continue;
        if (s.propertyNames !== undefined) this.check(s.propertyNames as Schema, k, `${path}{${k}}`, out, doc, quick);
        if (Object.hasOwn(props, k)) {
          this.check(props[k], val, `${path}.${k}`, out, doc, quick);
          seen.add(k);
        } else if (s.additionalProperties !== undefined) {
          if (s.additionalProperties === false) out.push(`${path}: unexpected property '${k}'`);
          else this.check(s.additionalProperties as Schema, val, `${path}.${k}`, out, doc, quick);
          seen.add(k);
        }
        if (stop()) return seen;
      }
      // After the properties, so that a union's discriminator ('type') fails first in a branch that does not apply.
      for (const r of (s.required as string[] | undefined) ?? [])
        if (obj[r] === undefined) out.push(`${path}: missing required property '${r}'`);
    }
    for (const sub of (s.allOf as Schema[] | undefined) ?? []) {
      add(this.check(sub, v, path, out, doc, quick));
      if (stop()) return seen;
    }
    if (s.anyOf !== undefined) {
      const results = this.branches(s.anyOf as Schema[], v, path, doc);
      const valid = results.filter((r) => r.problems.length === 0);
      valid.forEach((r) => add(r.seen));
      if (!valid.length) out.push(`${path}: matches none of anyOf (${nearest(results)})`);
    }
    if (s.oneOf !== undefined) {
      const results = this.branches(s.oneOf as Schema[], v, path, doc);
      const valid = results.filter((r) => r.problems.length === 0);
      if (valid.length === 1) add(valid[0].seen);
      else
        out.push(
          `${path}: matches ${valid.length} of oneOf, expected exactly 1` +
            `${valid.length === 0 ? ` (${nearest(results)})` : ''}`,
        );
    }
    if (s.not !== undefined && this.branches([s.not as Schema], v, path, doc)[0].problems.length === 0)
      out.push(`${path}: must not match the schema under 'not'`);
    if (s.if !== undefined) {
      const [cond] = this.branches([s.if as Schema], v, path, doc);
      const next = (cond.problems.length === 0 ? s.then : s.else) as Schema | undefined;
      if (cond.problems.length === 0) add(cond.seen);
      if (next !== undefined) add(this.check(next, v, path, out, doc, quick));
    }
    if (stop()) return seen;
    if (s.unevaluatedProperties !== undefined && typeOf(v) === 'object') {
      for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
        if (val === undefined || seen.has(k)) continue;
        if (s.unevaluatedProperties === false) out.push(`${path}: unexpected property '${k}'`);
        else this.check(s.unevaluatedProperties as Schema, val, `${path}.${k}`, out, doc, quick);
        seen.add(k);
      }
    }
    return seen;
  }
}
