// Check digits and structural rules of identifiers the PII scanner validates: Luhn and issuer ranges of
// payment cards, IBAN (ISO 13616, mod 97), PRC resident identity numbers (GB 11643, ISO 7064 MOD 11-2)
// and US Social Security numbers. Inputs are the bare characters (no spaces or dashes).

/** Luhn (mod 10) over a string of decimal digits: the check every payment card number passes. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Issuer ranges: [lowest prefix, highest prefix, lengths allowed]; prefixes compare as numbers of equal width. */
const CARD_RANGES: readonly [string, string, readonly number[]][] = [
  ['4', '4', [13, 16, 19]], // Visa
  ['51', '55', [16]], // Mastercard
  ['2221', '2720', [16]], // Mastercard 2-series
  ['34', '34', [15]], // American Express
  ['37', '37', [15]],
  ['6011', '6011', [16, 17, 18, 19]], // Discover
  ['644', '649', [16, 17, 18, 19]],
  ['65', '65', [16, 17, 18, 19]],
  ['3528', '3589', [16, 17, 18, 19]], // JCB
  ['300', '305', [14, 15, 16, 17, 18, 19]], // Diners Club
  ['36', '36', [14, 15, 16, 17, 18, 19]],
  ['38', '39', [16, 17, 18, 19]],
  ['62', '62', [16, 17, 18, 19]], // UnionPay
  ['2200', '2204', [16, 17, 18, 19]], // Mir
  ['5018', '5018', [13, 14, 15, 16, 17, 18, 19]], // Maestro
  ['5020', '5020', [13, 14, 15, 16, 17, 18, 19]],
  ['5038', '5038', [13, 14, 15, 16, 17, 18, 19]],
  ['5893', '5893', [13, 14, 15, 16, 17, 18, 19]],
  ['6304', '6304', [13, 14, 15, 16, 17, 18, 19]],
  ['6759', '6759', [13, 14, 15, 16, 17, 18, 19]],
  ['6761', '6763', [13, 14, 15, 16, 17, 18, 19]],
];

/** Whether a digit string starts with a known issuer's prefix and has a length that issuer uses. */
export function plausibleCardIssuer(digits: string): boolean {
  return CARD_RANGES.some(([lo, hi, lengths]) => {
    const prefix = digits.slice(0, lo.length);
    return lengths.includes(digits.length) && prefix >= lo && prefix <= hi;
  });
}

/** A payment card number: 13 to 19 digits, a known issuer prefix and length, and the Luhn check. */
export function cardValid(digits: string): boolean {
  return digits.length >= 13 && digits.length <= 19 && plausibleCardIssuer(digits) && luhnValid(digits);
}

/** IBAN lengths by country (the SWIFT IBAN registry, ISO 13616). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = Object.fromEntries(
  (
    'AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28 EE20 ' +
    'EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 ' +
    'KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 ' +
    'PL28 PS29 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 ' +
    'VG24 XK20 YE30'
  )
    .split(' ')
    .map((e) => [e.slice(0, 2), Number(e.slice(2))]),
);

/**
 * An IBAN in electronic form (uppercase, no spaces): a known country, its length, and ISO 13616's check:
 * the first four characters moved to the end, letters read as 10..35, the number mod 97 is 1.
 */
export function ibanValid(iban: string): boolean {
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban) || IBAN_LENGTHS[iban.slice(0, 2)] !== iban.length) return false;
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (let i = 0; i < moved.length; i++) {
    const c = moved.charCodeAt(i);
    // Digits add one decimal place, letters (A = 10 ... Z = 35) two; the remainder stays below 97 * 100.
    rest = c < 65 ? (rest * 10 + (c - 48)) % 97 : (rest * 100 + (c - 55)) % 97;
  }
  return rest === 1;
}

/** First two digits of a PRC resident identity number: the province-level region (GB/T 2260), 71/81-83 included. */
const PRC_PROVINCES = new Set(
  '11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83'.split(' '),
);
const PRC_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/** The ISO 7064 MOD 11-2 check character of the first 17 digits of a PRC identity number ('0'-'9' or 'X'). */
export function prcIdCheckCharacter(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * PRC_WEIGHTS[i];
  return '10X98765432'[sum % 11];
}

/** Whether y-m-d is a real calendar date. */
function realDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/**
 * An 18-character PRC resident identity number (GB 11643-1999): a province code, a real birth date
 * (YYYYMMDD, 1900 to this year) in characters 7-14, and the MOD 11-2 check character (x read as X).
 */
export function prcIdValid(id: string): boolean {
  if (!/^\d{17}[\dXx]$/.test(id) || !PRC_PROVINCES.has(id.slice(0, 2))) return false;
  const y = Number(id.slice(6, 10));
  if (y < 1900 || y > new Date().getUTCFullYear()) return false;
  if (!realDate(y, Number(id.slice(10, 12)), Number(id.slice(12, 14)))) return false;
  return prcIdCheckCharacter(id) === id[17].toUpperCase();
}

/**
 * A US Social Security number's structure (SSA rules): area (first 3 digits) not 000, 666 or 900-999,
 * group (next 2) not 00, serial (last 4) not 0000; the numbers the SSA voided after misuse in advertising
 * (078-05-1120, 219-09-9999) are refused too.
 */
export function ssnValid(area: string, group: string, serial: string): boolean {
  if (!/^\d{3}$/.test(area) || !/^\d{2}$/.test(group) || !/^\d{4}$/.test(serial)) return false;
  if (area === '000' || area === '666' || area[0] === '9' || group === '00' || serial === '0000') return false;
  const all = area + group + serial;
  return all !== '078051120' && all !== '219099999';
}
