// A small document model (headings, paragraphs, key-value tables, tables, figures) with two renderers,
// Markdown and standalone HTML, so the card's content is decided once and both files always agree.
// Figures from the record carry a data-key (the record path) and data-value (the exact number) in the
// HTML, so tests and tools can check them against the record.

/** A table cell: plain text, optionally tagged with the record field it shows and its exact value. */
export interface Cell {
  text: string;
  key?: string;
  value?: string | number;
}

/** A figure cell: its text, and the record field (key) and value it shows, so a reader can check it. */
export const fig = (text: string, key: string, value: string | number): Cell => ({ text, key, value });

/** A number to `digits` significant digits; 'n/a' for a missing one. */
export const num = (n: number | null | undefined, digits = 4) =>
  n === null || n === undefined ? 'n/a' : String(Number(n.toPrecision(digits)));

export type Block =
  | { kind: 'heading'; level: 1 | 2 | 3; text: string; id?: string }
  | { kind: 'para'; text: string; className?: string }
  /** Text the user wrote, shown as written (Markdown passes it through; HTML escapes it, keeping line breaks). */
  | { kind: 'userText'; text: string; source: string }
  | {
      kind: 'table';
      header: string[];
      rows: (Cell | string)[][];
      caption?: string;
      id?: string;
      rowAttrs?: Record<string, string>[];
    }
  | { kind: 'figure'; svg: string; caption: string }
  /** Links to headings of the page (a table of contents): href is '#' + the heading's id. */
  | { kind: 'links'; title: string; items: { text: string; href: string }[]; className?: string }
  | { kind: 'details'; summary: string; blocks: Block[] };

export interface Doc {
  title: string;
  blocks: Block[];
  /** YAML metadata put at the top of the Markdown between '---' lines (Hugging Face model-card front matter). */
  frontMatter?: string;
}

const cellOf = (c: Cell | string): Cell => (typeof c === 'string' ? { text: c } : c);

// ---- Markdown ----

function mdEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

function mdBlock(b: Block, out: string[]): void {
  switch (b.kind) {
    case 'heading':
      out.push(`${'#'.repeat(b.level)} ${b.text}`, '');
      break;
    case 'para':
      out.push(b.text, '');
      break;
    case 'userText':
      out.push(`*${b.source}:*`, '', b.text.trim(), '');
      break;
    case 'table':
      if (b.caption) out.push(`*${b.caption}*`, '');
      out.push(`| ${b.header.map(mdEscape).join(' | ')} |`, `|${b.header.map(() => ' --- ').join('|')}|`);
      for (const row of b.rows) out.push(`| ${row.map((c) => mdEscape(cellOf(c).text)).join(' | ')} |`);
      out.push('');
      break;
    case 'figure':
      out.push(`*${b.caption} (chart in card.html)*`, '');
      break;
    case 'details':
      out.push(`**${b.summary}**`, '');
      for (const inner of b.blocks) mdBlock(inner, out);
      break;
    case 'links':
      out.push(`**${b.title}**`, '');
      for (const l of b.items) out.push(`- [${l.text.replace(/[[\]]/g, '')}](${l.href})`);
      out.push('');
      break;
  }
}

export function renderMarkdown(doc: Doc): string {
  const out: string[] = doc.frontMatter ? ['---', doc.frontMatter.trimEnd(), '---', ''] : [];
  out.push(`# ${doc.title}`, '');
  for (const b of doc.blocks) mdBlock(b, out);
  return (
    out
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd() + '\n'
  );
}

// ---- HTML ----

export function htmlEscape(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** `field` in Candor's own text (not the user's) as <code>, as Markdown shows it. */
function inlineCode(escaped: string): string {
  return escaped.replace(/`([^`<>]+)`/g, '<code>$1</code>');
}

function attrs(a: Record<string, string | number | undefined>): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${htmlEscape(String(v))}"`)
    .join('');
}

function htmlBlock(b: Block, out: string[]): void {
  switch (b.kind) {
    case 'heading':
      out.push(`<h${b.level}${attrs({ id: b.id })}>${htmlEscape(b.text)}</h${b.level}>`);
      break;
    case 'para':
      out.push(`<p${attrs({ class: b.className })}>${inlineCode(htmlEscape(b.text))}</p>`);
      break;
    case 'userText':
      out.push(
        `<div class="user"><div class="source">${htmlEscape(b.source)}</div>` +
          `<p>${htmlEscape(b.text.trim()).replace(/\r?\n/g, '<br>')}</p></div>`,
      );
      break;
    case 'table': {
      out.push(`<table${attrs({ id: b.id })}>`);
      if (b.caption) out.push(`<caption>${htmlEscape(b.caption)}</caption>`);
      out.push(`<thead><tr>${b.header.map((h) => `<th>${htmlEscape(h)}</th>`).join('')}</tr></thead>`, '<tbody>');
      b.rows.forEach((row, i) => {
        const cells = row.map((c) => {
          const cell = cellOf(c);
          const text = inlineCode(htmlEscape(cell.text));
          return `<td${attrs({ 'data-key': cell.key, 'data-value': cell.value })}>${text}</td>`;
        });
        out.push(`<tr${attrs(b.rowAttrs?.[i] ?? {})}>${cells.join('')}</tr>`);
      });
      out.push('</tbody></table>');
      break;
    }
    case 'figure':
      out.push(`<figure>${b.svg}<figcaption>${htmlEscape(b.caption)}</figcaption></figure>`);
      break;
    case 'details':
      out.push(`<details><summary>${htmlEscape(b.summary)}</summary>`);
      for (const inner of b.blocks) htmlBlock(inner, out);
      out.push('</details>');
      break;
    case 'links':
      out.push(
        `<nav${attrs({ class: b.className })}><strong>${htmlEscape(b.title)}:</strong><ul>` +
          b.items.map((l) => `<li><a href="${htmlEscape(l.href)}">${htmlEscape(l.text)}</a></li>`).join('') +
          '</ul></nav>',
      );
      break;
  }
}

const STYLE = `
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;
color:#1b1b1b}
h1{font-size:1.7rem;margin:.4rem 0}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;font-size:.9rem}
caption{text-align:left;font-style:italic;padding:.2rem 0}
th,td{border:1px solid #d5d5d5;padding:.25rem .55rem;text-align:left;vertical-align:top}th{background:#f3f3f3}
td[data-value]{font-variant-numeric:tabular-nums}
tr[data-status="missing"] td:nth-child(3){color:#a40000;font-weight:600}
tr[data-status="record"] td:nth-child(3){color:#0b5d1e}tr[data-status="user"] td:nth-child(3){color:#114b8c}
.user{border-left:3px solid #6b8fc7;padding:.1rem .8rem;margin:.6rem 0;background:#f6f8fc}
.user .source{font-size:.8rem;color:#555}
.note{color:#555;font-size:.9rem}figure{margin:1rem 0}figcaption{font-size:.85rem;color:#555}
code{font-size:.85rem}
nav.toc{display:flex;gap:.8rem;font-size:.9rem;margin:.6rem 0}
nav.toc ul{list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:.2rem 1rem}
h2#summary,h2#regulatory{margin-top:1rem}#summary-table{font-size:.85rem;width:100%}
#summary-table td,#summary-table th{padding:.12rem .5rem}
nav.toc a{color:#114b8c}
#summary-table td:first-child{font-weight:600;white-space:nowrap}
tr[data-status="partial"] td:nth-child(3){color:#8a5a00;font-weight:600}
.applies{border-left:3px solid #c9a227;padding:.1rem .8rem;background:#fdfaf0;font-size:.9rem}`;

/** A standalone page: inline CSS and SVG, no scripts, nothing fetched from the network. */
export function renderHtml(doc: Doc): string {
  const out: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${htmlEscape(doc.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${htmlEscape(doc.title)}</h1>`,
  ];
  for (const b of doc.blocks) htmlBlock(b, out);
  out.push('</body>', '</html>');
  return out.join('\n') + '\n';
}
