// Errors of the interop formats. A malformed or hostile file is a FormatError (the same class the safetensors
// reader throws); a well-formed model that the other format cannot express is an InteropError, and a layer or
// operator with no mapping is an UnsupportedLayerError that names it, so a user knows what to replace.
import { CandorError } from '../errors.js';
export { FormatError } from '../io/safetensors.js';

export class InteropError extends CandorError {}

export class UnsupportedLayerError extends InteropError {
  constructor(
    /** 'ONNX export', 'ONNX import', 'Keras import', 'TF.js' ... */
    readonly format: string,
    /** The layer's (or ONNX node's) name in the model. */
    readonly layerName: string,
    /** The layer class or ONNX op_type. */
    readonly className: string,
    detail = '',
  ) {
    super(`${format}: layer '${layerName}' (${className}) is not supported${detail ? `: ${detail}` : ''}`);
  }
}
