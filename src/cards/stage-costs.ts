// Compute by stage of the run (training, validation, testing, ...), as Annex IV 2(c) asks: from the record's
// stages when it has them, else from the meter's phases (forward + backward + optimizer = training; evaluate =
// validation inside fit). Stages the record did not meter are named as such, never given a figure.
import type { RunRecord } from '../ledger/record.js';
import { stagesOf } from './record-extras.js';

export interface StageRow {
  stage: string;
  /** null: not metered. */
  flops: number | null;
  wallSeconds: number | null;
  cpuSeconds: number | null;
  joules: number | null;
  /** The record path of the FLOP figure, for data-key. */
  key?: string;
  note: string;
}

export function stageRows(r: RunRecord): StageRow[] {
  const stages = stagesOf(r);
  if (stages)
    return stages.map((s, i) => ({
      stage: s.stage,
      flops: s.flops,
      wallSeconds: s.wallSeconds,
      cpuSeconds: s.cpuSeconds,
      joules: s.joules,
      key: `stages.${i}.flops`,
      note: s.note ?? 'record.stages',
    }));
  const p = r.compute.byPhase;
  if (!r.compute.attribution.phases)
    return [
      {
        stage: 'training (with validation)',
        flops: r.compute.total.flops,
        wallSeconds: r.training.wallSeconds,
        cpuSeconds: r.training.cpuSeconds,
        joules: r.energy?.joules ?? null,
        key: 'compute.total.flops',
        note: 'phases were not marked: every kernel metered during fit',
      },
      ...testing(r),
    ];
  return [
    {
      stage: 'training',
      flops: r.compute.trainingFlops,
      wallSeconds: r.training.wallSeconds,
      cpuSeconds: r.training.cpuSeconds,
      joules: r.energy?.joules ?? null,
      key: 'compute.trainingFlops',
      note: 'forward + backward + optimizer kernels; time and energy are for the whole of fit (validation included)',
    },
    {
      stage: 'validation',
      flops: p.evaluate.flops,
      wallSeconds: null,
      cpuSeconds: null,
      joules: null,
      key: 'compute.byPhase.evaluate.flops',
      note:
        p.evaluate.calls > 0
          ? "evaluate-phase kernels inside fit (validationData or validationSplit); time is within fit's"
          : 'no validation kernels ran inside fit',
    },
    ...testing(r),
  ];
}

function testing(r: RunRecord): StageRow[] {
  return r.evaluation.length
    ? [
        {
          stage: 'testing',
          flops: null,
          wallSeconds: null,
          cpuSeconds: null,
          joules: null,
          note:
            `${r.evaluation.map((e) => e.name).join(', ')}: not metered in this record ` +
            '(recorders that write record.stages meter it)',
        },
      ]
    : [];
}

/** One line: 'training 2.71e+10 FLOP, validation 2.04e+9 FLOP, testing not metered'. */
export function stagesText(r: RunRecord): string {
  return stageRows(r)
    .map((s) => `${s.stage} ${s.flops === null ? 'not metered' : `${s.flops.toExponential(2)} FLOP`}`)
    .join(', ');
}
