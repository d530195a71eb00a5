// Opens a standalone HTML page (a model card, the mnist-explain page) in headless Chromium (Debian's `chromium`
// package: apt-get install chromium), takes a screenshot and checks that the page rendered: the PNG decodes, it is
// not blank (enough distinct saturated colours, as heatmaps make), and the page logged nothing to the console
// (no script errors) and fetched nothing that failed. With --in-first-screen ID,ID it also checks that the
// elements with those ids start within the first screen (width x height), e.g. a card's summary and regulatory
// map: a probe script, added to a temporary copy of the page (never to the page), logs their positions.
//   node dist/tools/screenshot-page.js PAGE.html [--out shot.png] [--width 1200] [--height 2000] [--min-colours 20]
//     [--in-first-screen summary,regulatory]
// Exit status 0 when the checks pass, 1 when they fail, 2 when chromium is missing or the call is wrong.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  /** With probeIds: each id's distance from the top of the page in CSS px (null: no such element). */
  positions?: Record<string, number | null>;
}

const PROBE = 'CANDOR_LAYOUT ';

/** A copy of the page with a script that logs the positions of `ids` once it has loaded. */
function withProbe(page: string, ids: string[], dir: string): string {
  const script =
    `<script>addEventListener('load',()=>{const o={};for(const id of ${JSON.stringify(ids)}){` +
    `const e=document.getElementById(id);o[id]=e?Math.round(e.getBoundingClientRect().top+scrollY):null}` +
    `console.log(${JSON.stringify(PROBE)}+JSON.stringify(o))})</script>`;
  const html = readFileSync(page, 'utf8');
  const probed = html.includes('</body>') ? html.replace('</body>', `${script}</body>`) : html + script;
  const copy = join(dir, 'probed.html');
  writeFileSync(copy, probed);
  return copy;
}

/** Takes a screenshot of `page` with headless Chromium and measures it (see PageCheck). */
export function checkPage(
  page: string,
  {
    out,
    width = 1200,
    height = 2000,
    chromium = findChromium(),
    probeIds,
  }: { out?: string; width?: number; height?: number; chromium?: string; probeIds?: string[] } = {},
): PageCheck {
  if (!chromium) throw new Error('chromium is not installed (Debian: apt-get install chromium)');
  if (!existsSync(page)) throw new Error(`no page at ${page}`);
  const scratch = mkdtempSync(join(tmpdir(), 'candor-shot-'));
  const png = out ?? join(scratch, 'page.png');
  const target = probeIds?.length ? withProbe(page, probeIds, scratch) : page;
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
      pathToFileURL(resolve(target)).href,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  const seconds = (performance.now() - started) / 1000;
  if (r.error) throw new Error(`chromium did not run: ${r.error.message}`);
  if (!existsSync(png)) throw new Error(`chromium wrote no screenshot (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
  const lines = r.stderr.split('\n');
  const probeLine = lines.find((l) => l.includes(PROBE));
  const problems = lines
    .filter((l) => !l.includes(PROBE))
    .filter((l) => /:CONSOLE[:(]\d+\)?\]/.test(l) || /net::ERR_/.test(l))
    .map((l) => l.replace(/^\[[^\]]*\]\s*/, ''));
  let positions: Record<string, number | null> | undefined;
  if (probeIds?.length) {
    const json = probeLine?.slice(probeLine.indexOf(PROBE) + PROBE.length).match(/^\{[^}]*\}/)?.[0];
    if (!json)
      throw new Error(`the layout probe logged nothing (chromium exit ${r.status}):\n${r.stderr.slice(-2000)}`);
    positions = JSON.parse(json) as Record<string, number | null>;
  }
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
  rmSync(scratch, { recursive: true, force: true });
  return {
    width: image.width,
    height: image.height,
    saturatedColours: colours.size,
    saturatedFraction: saturated / (image.width * image.height),
    problems,
    seconds,
    png,
    ...(positions ? { positions } : {}),
  };
}

/** The probed ids that do not start within the first `height` px (missing ones included). */
export function outsideFirstScreen(check: PageCheck, height: number): string[] {
  return Object.entries(check.positions ?? {})
    .filter(([, top]) => top === null || top >= height)
    .map(([id]) => id);
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
  const height = Number(option('height', '2000'));
  const probeIds = option('in-first-screen')?.split(',').filter(Boolean);
  const check = checkPage(page, {
    // Beside the page by default, not in the working directory (the repository, when run from it).
    out: option('out', page.replace(/\.html?$/i, '') + '.png'),
    width: Number(option('width', '1200')),
    height,
    probeIds,
  });
  const outside = probeIds ? outsideFirstScreen(check, height) : [];
  const ok = check.problems.length === 0 && check.saturatedColours >= minColours && outside.length === 0;
  console.log(JSON.stringify({ ok, ...check, ...(probeIds ? { outsideFirstScreen: outside } : {}) }));
  process.exit(ok ? 0 : 1);
}
