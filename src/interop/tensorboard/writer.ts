// EventFileWriter: appends TensorBoard events to one event file (events.out.tfevents.<seconds>.<hostname>, as
// TensorFlow's EventsWriter names them), and readEvents, which reads such a file back with every CRC checked.
//
// Durability: an event file is append-only (TensorBoard reads it while it grows), so the atomic rename Candor
// uses for other files does not apply. Events are queued in memory and appended to the file after every
// maxQueue events, so a crash of the process loses at most those still queued; flush() (the TensorBoard
// callback calls it at the end of every epoch) and close() also fsync, so a power loss loses nothing flushed.
// A crash during an append leaves a truncated last record, which TensorBoard skips and readEvents reports as
// a FormatError naming the record (the events before it are intact).
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ArgumentError } from '../../errors.js';
import { checkOptions } from '../../registry.js';
import { syncDirectorySync } from '../../io/atomic.js';
import { frameRecord, readRecords } from './records.js';
import { FILE_VERSION, decodeEvent, encodeEvent, type SummaryValue, type TensorBoardEvent } from './schema.js';
import { histogramOf } from './histogram.js';

export interface EventFileWriterOptions {
  /** Events queued before they are appended to the file (default 10, TensorFlow's max_queue). */
  maxQueue?: number;
  /** Wall time in seconds for each event (default Date.now() / 1000); injectable for reproducible files. */
  wallTime?: () => number;
  /** The host name in the file name (default os.hostname()). */
  hostname?: string;
}

/** Appends events to a new event file in `logDir` (created if missing). */
export class EventFileWriter {
  /** The event file's path. */
  readonly path: string;
  private fd?: number;
  private queue: Uint8Array[] = [];
  private readonly maxQueue: number;
  private readonly wallTime: () => number;

  constructor(
    readonly logDir: string,
    options: EventFileWriterOptions = {},
  ) {
    checkOptions('EventFileWriter', options, ['maxQueue', 'wallTime', 'hostname']);
    this.maxQueue = options.maxQueue ?? 10;
    if (!Number.isInteger(this.maxQueue) || this.maxQueue < 1)
      throw new ArgumentError(`EventFileWriter: maxQueue must be a positive integer, got ${options.maxQueue}`);
    this.wallTime = options.wallTime ?? (() => Date.now() / 1000);
    mkdirSync(logDir, { recursive: true });
    const now = this.wallTime();
    const base = join(logDir, `events.out.tfevents.${Math.floor(now)}.${options.hostname ?? hostname()}`);
    // Two writers in the same second and directory get distinct files (TensorBoard reads every *tfevents*).
    let path = base;
    for (let n = 1; existsSync(path); n++) path = `${base}.${n}`;
    this.path = path;
    this.fd = openSync(path, 'wx');
    syncDirectorySync(logDir); // the file's name must survive a power loss too, not only its events
    this.add({ wallTime: now, fileVersion: FILE_VERSION });
    this.flush();
  }

  /** Queues one event (wallTime defaults to the writer's clock); flushes when maxQueue events are queued. */
  add(event: TensorBoardEvent): void {
    if (this.fd === undefined) throw new ArgumentError(`EventFileWriter: ${this.path} is closed`);
    this.queue.push(frameRecord(encodeEvent({ ...event, wallTime: event.wallTime ?? this.wallTime() })));
    if (this.queue.length >= this.maxQueue) this.append();
  }

  /** Queues a summary event with these values at `step`. */
  addSummary(step: number, values: SummaryValue[]): void {
    if (!Number.isSafeInteger(step) || step < 0)
      throw new ArgumentError(`EventFileWriter: step must be a non-negative integer, got ${step}`);
    this.add({ ...(step ? { step } : {}), summary: { value: values } });
  }

  /** Queues a scalar (Summary.Value.simple_value, a float32 as TensorBoard stores it). */
  addScalar(tag: string, value: number, step: number): void {
    this.addSummary(step, [{ tag, simpleValue: value }]);
  }

  /** Queues the histogram of `values` (TensorBoard's default 30 buckets). */
  addHistogram(tag: string, values: ArrayLike<number>, step: number): void {
    this.addSummary(step, [{ tag, histo: histogramOf(values) }]);
  }

  /** Appends the queued events to the file and fsyncs it (so that they survive a power loss too). */
  flush(): void {
    this.append();
    if (this.fd !== undefined) fsyncSync(this.fd);
  }

  /** Appends the queued events to the file (the OS has them: they survive a crash of this process). */
  private append(): void {
    if (this.fd === undefined || this.queue.length === 0) return;
    const size = this.queue.reduce((s, r) => s + r.length, 0);
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const r of this.queue) {
      bytes.set(r, at);
      at += r.length;
    }
    this.queue = [];
    for (let done = 0; done < bytes.length;) done += writeSync(this.fd, bytes, done, bytes.length - done);
  }

  /** Flushes and closes the file (idempotent). */
  close(): void {
    if (this.fd === undefined) return;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** Decodes event-file bytes: every record's CRCs checked, each record an Event. `source` names it in errors. */
export function parseEvents(bytes: Uint8Array, source = 'event file'): TensorBoardEvent[] {
  return readRecords(bytes, source).map((r, i) => decodeEvent(r, `${source}: record ${i}`));
}

/** Reads an event file (FormatError on any corruption, naming the record). */
export function readEvents(path: string): TensorBoardEvent[] {
  return parseEvents(new Uint8Array(readFileSync(path)), path);
}
