// Reweighing (Kamiran and Calders 2012): sample weights w(g, y) = P(g) P(y) / P(g, y) that make the label
// independent of the group in the weighted data, to pass to fit as sampleWeight.
import { ArgumentError, ShapeError } from '../../errors.js';

/**
 * One weight per sample: n_g n_y / (n n_gy) for a sample of group g with label y. Under these weights every
 * (group, label) cell holds n_g n_y / n of weight, so P_w(g, y) = P(g) P(y), while each group's and each
 * label's total weight stays its count.
 */
export function reweighing(labels: ArrayLike<number | string>, groups: ArrayLike<number | string>): Float64Array {
  const n = labels.length;
  if (groups.length !== n) throw new ShapeError(`reweighing: ${groups.length} group ids for ${n} labels`);
  if (n === 0) throw new ArgumentError('reweighing: no samples');
  const byGroup = new Map<string, number>(),
    byLabel = new Map<string, number>(),
    byCell = new Map<string, number>();
  const add = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1);
  // JSON of the pair keeps ('a,b', 'c') and ('a', 'b,c') apart.
  const cell = (i: number) => JSON.stringify([String(groups[i]), String(labels[i])]);
  for (let i = 0; i < n; i++) {
    add(byGroup, String(groups[i]));
    add(byLabel, String(labels[i]));
    add(byCell, cell(i));
  }
  const weights = new Float64Array(n);
  for (let i = 0; i < n; i++)
    weights[i] = (byGroup.get(String(groups[i]))! * byLabel.get(String(labels[i]))!) / (n * byCell.get(cell(i))!);
  return weights;
}
