// The kernels of impl.h for no vector extensions beyond the target's baseline (SSE2 on x86-64, NEON where the compiler
// uses it).
#define CANDOR_ISA_NS scalar
#define CANDOR_ISA_NAME "scalar"
#include "impl.h"
