// The PII evaluation's labels: the RFC 5322 address tokenizer and the Received-header IP tokenizer on hand-made
// headers, and the inserted set: deterministic by seed, spans exact, valid values passing their checks and near
// misses failing them (the labels are known by construction only if the generators are right).
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressLabels, headerFields, receivedIpLabels } from '../../examples/pii-labels.js';
import { syntheticSet } from '../../examples/pii-eval-set.js';
import { cardValid, ibanValid, prcIdValid } from '../../src/privacy/pii-checksums.js';
import type { Email } from '../../src/text/index.js';

const RAW =
  'From: Robert Elz <kre@munnari.OZ.AU>\n' +
  'To: "\'ilug@linux.ie\'" <ilug@linux.ie>, bare@example.org (Bob, at work),\n' +
  '\t"Doe, Jane" <@relay.example:jane@example.net>, undisclosed-recipients:;\n' +
  'Received: from mail.example (mail.example [66.187.233.211]) by mx (8.11.6/8.11.6)\n' +
  '    with ESMTP id g7MB; (bob@10.0.0.7) ?192.168.0.1? [IPv6:::1] 1.2.3.4:25 1.2.3.4.5\n' +
  'Subject: hi\n' +
  '\n' +
  'Body with kre@munnari.OZ.AU and 10.1.1.1\n';

test('headerFields: names, folded values, stops at the body', () => {
  const fields = headerFields(RAW);
  assert.deepEqual(
    fields.map((f) => f.name),
    ['from', 'to', 'received', 'subject'],
  );
  const to = fields[1];
  assert.ok(RAW.slice(to.start, to.end).includes('undisclosed-recipients:;'), 'the folded line belongs to To');
});

test('addressLabels: angle-addrs, bare addr-specs, addresses in display names and comments; no source route', () => {
  const fields = headerFields(RAW);
  const values = fields.slice(0, 2).flatMap((f) => addressLabels(RAW, f).map((l) => l.value));
  assert.deepEqual(values, [
    'kre@munnari.OZ.AU',
    'ilug@linux.ie',
    'ilug@linux.ie',
    'bare@example.org',
    'jane@example.net',
  ]);
  for (const l of fields.slice(0, 2).flatMap((f) => addressLabels(RAW, f)))
    assert.equal(RAW.slice(l.start, l.end), l.value);
});

test('receivedIpLabels: literals, comments, user@IP, ?IP?, IPv6 literals and ports; not version strings', () => {
  const received = headerFields(RAW)[2];
  const labels = receivedIpLabels(RAW, received);
  assert.deepEqual(
    labels.map((l) => [l.type, l.value]),
    [
      ['ipv4', '66.187.233.211'],
      ['ipv4', '10.0.0.7'],
      ['ipv4', '192.168.0.1'],
      ['ipv6', '::1'],
      ['ipv4', '1.2.3.4'],
    ],
  );
  for (const l of labels) assert.equal(RAW.slice(l.start, l.end), l.value);
});

test('syntheticSet: deterministic by seed, exact spans, valid values pass their checks and near misses fail', () => {
  const emails: Email[] = [0, 1, 2].map((i) => ({
    id: String(i),
    group: 'easy-ham-1',
    label: 0,
    text: `From: a@b.org\nSubject: s${i}\n\nline one\nline two\n`,
    subject: `s${i}`,
    body: 'line one\nline two\n',
  }));
  const a = syntheticSet(emails, 5, 400);
  assert.deepEqual(syntheticSet(emails, 5, 400), a);
  assert.notDeepEqual(syntheticSet(emails, 6, 400), a);
  const check: Record<string, (v: string) => boolean> = {
    creditCard: (v) => cardValid(v.replace(/[ -]/g, '')),
    iban: (v) => ibanValid(v.replace(/ /g, '')),
    prcId: prcIdValid,
  };
  for (const { text, insert } of a) {
    assert.equal(text.slice(insert.start, insert.end), insert.value);
    assert.ok(insert.start >= insert.line.start && insert.end <= insert.line.end);
    if (check[insert.type] && insert.kind !== 'lookalike')
      assert.equal(check[insert.type](insert.value), insert.valid, `${insert.type} ${insert.kind} ${insert.value}`);
  }
});
