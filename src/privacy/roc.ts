// ROC summaries of a membership-inference attack's scores (higher = "member"): the exact ROC AUC (the
// Mann-Whitney statistic, ties counted half) and the true-positive rate at fixed false-positive rates.
import { ArgumentError } from '../errors.js';

function checkScores(op: string, name: string, scores: ArrayLike<number>): void {
  if (scores.length === 0) throw new ArgumentError(`${op}: no ${name} scores`);
  for (let i = 0; i < scores.length; i++)
    if (Number.isNaN(scores[i])) throw new ArgumentError(`${op}: ${name} score ${i} is NaN`);
}

/**
 * The area under the ROC curve of scores that should rank members above non-members: the probability
 * that a random member scores above a random non-member, ties counting one half (U / (m n)). Exact, in
 * O((m + n) log(m + n)); 0.5 is chance, 1 a perfect attack.
 */
export function rocAuc(members: ArrayLike<number>, nonMembers: ArrayLike<number>): number {
  checkScores('rocAuc', 'member', members);
  checkScores('rocAuc', 'non-member', nonMembers);
  const m = members.length,
    n = nonMembers.length;
  const all = new Float64Array(m + n);
  const isMember = new Uint8Array(m + n);
  for (let i = 0; i < m; i++) ((all[i] = members[i]), (isMember[i] = 1));
  for (let j = 0; j < n; j++) all[m + j] = nonMembers[j];
  const order = Array.from(all.keys()).sort((a, b) => all[a] - all[b] || 0);
  // Walk the scores upwards one tie group at a time: each member beats the non-members below its group
  // and ties with those inside it.
  let u = 0,
    below = 0;
  for (let start = 0; start < order.length;) {
    let end = start,
      mg = 0,
      ng = 0;
    while (end < order.length && all[order[end]] === all[order[start]]) {
      if (isMember[order[end]]) mg++;
      else ng++;
      end++;
    }
    u += mg * below + 0.5 * mg * ng;
    below += ng;
    start = end;
  }
  return u / (m * n);
}

/**
 * The true-positive rate at each false-positive rate f: the largest fraction of members flagged by a
 * threshold ("member when score >= t") that flags at most a fraction f of the non-members. With n
 * non-members only multiples of 1/n are attainable, so f < 1/n means no false positive at all.
 */
export function tprAtFpr(
  members: ArrayLike<number>,
  nonMembers: ArrayLike<number>,
  fprs: readonly number[],
): { fpr: number; tpr: number }[] {
  checkScores('tprAtFpr', 'member', members);
  checkScores('tprAtFpr', 'non-member', nonMembers);
  for (const f of fprs)
    if (!(typeof f === 'number' && f > 0 && f < 1))
      throw new ArgumentError(`tprAtFpr: each false-positive rate must be in (0, 1), got ${f}`);
  const n = nonMembers.length;
  const desc = Float64Array.from(nonMembers).sort().reverse();
  return fprs.map((fpr) => {
    // At most k false positives; the threshold must then lie above the (k+1)-th largest non-member score
    // (ties with it included would be more than k).
    const k = Math.floor(fpr * n + 1e-9);
    if (k >= n) return { fpr, tpr: 1 };
    const bar = desc[k];
    let hits = 0;
    for (let i = 0; i < members.length; i++) if (members[i] > bar) hits++;
    return { fpr, tpr: hits / members.length };
  });
}
