#!/usr/bin/python3
# Independent decoder of TensorBoard event files, for Candor's tests: compiles the Event and Summary messages in
# tools/tensorboard-proto/ (package tensorboard, TensorBoard's field numbers) with protoc, reads the TFRecord
# framing with both masked CRC32Cs checked (its own bitwise CRC32C, not Candor's), and prints the events as JSON.
#
# Run with Debian's python3-protobuf and protobuf-compiler (not the pyenv python3 on PATH):
#   /usr/bin/python3 tools/tensorboard-decode.py FILE [> OUT.json]
# The output for Candor's fixture is test/fixtures/interop/tensorboard/events.json.
import base64
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "tensorboard-proto")
PROTOS = ["tbproto/event.proto", "tbproto/summary.proto", "tbproto/histogram.proto", "tbproto/tensor.proto"]


def compile_messages(out_dir):
    subprocess.run(["protoc", f"-I{PROTO_ROOT}", f"--python_out={out_dir}", *PROTOS], check=True)
    sys.path.insert(0, out_dir)
    from tbproto import event_pb2  # noqa: E402 (generated just now)

    return event_pb2


def crc32c(data):
    """Bitwise CRC32C (reflected polynomial 0x82F63B78), the slow obvious way."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def records(data):
    at = 0
    while at < len(data):
        if len(data) - at < 12:
            raise ValueError(f"truncated record header at byte {at}")
        (length,) = struct.unpack_from("<Q", data, at)
        (length_crc,) = struct.unpack_from("<I", data, at + 8)
        if length_crc != masked(crc32c(data[at : at + 8])):
            raise ValueError(f"length CRC mismatch at byte {at}")
        if at + 16 + length > len(data):
            raise ValueError(f"record at byte {at} runs past the end")
        body = data[at + 12 : at + 12 + length]
        (data_crc,) = struct.unpack_from("<I", data, at + 12 + length)
        if data_crc != masked(crc32c(body)):
            raise ValueError(f"data CRC mismatch at byte {at}")
        yield body
        at += 16 + length


def metadata_dict(m):
    out = {}
    if m.HasField("plugin_data"):
        out["plugin_name"] = m.plugin_data.plugin_name
        out["plugin_content"] = base64.b64encode(m.plugin_data.content).decode()
    for name in ("display_name", "summary_description", "data_class"):
        if getattr(m, name):
            out[name] = getattr(m, name)
    return out


def value_dict(v):
    out = {"tag": v.tag}
    if v.HasField("metadata"):
        out["metadata"] = metadata_dict(v.metadata)
    kind = v.WhichOneof("value")
    if kind == "simple_value":
        out["simple_value"] = v.simple_value  # the float32's exact value as a double
    elif kind == "histo":
        h = v.histo
        out["histo"] = {
            "min": h.min,
            "max": h.max,
            "num": h.num,
            "sum": h.sum,
            "sum_squares": h.sum_squares,
            "bucket_limit": list(h.bucket_limit),
            "bucket": list(h.bucket),
        }
    elif kind == "tensor":
        t = v.tensor
        out["tensor"] = {
            "dtype": t.dtype,
            "shape": [d.size for d in t.tensor_shape.dim],
            "tensor_content": base64.b64encode(t.tensor_content).decode(),
            "float_val": list(t.float_val),
            "double_val": list(t.double_val),
        }
    elif kind is not None:
        out[kind] = True
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: /usr/bin/python3 tools/tensorboard-decode.py EVENT_FILE")
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        event_pb2 = compile_messages(tmp)
        events = []
        for body in records(data):
            e = event_pb2.Event()
            e.ParseFromString(body)
            out = {"wall_time": e.wall_time, "step": e.step}
            what = e.WhichOneof("what")
            if what == "file_version":
                out["file_version"] = e.file_version
            elif what == "summary":
                out["summary"] = [value_dict(v) for v in e.summary.value]
            elif what is not None:
                out[what] = True
            events.append(out)
    json.dump(events, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
