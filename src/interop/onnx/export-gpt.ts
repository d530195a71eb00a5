// ONNX export of the GPT model (models/gpt.ts), a subclassed Model: token ids [batch, T] (T dynamic, up to its
// contextLength) -> logits [batch, T, vocab], through its sublayers' own exporters.
import type { SymShape } from '../../nn/layer.js';
import type { GPT } from '../../models/gpt.js';
import { registerOnnxExporter } from './exporters.js';

// As GPT.call in inference: token embedding, plus position embedding, (dropout: none at inference), the causal
// TransformerDecoder blocks, the final norm, then the head: the token embedding transposed when tied (the same
// initializer the Gather reads, stored once) or its own Dense.
registerOnnxExporter<GPT>(
  'GPT',
  (model, [ids], call) => {
    const g = call.graph;
    const ids2: SymShape = [null, null],
      seq: SymShape = [null, null, model.hiddenDim];
    let x = call.call(model.tokenEmbedding, [ids], [ids2])[0];
    x = call.call(model.positionEmbedding, [x], [seq])[0];
    for (const block of model.blocks) x = call.call(block, [x], [seq])[0];
    x = call.call(model.finalNorm, [x], [seq])[0];
    if (model.head) return call.call(model.head, [x], [seq]);
    const table = g.op('Transpose', [call.weight(model.tokenEmbedding.embeddings!)], { perm: [1, 0] });
    return [g.node('MatMul', [x, table], {}, 1, `${call.prefix}/logits`)[0]];
  },
  { modelInputs: (model) => [{ name: `${model.name}_ids`, dtype: 'int32', shape: [null, null] }] },
);
