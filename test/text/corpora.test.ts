// The corpora loaders read the real data shipped in the @stdlib packages; a missing package is a MissingDataError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spamAssassin, mobyDick, parseEmail } from '../../src/text/index.js';
import { loadPackage } from '../../src/text/corpora.js';
import { MissingDataError } from '../../src/data/files.js';

test('parseEmail splits headers from body and unfolds the Subject header', () => {
  const raw = 'From: a@b.c\nSubject: Cheap\n  watches now\nX-Other: 1\n\nBuy!\n\nToday.';
  assert.deepEqual(parseEmail(raw), { subject: 'Cheap watches now', body: 'Buy!\n\nToday.' });
  assert.deepEqual(parseEmail('From: x\r\n\r\nhi'), { subject: '', body: 'hi' });
  assert.deepEqual(parseEmail('no headers at all'), { subject: '', body: '' });
});

test('spamAssassin: 6046 real messages, 1896 spam, labels from the folder', async () => {
  const emails = await spamAssassin();
  assert.equal(emails.length, 6046);
  assert.equal(emails.filter((e) => e.label === 1).length, 1896);
  assert.ok(emails.every((e) => (e.label === 1) === e.group.startsWith('spam')));
  const spam = emails.find((e) => e.group === 'spam-1' && e.id === '00001')!;
  assert.equal(spam.subject, 'Life Insurance - Why Pay More?');
  assert.ok(spam.text.endsWith(spam.body));
});

test('mobyDick: 139 sections joined into about 1.2 MB of text', async () => {
  const { chapters, text } = await mobyDick();
  assert.equal(chapters.length, 139);
  const one = chapters.find((c) => c.chapter === '1')!;
  assert.equal(one.title, 'Loomings.');
  assert.ok(one.text.startsWith('Call me Ishmael.'));
  assert.ok(text.length > 1_000_000 && text.includes(one.text));
});

test('a missing data package is a MissingDataError that says what to install', () => {
  assert.throws(
    () => loadPackage('@candor/no-such-data-package', 'demo'),
    (e: Error) => e instanceof MissingDataError && /npm install @candor\/no-such-data-package/.test(e.message),
  );
});
