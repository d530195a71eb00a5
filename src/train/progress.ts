// The fit() progress display: a Keras-like bar per epoch on a terminal (verbose 1), one line per epoch
// otherwise (verbose 2, or when stdout is not a TTY), nothing at verbose 0.
import type { Callback, Logs } from './callbacks.js';

const BAR = 20;

function fmtLogs(logs: Logs): string {
  return Object.entries(logs)
    .filter(([k]) => k !== 'batch' && k !== 'size' && k !== 'batchLoss')
    .sort(([a], [b]) =>
      a.startsWith('val_') === b.startsWith('val_') ? a.localeCompare(b) : a.startsWith('val_') ? 1 : -1,
    )
    .map(([k, v]) => `${k}: ${Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(3)}`)
    .join(' - ');
}

function fmtTime(seconds: number): string {
  if (seconds >= 3600)
    return (
      `${Math.floor(seconds / 3600)}:${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}:` +
      String(Math.floor(seconds % 60)).padStart(2, '0')
    );
  if (seconds >= 60) return `${Math.floor(seconds / 60)}:${String(Math.floor(seconds % 60)).padStart(2, '0')}`;
  return `${Math.round(seconds)}s`;
}

/** A step's time as Keras' progress bar shows it: whole seconds, milliseconds or microseconds. */
export function fmtStepTime(seconds: number): string {
  if (seconds >= 1 || seconds === 0) return `${seconds.toFixed(0)}s`;
  if (seconds >= 1e-3) return `${(seconds * 1e3).toFixed(0)}ms`;
  return `${(seconds * 1e6).toFixed(0)}us`;
}

export class ProgressDisplay implements Callback {
  private epochStart = 0;
  private lastDraw = 0;
  private readonly bar: boolean;

  constructor(
    private readonly epochs: number,
    private readonly steps: number | undefined,
    verbose: number | 'auto',
    private readonly write: (s: string) => void = (s) => process.stdout.write(s),
  ) {
    this.bar = (verbose === 1 || verbose === 'auto') && process.stdout.isTTY === true;
  }

  onEpochBegin(epoch: number): void {
    this.epochStart = performance.now();
    this.lastDraw = 0;
    if (this.bar) this.write(`Epoch ${epoch + 1}/${this.epochs}\n`);
  }

  onBatchEnd(batch: number, logs: Logs): void {
    if (!this.bar) return;
    const now = performance.now();
    if (now - this.lastDraw < 100 && batch + 1 !== this.steps) return;
    this.lastDraw = now;
    const done = batch + 1;
    const elapsed = (now - this.epochStart) / 1000;
    const total = this.steps;
    const filled = total ? Math.round((BAR * done) / total) : 0;
    const bar = total ? '━'.repeat(filled) + ' '.repeat(BAR - filled) : '';
    const eta = total ? ` ${fmtTime((elapsed / done) * (total - done))}` : '';
    this.write(`\r\x1b[K${done}/${total ?? '?'} ${bar}${eta} - ${fmtLogs(logs)}`);
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    const elapsed = (performance.now() - this.epochStart) / 1000;
    const perStep = this.steps ? `${fmtStepTime(elapsed / this.steps)}/step` : '';
    if (this.bar) {
      const total = this.steps ?? 0;
      this.write(`\r\x1b[K${total}/${total} ${'━'.repeat(BAR)} ${fmtTime(elapsed)} ${perStep} - ${fmtLogs(logs)}\n`);
    } else {
      this.write(`Epoch ${epoch + 1}/${this.epochs} - ${fmtTime(elapsed)} - ${perStep} - ${fmtLogs(logs)}\n`);
    }
  }
}
