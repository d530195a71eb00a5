// The kernels of impl.h for AVX-512 (F, DQ, BW, VL) with FMA; built with -mavx512f -mavx512dq -mavx512bw -mavx512vl
// -mavx2 -mfma.
#define CANDOR_ISA_AVX512 1
#define CANDOR_ISA_NS avx512
#define CANDOR_ISA_NAME "avx512"
#include "impl.h"
