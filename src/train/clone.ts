// cloneModel (Keras clone_model): the same architecture with new layers and freshly initialised weights.
import { ArgumentError } from '../errors.js';
import { layerFromConfig } from '../nn/layer.js';
import { Model } from './model.js';

/**
 * A new model of the same architecture as `model` (functional or Sequential), rebuilt from its config:
 * new layers, weights drawn afresh by their initializers, nothing compiled (as Keras clone_model). To
 * copy the weights too, follow with clone.setWeights(model.getWeights()).
 */
export function cloneModel<M extends Model>(model: M): M {
  if (!(model instanceof Model))
    throw new ArgumentError(`cloneModel: expected a Model (functional or Sequential), got ${typeof model}`);
  const cls = model.constructor as { className?: string };
  if (!model.isFunctional && cls.className !== 'Sequential')
    throw new ArgumentError(
      `cloneModel: model '${model.name}' is a subclass model, which has no architecture config to rebuild ` +
        'from; construct a new instance of its class instead',
    );
  return layerFromConfig({ className: model.className, config: model.getConfig() }) as M;
}
