#!/usr/bin/env node
// The `candor` command: model cards, the profiler table and the run ledger from the shell.
//   candor card RUN_DIR [--out DIR]
//   candor explain RUN_DIR --input FILE --method M [--target N] [--steps N] [--out DIR] [--json] ...
//   candor profile RUN_DIR [--by op|family|phase|layer] [--sort ms|flops|calls|bytes] [--phase P] [--limit N]
//   (card, profile and ledger append read an encrypted run.json with --key-file FILE or --passphrase-file FILE)
//   candor ledger verify FILE [--public-key PEM] [--head HASH] [--allow-unsigned]
//   candor ledger show FILE [--json]
//   candor ledger append FILE RUN_DIR [--key PEM | --no-sign]
//   candor verify RUN_DIR [--ledger FILE] [--public-key PEM] [--head HASH] [--allow-unsigned] [--json]
//   candor key export [--out FILE] | key trust FILE | key list
//   candor publish RUN_DIR [--ledger FILE] [--no-sign]
//   candor ledger keygen PREFIX
//   candor ledger repair FILE
//   candor convert IN OUT [--check]
//   candor schema
//   candor export spdx|cyclonedx RUN_DIR [-o FILE]
//   candor anonymize FILE --qi COLUMNS [--k N] [--sensitive COLUMN --l N] [--hierarchies FILE|adult] [--out FILE]
// Exit status: 0 success, 1 failure (a ledger that does not verify, a bad file), 2 usage error.
// The whole package, for its side effects: backends, layers, losses and optimizers register themselves on import,
// and a saved model names its classes (without this, explain and convert found no backend and no Dense).
import '../index.js';
import { parseArgs } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeCard } from '../cards/card.js';
import { exportCycloneDx, exportSpdx } from '../cards/exports/index.js';
import { loadUserInfo } from '../cards/user-info.js';
import { writeCardTemplate } from '../cards/card-template.js';
import { readRunRecord, candorVersion, type RunRecord } from '../ledger/record.js';
import { formatProfile, siNumber, type ProfileGroup, type ProfileSort } from '../ledger/meter.js';
import { formatLayerFlops } from '../ledger/layer-flops.js';
import { appendToLedger, generateSigningKeys, readLedger, repairLedger, type LedgerEntry } from '../ledger/ledger.js';
import { RUN_RECORD_SCHEMA } from '../ledger/run-record-schema.js';
import { PHASES, type Phase } from '../autograd/annotations.js';
import { CandorError } from '../errors.js';
import type { EncryptionKey } from '../io/encryption.js';
import { kAnonymityReport, type AnonymityReport } from '../privacy/anonymity.js';
import { anonymizeTable } from '../privacy/anonymize.js';
import { ADULT_HIERARCHIES } from '../privacy/adult-hierarchies.js';
import type { Hierarchy } from '../privacy/hierarchies.js';
import { formatTable, loadTable } from '../privacy/table.js';
import { METHOD_NAMES } from '../explain/types.js';
import { explainRun } from './explain.js';
import { convertModel } from './convert.js';
import { MODEL_FORMATS } from '../interop/formats.js';
import { keyCommand, ledgerVerifyCommand, verifyCommand } from './verify.js';
import { userSigningKey } from '../ledger/user-keys.js';
import { publishRecord } from '../cards/publish.js';

const CONVERT_FORMATS = MODEL_FORMATS.map((f) => f.name).join(', ');

export const USAGE =
  `usage: candor <command> [options]

  card RUN_DIR [--out DIR]        write card.md and card.html from RUN_DIR/run.json ` +
  `(+ optional card.json, intended-use.md)
  card init [DIR] [--force]       write DIR/card.json (default .): a template naming every field the card reads
  explain RUN_DIR --input FILE    explain the saved model's outputs for the inputs (.json array, .npy, .png/.jpg
      --method M                  image, .txt one text per line), record it in run.json and rewrite the card
                                  (M: ${METHOD_NAMES.join(', ')})
      [--target N] [--steps N] [--samples N] [--window N] [--baseline V] [--background FILE] [--layer NAME]
      [--name NAME] [--out DIR] [--json]   (--out: where the card and explanation.json, every value, go)
  profile RUN_DIR                 print the profiler table of the run
      [--by op|family|phase|layer] [--sort ms|flops|calls|bytes] [--phase ${PHASES.join('|')}] [--limit N]
  ledger verify FILE              check the hash chain and that every entry is signed by a trusted key (your
                                  own key and those in trusted-keys.pem); names the first bad entry
      [--public-key PEM_FILE]     trust this key (these keys) instead
      [--head HASH]               the newest entryHash you saw before (detects entries cut off the end)
      [--allow-unsigned]          accept unsigned entries (still reported UNSIGNED; exit status 0)
  ledger show FILE [--json]       list the entries
  ledger append FILE RUN_DIR      append RUN_DIR/run.json to the ledger, signed with your key (made on first use
      [--key PRIVATE_PEM_FILE]    in the config directory; CANDOR_KEY overrides) or this one; --no-sign: unsigned
  ledger keygen PREFIX            write an Ed25519 key pair to PREFIX.key (private) and PREFIX.pub
  ledger repair FILE              cut off a torn last line left by a crash during an append (kept in FILE.torn);
                                  refuses any other damage
  verify RUN_DIR                  check run.json, its signed ledger entry, the model files, the card, emissions.csv
      [--ledger FILE] [--public-key PEM_FILE] [--allow-unsigned] [--json]   and the key (exit 0 only when all pass)
      [--head HASH]               the newest entryHash you saw before (detects a rollback: entries cut off the end)
  publish RUN_DIR                 rewrite the card, record its hashes in run.json and append the run to
      [--ledger FILE] [--no-sign] RUN_DIR/ledger.jsonl signed with your key (after run.json changed, e.g. by explain)
  key export [--out FILE]         print (or write) the public half of your signing key, for verifiers to trust
  key trust FILE                  trust the public keys in FILE (adds them to trusted-keys.pem)
  key list                        the keys trusted here
  convert IN OUT [--check]        convert a model between formats, chosen by the paths' names: ${CONVERT_FORMATS}
                                  (--check: OUT is read back and must predict as IN does on random inputs)
  schema                          print the JSON Schema of run.json
  export spdx|cyclonedx RUN_DIR   an SPDX 3.0.1 (JSON-LD) or CycloneDX 1.6 (JSON) document of the run, from
      [-o FILE]                   run.json and card.json (to stdout without -o)
  anonymize FILE --qi A,B,...     k-anonymity / l-diversity report of a CSV over quasi-identifier columns
      [--sensitive COLUMN] [--l N] [--diversity distinct|entropy|recursive] [--c C]
      [--k N]                     with k: generalise and suppress until every class has k rows (and l)
      [--hierarchies FILE.json|adult] [--max-suppression FRACTION] [--metric lm|precision|discernibility|height]
      [--out FILE.csv] [--json]   write the anonymised table; print JSON
  --version, --help

  card, profile, verify, publish and ledger append read an encrypted run.json (model.save with an
  encryptionKey), and anonymize an encrypted FILE (privacy.writeEncrypted; --out is written in the clear,
  for release), with
      --key-file FILE             the raw 32-byte key: 32 bytes, or 64 hex digits
      --passphrase-file FILE      the passphrase (UTF-8; one trailing newline is not part of it)`;

/** A mistake in how the command was called (exit status 2). */
export class UsageError extends CandorError {}

type Out = { log: (s: string) => void; error: (s: string) => void };

function parse(
  args: string[],
  options: Record<string, { type: 'string' | 'boolean'; short?: string }>,
  positionals: string[],
): { values: Record<string, string | boolean | undefined>; pos: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.positionals.length !== positionals.length) {
    throw new UsageError(
      `expected ${positionals.join(' ') || 'no arguments'}, ` +
        `got ${parsed.positionals.length ? parsed.positionals.join(' ') : 'nothing'}`,
    );
  }
  return { values: parsed.values as Record<string, string | boolean | undefined>, pos: parsed.positionals };
}

function oneOf<T extends string>(name: string, v: string | boolean | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T))
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got '${String(v)}'`);
  return v as T;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new CandorError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/** The options that name the key of an encrypted run.json. */
const KEY_OPTIONS = { 'key-file': { type: 'string' }, 'passphrase-file': { type: 'string' } } as const;

/** The key that --key-file or --passphrase-file names (at most one of them), or undefined. */
async function encryptionKeyOf(
  values: Record<string, string | boolean | undefined>,
): Promise<EncryptionKey | undefined> {
  const keyFile = values['key-file'] as string | undefined;
  const passphraseFile = values['passphrase-file'] as string | undefined;
  if (keyFile !== undefined && passphraseFile !== undefined)
    throw new UsageError('give --key-file or --passphrase-file, not both');
  if (passphraseFile !== undefined) return (await readText(passphraseFile, 'passphrase file')).replace(/\r?\n$/, '');
  if (keyFile === undefined) return undefined;
  let bytes: Buffer;
  try {
    bytes = await readFile(keyFile);
  } catch (e) {
    throw new CandorError(`cannot read key file ${keyFile}: ${(e as Error).message}`);
  }
  if (bytes.length === 32) return new Uint8Array(bytes);
  const hex = bytes.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(hex)) return new Uint8Array(Buffer.from(hex, 'hex'));
  throw new UsageError(
    `key file ${keyFile} must hold a 32-byte key (32 bytes or 64 hex digits), got ${bytes.length} bytes`,
  );
}

async function card(args: string[], out: Out): Promise<number> {
  if (args[0] === 'init') {
    const rest = args.slice(1);
    const { values, pos } = parse(
      rest,
      { force: { type: 'boolean' } },
      rest.some((a) => !a.startsWith('--')) ? ['DIR'] : [],
    );
    out.log(`wrote ${await writeCardTemplate(pos[0] ?? '.', { force: values.force === true })}`);
    return 0;
  }
  const { values, pos } = parse(args, { out: { type: 'string' }, ...KEY_OPTIONS }, ['RUN_DIR']);
  const encryptionKey = await encryptionKeyOf(values);
  const written = await writeCard(pos[0], { outDir: values.out as string | undefined, encryptionKey });
  out.log(`wrote ${written.files.markdown}\nwrote ${written.files.html}`);
  return 0;
}

const EXPORTS = { spdx: exportSpdx, cyclonedx: exportCycloneDx } as const;

async function exportCommand(args: string[], out: Out): Promise<number> {
  const { values, pos } = parse(args, { output: { type: 'string', short: 'o' }, ...KEY_OPTIONS }, [
    'spdx|cyclonedx',
    'RUN_DIR',
  ]);
  const format = pos[0] as keyof typeof EXPORTS;
  if (!Object.hasOwn(EXPORTS, format))
    throw new UsageError(`export: the format must be ${Object.keys(EXPORTS).join(' or ')}, got '${format}'`);
  const record = await readRunRecord(pos[1], { encryptionKey: await encryptionKeyOf(values) });
  const { info } = await loadUserInfo(pos[1]);
  const text = JSON.stringify(EXPORTS[format](record, { user: info }), null, 2) + '\n';
  if (typeof values.output !== 'string') {
    out.log(text.trimEnd());
    return 0;
  }
  await writeFile(values.output, text);
  out.log(`wrote ${values.output}`);
  return 0;
}

async function explainCommand(args: string[], out: Out): Promise<number> {
  const text = { type: 'string' } as const;
  const { values, pos } = parse(
    args,
    {
      input: text,
      method: text,
      target: text,
      steps: text,
      samples: text,
      window: text,
      baseline: text,
      background: text,
      layer: text,
      name: text,
      out: text,
      json: { type: 'boolean' },
      ...KEY_OPTIONS,
    },
    ['RUN_DIR'],
  );
  if (typeof values.input !== 'string') throw new UsageError('explain needs --input FILE');
  if (typeof values.method !== 'string') throw new UsageError(`explain needs --method (${METHOD_NAMES.join(', ')})`);
  const method = oneOf('method', values.method, METHOD_NAMES)!;
  const int = (name: string, min: number): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) < min)
      throw new UsageError(`--${name} must be an integer of at least ${min}, got '${String(v)}'`);
    return Number(v);
  };
  const baseline = values.baseline === undefined ? undefined : Number(values.baseline);
  if (baseline !== undefined && (!Number.isFinite(baseline) || String(values.baseline).trim() === ''))
    throw new UsageError(`--baseline must be a number, got '${String(values.baseline)}'`);
  const lines = await explainRun({
    runDir: pos[0],
    input: values.input,
    method,
    target: int('target', 0),
    steps: int('steps', 1),
    samples: int('samples', 1),
    window: int('window', 1),
    baseline,
    background: values.background as string | undefined,
    layer: values.layer as string | undefined,
    name: values.name as string | undefined,
    out: values.out as string | undefined,
    json: values.json === true,
    encryptionKey: await encryptionKeyOf(values),
  });
  for (const line of lines) out.log(line);
  return 0;
}

async function profile(args: string[], out: Out): Promise<number> {
  const { values, pos } = parse(
    args,
    {
      by: { type: 'string' },
      sort: { type: 'string' },
      phase: { type: 'string' },
      limit: { type: 'string' },
      ...KEY_OPTIONS,
    },
    ['RUN_DIR'],
  );
  const groupBy = oneOf<ProfileGroup>('by', values.by, ['op', 'family', 'phase', 'layer']);
  const sortBy = oneOf<ProfileSort>('sort', values.sort, ['ms', 'flops', 'calls', 'bytes']);
  const phase = oneOf<Phase>('phase', values.phase, PHASES);
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0))
    throw new UsageError(`--limit must be a non-negative integer, got '${String(values.limit)}'`);
  const r = await readRunRecord(pos[0], { encryptionKey: await encryptionKeyOf(values) });
  out.log(
    `Run ${r.id}${r.name ? ` '${r.name}'` : ''}: ${r.model.className} '${r.model.name}', ` +
      `backend ${r.machine.backend.name}, ${r.training.epochs.completed} epochs, ${r.training.steps} steps\n`,
  );
  out.log(formatProfile(r.compute, { groupBy, sortBy, phase, limit, wallSeconds: r.training.wallSeconds }));
  // By layer: each layer's forward and backward (and the loss's, the optimizer's) side by side too.
  if (groupBy === 'layer' && phase === undefined)
    out.log(`\nFLOPs by layer and phase:\n${formatLayerFlops(r.compute, { limit })}`);
  if (!r.compute.attribution.phases) out.log('Phases were not marked during this run: every kernel is under "other".');
  return 0;
}

function entrySummary(e: LedgerEntry): string[] {
  const r = e.record as Partial<RunRecord>;
  const flops = r.compute
    ? r.compute.attribution?.phases
      ? r.compute.trainingFlops
      : r.compute.total?.flops
    : undefined;
  const energy = r.energy ? `${r.energy.joules.toPrecision(3)} J ${r.energy.measured ? 'measured' : 'estimated'}` : '-';
  return [
    String(e.index),
    e.timestamp,
    r.name ?? r.id ?? '?',
    r.model ? `${r.model.className} ${r.model.parameters?.total ?? '?'} params` : '?',
    flops !== undefined ? `${siNumber(flops)}FLOP` : '-',
    energy,
    r.emissions ? `${r.emissions.gCO2e.toPrecision(3)} g` : '-',
    e.signature ? `yes (${String(e.keyId).slice(0, 8)})` : 'no',
    `${e.entryHash.slice(0, 16)}...`,
  ];
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** --head HASH: a ledger entryHash, 64 hex digits. */
function headOption(values: Record<string, unknown>): string | undefined {
  const head = values.head as string | undefined;
  if (head !== undefined && !/^[0-9a-f]{64}$/.test(head))
    throw new UsageError('--head must be a 64-digit hex entryHash');
  return head;
}

async function ledger(args: string[], out: Out): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'verify': {
      const { values, pos } = parse(
        rest,
        { 'public-key': { type: 'string' }, head: { type: 'string' }, 'allow-unsigned': { type: 'boolean' } },
        ['FILE'],
      );
      if (!existsSync(pos[0])) throw new CandorError(`no ledger at ${pos[0]}`);
      const head = headOption(values);
      return await ledgerVerifyCommand(
        pos[0],
        {
          publicKeyFile: values['public-key'] as string | undefined,
          head,
          allowUnsigned: values['allow-unsigned'] === true,
        },
        out,
      );
    }
    case 'show': {
      const { values, pos } = parse(rest, { json: { type: 'boolean' } }, ['FILE']);
      if (!existsSync(pos[0])) throw new CandorError(`no ledger at ${pos[0]}`);
      const entries = await readLedger(pos[0]);
      if (values.json) {
        out.log(
          JSON.stringify(
            entries.map((e) => ({
              index: e.index,
              timestamp: e.timestamp,
              recordHash: e.recordHash,
              entryHash: e.entryHash,
              keyId: e.keyId,
              run: (e.record as Partial<RunRecord>).id,
              name: (e.record as Partial<RunRecord>).name,
            })),
            null,
            2,
          ),
        );
        return 0;
      }
      out.log(
        entries.length
          ? table(
              ['#', 'Time', 'Run', 'Model', 'Training compute', 'Energy', 'CO2e', 'Signed', 'Entry hash'],
              entries.map(entrySummary),
            )
          : `${pos[0]}: no entries`,
      );
      out.log('(not verified: run `candor ledger verify` for that)');
      return 0;
    }
    case 'append': {
      const { values, pos } = parse(rest, { key: { type: 'string' }, 'no-sign': { type: 'boolean' }, ...KEY_OPTIONS }, [
        'FILE',
        'RUN_DIR',
      ]);
      if (values.key !== undefined && values['no-sign']) throw new UsageError('give --key or --no-sign, not both');
      // Signed by default: with --key's key, else the user's own (made on first use outside the run directory).
      const own = values.key || values['no-sign'] ? undefined : userSigningKey();
      const privateKey = values.key ? await readText(values.key as string, 'private key') : own?.privateKey;
      const record = await readRunRecord(pos[1], { encryptionKey: await encryptionKeyOf(values) });
      const e = await appendToLedger(pos[0], record, { privateKey });
      out.log(
        `appended entry ${e.index} to ${pos[0]}\nentryHash ${e.entryHash}` +
          (e.signature
            ? `\nsigned by key ${e.keyId}${own ? ` (your key at ${own.path}${own.created ? ', made now' : ''})` : ''}`
            : '\nUNSIGNED (--no-sign): nothing but the hash chain vouches for this entry'),
      );
      return 0;
    }
    case 'repair': {
      const { pos } = parse(rest, {}, ['FILE']);
      if (!existsSync(pos[0])) throw new CandorError(`no ledger at ${pos[0]}`);
      const r = await repairLedger(pos[0]);
      const after = `${r.entries} entries verify`;
      if (r.action === 'none') out.log(`OK: ${pos[0]} verifies (${r.entries} entries); nothing to repair`);
      else if (r.action === 'completed')
        out.log(`repaired ${pos[0]}: added the last entry's missing newline; ${after}`);
      else
        out.log(
          `repaired ${pos[0]}: cut off a torn last line of ${r.removedBytes} bytes (saved in ${r.tornPath}); ${after}`,
        );
      return 0;
    }
    case 'keygen': {
      const { pos } = parse(rest, {}, ['PREFIX']);
      const keys = generateSigningKeys();
      await writeFile(`${pos[0]}.key`, keys.privateKey, { mode: 0o600, flag: 'wx' }).catch(
        (e: NodeJS.ErrnoException) => {
          throw new CandorError(e.code === 'EEXIST' ? `${pos[0]}.key exists; not overwriting a key` : e.message);
        },
      );
      await writeFile(`${pos[0]}.pub`, keys.publicKey, { flag: 'wx' });
      out.log(`wrote ${pos[0]}.key (private: keep it secret) and ${pos[0]}.pub`);
      return 0;
    }
    default:
      throw new UsageError(
        sub ? `unknown ledger command '${sub}'` : 'ledger needs a command: verify, show, append, repair or keygen',
      );
  }
}

function reportLine(r: AnonymityReport): string {
  return (
    `${r.rows} rows in ${r.classes} classes, k = ${r.k}` +
    (r.requestedK === undefined ? '' : ` (${r.rowsBelowK} rows in classes below ${r.requestedK})`) +
    (r.sensitive === undefined
      ? ''
      : `; ${r.sensitive}: distinct l = ${r.distinctL}, entropy l = ${r.entropyL!.toFixed(3)}` +
        (r.requestedL === undefined
          ? ''
          : ` (${r.rowsBelowL} rows in classes below ${r.diversity} l = ${r.requestedL})`))
  );
}

async function anonymize(args: string[], out: Out): Promise<number> {
  const text = { type: 'string' } as const;
  const { values, pos } = parse(
    args,
    {
      qi: text,
      k: text,
      sensitive: text,
      l: text,
      diversity: text,
      c: text,
      hierarchies: text,
      'max-suppression': text,
      metric: text,
      out: text,
      json: { type: 'boolean' },
      ...KEY_OPTIONS,
    },
    ['FILE'],
  );
  if (typeof values.qi !== 'string' || values.qi === '')
    throw new UsageError('anonymize needs --qi COLUMN,COLUMN,... (the quasi-identifiers)');
  const quasiIdentifiers = values.qi.split(',').map((q) => q.trim());
  const num = (name: string): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !Number.isFinite(Number(v)) || v.trim() === '')
      throw new UsageError(`--${name} must be a number, got '${String(v)}'`);
    return Number(v);
  };
  const diversity = oneOf('diversity', values.diversity, ['distinct', 'entropy', 'recursive'] as const);
  const metric = oneOf('metric', values.metric, ['lm', 'precision', 'discernibility', 'height'] as const);
  const k = num('k');
  const options = {
    quasiIdentifiers,
    sensitive: values.sensitive as string | undefined,
    l: num('l'),
    diversity,
    c: num('c'),
  };
  const table = await loadTable(pos[0], { encryptionKey: await encryptionKeyOf(values) });
  if (k === undefined) {
    for (const name of ['hierarchies', 'max-suppression', 'metric', 'out'])
      if (values[name] !== undefined) throw new UsageError(`--${name} needs --k (it is for anonymising)`);
    const report = kAnonymityReport(table.rows, options);
    out.log(values.json ? JSON.stringify(report) : `${pos[0]}: ${reportLine(report)}`);
    return 0;
  }
  let hierarchies: Record<string, Hierarchy> | undefined;
  if (values.hierarchies === 'adult')
    hierarchies = Object.fromEntries(Object.entries(ADULT_HIERARCHIES).filter(([c]) => quasiIdentifiers.includes(c)));
  else if (typeof values.hierarchies === 'string') {
    const json = await readText(values.hierarchies, 'hierarchies');
    try {
      hierarchies = JSON.parse(json);
    } catch (e) {
      throw new CandorError(`${values.hierarchies} is not JSON: ${(e as Error).message}`);
    }
  }
  const result = anonymizeTable(table.rows, {
    ...options,
    k,
    hierarchies,
    maxSuppression: num('max-suppression'),
    metric,
  });
  if (typeof values.out === 'string')
    await writeFile(values.out, formatTable({ columns: table.columns, rows: result.rows }));
  if (values.json) {
    const { before, after, levels, heights, loss, suppressed } = result;
    out.log(JSON.stringify({ before, after, levels, heights, loss, suppressed, out: values.out }));
    return 0;
  }
  out.log(`before: ${reportLine(result.before)}\nafter:  ${reportLine(result.after)}`);
  out.log(`levels: ${quasiIdentifiers.map((q) => `${q} ${result.levels[q]}/${result.heights[q]}`).join(', ')}`);
  out.log(
    `suppressed ${result.suppressed} rows; LM ${result.loss.lm.toFixed(4)}, ` +
      `precision loss ${result.loss.precisionLoss.toFixed(4)}, discernibility ${result.loss.discernibility}`,
  );
  if (typeof values.out === 'string') out.log(`wrote ${values.out}`);
  return 0;
}

/** Runs the CLI on `argv` (without node and the script); returns the exit status. */
export async function main(
  argv: string[],
  out: Out = { log: (s) => console.log(s), error: (s) => console.error(s) },
): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'card':
        return await card(rest, out);
      case 'profile':
        return await profile(rest, out);
      case 'explain':
        return await explainCommand(rest, out);
      case 'ledger':
        return await ledger(rest, out);
      case 'anonymize':
        return await anonymize(rest, out);
      case 'verify': {
        const { values, pos } = parse(
          rest,
          {
            ledger: { type: 'string' },
            'public-key': { type: 'string' },
            'allow-unsigned': { type: 'boolean' },
            head: { type: 'string' },
            json: { type: 'boolean' },
            ...KEY_OPTIONS,
          },
          ['RUN_DIR'],
        );
        const head = headOption(values);
        return await verifyCommand(
          pos[0],
          {
            ledger: values.ledger as string | undefined,
            ...(head !== undefined ? { expectedHead: { entryHash: head } } : {}),
            publicKeyFile: values['public-key'] as string | undefined,
            allowUnsigned: values['allow-unsigned'] === true,
            json: values.json === true,
            encryptionKey: await encryptionKeyOf(values),
          },
          out,
        );
      }
      case 'publish': {
        const { values, pos } = parse(
          rest,
          { ledger: { type: 'string' }, 'no-sign': { type: 'boolean' }, ...KEY_OPTIONS },
          ['RUN_DIR'],
        );
        const encryptionKey = await encryptionKeyOf(values);
        const record = await readRunRecord(pos[0], { encryptionKey });
        const p = await publishRecord(record, {
          dir: pos[0],
          ledger: values.ledger as string | undefined,
          sign: values['no-sign'] !== true,
          encryptionKey,
        });
        const e = p.entry!;
        out.log(
          `wrote ${p.card!.files.markdown}\nwrote ${p.card!.files.html}\nwrote ${p.file}\n` +
            `appended entry ${e.index} (${e.entryHash.slice(0, 16)}...) ` +
            (e.signature ? `signed by key ${e.keyId}` : 'UNSIGNED (--no-sign)'),
        );
        return 0;
      }
      case 'key': {
        const [sub, ...args] = rest;
        const wants: Record<string, string[]> = { export: [], trust: ['FILE'], list: [] };
        if (!sub || !wants[sub])
          throw new UsageError(sub ? `unknown key command '${sub}'` : 'key needs a command: export, trust or list');
        const { values, pos } = parse(args, sub === 'export' ? { out: { type: 'string' } } : {}, wants[sub]);
        return await keyCommand(sub, pos, { out: values.out as string | undefined }, out);
      }
      case 'convert': {
        const { values, pos } = parse(rest, { check: { type: 'boolean' } }, ['IN', 'OUT']);
        for (const line of await convertModel(pos[0], pos[1], { check: values.check === true })) out.log(line);
        return 0;
      }
      case 'export':
        return await exportCommand(rest, out);
      case 'schema':
        parse(rest, {}, []);
        out.log(JSON.stringify(RUN_RECORD_SCHEMA, null, 2));
        return 0;
      case '--version':
      case '-v':
        out.log(candorVersion());
        return 0;
      case '--help':
      case '-h':
      case 'help':
        out.log(USAGE);
        return 0;
      default:
        throw new UsageError(cmd ? `unknown command '${cmd}'` : 'no command given');
    }
  } catch (e) {
    if (e instanceof UsageError) {
      out.error(`candor: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof CandorError) {
      out.error(`candor: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

// Run when executed (also through npm's bin symlink), not when imported.
const invoked = process.argv[1]
  ? (() => {
      try {
        return realpathSync(process.argv[1]);
      } catch {
        return process.argv[1];
      }
    })()
  : '';
if (invoked === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
