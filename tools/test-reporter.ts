// The suite's test reporter: a dot per test (as node's dot reporter), each failure in full, and a closing
// "tests: N passed, N failed, N skipped" line that CI and people read (node's dot reporter prints no summary).
import { inspect } from 'node:util';

interface TestEventData {
  name: string;
  file?: string;
  nesting: number;
  skip?: boolean | string;
  todo?: boolean | string;
  details?: { type?: string; error?: unknown };
}

type TestEvent = { type: string; data: TestEventData };

export default async function* reporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let column = 0;
  const failures: string[] = [];
  const dot = (mark: string): string => {
    column = (column + 1) % 20;
    return column === 0 ? `${mark}\n` : mark;
  };
  for await (const { type, data } of source) {
    // Suites report too; only tests count, as in node's own summary.
    if ((type !== 'test:pass' && type !== 'test:fail') || data.details?.type === 'suite') continue;
    if (type === 'test:pass' && (data.skip || data.todo)) {
      skipped++;
      yield dot(',');
    } else if (type === 'test:pass') {
      passed++;
      yield dot('.');
    } else {
      failed++;
      failures.push(`✖ ${data.file ?? ''} ${data.name}\n${inspect(data.details?.error, { depth: 4 })}`);
      yield dot('X');
    }
  }
  if (column !== 0) yield '\n';
  for (const f of failures) yield `\n${f}\n`;
  yield `\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}
