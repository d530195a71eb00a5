// ONNX export of the layers that only act while training (dropout, noise, random augmentation): in inference
// they return their input, so the export is no node at all (the value passes on, with its mask).
import type { Layer } from '../../nn/layer.js';
import { registerOnnxExporter } from './exporters.js';

const TRAINING_ONLY = [
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'GaussianNoise',
  'GaussianDropout',
  'RandomFlip',
  'RandomRotation',
  'RandomZoom',
  'RandomTranslation',
  'RandomContrast',
];
for (const className of TRAINING_ONLY) registerOnnxExporter<Layer>(className, (_layer, [x]) => [x]);
