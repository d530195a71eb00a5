// The model card's results by group for one evaluation: per-group rates and calibration, the disparities with
// their bootstrap intervals, the four-fifths rule, and per-class figures for multi-class reports. Figures come
// only from the record's FairnessReport; those an older record lacks are left out.
import type { FairnessMeasure, FairnessReport } from '../ledger/fairness.js';
import { fig, num, type Block, type Cell } from './document.js';

const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** Blocks for the fairness report `f` of the evaluation named `name`; `key` is the report's record path. */
export function fairnessBlocks(name: string, key: string, f: FairnessReport, labels: readonly string[]): Block[] {
  const fk = `${key}.fairness`;
  const pos = f.positiveClass;
  const withFpr = f.groups.some((g) => g.falsePositiveRate);
  const withCalibration = f.groups.some((g) => g.calibration);
  const ci = f.confidenceIntervals;
  const interval = (m: FairnessMeasure): Cell | string => {
    const v = ci?.intervals[m];
    if (!v) return 'n/a';
    const path = `${fk}.confidenceIntervals.intervals.${m}`;
    return { text: `[${num(v[0])}, ${num(v[1])}]`, key: `${path}.0`, value: v[0] };
  };
  const measure = (label: string, m: Exclude<FairnessMeasure, 'accuracyDifference'>) => {
    const d = f[m];
    return d ? [[label, fig(num(d.value), `${fk}.${m}.value`, d.value ?? ''), interval(m), d.definition]] : [];
  };
  const rows = [
    ...measure('Demographic-parity difference', 'demographicParityDifference'),
    ...measure('Demographic-parity ratio', 'demographicParityRatio'),
    ...measure('Equal-opportunity difference', 'equalOpportunityDifference'),
    ...measure('Equalised-odds difference', 'equalizedOddsDifference'),
    [
      'Accuracy difference',
      fig(num(f.accuracyDifference), `${fk}.accuracyDifference`, f.accuracyDifference),
      interval('accuracyDifference'),
      'max - min over groups of accuracy',
    ],
  ];
  const blocks: Block[] = [
    { kind: 'heading', level: 3, text: `${name}: results by ${f.attribute}` },
    {
      kind: 'table',
      caption: `Per group${pos !== undefined ? ` (positive class '${pos}')` : ''}`,
      header: [
        'Group',
        'Samples',
        'Accuracy',
        ...(pos !== undefined ? ['Selection rate', 'True-positive rate'] : []),
        ...(pos !== undefined && withFpr ? ['False-positive rate'] : []),
        ...(withCalibration ? ['Mean predicted probability', 'Observed positive rate', 'Calibration error (ECE)'] : []),
      ],
      rows: f.groups.map((g, i) => {
        const gk = `${fk}.groups.${i}`;
        const cal = g.calibration;
        return [
          g.group,
          int(g.samples),
          fig(num(g.accuracy), `${gk}.accuracy`, g.accuracy),
          ...(pos !== undefined ? [num(g.selectionRate[pos]), num(g.truePositiveRate[pos])] : []),
          ...(pos !== undefined && withFpr ? [num(g.falsePositiveRate?.[pos])] : []),
          ...(withCalibration
            ? cal
              ? [
                  fig(num(cal.meanScore), `${gk}.calibration.meanScore`, cal.meanScore),
                  fig(num(cal.positiveRate), `${gk}.calibration.positiveRate`, cal.positiveRate),
                  num(cal.expectedCalibrationError),
                ]
              : ['n/a', 'n/a', 'n/a']
            : []),
        ];
      }),
    },
    {
      kind: 'table',
      caption: 'Disparities between groups',
      header: ['Measure', 'Value', ci ? `${num(100 * ci.level, 3)}% interval` : 'Interval', 'Definition'],
      rows,
    },
  ];
  const notes: string[] = [];
  if (f.fourFifthsRule && f.demographicParityRatio) {
    const { passes, threshold } = f.fourFifthsRule;
    notes.push(
      passes === null
        ? 'Four-fifths rule: not defined (fewer than two groups, or no group is ever selected).'
        : `Four-fifths rule: the lowest group selection rate is ${num(f.demographicParityRatio.value)} of the ` +
            `highest, ${passes ? 'at least' : 'below'} ${threshold}: it ${passes ? 'passes' : 'FAILS'}.`,
    );
  }
  if (ci) notes.push(`Intervals: ${ci.method}, ${int(ci.resamples)} resamples, seed ${ci.seed}.`);
  blocks.push(...notes.map((text): Block => ({ kind: 'para', text })));
  if (withCalibration)
    blocks.push({
      kind: 'details',
      summary: `Calibration by ${f.attribute}: predicted probability against observed rate, in bins`,
      blocks: [
        {
          kind: 'table',
          header: ['Group', 'Bin', 'Samples', 'Mean predicted probability', 'Observed positive rate'],
          rows: f.groups.flatMap((g) =>
            (g.calibration?.bins ?? []).map((b) => [
              g.group,
              `[${num(b.lower)}, ${num(b.upper)}${b.upper === 1 ? ']' : ')'}`,
              int(b.samples),
              num(b.meanScore),
              num(b.positiveRate),
            ]),
          ),
        },
      ],
    });
  if (pos === undefined) {
    const extra = (['demographicParityRatio', 'equalizedOddsDifference'] as const).filter((m) => f[m]);
    blocks.push({
      kind: 'table',
      caption: 'Per class, one-vs-rest',
      header: [
        'Class',
        'Demographic-parity difference',
        'Equal-opportunity difference',
        ...extra.map((m) =>
          m === 'demographicParityRatio' ? 'Demographic-parity ratio' : 'Equalised-odds difference',
        ),
      ],
      rows: labels.map((l) => [
        l,
        num(f.demographicParityDifference.byClass[l]),
        num(f.equalOpportunityDifference.byClass[l]),
        ...extra.map((m) => num(f[m]!.byClass[l])),
      ]),
    });
  }
  return blocks;
}
