// The kernels of impl.h for AVX2 with FMA; built with -mavx2 -mfma.
#define CANDOR_ISA_AVX2 1
#define CANDOR_ISA_NS avx2
#define CANDOR_ISA_NAME "avx2"
#include "impl.h"
