// Hashes of files in a run directory as a record holds them ({ name: { sha256, bytes } }): the card files
// publishRun records (record.card) and the check `candor verify` makes of them and of the model's files.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Schema } from './json-schema.js';
import { sha256Hex } from './canonical.js';

export interface FileHash {
  sha256: string;
  bytes: number;
}

/** Files by name relative to the run directory. */
export type FileHashes = Record<string, FileHash>;

/** record.card: the card files as publishRun wrote them (card.md, card.html, and card.json when present). */
export interface CardHashes {
  files: FileHashes;
}

export const CARD_HASHES_SCHEMA: Schema = {
  type: 'object',
  required: ['files'],
  additionalProperties: false,
  description:
    'The model card files as written (card.md, card.html and the user-written card.json / intended-use.md when ' +
    'present), relative to the run directory, with their SHA-256: `candor verify` checks them.',
  properties: {
    files: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['sha256', 'bytes'],
        additionalProperties: false,
        properties: {
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          bytes: { type: 'integer', minimum: 0 },
        },
      },
    },
  },
};

/**
 * The card files record.card keeps the hashes of, when present: the rendered card and the user's text it shows
 * (CARD_FILE and INTENDED_USE_FILE of cards/user-info.ts, named here because ledger/ does not import cards/).
 */
export const CARD_FILES = ['card.md', 'card.html', 'card.json', 'intended-use.md'];

/** The hashes of the files `names` in `dir` that exist (missing ones are left out). */
export async function hashFiles(dir: string, names: string[]): Promise<FileHashes> {
  const out: FileHashes = {};
  for (const name of names) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const bytes = await readFile(path);
    out[name] = { sha256: sha256Hex(bytes), bytes: bytes.length };
  }
  return out;
}

/** One file that does not match its recorded hash: missing, or different bytes. */
export interface FileMismatch {
  name: string;
  problem: 'missing' | 'changed';
  detail: string;
}

/** Compares each file of `files` in `dir` with its recorded hash; returns those that differ. */
export async function checkFiles(dir: string, files: FileHashes): Promise<FileMismatch[]> {
  const bad: FileMismatch[] = [];
  for (const [name, want] of Object.entries(files)) {
    const path = join(dir, name);
    if (!existsSync(path)) {
      bad.push({ name, problem: 'missing', detail: `${name} is missing` });
      continue;
    }
    const bytes = await readFile(path);
    const sha256 = sha256Hex(bytes);
    if (sha256 !== want.sha256)
      bad.push({
        name,
        problem: 'changed',
        detail:
          `${name} has SHA-256 ${sha256.slice(0, 12)}... (${bytes.length} bytes), ` +
          `recorded ${want.sha256.slice(0, 12)}... (${want.bytes} bytes)`,
      });
  }
  return bad;
}
