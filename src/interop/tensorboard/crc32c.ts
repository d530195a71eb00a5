// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of TFRecord framing, and TensorFlow's
// masking of it; and CRC-32 (IEEE, 0xEDB88320), the checksum of zip entries (.keras files). Table driven, one
// byte at a time: event files are small, and this keeps it obvious.

/** table[b]: the CRC register after shifting byte b through eight bitwise steps of the reflected polynomial. */
function crcTable(poly: number): Uint32Array {
  const t = new Uint32Array(256);
  for (let b = 0; b < 256; b++) {
    let r = b;
    for (let k = 0; k < 8; k++) r = r & 1 ? (r >>> 1) ^ poly : r >>> 1;
    t[b] = r >>> 0;
  }
  return t;
}

const TABLE = crcTable(0x82f63b78);
const IEEE_TABLE = crcTable(0xedb88320);

/** The CRC of bytes with the standard init 0xFFFFFFFF and final xor. */
function crc(table: Uint32Array, bytes: Uint8Array): number {
  let r = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) r = table[(r ^ bytes[i]) & 0xff] ^ (r >>> 8);
  return (r ^ 0xffffffff) >>> 0;
}

/** CRC32C of bytes; CRC32C("123456789") = 0xE3069283. */
export const crc32c = (bytes: Uint8Array): number => crc(TABLE, bytes);

/** CRC-32 (zip, gzip, PNG) of bytes; CRC-32("123456789") = 0xCBF43926. */
export const crc32 = (bytes: Uint8Array): number => crc(IEEE_TABLE, bytes);

const MASK_DELTA = 0xa282ead8;

/**
 * TensorFlow's masked CRC (crc32c.h Mask): rotate right by 15 bits and add a constant, mod 2^32, so that a CRC
 * computed over bytes that themselves hold CRCs does not degenerate.
 */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/** The inverse of maskCrc. */
export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}
