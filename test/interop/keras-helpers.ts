// Shared by the Keras import tests: where the fixtures are, and the values tools/keras-weights-fixtures.py wrote.
import { join } from 'node:path';

export const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/interop/keras');

/** The tools script's values: ((7 i + 3 k) mod 17 - 8) / 16 (+ offset), k the weight's index in the file. */
export function fixtureValues(k: number, size: number, offset = 0): number[] {
  return Array.from({ length: size }, (_, i) => ((7 * i + 3 * k) % 17) / 16 - 0.5 + offset);
}
