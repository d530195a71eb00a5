#!/usr/bin/python3
# Checks ONNX files with Debian's python3-onnx (onnx.checker with full_check, which runs shape inference too)
# and prints one JSON object: { path: "ok" | the checker's message }. The ONNX export tests run it when
# /usr/bin/python3 can import onnx (CI installs python3-onnx); usage: /usr/bin/python3 tools/onnx-check.py F...
import json
import sys

import onnx

results = {}
for path in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        results[path] = "ok"
    except Exception as e:  # the checker's own exception types vary between versions
        results[path] = f"{type(e).__name__}: {e}"
print(json.dumps(results))
