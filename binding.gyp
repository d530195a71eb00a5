# node-gyp build of the native backend (kernels/). The kernels are compiled once per instruction set,
# each as its own static library with its own -m flags; the addon links all of them and picks one at
# run time from the CPU's features, so one binary serves every x86-64 CPU. Other CPUs get the scalar build.
# candor_avx512vnni holds the int8 family alone (kernels/quantized.h with vpdpbusd).
{
  "variables": {
    "candor_cflags": ["-O3", "-fPIC", "-std=gnu++17", "-fno-math-errno"]
  },
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions"],
    "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=gnu++17"], "MACOSX_DEPLOYMENT_TARGET": "11.0"}
  },
  "targets": [
    {
      "target_name": "candor_avx512",
      "type": "static_library",
      "conditions": [["target_arch=='x64'", {
        "sources": ["kernels/isa_avx512.cc"],
        "cflags_cc": [
          "<@(candor_cflags)", "-Wno-maybe-uninitialized", "-Wno-uninitialized",
          "-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma"
        ],
        "xcode_settings": {
          "OTHER_CPLUSPLUSFLAGS": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma"]
        }
      }]]
    },
    {
      "target_name": "candor_avx512vnni",
      "type": "static_library",
      "conditions": [["target_arch=='x64'", {
        "sources": ["kernels/isa_avx512vnni.cc"],
        "cflags_cc": [
          "<@(candor_cflags)", "-ffp-contract=off", "-Wno-maybe-uninitialized", "-Wno-uninitialized",
          "-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx512vnni", "-mavx2", "-mfma"
        ],
        "xcode_settings": {
          "OTHER_CPLUSPLUSFLAGS": [
            "-ffp-contract=off", "-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx512vnni", "-mavx2", "-mfma"
          ]
        }
      }]]
    },
    {
      "target_name": "candor_avx2",
      "type": "static_library",
      "conditions": [["target_arch=='x64'", {
        "sources": ["kernels/isa_avx2.cc"],
        "cflags_cc": ["<@(candor_cflags)", "-mavx2", "-mfma"],
        "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma"]}
      }]]
    },
    {
      "target_name": "candor",
      "sources": [
        "kernels/addon.cc", "kernels/memory.cc", "kernels/pool.cc", "kernels/generic.cc", "kernels/isa_scalar.cc",
        "kernels/peak.cc"
      ],
      "cflags_cc": ["<@(candor_cflags)"],
      "conditions": [["target_arch=='x64'", {"dependencies": ["candor_avx512", "candor_avx512vnni", "candor_avx2"]}]],
      "libraries": ["-lpthread"]
    }
  ]
}
