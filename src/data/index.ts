// The data API: the Dataset pipeline, data-set loaders (datasets.mnist, datasets.cifar10), CSV and helpers.
import { mnist } from './mnist.js';
import { cifar10 } from './cifar.js';

/** Loaders for well-known data sets, Keras-style: `const { train, test } = await datasets.mnist()`. */
export const datasets = { mnist, cifar10 } as const;

export { Dataset } from './dataset.js';
export type { Example, Batched } from './dataset.js';
export { parseIdx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from './mnist.js';
export type { IdxArray, MnistData, MnistOptions } from './mnist.js';
export { parseCifar10, loadCifar10Batches, CIFAR10_CLASSES, CIFAR10_RECORD_BYTES } from './cifar.js';
export { parseCsv, parseCsvRecords, loadCsv } from './csv.js';
export type { CsvData, CsvOptions, CsvRecord } from './csv.js';
export { toCategorical, standardize, minMaxScale, trainTestSplit } from './utils.js';
export type { Split, TrainTest, SplitOptions, StandardizeStats, MinMaxStats } from './utils.js';
export { MissingDataError } from './files.js';
export { timeseriesDatasetFromArray } from './timeseries.js';
export type { TimeseriesOptions } from './timeseries.js';
export { imageDatasetFromDirectory, ImageFormatError } from './image-dataset.js';
export type { ImageDataset, ImageDatasetOptions, ColorMode, LabelMode } from './image-dataset.js';
export { textDatasetFromDirectory } from './text-dataset.js';
export type { TextDatasetOptions, TextDataset, TextBatch } from './text-dataset.js';
export { attachSource, attachSubsetSource, sourceOf, describeSource, hashSourceFile, MNIST_SOURCE } from './sources.js';
export type { DatasetSource, SourceFile, PublishedChecksum, SourceDescription } from './sources.js';
