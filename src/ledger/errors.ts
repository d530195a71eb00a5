// Typed errors of the accountability layer: invalid records, broken ledgers, unreadable inputs.
import { CandorError } from '../errors.js';

/** A value that does not satisfy a JSON Schema; `problems` lists each failure as 'path: message'. */
export class SchemaError extends CandorError {
  constructor(
    what: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${what}: ${problems.length} schema violation${problems.length === 1 ? '' : 's'}: ` +
        `${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; ...' : ''}`,
    );
  }
}

/** A run record that cannot be read or built (missing file, bad JSON, wrong format). */
export class RecordError extends CandorError {}

/** A ledger that cannot be appended to or read (unparseable file, broken chain before an append, bad key). */
export class LedgerError extends CandorError {}

/** A value that has no canonical JSON form (NaN, Infinity, undefined, functions, cycles). */
export class CanonicalJsonError extends CandorError {}
