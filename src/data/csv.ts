// CSV loading: an RFC 4180 record parser and a numeric table reader that splits off a label column.
import { ArgumentError } from '../errors.js';
import { fromTypedArray, type Tensor } from '../tensor/tensor.js';
import { FormatError } from '../io/safetensors.js';
import { readDataFile } from './files.js';
import { readEncrypted, type EncryptionKey } from '../io/encryption.js';

/** One CSV record and the 1-based line of the file it starts on (quoted fields may span lines). */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * Splits CSV text into records (RFC 4180): fields separated by `delimiter`, records by CRLF or LF;
 * a field in double quotes may hold delimiters, newlines and doubled quotes ("" for "). A quote inside
 * an unquoted field, text after a closing quote, and an unterminated quote are FormatErrors naming the
 * line. Blank lines are skipped; a leading byte-order mark is ignored.
 */
export function parseCsvRecords(text: string, delimiter = ','): CsvRecord[] {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new ArgumentError(
      `parseCsv: delimiter must be one character other than a quote or newline, got ${JSON.stringify(delimiter)}`,
    );
  }
  const records: CsvRecord[] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let quotedAny = false;
    for (;;) {
      let field: string;
      if (text[i] === '"') {
        quotedAny = true;
        field = '';
        i++;
        for (;;) {
          const close = text.indexOf('"', i);
          if (close < 0)
            throw new FormatError(`parseCsv: line ${line}: quoted field never closes (unterminated quote)`);
          const part = text.slice(i, close);
          field += part;
          for (let k = part.indexOf('\n'); k >= 0; k = part.indexOf('\n', k + 1)) line++;
          if (text[close + 1] === '"') {
            field += '"';
            i = close + 2;
          } else {
            i = close + 1;
            break;
          }
        }
        const next = text[i];
        if (i < n && next !== delimiter && next !== '\n' && next !== '\r') {
          throw new FormatError(
            `parseCsv: line ${line}: unexpected ${JSON.stringify(next)} ` +
              `after a closing quote (field ${fields.length + 1})`,
          );
        }
      } else {
        let j = i;
        while (j < n && text[j] !== delimiter && text[j] !== '\n' && text[j] !== '\r') j++;
        field = text.slice(i, j);
        if (field.includes('"'))
          throw new FormatError(
            `parseCsv: line ${line}: field ${fields.length + 1} (${JSON.stringify(field)}) ` +
              'has a quote but is not quoted; quote it and double inner quotes',
          );
        i = j;
      }
      fields.push(field);
      if (i < n && text[i] === delimiter) {
        i++;
        continue;
      }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') i++;
      line++;
      break;
    }
    if (fields.length === 1 && fields[0] === '' && !quotedAny) continue; // blank line
    records.push({ fields, line: start });
  }
  return records;
}

export interface CsvOptions {
  /** The label column, by header name or 0-based index; without it every column is a feature. */
  label?: string | number;
  /** Default ','. */
  delimiter?: string;
  /** Whether the first record names the columns (default true); otherwise they are named col0, col1, ... */
  header?: boolean;
  /**
   * 'auto' (default): int32 when every label is an integer, float32 when all are numbers, otherwise
   * class indices into the sorted distinct label strings (returned as `classes`). 'int32', 'float32'
   * or 'classes' force one reading.
   */
  labelType?: 'auto' | 'int32' | 'float32' | 'classes';
  /** dtype of x (default float32). */
  dtype?: 'float32' | 'float64';
  /** The value for empty feature fields; without it an empty field is a FormatError. */
  missing?: number;
}

export interface CsvData {
  /** [rows, features]. */
  x: Tensor;
  /** [rows]; present when a label column was chosen. */
  y?: Tensor;
  /** Feature column names, in x's column order. */
  columns: string[];
  /** The label column's name, when chosen. */
  labelColumn?: string;
  /** For string labels: class names; y holds indices into this list. */
  classes?: string[];
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SPECIAL: Readonly<Record<string, number>> = {
  nan: NaN,
  inf: Infinity,
  infinity: Infinity,
  '+inf': Infinity,
  '+infinity': Infinity,
  '-inf': -Infinity,
  '-infinity': -Infinity,
};

/** A field as a number: decimal or scientific notation, or nan/inf (any case); undefined otherwise. */
function toNumber(field: string): number | undefined {
  const s = field.trim();
  if (NUMBER.test(s)) return Number(s);
  const lower = s.toLowerCase();
  return Object.hasOwn(SPECIAL, lower) ? SPECIAL[lower] : undefined;
}

/**
 * A numeric table from CSV text: x float32 [rows, features] from every column but the label, y from
 * the label column. A value that is not a number raises a FormatError naming its line and column.
 * Returns new tensors owned by the caller.
 */
export function parseCsv(
  text: string,
  { label, delimiter = ',', header = true, labelType = 'auto', dtype = 'float32', missing }: CsvOptions = {},
): CsvData {
  const records = parseCsvRecords(text, delimiter);
  if (header && records.length === 0) throw new FormatError('parseCsv: the text is empty; expected a header record');
  const width = records[0]?.fields.length ?? 0;
  const names = header ? records[0].fields.map((f) => f.trim()) : Array.from({ length: width }, (_, i) => `col${i}`);
  const rows = header ? records.slice(1) : records;
  for (const r of rows) {
    if (r.fields.length !== width)
      throw new FormatError(
        `parseCsv: line ${r.line} has ${r.fields.length} fields, expected ${width} ` +
          `(as in ${header ? 'the header' : 'line ' + records[0].line})`,
      );
  }

  let labelIndex: number | undefined;
  if (typeof label === 'number') {
    if (!Number.isInteger(label) || label < 0 || label >= width)
      throw new ArgumentError(`parseCsv: label column ${label} is out of range for ${width} columns`);
    labelIndex = label;
  } else if (label !== undefined) {
    labelIndex = names.indexOf(label);
    if (labelIndex < 0)
      throw new ArgumentError(
        `parseCsv: no column named ${JSON.stringify(label)}; ` +
          `columns are ${names.map((c) => JSON.stringify(c)).join(', ')}`,
      );
  }
  const featureIdx = names.map((_, i) => i).filter((i) => i !== labelIndex);
  const where = (r: CsvRecord, c: number) => `line ${r.line}, column ${c + 1} (${JSON.stringify(names[c])})`;

  const x =
    dtype === 'float64'
      ? new Float64Array(rows.length * featureIdx.length)
      : new Float32Array(rows.length * featureIdx.length);
  rows.forEach((r, i) => {
    featureIdx.forEach((c, j) => {
      const field = r.fields[c];
      const v = field.trim() === '' && missing !== undefined ? missing : toNumber(field);
      if (v === undefined)
        throw new FormatError(
          `parseCsv: ${where(r, c)}: ` +
            (field.trim() === ''
              ? 'empty value (pass { missing } to fill it)'
              : `${JSON.stringify(field)} is not a number`),
        );
      x[i * featureIdx.length + j] = v;
    });
  });
  const out: CsvData = {
    x: fromTypedArray(x, [rows.length, featureIdx.length]),
    columns: featureIdx.map((c) => names[c]),
  };
  if (labelIndex === undefined) return out;
  out.labelColumn = names[labelIndex];
  try {
    Object.assign(
      out,
      readLabels(rows, labelIndex, labelType, (r) => where(r, labelIndex)),
    );
  } catch (e) {
    out.x.dispose();
    throw e;
  }
  return out;
}

function readLabels(
  rows: CsvRecord[],
  col: number,
  labelType: NonNullable<CsvOptions['labelType']>,
  where: (r: CsvRecord) => string,
): Pick<CsvData, 'y' | 'classes'> {
  const raw = rows.map((r) => r.fields[col].trim());
  const values = raw.map(toNumber);
  const numeric = values.every((v) => v !== undefined);
  if (labelType === 'classes' || (labelType === 'auto' && !numeric)) {
    const classes = [...new Set(raw)].sort();
    const index = new Map(classes.map((c, i) => [c, i]));
    return {
      y: fromTypedArray(
        Int32Array.from(raw, (s) => index.get(s)!),
        [rows.length],
      ),
      classes,
    };
  }
  const bad = values.findIndex((v) => v === undefined);
  if (bad >= 0)
    throw new FormatError(`parseCsv: ${where(rows[bad])}: label ${JSON.stringify(raw[bad])} is not a number`);
  const nums = values as number[];
  const asInt = labelType === 'int32' || (labelType === 'auto' && nums.every(Number.isInteger));
  if (asInt) {
    const badInt = nums.findIndex((v) => !Number.isInteger(v) || Math.abs(v) > 2147483647);
    if (badInt >= 0)
      throw new FormatError(
        `parseCsv: ${where(rows[badInt])}: label ${JSON.stringify(raw[badInt])} is not an int32 integer`,
      );
    return { y: fromTypedArray(Int32Array.from(nums), [rows.length]) };
  }
  return { y: fromTypedArray(Float32Array.from(nums), [rows.length]) };
}

/**
 * Reads a CSV file (optionally .gz) and parses it with parseCsv; with an encryptionKey, a file written by
 * privacy.writeEncrypted (its role the file's name).
 */
export async function loadCsv(
  path: string,
  { encryptionKey, ...options }: CsvOptions & { encryptionKey?: EncryptionKey } = {},
): Promise<CsvData> {
  const bytes =
    encryptionKey === undefined
      ? await readDataFile(path, 'loadCsv', 'check the path')
      : await readEncrypted(path, encryptionKey);
  return parseCsv(new TextDecoder().decode(bytes), options);
}
