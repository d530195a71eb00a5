// ONNX export of TimeDistributed: [batch, time, ...] reshaped to [batch * time, ...], the wrapped layer's own
// export on that (inline, through the exporter table), and the result reshaped to [batch, time, ...out]; the
// shapes come from Shape at run time, so batch and time stay dynamic.
import type { SymShape } from '../../nn/layer.js';
import type { TimeDistributed } from '../../nn/layers/wrappers.js';
import { registerOnnxExporter } from './exporters.js';

registerOnnxExporter<TimeDistributed>('TimeDistributed', (layer, [x], call) => {
  const g = call.graph;
  const shape = call.inputShapes[0];
  const dims = (v: string, start: number, end?: number) => {
    const bounds = [g.int64('starts', [start]), g.int64('ends', [end ?? Number.MAX_SAFE_INTEGER])];
    return g.op('Slice', [g.op('Shape', [v]), ...bounds]);
  };
  const steps = g.op('Concat', [g.int64('minus_one', [-1]), dims(x, 2)], { axis: 0 });
  const flat = g.node('Reshape', [x, steps], {}, 1, `${call.prefix}/Reshape`)[0];
  const stepShape: SymShape = [null, ...shape.slice(2)];
  const [y] = call.call(layer.layer, [flat], [stepShape]);
  const outShape = g.op('Concat', [dims(x, 0, 2), dims(y, 1)], { axis: 0 });
  return [g.node('Reshape', [y, outShape], {}, 1, `${call.prefix}/Reshape`)[0]];
});
