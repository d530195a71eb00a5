// The int8 family's kernels (quantized.h) with AVX-512 VNNI (vpdpbusd); built with -mavx512f -mavx512dq -mavx512bw
// -mavx512vl -mavx512vnni -mavx2 -mfma -ffp-contract=off. Only this family: the addon picks these over avx512's int8
// kernels when the CPU has VNNI (addon.cc), everything else stays on the avx512 table.
#define CANDOR_ISA_AVX512 1
#define CANDOR_ISA_VNNI 1
#define CANDOR_ISA_NS avx512vnni
#define CANDOR_ISA_NAME "avx512vnni"
#include <immintrin.h>
#include <cmath>
#include <cstring>
#include <vector>
#include "common.h"

namespace candor {
namespace avx512vnni {
namespace {
#include "isa_helpers.h"
#include "quantized.h"
}  // namespace

extern const QuantizedKernels quantized = {CANDOR_ISA_NAME, quantized_matmul, quantized_conv2d};

}  // namespace avx512vnni
}  // namespace candor
