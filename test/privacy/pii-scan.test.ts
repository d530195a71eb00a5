// scanPII: each type found in context, with its exact span, and not found in near misses (version strings,
// dates, order numbers failing Luhn, bad check digits); overlaps resolved deterministically; hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { privacy, ArgumentError } from '../../src/index.js';

const { scanPII } = privacy;

/** [type, value] of every match, and a check that each span is the value. */
function found(text: string, types?: privacy.PIIType[]): [string, string][] {
  const matches = scanPII(text, types ? { types } : {});
  for (const m of matches) assert.equal(text.slice(m.start, m.end), m.value);
  return matches.map((m) => [m.type, m.value]);
}

/** Asserts `value` is found as `type` inside `context` (where X stands for it), and is the only match. */
function finds(type: string, value: string, context = 'see X here.'): void {
  assert.deepEqual(found(context.replace('X', value)), [[type, value]], `${type} in ${context.replace('X', value)}`);
}

/** Asserts nothing is found in `text`. */
function none(text: string, types?: privacy.PIIType[]): void {
  assert.deepEqual(found(text, types), [], text);
}

test('email: addresses in headers and prose, a trailing full stop left out', () => {
  finds('email', 'kre@munnari.OZ.AU', 'From: Robert Elz <X>');
  finds('email', 'bob.smith+news@example.co.uk', 'Write to X.');
  finds('email', 'exmh-workers@spamassassin.taint.org', 'Cc: X');
  finds('email', 'user@xn--bcher-kva.example', 'mailto:X');
  none('zzzz@localhost and user@host are local names; a@b.c has a one-letter TLD; @twitter; a..b@example.com');
});

test('phone: international forms, NANP and Chinese mobiles', () => {
  for (const p of [
    '+1 (415) 555-2671',
    '+44 20 7946 0958',
    '+44 (0)20 7946 0958',
    '+33.1.23.45.67.89',
    '+49-30-1234567',
    '+8613800138000',
    '+86 138 0013 8000',
    '0044 20 7946 0958',
    '(212) 555-0199',
    '212-555-0199',
    '212.555.0199',
    '1-800-555-1234',
    '13800138000',
    '138 0013 8000',
    '138-0013-8000',
  ])
    finds('phone', p, 'Call X today');
  // Two numbers with a dash between: both, not one run.
  assert.deepEqual(found('Tel 555-234-5678 - 555-987-6543.'), [
    ['phone', '555-234-5678'],
    ['phone', '555-987-6543'],
  ]);
  none('Released 2002-08-22 at 12:34:56, build 1.2.3.4.5, order 4155552671, zip 90210-1234, 12345678901');
  none('Area code 123-555-0199 (NPA cannot start with 1), 12800138000 (no Chinese mobile prefix 12)');
});

test('creditCard: Luhn-valid numbers with a plausible issuer, with spaces or dashes', () => {
  finds('creditCard', '4111111111111111', 'card X exp 12/25');
  finds('creditCard', '4111 1111 1111 1111', 'card X exp 12/25');
  finds('creditCard', '5500-0055-5555-5559', 'card X exp 12/25');
  finds('creditCard', '3782 822463 10005', 'Amex X');
  none('order 4111 1111 1111 1112 fails Luhn; 1234 5678 1234 5670 has no issuer; 4111-1111 1111-1111 mixes');
});

test('iban: printed in groups of four or electronic, mod-97 checked', () => {
  finds('iban', 'GB82 WEST 1234 5698 7654 32', 'IBAN: X, BIC WESTGB22');
  finds('iban', 'DE89370400440532013000', 'Konto X.');
  none('IBAN DE89370400440532013001 (one digit changed) and GB82 WEST 1234 5698 7654 33');
});

test('ipv4 and ipv6: octets up to 255; full, compressed and IPv4-embedded v6', () => {
  finds('ipv4', '66.187.233.211', 'Received: from listman ([X]) by');
  finds('ipv4', '127.0.0.1', 'localhost (X)');
  none('version 1.2.3.4.5, 256.1.1.1, 192.168.01.1, 10.0.0, 1.2.3.4a');
  finds('ipv6', '2001:0db8:85a3:0000:0000:8a2e:0370:7334', 'host X up');
  finds('ipv6', '2001:db8::1', 'route to X.');
  finds('ipv6', '::1', 'loopback X');
  finds('ipv6', '::ffff:192.0.2.1', 'mapped X');
  finds('ipv6', 'fe80::1', 'link-local X: up');
  none('at 12:34:56, MAC 00:1a:2b:3c:4d:5e, std::vector, 1::2::3, 2001:db8:::1, 12345::1');
});

test('prcId and usSsn: checksum and SSA rules', () => {
  finds('prcId', '11010519491231002X', '身份证号 X。');
  finds('prcId', '11010519491231002x', 'ID X');
  none('ID 110105194912310021 (bad check character), 11010519491331002X (month 13)');
  finds('usSsn', '123-45-6789', 'SSN: X');
  none('SSN 000-12-3456, 666-12-3456, 912-34-5678, 123-00-4567, 123-45-0000, part 123-45-6789-0');
});

test('secret: known key formats, assignments and passwords in URLs', () => {
  const tokens = [
    'AKIAIOSFODNN7EXAMPLE',
    `ghp_${'A1b2'.repeat(9)}`,
    `gho_${'z'.repeat(36)}`,
    `github_pat_11ABCDEFG0${'x'.repeat(12)}_${'y'.repeat(59)}`,
    'xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp',
    `sk_live_${'4eC39HqLyjWDarjtT1zdp7dc'}`,
    `AIza${'SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q'}`,
  ];
  for (const t of tokens) finds('secret', t, 'export KEY X # do not commit');
  const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x\nq2w=\n-----END RSA PRIVATE KEY-----';
  finds('secret', pem, 'key:\nX\nthanks');
  finds('secret', 'hunter2', 'password=X&user=bob');
  finds('secret', 's3cr3t!', 'api_key = "X"');
  finds('secret', 'abc.def', '{"token": "X"}');
  finds('secret', 'pa55word', 'ftp://alice:X@ftp.example.com/pub');
  none('Password: see the enclosed letter. token=*** passwd=${PASSWORD} sk_live_short AKIA1234');
});

test('overlaps: a password in a URL beats the e-mail-shaped rest; a card beats a phone; results sorted', () => {
  assert.deepEqual(found('https://bob:pw@example.com'), [['secret', 'pw']]);
  // '+4111 1111 1111' is a phone number shape too: the checksum-validated card wins.
  assert.deepEqual(found('+4111 1111 1111 1111'), [['creditCard', '4111 1111 1111 1111']]);
  // IPv4 inside an IPv6 address: the longer IPv6 match wins.
  assert.deepEqual(found('::ffff:10.1.2.3'), [['ipv6', '::ffff:10.1.2.3']]);
  const text = 'b@example.org 10.0.0.1 a@example.org';
  const m = scanPII(text);
  assert.deepEqual(
    m.map((x) => x.start),
    [0, 14, 23],
  );
  assert.deepEqual(scanPII(text, { types: ['ipv4'] }), [{ type: 'ipv4', start: 14, end: 22, value: '10.0.0.1' }]);
});

test('cases found by reading the SpamAssassin disagreements by hand', () => {
  // Address literals of Received headers: the colon of "IPv6:" does not hide the address.
  finds('ipv6', '::1', 'from darkness.sial.org (localhost. [IPv6:X]) by mail.sial.org');
  // RFC 5322 atext in local parts ('#', '&', an apostrophe); quotes around a display name are not part of it.
  finds('email', 'Online#3.20339.ef-JR6X.1@newsletter.online.com', 'From: ZDNet <X>');
  finds('email', "tiarnan.o'corrain@cmg.com", 'From: Tiarnan O Corrain <X>');
  finds('email', 'm&o@insurancemail.net', 'From: "M&O Marketing" <X>');
  assert.deepEqual(found('To: "\'ilug@linux.ie\'" <x>'), [['email', 'ilug@linux.ie']]);
  // Digit groups inside a longer run are not a phone (an international 00 prefix) or a card on their own.
  none('Message-Id: <050101c26e45$651a0cc0$9731e150@007730120202>');
  none('Card number: 5269 0013 2934 9961, expires 09/27');
  none('IBAN: ES81 4502 4571 7488 3292 2236');
});

test('scanPII refuses unknown types and non-strings with a typed error', () => {
  assert.throws(() => scanPII('x', { types: ['mail' as privacy.PIIType] }), ArgumentError);
  assert.throws(() => scanPII(42 as unknown as string), ArgumentError);
});

test('hostile input: long runs of candidate characters are scanned in one pass', () => {
  // Each run would cost quadratic or exponential time in a pattern with nested quantifiers or no anchor.
  const runs = [
    'a'.repeat(20000),
    'a.'.repeat(10000) + '@',
    '1 '.repeat(10000),
    '4-'.repeat(10000),
    '1.'.repeat(10000),
    ':'.repeat(20000),
    'a:'.repeat(10000),
    '(1)'.repeat(5000),
    'GB82 '.repeat(4000),
    'password='.repeat(2000),
    'a://b:'.repeat(3000),
    '-----BEGIN PRIVATE KEY-----'.repeat(500),
  ];
  const text = runs.join(' ');
  const matches = scanPII(text);
  // Only the PEM headers are PII (each a private-key header without its footer).
  assert.equal(matches.filter((m) => m.type !== 'secret').length, 0);
  assert.ok(matches.length >= 1);
});
