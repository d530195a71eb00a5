// Opens a standalone HTML page (a model card, the mnist-explain page) in headless Chromium (Debian's `chromium`
// package: apt-get install chromium), takes a screenshot and checks that the page rendered: the PNG decodes, it is
// not blank (enough distinct saturated colours, as heatmaps make), and the page logged nothing to the console
// (no script errors) and fetched nothing that failed.
//   node dist/tools/screenshot-page.js PAGE.html [--out shot.png] [--width 1200] [--height 2000] [--min-colours 20]
// Exit status 0 when the checks pass, 1 when they fail, 2 when chromium is missing or the call is wrong.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

/** The chromium binary on PATH (chromium, or chromium-browser on some distributions), or undefined. */
export function findChromium(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}

export interface PageCheck {
  /** The screenshot's size. */
  width: number;
  height: number;
  /** Distinct colours of saturated pixels (max - min channel >= 60: heatmap colours, not grey text). */
  saturatedColours: number;
  /** Fraction of the pixels that are saturated. */
  saturatedFraction: number;
  /** Console messages (any: a card has no scripts) and failed loads, from Chromium's log. */
  problems: string[];
  seconds: number;
  /** The screenshot file. */
  png: string;
}

/** Takes a screenshot of `page` with headless Chromium and measures it (see PageCheck). */
export function checkPage(
  page: string,
  {
    out,
    width = 1200,
    height = 2000,
    chromium = findChromium(),
  }: { out?: string; width?: number; height?: number; chromium?: string } = {},
): PageCheck {
  if (!chromium) throw new Error('chromium is not installed (Debian: apt-get install chromium)');
  if (!existsSync(page)) throw new Error(`no page at ${page}`);
  const scratch = out ? undefined : mkdtempSync(join(tmpdir(), 'candor-shot-'));
  const png = out ?? join(scratch!, 'page.png');
  const started = performance.now();
  const r = spawnSync(
    chromium,
    [
      '--headless',
      '--disable-gpu',
      '--no-sandbox',
      '--hide-scrollbars',
      '--no-first-run',
      '--enable-logging=stderr',
      '--v=0',
      `--window-size=${width},${height}`,
      `--screenshot=${resolve(png)}`,
      pathToFileURL(resolve(page)).href,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  const seconds = (performance.now() - started) / 1000;
  if (r.error) throw new Error(`chromium did not run: ${r.error.message}`);
  if (!existsSync(png)) throw new Error(`chromium wrote no screenshot (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
  const problems = r.stderr
    .split('\n')
    .filter((l) => /:CONSOLE[:(]\d+\)?\]/.test(l) || /net::ERR_/.test(l))
    .map((l) => l.replace(/^\[[^\]]*\]\s*/, ''));
  const { PNG } = createRequire(import.meta.url)('pngjs') as typeof import('pngjs');
  const image = PNG.sync.read(readFileSync(png));
  const colours = new Set<number>();
  let saturated = 0;
  for (let p = 0; p < image.width * image.height; p++) {
    const [red, green, blue] = image.data.subarray(4 * p, 4 * p + 3);
    if (Math.max(red, green, blue) - Math.min(red, green, blue) >= 60) {
      saturated++;
      colours.add((red << 16) | (green << 8) | blue);
    }
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  return {
    width: image.width,
    height: image.height,
    saturatedColours: colours.size,
    saturatedFraction: saturated / (image.width * image.height),
    problems,
    seconds,
    png,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const option = (name: string, fallback?: string) => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? args[at + 1] : fallback;
  };
  const page = args[0];
  if (!page || page.startsWith('--')) {
    console.error('usage: node dist/tools/screenshot-page.js PAGE.html [--out PNG] [--width W] [--height H]');
    process.exit(2);
  }
  if (!findChromium()) {
    console.error('chromium is not installed (Debian: apt-get install chromium); nothing checked');
    process.exit(2);
  }
  const minColours = Number(option('min-colours', '20'));
  const check = checkPage(page, {
    // Beside the page by default, not in the working directory (the repository, when run from it).
    out: option('out', page.replace(/\.html?$/i, '') + '.png'),
    width: Number(option('width', '1200')),
    height: Number(option('height', '2000')),
  });
  const ok = check.problems.length === 0 && check.saturatedColours >= minColours;
  console.log(JSON.stringify({ ok, ...check }));
  process.exit(ok ? 0 : 1);
}
