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
#include <vector>

namespace candor {
namespace CANDOR_ISA_NS {
namespace {

#include "isa_helpers.h"

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
// The int8 family.
#include "quantized.h"

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
    // The int8 family.
    {CANDOR_ISA_NAME, quantized_matmul, quantized_conv2d},
};

}  // namespace CANDOR_ISA_NS
}  // namespace candor
