// Philox4x32-10 blocks (Salmon et al. 2011) for src/ops/random.ts, which defines the stream: element i
// of a draw is the block of counter (c + i) split [low 32 bits, high 32 bits, attempt, 0] under a 64-bit
// key. Plain integer code, included by addon.cc; the TypeScript reference checks it word for word.
#pragma once
#include <cstdint>

namespace candor {
// Internal linkage: each translation unit (each instruction set's included) keeps its own copy, so the
// linker never hands one compiled with AVX-512 to the scalar path.
namespace {

/** One block in place: c = philox4x32(c, [key0, key1]). */
inline void philox_block(uint32_t c[4], uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; round++) {
    const uint64_t p0 = uint64_t(0xd2511f53u) * c[0], p1 = uint64_t(0xcd9e8d57u) * c[2];
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c[1] ^ k0, n2 = uint32_t(p0 >> 32) ^ c[3] ^ k1;
    c[1] = uint32_t(p1);
    c[3] = uint32_t(p0);
    c[0] = n0;
    c[2] = n2;
    k0 += 0x9e3779b9u;
    k1 += 0xbb67ae85u;
  }
}

/** Sixteen blocks at once, word-sliced (w[0][j] is word 0 of block j): the same rounds as philox_block,
 *  written so the compiler vectorizes them (32 x 32 -> 64-bit multiplies per lane). */
constexpr int kPhiloxLanes = 16;
inline void philox_block16(uint32_t w[4][kPhiloxLanes], uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; round++) {
    for (int j = 0; j < kPhiloxLanes; j++) {
      const uint64_t p0 = uint64_t(0xd2511f53u) * w[0][j], p1 = uint64_t(0xcd9e8d57u) * w[2][j];
      const uint32_t n0 = uint32_t(p1 >> 32) ^ w[1][j] ^ k0, n2 = uint32_t(p0 >> 32) ^ w[3][j] ^ k1;
      w[1][j] = uint32_t(p1);
      w[3][j] = uint32_t(p0);
      w[0][j] = n0;
      w[2][j] = n2;
    }
    k0 += 0x9e3779b9u;
    k1 += 0xbb67ae85u;
  }
}

/** out[4i .. 4i + 4) = philox4x32([(counter + i) mod 2^32, (counter + i) / 2^32, attempt, 0], [key0, key1]). */
inline void philox_blocks(uint32_t key0, uint32_t key1, uint64_t counter, uint32_t attempt, uint32_t* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const uint64_t c = counter + static_cast<uint64_t>(i);
    uint32_t* w = out + 4 * i;
    w[0] = static_cast<uint32_t>(c), w[1] = static_cast<uint32_t>(c >> 32), w[2] = attempt, w[3] = 0;
    philox_block(w, key0, key1);
  }
}

}  // namespace
}  // namespace candor
