// The string hash of Hashing and of OOV buckets (numOovIndices > 1): MurmurHash3 x86 32-bit over the
// UTF-8 bytes, seeded. Stable across runs, platforms and backends. Keras uses FarmHash64 (or SipHash
// with a salt), which this does not reproduce: bucket numbers differ from Keras' for the same strings.
const encoder = new TextEncoder();

/** MurmurHash3_x86_32(utf8(s), seed) as an unsigned 32-bit integer. */
export function hash32(s: string, seed: number): number {
  const bytes = encoder.encode(s);
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51,
    c2 = 0x1b873593;
  const n = bytes.length,
    blocks = n & ~3;
  const mix = (k: number) => {
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    return Math.imul(k, c2);
  };
  for (let i = 0; i < blocks; i += 4) {
    const k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    h ^= mix(k);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = n & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2] << 16;
    if (tail >= 2) k ^= bytes[blocks + 1] << 8;
    k ^= bytes[blocks];
    h ^= mix(k);
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
