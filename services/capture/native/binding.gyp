{
  "targets": [
    {
      "target_name": "adi_capture",
      "sources": ["src/addon.cc", "src/capture_loader.cc", "src/capabilities.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "../../../bpf",
        "../../../bpf/.output"
      ],
      "libraries": ["-lbpf", "-lelf", "-lz"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall"],
      "cflags_cc!": ["-fno-exceptions"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"]
    }
  ]
}
