// The kernels, written once against simd.h's Vec<T> and compiled once per instruction set: this file
// includes one header per op family (GEMM, elementwise, reductions, softmax, convolution, the training
// step, convolution gradients and pooling, sequence models) and fills the ISA's table of them.
//
// Determinism: every output element is computed by one task with an order of operations fixed by the
// shapes alone (GEMM: k in blocks of KC, in order; elementwise: fixed-size chunks; reductions: one
// task per output element), so results are bit-identical whatever the thread count.
// Included by isa_*.cc after defining CANDOR_ISA_NS (and CANDOR_ISA_AVX512 / CANDOR_ISA_AVX2).
#pragma once
#include "common.h"
#include "simd.h"
#include "scalar_math.h"
#include "philox.h"

namespace candor {
namespace CANDOR_ISA_NS {
namespace {

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/** A per-thread scratch buffer that only grows; slot separates buffers that are live at once. */
template <class T, int slot>
T* scratch(int64_t elements) {
  static thread_local T* buf = nullptr;
  static thread_local int64_t cap = 0;
  if (elements > cap) {
    aligned_free(buf);
    buf = static_cast<T*>(aligned_calloc(elements * sizeof(T)));
    cap = buf ? elements : 0;
  }
  return buf;
}

// One header per op family, in dependency order.
#include "gemm.h"
#include "elementwise.h"
#include "reduce.h"
#include "softmax.h"
#include "conv.h"
// Fused kernels of the training step.
#include "train_step.h"
// Convolution filter gradient and pooling.
#include "conv_grad.h"
#include "pooling.h"
// Sequence models: LSTM / GRU cells and attention.
#include "seq.h"
// Depthwise convolution and its gradients.
#include "depthwise.h"

}  // namespace

extern const IsaTable table = {
    CANDOR_ISA_NAME,
    gemm,
    unary,
    binary,
    reduce,
    softmax,
    conv2d,
    conv2d_backprop_input,
    // Training-step fusions.
    bias_activation,
    activation_grad,
    sparse_softmax_ce,
    optimizer_step,
    dropout,
    layer_norm,
    layer_norm_grad,
    // Convolution filter gradient and pooling.
    conv2d_backprop_filter,
    pool2d,
    pool2d_backprop,
    // Sequence models.
    lstm_cell,
    gru_cell,
    attention,
    // Depthwise convolution.
    depthwise_conv2d,
    depthwise_backprop_input,
    depthwise_backprop_filter,
};

}  // namespace CANDOR_ISA_NS
}  // namespace candor
