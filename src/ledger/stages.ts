// The cost of each stage of a run's life (fingerprinting, training, validation, testing, saving, ...): wall
// time, CPU time, FLOPs and joules between marks on the run's one energy meter, which runs from the recording's
// begin to its finish, so that the stages add up to the whole (record.energy); gaps go to the stage 'other'.
import type { EnergyMeter, EnergyReport } from './energy.js';
import type { Schema } from './json-schema.js';

/** What one stage of the run cost. */
export interface StageCost {
  stage: 'fingerprinting' | 'training' | 'validation' | 'testing' | 'saving' | 'explaining' | 'compressing' | string;
  wallSeconds: number;
  cpuSeconds: number;
  flops: number;
  /** Energy (PUE included) as the run's energy figure estimates or measures it; null when energy is off. */
  joules: number | null;
  note?: string;
}

export const STAGE_SCHEMA: Schema = {
  type: 'object',
  required: ['stage', 'wallSeconds', 'cpuSeconds', 'flops', 'joules'],
  additionalProperties: false,
  properties: {
    stage: { type: 'string' },
    wallSeconds: { type: 'number', minimum: 0 },
    cpuSeconds: { type: 'number', minimum: 0 },
    flops: { type: 'number', minimum: 0 },
    joules: { anyOf: [{ type: 'number', minimum: 0 }, { type: 'null' }] },
    note: { type: 'string' },
  },
};

/** The record's `stages` property. */
export const STAGES_SCHEMA: Schema = {
  type: 'array',
  items: STAGE_SCHEMA,
  description:
    "The run's life by stage (fingerprinting, training, validation, testing, saving, other): wall and CPU " +
    "time, FLOPs and joules, from the recording's begin to its last write, on the run's one energy meter; " +
    'they add up to the whole, which record.energy reports (its training part: the stages training and validation).',
};

/** A point on the run's clocks (with energy on, the energy meter's: time and CPU time since it started). */
export interface StageMark {
  wallMs: number;
  cpu: { user: number; system: number };
  joules: number | null;
}

/**
 * Marks on the run's clocks and the stages between them. Every mark closes the gap since the previous one:
 * what a stage does not claim is added to 'other', so the stages always sum to the time since the first mark.
 */
export class StageClock {
  readonly stages: StageCost[] = [];
  private last: StageMark;
  /** The meter's report at the last mark: the energy the stages sum to (undefined when energy is off). */
  private lastReport?: EnergyReport;

  /** `energy` (started) gives the joules; `clocks` are injectable for tests. */
  constructor(
    private readonly energy?: Pick<EnergyMeter, 'current'>,
    private readonly clocks = { wallMs: () => performance.now(), cpu: () => process.cpuUsage() },
  ) {
    // With a meter, the clock starts with it (marks are its readings): what it counted before the first mark (its
    // first reading takes a while) belongs to the first stage, so the stages sum to its figure, time and joules.
    const first = this.advance();
    this.last = this.lastReport ? { wallMs: 0, cpu: { user: 0, system: 0 }, joules: 0 } : first;
  }

  /** The last mark taken (at construction, or the end of the last stage). */
  get lastMark(): StageMark {
    return this.last;
  }

  /**
   * The energy meter's report from the first mark to the last: its joules are the sum of the stages' joules
   * (record.energy is this report); undefined when energy is off.
   */
  get energyReport(): EnergyReport | undefined {
    return this.lastReport;
  }

  /** Now, on the wall clock, the process's CPU clock and the energy meter. */
  mark(): StageMark {
    return this.read().mark;
  }

  /** A mark on the energy meter's clocks (time since its start) when there is one, else on `clocks`. */
  private read(): { mark: StageMark; report?: EnergyReport } {
    const report = this.energy?.current();
    if (!report) return { mark: { wallMs: this.clocks.wallMs(), cpu: this.clocks.cpu(), joules: null } };
    const cpu = { user: report.cpuSeconds * 1e6, system: 0 };
    return { mark: { wallMs: report.wallSeconds * 1000, cpu, joules: report.joules }, report };
  }

  /** A mark that becomes the last one (the stages cover up to it), keeping the meter's report at it. */
  private advance(): StageMark {
    const { mark, report } = this.read();
    this.lastReport = report;
    return mark;
  }

  /** The cost between two marks (joules null when either has none). */
  static between(from: StageMark, to: StageMark): Omit<StageCost, 'stage' | 'flops'> {
    return {
      wallSeconds: Math.max(0, (to.wallMs - from.wallMs) / 1000),
      cpuSeconds: Math.max(0, (to.cpu.user - from.cpu.user + to.cpu.system - from.cpu.system) / 1e6),
      joules: from.joules === null || to.joules === null ? null : Math.max(0, to.joules - from.joules),
    };
  }

  /**
   * Adds a stage that ran from `from` to now (the time before `from` since the last mark goes to 'other') and
   * returns now's mark. `parts` carve measured parts out of it (validation out of fit): each gets its own wall
   * and CPU time and FLOPs, and the stage's joules in proportion to its CPU time (its note says so).
   */
  close(
    stage: string,
    from: StageMark,
    flops: number,
    note?: string,
    parts: Omit<StageCost, 'joules'>[] = [],
  ): StageMark {
    const now = this.advance();
    this.add({ stage: 'other', flops: 0, ...StageClock.between(this.last, from) });
    const whole: StageCost = { stage, flops, ...StageClock.between(from, now), ...(note ? { note } : {}) };
    const carved: StageCost[] = [];
    const cpu = whole.cpuSeconds;
    const total = whole.joules;
    for (const part of parts) {
      const share = cpu > 0 ? Math.min(1, part.cpuSeconds / cpu) : 0;
      const joules = total === null ? null : total * share;
      carved.push({ ...part, joules });
      whole.wallSeconds = Math.max(0, whole.wallSeconds - part.wallSeconds);
      whole.cpuSeconds = Math.max(0, whole.cpuSeconds - part.cpuSeconds);
      whole.flops = Math.max(0, whole.flops - part.flops);
      if (whole.joules !== null && joules !== null) whole.joules = Math.max(0, whole.joules - joules);
    }
    this.add(whole);
    for (const part of carved) this.add(part);
    this.last = now;
    return now;
  }

  /** Adds the time since the last mark to 'other' (so the stages cover everything up to now). */
  settle(): void {
    const now = this.advance();
    this.add({ stage: 'other', flops: 0, ...StageClock.between(this.last, now) });
    this.last = now;
  }

  /** Adds a cost to the stage of its name (stages of one name are summed; zero-length 'other' is dropped). */
  add(cost: StageCost): void {
    if (cost.stage === 'other' && cost.wallSeconds === 0 && cost.cpuSeconds === 0) return;
    const same = this.stages.find((s) => s.stage === cost.stage);
    if (!same) {
      if (cost.stage === 'other')
        cost.note ??= "Time between the recorded stages (the caller's own code), and the recorder's bookkeeping";
      this.stages.push({ ...cost });
      return;
    }
    same.wallSeconds += cost.wallSeconds;
    same.cpuSeconds += cost.cpuSeconds;
    same.flops += cost.flops;
    same.joules = same.joules === null || cost.joules === null ? null : same.joules + cost.joules;
    if (cost.note && cost.note !== same.note) same.note = same.note ? `${same.note} ${cost.note}` : cost.note;
  }
}
