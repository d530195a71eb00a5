// Philox4x32-10 blocks (Salmon et al. 2011) for src/ops/random.ts, which defines the stream: element i
// of a draw is the block of counter (c + i) split [low 32 bits, high 32 bits, attempt, 0] under a 64-bit
// key. Plain integer code, included by addon.cc; the TypeScript reference checks it word for word.
#pragma once
#include <cstdint>

namespace candor {

/** out[4i .. 4i + 4) = philox4x32([(counter + i) mod 2^32, (counter + i) / 2^32, attempt, 0], [key0, key1]). */
inline void philox_blocks(uint32_t key0, uint32_t key1, uint64_t counter, uint32_t attempt, uint32_t* out, int64_t n) {
  const uint32_t M0 = 0xd2511f53u, M1 = 0xcd9e8d57u, W0 = 0x9e3779b9u, W1 = 0xbb67ae85u;
  for (int64_t i = 0; i < n; i++) {
    const uint64_t c = counter + static_cast<uint64_t>(i);
    uint32_t c0 = static_cast<uint32_t>(c), c1 = static_cast<uint32_t>(c >> 32), c2 = attempt, c3 = 0;
    uint32_t k0 = key0, k1 = key1;
    for (int round = 0; round < 10; round++) {
      const uint64_t p0 = static_cast<uint64_t>(M0) * c0, p1 = static_cast<uint64_t>(M1) * c2;
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0, n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
      c1 = static_cast<uint32_t>(p1);
      c3 = static_cast<uint32_t>(p0);
      c0 = n0;
      c2 = n2;
      k0 += W0;
      k1 += W1;
    }
    out[4 * i] = c0;
    out[4 * i + 1] = c1;
    out[4 * i + 2] = c2;
    out[4 * i + 3] = c3;
  }
}

}  // namespace candor
