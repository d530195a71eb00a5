// 2-D max and average pooling over NHWC and their input gradients, included by impl.h inside its
// per-ISA namespace. Windows are scanned tap by tap in row-major order (i, then j); padding taps count
// as -inf for max and are not counted for the average (Keras). The max's gradient goes to the first tap
// holding the window's max (NaN counts as the max, as in argmax), so dx is a sum of whole dy values.
// Tasks are whole (image, output row) pairs forward and whole images backward (an image's dx is touched
// by its own windows only, visited in a fixed order), so results do not depend on the thread count.
#pragma once
#include <type_traits>

/** The input pixel (ih, iw) of tap (i, j) of output (oh, ow), or false in the padding. */
inline bool pool_tap(const PoolArgs& p, int64_t oh, int64_t ow, int64_t i, int64_t j, int64_t* ih, int64_t* iw) {
  *ih = oh * p.strideH + i - p.padTop;
  *iw = ow * p.strideW + j - p.padLeft;
  return *ih >= 0 && *ih < p.h && *iw >= 0 && *iw < p.w;
}

/** Taps a tiling window may have on the vectorised paths (their offsets are kept on the stack). */
constexpr int64_t kMaxTileTaps = 64;

/** Whether max windows tile the image (stride = window, no padding, every window inside): each input pixel then has
 *  at most one window, and the vectorised paths below apply. */
inline bool pool_tiles(const PoolArgs& p) {
  return p.kh * p.kw <= kMaxTileTaps && p.kh == p.strideH && p.kw == p.strideW && p.padTop == 0 &&
         p.padLeft == 0 && p.ho * p.kh <= p.h && p.wo * p.kw <= p.w;
}

/** Max pooling over tiling windows, vectorised over channels: one pass over x, each output written once, by the
 *  generic loop's rule (the first tap, then any larger or NaN value; a NaN sticks). */
template <class T>
void maxpool_tiles(const PoolArgs& p, const T* x, T* out) {
  using V = Vec<T>;
  using R = typename V::R;
  constexpr int W = V::W;
  const int64_t cv = p.c - p.c % W;
  const double work = double(p.n) * p.ho * p.wo * p.c * p.kh * p.kw;
  par(p.n * p.ho, threads_for(work, 2 * kChunk), [&](int64_t task) {
    const int64_t n = task / p.ho, oh = task % p.ho;
    const T* row = x + (n * p.h + oh * p.kh) * p.w * p.c;
    T* o = out + (n * p.ho + oh) * p.wo * p.c;
    for (int64_t ow = 0; ow < p.wo; ow++, o += p.c) {
      const T* base = row + ow * p.kw * p.c;
      for (int64_t ch = 0; ch < cv; ch += W) {
        R acc = V::load(base + ch);
        for (int64_t i = 0; i < p.kh; i++)
          for (int64_t j = i == 0 ? 1 : 0; j < p.kw; j++) {
            const R v = V::load(base + (i * p.w + j) * p.c + ch);
            acc = V::select(V::mor(V::gt(v, acc), V::isnan(v)), v, acc);
          }
        V::store(o + ch, acc);
      }
      for (int64_t ch = cv; ch < p.c; ch++) {
        T acc = base[ch];
        for (int64_t i = 0; i < p.kh; i++)
          for (int64_t j = i == 0 ? 1 : 0; j < p.kw; j++) acc = pick_max(acc, base[(i * p.w + j) * p.c + ch]);
        o[ch] = acc;
      }
    }
  });
}

/** dx of max pooling over tiling windows: each window's first max tap (as argmax: a NaN wins, and once the best is
 *  NaN nothing replaces it) gets dy, the window's other taps 0; written once, only uncovered pixels zero-filled. */
template <class T>
void maxpool_tiles_backprop(const PoolArgs& p, const T* x, const T* dy, T* dx) {
  using V = Vec<T>;
  using R = typename V::R;
  constexpr int W = V::W;
  const int64_t cv = p.c - p.c % W, image = p.h * p.w * p.c, taps = p.kh * p.kw;
  const double work = double(p.n) * p.ho * p.wo * p.c * taps;
  int64_t offset[kMaxTileTaps];  // of each tap from its window's first, in elements
  for (int64_t t = 0; t < taps; t++) offset[t] = ((t / p.kw) * p.w + t % p.kw) * p.c;
  par(p.n, threads_for(work, 2 * kChunk), [&](int64_t n) {
    T* d = dx + n * image;
    const T* img = x + n * image;
    const int64_t rows = p.ho * p.kh, cols = p.wo * p.kw;
    for (int64_t ih = 0; ih < p.h; ih++)
      for (int64_t e = (ih < rows ? cols : 0) * p.c; e < p.w * p.c; e++) d[ih * p.w * p.c + e] = 0;
    for (int64_t oh = 0; oh < p.ho; oh++)
      for (int64_t ow = 0; ow < p.wo; ow++) {
        const int64_t at = (oh * p.kh * p.w + ow * p.kw) * p.c;
        const T* base = img + at;
        const T* g = dy + ((n * p.ho + oh) * p.wo + ow) * p.c;
        for (int64_t ch = 0; ch < cv; ch += W) {
          R best = V::load(base + ch), arg = V::zero();
          for (int64_t t = 1; t < taps; t++) {
            const R v = V::load(base + offset[t] + ch);
            const auto take = V::mor(V::gt(v, best), V::isnan(v)), stuck = V::isnan(best);
            arg = V::select(stuck, arg, V::select(take, V::set1(T(t)), arg));
            best = V::select(stuck, best, V::select(take, v, best));
          }
          const R gv = V::load(g + ch);
          for (int64_t t = 0; t < taps; t++) {
            const auto other = V::mor(V::lt(arg, V::set1(T(t) - T(0.5))), V::gt(arg, V::set1(T(t) + T(0.5))));
            // 0 + v, as the generic loop's sum into zeros gives (-0 becomes +0).
            V::store(d + at + offset[t] + ch, V::add(V::zero(), V::select(other, V::zero(), gv)));
          }
        }
        for (int64_t ch = cv; ch < p.c; ch++) {
          T best = base[ch];
          int64_t arg = 0;
          for (int64_t t = 1; t < taps; t++) {
            const T v = base[offset[t] + ch];
            if (best == best && (v > best || v != v)) best = v, arg = t;
          }
          for (int64_t t = 0; t < taps; t++)
            d[at + offset[t] + ch] = T(0) + (t == arg ? g[ch] : T(0));
        }
      }
  });
}

template <class T>
void pool2d_t(bool isMax, const PoolArgs& p, const T* x, T* out) {
  if (isMax && pool_tiles(p)) return maxpool_tiles<T>(p, x, out);
  const double work = double(p.n) * p.ho * p.wo * p.c * p.kh * p.kw;
  par(p.n * p.ho, threads_for(work, 2 * kChunk), [&](int64_t task) {
    const int64_t n = task / p.ho, oh = task % p.ho;
    const T* img = x + n * p.h * p.w * p.c;
    double* total = isMax ? nullptr : scratch<double, 7>(p.c);  // the average sums in double, as the reference
    for (int64_t ow = 0; ow < p.wo; ow++) {
      T* o = out + ((n * p.ho + oh) * p.wo + ow) * p.c;
      for (int64_t ch = 0; ch < p.c; ch++) {
        if (isMax)
          o[ch] = T(-INFINITY);
        else
          total[ch] = 0;
      }
      int64_t count = 0;
      for (int64_t i = 0; i < p.kh; i++)
        for (int64_t j = 0; j < p.kw; j++) {
          int64_t ih, iw;
          if (!pool_tap(p, oh, ow, i, j, &ih, &iw)) continue;
          const T* s = img + (ih * p.w + iw) * p.c;
          count++;
          if (isMax) {
            for (int64_t ch = 0; ch < p.c; ch++) o[ch] = pick_max(o[ch], s[ch]);
          } else {
            for (int64_t ch = 0; ch < p.c; ch++) total[ch] += double(s[ch]);
          }
        }
      if (!isMax)
        for (int64_t ch = 0; ch < p.c; ch++) o[ch] = T(T(total[ch]) / T(count));
    }
  });
}

/** dx for dy [N, Ho, Wo, C]; x is read by max only (to find each window's first max). */
template <class T>
void pool2d_backprop_t(bool isMax, const PoolArgs& p, const T* x, const T* dy, T* dx) {
  using I = typename std::conditional<sizeof(T) == 4, int32_t, int64_t>::type;
  const int64_t image = p.h * p.w * p.c;
  const double work = double(p.n) * p.ho * p.wo * p.c * p.kh * p.kw;
  if (isMax && pool_tiles(p)) return maxpool_tiles_backprop<T>(p, x, dy, dx);
  par(p.n, threads_for(work, 2 * kChunk), [&](int64_t n) {
    T* d = dx + n * image;
    const T* img = isMax ? x + n * image : nullptr;
    // Per channel: the running max and its tap, an integer as wide as T so that the loops vectorise.
    T* best = isMax ? scratch<T, 5>(p.c) : nullptr;
    I* arg = isMax ? scratch<I, 6>(p.c) : nullptr;
    for (int64_t e = 0; e < image; e++) d[e] = 0;
    for (int64_t oh = 0; oh < p.ho; oh++)
      for (int64_t ow = 0; ow < p.wo; ow++) {
        const T* g = dy + ((n * p.ho + oh) * p.wo + ow) * p.c;
        if (!isMax) {
          int64_t count = 0, ih, iw;
          for (int64_t i = 0; i < p.kh; i++)
            for (int64_t j = 0; j < p.kw; j++) count += pool_tap(p, oh, ow, i, j, &ih, &iw);
          for (int64_t i = 0; i < p.kh; i++)
            for (int64_t j = 0; j < p.kw; j++) {
              if (!pool_tap(p, oh, ow, i, j, &ih, &iw)) continue;
              T* t = d + (ih * p.w + iw) * p.c;
              for (int64_t ch = 0; ch < p.c; ch++) t[ch] += g[ch] / T(count);
            }
          continue;
        }
        // The first tap whose value beats the running best, per channel (as argmax). A padding tap reads
        // -inf: it can be the first (then an all -inf window's gradient lands in the padding and is
        // dropped) but never beats a later best. Branch-free over channels: random data would make
        // every comparison a coin flip for the branch predictor.
        int64_t tap = 0;
        for (int64_t i = 0; i < p.kh; i++)
          for (int64_t j = 0; j < p.kw; j++, tap++) {
            int64_t ih, iw;
            bool inside = pool_tap(p, oh, ow, i, j, &ih, &iw);
            const T* s = inside ? img + (ih * p.w + iw) * p.c : nullptr;
            if (tap == 0) {
              for (int64_t ch = 0; ch < p.c; ch++) best[ch] = inside ? s[ch] : T(-INFINITY);
              for (int64_t ch = 0; ch < p.c; ch++) arg[ch] = 0;
              continue;
            }
            if (!inside) continue;
            const I t = I(tap);
            for (int64_t ch = 0; ch < p.c; ch++) {
              T v = s[ch], b = best[ch];
              bool take = (b == b) & ((v > b) | (v != v));
              best[ch] = take ? v : b;
              arg[ch] = take ? t : arg[ch];
            }
          }
        tap = 0;
        for (int64_t i = 0; i < p.kh; i++)
          for (int64_t j = 0; j < p.kw; j++, tap++) {
            int64_t ih, iw;
            if (!pool_tap(p, oh, ow, i, j, &ih, &iw)) continue;
            T* t = d + (ih * p.w + iw) * p.c;
            const I at = I(tap);
            for (int64_t ch = 0; ch < p.c; ch++) t[ch] += arg[ch] == at ? g[ch] : T(0);
          }
      }
  });
}

void pool2d(DType dtype, bool isMax, const PoolArgs& p, const void* x, void* out) {
  if (dtype == F32)
    pool2d_t<float>(isMax, p, static_cast<const float*>(x), static_cast<float*>(out));
  else
    pool2d_t<double>(isMax, p, static_cast<const double*>(x), static_cast<double*>(out));
}

void pool2d_backprop(DType dtype, bool isMax, const PoolArgs& p, const void* x, const void* dy, void* dx) {
  if (dtype == F32)
    pool2d_backprop_t<float>(isMax, p, static_cast<const float*>(x), static_cast<const float*>(dy),
                             static_cast<float*>(dx));
  else
    pool2d_backprop_t<double>(isMax, p, static_cast<const double*>(x), static_cast<const double*>(dy),
                              static_cast<double*>(dx));
}
