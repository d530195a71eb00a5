// Fails when a tracked source file (TypeScript, JavaScript, C++) has a line over 120 columns: the one
// limit the formatter (Prettier for TS/JS) cannot enforce on strings, comments and the C++ kernels.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const LIMIT = 120;
const SOURCE = /\.(ts|js|mjs|cc|h)$/;
const files = execFileSync('git', ['ls-files'], { encoding: 'utf8' })
  .split('\n')
  .filter((f) => SOURCE.test(f) && !f.startsWith('test/fixtures/'));
const long: string[] = [];
for (const file of files) {
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      // UTF-8 bytes: the same as columns for ASCII, stricter for box-drawing and other multi-byte characters,
      // and what byte-oriented tools (awk, editors' column counters in C locale) measure.
      const bytes = Buffer.byteLength(line);
      if (bytes > LIMIT) long.push(`${file}:${i + 1}: ${bytes} bytes`);
    });
}
for (const l of long) console.log(l);
console.log(`${files.length} files checked, ${long.length} lines over ${LIMIT} bytes`);
process.exit(long.length === 0 ? 0 : 1);
