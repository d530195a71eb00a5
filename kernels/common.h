// Declarations shared by every translation unit of the native addon: dtypes, op codes, the per-ISA
// kernel table and the thread pool's interface.
//
// The kernels are written once (impl.h) and compiled three times, once per instruction set
// (isa_avx512.cc, isa_avx2.cc, isa_scalar.cc, each built with its own -m flags); each compilation
// fills one IsaTable. addon.cc picks a table at run time from the CPU's features (or CANDOR_ISA).
// Everything crossing between those translation units is plain C (function pointers, PODs), so no
// template instantiated with AVX-512 flags can be picked by the linker for the scalar path.
#pragma once
#include <cstddef>
#include <cstdint>

namespace candor {

enum DType : int { F32 = 0, F64 = 1, I32 = 2, U8 = 3, I8 = 4 };

// Op codes. The names are exported to JavaScript in this order (addon.cc), so the TypeScript side maps
// names to codes from the addon itself and the two lists cannot drift apart.
#define CANDOR_UNARY_OPS(X)                                                                                       \
  X(neg)                                                                                                          \
  X(abs)                                                                                                          \
  X(sign) X(exp) X(expm1) X(log) X(log1p) X(sqrt) X(rsqrt) X(reciprocal) X(sin) X(cos) X(tanh) X(sigmoid) X(relu) \
      X(erf) X(atan) X(floor) X(ceil) X(round) X(logicalNot)
#define CANDOR_BINARY_OPS(X)                                                                                      \
  X(add)                                                                                                          \
  X(sub)                                                                                                          \
  X(mul) X(div) X(pow) X(maximum) X(minimum) X(equal) X(notEqual) X(less) X(lessEqual) X(greater) X(greaterEqual) \
      X(logicalAnd) X(logicalOr)
#define CANDOR_REDUCE_OPS(X) X(sum) X(prod) X(max) X(min)

#define CANDOR_ENUM_ITEM(name) op_##name,
enum UnaryOp : int { CANDOR_UNARY_OPS(CANDOR_ENUM_ITEM) UNARY_COUNT };
enum BinaryOp : int { CANDOR_BINARY_OPS(CANDOR_ENUM_ITEM) BINARY_COUNT };
enum ReduceOp : int { CANDOR_REDUCE_OPS(CANDOR_ENUM_ITEM) REDUCE_COUNT };
#undef CANDOR_ENUM_ITEM

/** C[t] = op(A[t]) * op(B[t]) for t < batch; A is [M, K] ([K, M] if transA), B is [K, N] ([N, K] if transB), C is [M,
 * N]; all row-major and dense. */
struct GemmArgs {
  const void* a;
  const void* b;
  void* c;
  int64_t batch, M, N, K;
  bool transA, transB;
};

/** x [N, H, W, Cin] (NHWC), filter [kh, kw, Cin, Cout]; output [N, Ho, Wo, Cout]. */
struct ConvArgs {
  int64_t n, h, w, cin, cout, kh, kw, ho, wo;
  int64_t strideH, strideW, dilH, dilW, padTop, padLeft;
};

/** Activations whose derivative is a function of their output (fused bias + activation). Names are
 *  exported to JavaScript in this order. */
#define CANDOR_ACTIVATIONS(X) X(linear) X(relu) X(sigmoid) X(tanh)
#define CANDOR_ACT_ITEM(name) act_##name,
enum Activation : int { CANDOR_ACTIVATIONS(CANDOR_ACT_ITEM) ACTIVATION_COUNT };
#undef CANDOR_ACT_ITEM

enum OptimizerKind : int { opt_adam = 0, opt_sgd = 1 };

/** One optimizer update over `count` tensors (params[i], grads[i], slots of sizes[i] elements each),
 *  written to outs = [params'..., slots1'..., slots2'...] (one array of sizes[i] elements each). Adam: slots1 = m,
 *  slots2 = v, alpha = sqrt(1 - beta2^t) / (1 - beta1^t). SGD: slots1 = velocity when momentum != 0. */
struct OptimizerStep {
  OptimizerKind kind;
  int64_t count;
  const int64_t* sizes;
  const void* const* params;
  const void* const* grads;
  const void* const* slots1;
  const void* const* slots2;
  void* const* outs;
  double lr, weightDecay, beta1, beta2, epsilon, alpha, momentum;
  bool nesterov;
};

/** Pooling windows over x [N, H, W, C] (NHWC); output [N, Ho, Wo, C]. */
struct PoolArgs {
  int64_t n, h, w, c, ho, wo, kh, kw;
  int64_t strideH, strideW, padTop, padLeft;
};

/** Attention over q [b, t, h, dk], k [b, s, h, dk], v [b, s, h, dv]; the mask (bool, or additive in the
 *  operands' dtype) is read at batch * maskB + row * maskT + key (strides 0 where it broadcasts). */
struct AttnArgs {
  int64_t b, t, s, h, dk, dv, maskB, maskT, offset;
  double scale;
  bool causal, additive;
};

/** How the int8 family quantises its float input and finishes each output (kernels/quantized.h): codes
 *  clamp(roundHalfEven(x * inverseScale) + zeroPoint, 0, 255), y = act(acc * scale[j] + bias[j]), relu or linear. */
struct QuantizedArgs {
  float inverseScale;
  int32_t zeroPoint;
  bool relu;
};

/** The int8 family's kernels of one instruction set: x float32, w int8 ([k, n], or [kh, kw, cin, cout] for a
 *  convolution), scale and bias float32 [n] -> y float32. Each returns true, leaving y unwritten, when x holds a
 *  NaN (uint8 cannot represent it). */
struct QuantizedKernels {
  const char* name;
  bool (*matmul)(const QuantizedArgs& q, int64_t m, int64_t k, int64_t n, const float* x, const int8_t* w,
                 const float* scale, const float* bias, float* y);
  bool (*conv2d)(const QuantizedArgs& q, const ConvArgs& c, const float* x, const int8_t* w, const float* scale,
                 const float* bias, float* y);
};

// One instruction set's kernels. Pointers are element pointers already advanced by the view offset;
// counts are elements. dtype selects the element type where the table entry serves several.
struct IsaTable {
  const char* name;
  void (*gemm)(DType dtype, const GemmArgs& g);
  void (*unary)(UnaryOp op, DType dtype, const void* x, void* out, int64_t n);
  /** Compare and logical ops write uint8 (bool); arithmetic ops write the input dtype. Bit 0 (1) of
   *  `scalars` marks a as one element to repeat, bit 1 (2) marks b. */
  void (*binary)(BinaryOp op, DType dtype, const void* a, const void* b, void* out, int64_t n, int scalars);
  /** Reduces x viewed as [outer, red, inner] over its middle axis into out [outer, inner]. */
  void (*reduce)(ReduceOp op, DType dtype, const void* x, void* out, int64_t outer, int64_t red, int64_t inner);
  /** softmax (or log-softmax) of x viewed as [outer, dim, inner] along the middle axis. */
  void (*softmax)(DType dtype, bool log, const void* x, void* out, int64_t outer, int64_t dim, int64_t inner);
  /** out = conv2d(x, filter) (cross-correlation, zero padding). */
  void (*conv2d)(DType dtype, const ConvArgs& c, const void* x, const void* f, void* out);
  /** dx = the input gradient of conv2d for output gradient dy [N, Ho, Wo, Cout]. */
  void (*conv2dBackpropInput)(DType dtype, const ConvArgs& c, const void* dy, const void* f, void* dx);
  // Training-step fusions.
  /** out = act(z + bias) for z [rows, C], bias [C]. */
  void (*biasActivation)(DType dtype, Activation act, const void* z, const void* bias, void* out, int64_t rows,
                         int64_t C);
  /** dz = dy * act'(y) from the activation's output y. */
  void (*activationGrad)(DType dtype, Activation act, const void* dy, const void* y, void* dz, int64_t n);
  /** dy null: out [rows] = per-row sparse softmax cross-entropy of logits [rows, C]; else out [rows, C] =
   *  (softmax - onehot) * dy[row]. Labels must lie in [0, C). */
  void (*sparseSoftmaxCrossEntropy)(DType dtype, const void* logits, const int32_t* labels, const void* dy, void* out,
                                    int64_t rows, int64_t C);
  void (*optimizerStep)(DType dtype, const OptimizerStep& step);
  /** Inverted dropout with the mask drawn from the Philox stream (seed, counter): src/ops/random.ts's bernoulli. */
  void (*dropout)(DType dtype, const void* x, void* out, int64_t n, uint64_t seed, uint64_t counter, double keepProb,
                  double scale);
  /** Layer normalization over the last axis of x [rows, C]; the gradient writes dx [rows, C] and dgamma [C]. */
  void (*layerNorm)(DType dtype, const void* x, const void* gamma, const void* beta, void* y, int64_t rows, int64_t C,
                    double eps);
  void (*layerNormGrad)(DType dtype, const void* x, const void* gamma, const void* dy, void* dx, void* dgamma,
                        int64_t rows, int64_t C, double eps);
  // ---- convolution filter gradient and pooling (kernels/conv_grad.h, kernels/pooling.h) ----
  /** df [kh, kw, Cin, Cout] = the filter gradient of conv2d for input x and output gradient dy. */
  void (*conv2dBackpropFilter)(DType dtype, const ConvArgs& c, const void* x, const void* dy, void* df);
  /** out = max (isMax) or average (padding not counted) over each window. */
  void (*pool2d)(DType dtype, bool isMax, const PoolArgs& p, const void* x, void* out);
  /** dx from dy [N, Ho, Wo, C]: to each window's first max (x is read by max only) or spread evenly. */
  void (*pool2dBackprop)(DType dtype, bool isMax, const PoolArgs& p, const void* x, const void* dy, void* dx);
  // ---- sequence models (seq.h) ----
  /** LSTM step: outs = next h, c [b, u] from xw, hu [b, 4u], c [b, u]; with grad, outs = dz [b, 4u],
   *  dc [b, u] for the next states' gradients dh, dc [b, u]. */
  void (*lstmCell)(DType dtype, bool grad, int64_t b, int64_t u, const void* xw, const void* hu, const void* c,
                   const void* dh, const void* dc, void* const* outs);
  /** GRU step (resetAfter): outs = [next h [b, u]] from xw, hu [b, 3u], h [b, u], bias [3u] or null; with
   *  grad, outs = dxw [b, 3u], dhu [b, 3u], dh [b, u] for dy [b, u]. */
  void (*gruCell)(DType dtype, bool grad, int64_t b, int64_t u, const void* xw, const void* hu, const void* h,
                  const void* dy, const void* bias, void* const* outs);
  /** Attention: outs = [y [b, t, h, dv]]; with dy [b, t, h, dv] (non-null), outs = dq, dk, dv. mask may be
   *  null. */
  void (*attention)(DType dtype, const AttnArgs& a, const void* q, const void* k, const void* v, const void* dy,
                    const void* mask, void* const* outs);
  // ---- depthwise convolution (depthwise.h): ConvArgs with cin = C, cout = C * M, filter [kh, kw, C, M] ----
  void (*depthwiseConv2d)(DType dtype, const ConvArgs& c, const void* x, const void* f, void* out);
  void (*depthwiseConv2dBackpropInput)(DType dtype, const ConvArgs& c, const void* dy, const void* f, void* dx);
  void (*depthwiseConv2dBackpropFilter)(DType dtype, const ConvArgs& c, const void* x, const void* dy, void* df);
  // ---- the int8 family (quantized.h); the addon runs avx512vnni's instead of avx512's where the CPU has VNNI ----
  QuantizedKernels quantized;
};

namespace avx512 {
extern const IsaTable table;
}
namespace avx2 {
extern const IsaTable table;
}
namespace scalar {
extern const IsaTable table;
}
/** The int8 kernels with AVX-512 VNNI (isa_avx512vnni.cc, its own -mavx512vnni translation unit). */
namespace avx512vnni {
extern const QuantizedKernels quantized;
}

// ---- thread pool (pool.cc) ----
typedef void (*TaskFn)(void* ctx, int64_t task);
/** Runs fn(ctx, t) for t in [0, tasks) on up to maxThreads threads (the caller included); returns when all ran. */
void parallel_for(int64_t tasks, TaskFn fn, void* ctx, int maxThreads);
int num_threads();
void set_num_threads(int n);
/** Threads worth using for `work` units when one thread should get at least `grain` of them. */
int threads_for(double work, double grain);

namespace {
/** parallel_for over a lambda (internal linkage: each translation unit keeps its own instantiations). */
template <class F>
void par(int64_t tasks, int threads, F&& f) {
  parallel_for(
      tasks, [](void* ctx, int64_t t) { (*static_cast<F*>(ctx))(t); }, &f, threads);
}
}  // namespace

// ---- the FMA peak probe (peak.cc) ----
/** Float32 GFLOP/s of `threads` threads each running independent FMA chains of `isa` for `seconds`. */
double fma_peak_gflops(const char* isa, int threads, double seconds);

// ---- kernels that need no vector code (generic.cc, compiled once) ----
/** Gathers a strided view (any strides: 0, negative) of elemBytes-sized elements into contiguous out. */
void copy_strided(int elemBytes, const void* base, int rank, const int64_t* shape, const int64_t* strides, void* out,
                  int64_t n);
void cast(DType from, DType to, const void* x, void* out, int64_t n);
/** out = cond ? a : b, elements of elemBytes bytes; bits 0, 1, 2 of `scalars` mark cond, a, b as one element to repeat.
 */
void where(int elemBytes, const uint8_t* cond, const void* a, const void* b, void* out, int64_t n, int scalars);
/** out[p, i, q] = x[p, idx[i], q] for x [outer, dim, inner]; negative indices count from the end. Returns
 *  -1, or the position in idx of the first index out of range (nothing is written then). */
int64_t gather(int elemBytes, const void* x, const int32_t* idx, int64_t n, void* out, int64_t outer, int64_t dim,
               int64_t inner);
/** Index of the first max (min) along the middle axis of [outer, red, inner]; NaN counts as the extreme. */
void arg_reduce(bool isMin, DType dtype, const void* x, int32_t* out, int64_t outer, int64_t red, int64_t inner);

// ---- scratch memory ----
/** 64-byte aligned, zero-initialised; nullptr on failure. */
void* aligned_calloc(size_t bytes);
void aligned_free(void* p);

}  // namespace candor
