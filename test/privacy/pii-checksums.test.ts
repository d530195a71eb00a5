// The check digits the PII scanner relies on, against published valid numbers and one-character changes:
// Luhn, card issuer ranges, IBAN mod 97 (ISO 13616's examples), PRC identity numbers (GB 11643's example)
// and the SSA's rules for Social Security numbers.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  luhnValid,
  cardValid,
  ibanValid,
  prcIdValid,
  prcIdCheckCharacter,
  ssnValid,
} from '../../src/privacy/pii-checksums.js';

/** Luhn written out the textbook way: double every second digit from the right, sum the digits of the products. */
function luhnReference(digits: string): boolean {
  const sum = [...digits]
    .reverse()
    .map((ch, i) => (i % 2 ? [...String(Number(ch) * 2)].reduce((s, d) => s + Number(d), 0) : Number(ch)))
    .reduce((s, d) => s + d, 0);
  return sum % 10 === 0;
}

test('Luhn: published test card numbers pass, every single-digit change fails', () => {
  for (const n of ['4111111111111111', '5500005555555559', '378282246310005', '6011111111111117', '3530111333300000']) {
    assert.ok(luhnValid(n), n);
    assert.ok(cardValid(n), n);
    for (let i = 0; i < n.length; i++) {
      const changed = n.slice(0, i) + String((Number(n[i]) + 1) % 10) + n.slice(i + 1);
      assert.equal(luhnValid(changed), false, changed);
    }
  }
  // The textbook form agrees on a sweep of numbers.
  for (let k = 0; k < 2000; k++) {
    const n = String(4000000000000000 + k * 7919);
    assert.equal(luhnValid(n), luhnReference(n), n);
  }
  assert.equal(luhnValid('4111 1111'), false, 'digits only');
});

test('cards: a Luhn-valid number outside the issuer ranges or lengths is not a card', () => {
  assert.ok(luhnValid('1234567812345670'));
  assert.equal(cardValid('1234567812345670'), false, 'no issuer starts with 1');
  assert.ok(luhnValid('41111111111114'));
  assert.equal(cardValid('41111111111114'), false, 'Visa has 13, 16 or 19 digits, not 14');
  assert.ok(cardValid('4222222222222'), 'the 13-digit Visa test number');
});

test('IBAN: ISO 13616 examples pass, a one-digit change and a wrong length fail', () => {
  for (const iban of [
    'GB82WEST12345698765432',
    'DE89370400440532013000',
    'FR1420041010050500013M02606',
    'NO9386011117947',
  ])
    assert.ok(ibanValid(iban), iban);
  assert.equal(ibanValid('GB82WEST12345698765433'), false);
  assert.equal(ibanValid('DE89370400440532013001'), false);
  assert.equal(ibanValid('GB82WEST1234569876543'), false, 'GB IBANs have 22 characters');
  assert.equal(ibanValid('XX82WEST12345698765432'), false, 'unknown country');
  // Mod 97 computed with BigInt, the definition: letters to 10..35, first four characters moved to the end.
  const mod97 = (s: string) => BigInt([...(s.slice(4) + s.slice(0, 4))].map((ch) => parseInt(ch, 36)).join('')) % 97n;
  for (const iban of ['GB82WEST12345698765432', 'GB82WEST12345698765433', 'DE89370400440532013000'])
    assert.equal(ibanValid(iban), mod97(iban) === 1n, iban);
});

test('PRC resident identity numbers: GB 11643 example passes; a changed check character, date or region fails', () => {
  assert.ok(prcIdValid('11010519491231002X'));
  assert.ok(prcIdValid('11010519491231002x'), 'x is read as X');
  assert.equal(prcIdCheckCharacter('11010519491231002'), 'X');
  assert.equal(prcIdValid('110105194912310021'), false, 'changed check character');
  assert.equal(prcIdValid('11010519491232002X'), false, 'December 32nd');
  assert.equal(prcIdValid('99010519491231002X'), false, 'no province 99');
  assert.equal(prcIdValid('11010519491231002'), false, '17 characters');
  // The check character by its definition: (12 - sum(a_i * 2^(17-i) mod 11) mod 11) mod 11, 10 written X.
  const first17 = '44030419900307123';
  const s = [...first17].reduce((acc, ch, i) => acc + Number(ch) * (2 ** (17 - i) % 11), 0);
  const r = (12 - (s % 11)) % 11;
  assert.equal(prcIdCheckCharacter(first17), r === 10 ? 'X' : String(r));
});

test('US SSN rules: area not 000, 666 or 9xx; group not 00; serial not 0000', () => {
  assert.ok(ssnValid('123', '45', '6789'));
  assert.ok(ssnValid('899', '01', '0001'));
  for (const [a, g, s] of [
    ['000', '12', '3456'],
    ['666', '12', '3456'],
    ['900', '12', '3456'],
    ['987', '65', '4321'],
    ['123', '00', '4567'],
    ['123', '45', '0000'],
    ['078', '05', '1120'],
  ])
    assert.equal(ssnValid(a, g, s), false, `${a}-${g}-${s}`);
});
