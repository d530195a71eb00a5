// One protobuf message type from a schema text (parsed by protobufjs once, on first use), encoded from and decoded
// to plain objects: longs as numbers, bytes as Uint8Array, absent fields left out. The ONNX and TensorBoard
// schemas both use it; what protobufjs cannot parse is a FormatError naming where the bytes came from.
import protobuf from 'protobufjs';
import { FormatError } from './errors.js';
import { errorMessage } from '../errors.js';

export interface MessageCodec<T> {
  /** The wire bytes (checked against the schema first: a wrong field type is a bug, said plainly). */
  encode(value: T, who: string): Uint8Array;
  decode(bytes: Uint8Array, where: string): T;
}

/** `arrays`: whether absent repeated fields decode as [] (true) or are left out. */
export function messageCodec<T>(schema: string, typeName: string, { arrays }: { arrays: boolean }): MessageCodec<T> {
  let type: protobuf.Type | undefined;
  const resolved = () => (type ??= protobuf.parse(schema, { keepCase: false }).root.lookupType(typeName));
  return {
    encode(value, who) {
      const t = resolved();
      const problem = t.verify(value as object);
      if (problem) throw new FormatError(`${who}: the value does not fit ${typeName}: ${problem}`);
      return t.encode(t.fromObject(value as object)).finish();
    },
    decode(bytes, where) {
      const t = resolved();
      let message: protobuf.Message;
      try {
        message = t.decode(bytes);
      } catch (e) {
        throw new FormatError(`${where}: not a valid ${typeName} (${errorMessage(e)})`);
      }
      return t.toObject(message, { longs: Number, bytes: Uint8Array, defaults: false, arrays, oneofs: false }) as T;
    },
  };
}
