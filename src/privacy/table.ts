// A CSV table as rows of strings (column name -> field), for the anonymity report and generalisation:
// read with the project's RFC 4180 parser, fields trimmed (UCI files separate fields with ", ").
import { parseCsvRecords, readDataText } from '../data/csv.js';
import { FormatError } from '../io/safetensors.js';
import type { EncryptionKey } from '../io/encryption.js';

/** One record of a table: column name -> value. */
export type TableRow = Readonly<Record<string, string>>;

export interface Table {
  columns: string[];
  rows: TableRow[];
}

export interface TableOptions {
  /** Default ','. */
  delimiter?: string;
  /** Trim spaces around fields (default true). */
  trim?: boolean;
}

/** Parses CSV text with a header record into string rows; a record of the wrong width is a FormatError. */
export function parseTable(text: string, { delimiter = ',', trim = true }: TableOptions = {}): Table {
  const records = parseCsvRecords(text, delimiter);
  if (records.length === 0) throw new FormatError('parseTable: the text is empty; expected a header record');
  const clean = (f: string) => (trim ? f.trim() : f);
  const columns = records[0].fields.map(clean);
  const dup = columns.find((c, i) => columns.indexOf(c) !== i);
  if (dup !== undefined) throw new FormatError(`parseTable: the header names column ${JSON.stringify(dup)} twice`);
  const rows = records.slice(1).map((r) => {
    if (r.fields.length !== columns.length)
      throw new FormatError(
        `parseTable: line ${r.line} has ${r.fields.length} fields, expected ${columns.length} (as in the header)`,
      );
    const row: Record<string, string> = {};
    columns.forEach((c, i) => (row[c] = clean(r.fields[i])));
    return row;
  });
  return { columns, rows };
}

/**
 * Reads a CSV file (optionally .gz) with a header record into string rows; with an encryptionKey, a file
 * written by privacy.writeEncrypted (as loadCsv reads one).
 */
export async function loadTable(
  path: string,
  { encryptionKey, ...options }: TableOptions & { encryptionKey?: EncryptionKey } = {},
): Promise<Table> {
  return parseTable(await readDataText(path, 'loadTable', encryptionKey), options);
}

/** CSV text of a table (RFC 4180): a header, then a record per row; a comma, quote, newline or edge space is quoted. */
export function formatTable({ columns, rows }: Table): string {
  const field = (v: string) => (/[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replace(/"/g, '""')}"` : v);
  return [columns, ...rows.map((row) => columns.map((c) => row[c] ?? ''))]
    .map((r) => r.map(field).join(','))
    .join('\n')
    .concat('\n');
}
