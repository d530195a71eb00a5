// Generalisation hierarchies for anonymising tables: numeric intervals that widen level by level, categorical
// groupings given as data, and value -> '*'. Level 0 is the value itself; the top level is always '*'.
import { ArgumentError } from '../errors.js';

/** A value that a hierarchy cannot generalise, or a hierarchy that is not one (names the column). */
export class HierarchyError extends ArgumentError {}

/**
 * A numeric column generalised into intervals of growing width, aligned at `origin` (default 0):
 * `{ kind: 'interval', widths: [5, 10, 20] }` makes age 27 -> '[25,30)' -> '[20,30)' -> '[20,40)' -> '*'.
 * Each width must divide the next, so that every interval lies inside one interval of the next level
 * (what makes k grow monotonically up the lattice).
 */
export interface IntervalHierarchy {
  kind: 'interval';
  widths: readonly number[];
  origin?: number;
}

/**
 * A categorical column generalised by named groups, one record per level: level 1 groups the values,
 * level 2 groups level 1's group names, and so on; '*' above the last level is implied. E.g.
 * `{ kind: 'groups', levels: [{ Europe: ['France', 'Italy'], Asia: ['Japan'] }] }` makes
 * 'France' -> 'Europe' -> '*'. `levels: []` is value -> '*', the default for a column without a hierarchy.
 */
export interface GroupHierarchy {
  kind: 'groups';
  levels: ReadonlyArray<Readonly<Record<string, readonly string[]>>>;
}

/** A generalisation hierarchy, as plain JSON data. */
export type Hierarchy = IntervalHierarchy | GroupHierarchy;

/** The hierarchy used for a quasi-identifier that has none: value -> '*'. */
export const SUPPRESS_ONLY: GroupHierarchy = { kind: 'groups', levels: [] };

/** A checked hierarchy for one column: `generalize(value, level)` for 0 <= level <= height ('*' at height). */
export interface CompiledHierarchy {
  column: string;
  height: number;
  /** The value at `level`; throws a HierarchyError naming the column when the value is not covered. */
  generalize(value: string, level: number): string;
}

/** Checks `h` for column `column` and returns its generalisation function. */
export function compileHierarchy(column: string, h: Hierarchy): CompiledHierarchy {
  const where = `hierarchy of column ${JSON.stringify(column)}`;
  if (h === null || typeof h !== 'object')
    throw new HierarchyError(`${where}: expected { kind: 'interval' | 'groups', ... }, got ${String(h)}`);
  if (h.kind === 'interval') return compileInterval(column, where, h);
  if (h.kind === 'groups') return compileGroups(column, where, h);
  throw new HierarchyError(
    `${where}: kind must be 'interval' or 'groups', got ${JSON.stringify((h as Hierarchy).kind)}`,
  );
}

function compileInterval(column: string, where: string, h: IntervalHierarchy): CompiledHierarchy {
  const widths = h.widths;
  const origin = h.origin ?? 0;
  if (!Array.isArray(widths) || widths.some((w) => !(Number.isFinite(w) && w > 0)))
    throw new HierarchyError(`${where}: widths must be positive finite numbers, got ${JSON.stringify(widths)}`);
  if (!Number.isFinite(origin)) throw new HierarchyError(`${where}: origin must be finite, got ${origin}`);
  for (let i = 1; i < widths.length; i++) {
    const ratio = widths[i] / widths[i - 1];
    if (!(ratio > 1 && Math.abs(ratio - Math.round(ratio)) < 1e-9))
      throw new HierarchyError(
        `${where}: each width must be a multiple (> 1) of the one before, so intervals nest; ` +
          `got ${widths[i - 1]} then ${widths[i]}`,
      );
  }
  const height = widths.length + 1;
  return {
    column,
    height,
    generalize(value, level) {
      const x = value.trim() === '' ? NaN : Number(value);
      if (!Number.isFinite(x))
        throw new HierarchyError(`${where}: ${JSON.stringify(value)} is not a number (an interval hierarchy)`);
      if (level >= height) return '*';
      if (level === 0) return value;
      const w = widths[level - 1];
      const lo = origin + Math.floor((x - origin) / w) * w;
      return `[${fmt(lo)},${fmt(lo + w)})`;
    },
  };
}

/** Interval ends without float noise (0.1 * 3 prints as 0.3). */
function fmt(x: number): string {
  return String(Number(x.toPrecision(12)));
}

function compileGroups(column: string, where: string, h: GroupHierarchy): CompiledHierarchy {
  if (!Array.isArray(h.levels))
    throw new HierarchyError(`${where}: levels must be an array of { group: [members] } records`);
  // parents[i] maps a level-i label to its level-(i+1) group.
  const parents: Map<string, string>[] = [];
  h.levels.forEach((groups, i) => {
    const parent = new Map<string, string>();
    if (groups === null || typeof groups !== 'object')
      throw new HierarchyError(`${where}: level ${i + 1} must be a { group: [members] } record`);
    for (const [name, members] of Object.entries(groups)) {
      if (!Array.isArray(members))
        throw new HierarchyError(`${where}: level ${i + 1} group ${JSON.stringify(name)} must list its members`);
      for (const m of members) {
        const before = parent.get(String(m));
        if (before !== undefined)
          throw new HierarchyError(
            `${where}: level ${i + 1} puts ${JSON.stringify(m)} in two groups ` +
              `(${JSON.stringify(before)} and ${JSON.stringify(name)})`,
          );
        parent.set(String(m), name);
      }
    }
    if (i > 0) {
      const missing = [...new Set(parents[i - 1].values())].filter((g) => !parent.has(g));
      if (missing.length > 0)
        throw new HierarchyError(
          `${where}: level ${i + 1} does not place level ${i}'s group(s) ` +
            missing.map((g) => JSON.stringify(g)).join(', '),
        );
    }
    parents.push(parent);
  });
  const height = parents.length + 1;
  return {
    column,
    height,
    generalize(value, level) {
      // Only level 1 can miss a value: construction checked that each level places all groups of the one below.
      if (parents.length > 0 && !parents[0].has(value))
        throw new HierarchyError(`${where}: ${JSON.stringify(value)} is not covered (add it to a group of level 1)`);
      if (level >= height) return '*';
      let v = value;
      for (let i = 0; i < level; i++) v = parents[i].get(v)!;
      return v;
    },
  };
}
