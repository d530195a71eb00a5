// HDF5 files through jsfive (a pure-JS reader): the groups, string attributes and float datasets of Keras weight
// files. jsfive throws strings and plain errors on malformed input and trusts every size it reads, so each call
// is guarded (any failure becomes a FormatError naming the file and object) and a dataset's declared size is
// checked against the file before its data is read. Filtered (compressed) datasets are refused: Keras and h5py
// write none by default, and an inflate inside jsfive could not be bounded.
import * as jsfive from 'jsfive';
import { CandorError, fmtShape, fmtValue, errorMessage } from '../../errors.js';
import { FormatError, InteropError } from '../errors.js';

/** Groups and datasets one file may open: far more than any model has; a cyclic or junk file stops here. */
const MAX_OBJECTS = 200_000;
const MAX_RANK = 32;
const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]; // \x89HDF\r\n\x1a\n

/** A float dataset read whole: row-major data of `shape`. */
export interface H5Array {
  shape: number[];
  data: Float32Array | Float64Array;
}

export class H5File {
  private objects = 0;
  /** Bytes of dataset data read so far: datasets never overlap in a Keras file, so together at most the file. */
  private bytesRead = 0;
  readonly root: H5Group;

  private constructor(
    /** Names the file in messages, e.g. 'model.keras: model.weights.h5'. */
    readonly label: string,
    readonly byteLength: number,
    file: jsfive.File,
  ) {
    this.root = new H5Group(this, '/', file);
  }

  static open(bytes: Uint8Array, label: string): H5File {
    if (bytes.length < SIGNATURE.length || SIGNATURE.some((b, i) => bytes[i] !== b))
      throw new FormatError(`${label} is not an HDF5 file (no HDF5 signature at its start)`);
    const buffer =
      bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
        ? (bytes.buffer as ArrayBuffer)
        : bytes.slice().buffer;
    const file = guard(label, 'its superblock and root group', () => new jsfive.File(buffer, label));
    return new H5File(label, bytes.length, file);
  }

  /** @internal Counts an object opened, refusing a file that opens too many. */
  countObject(): void {
    if (++this.objects > MAX_OBJECTS)
      throw new FormatError(`${this.label}: over ${MAX_OBJECTS} groups and datasets were opened (cyclic links?)`);
  }

  /** @internal Counts dataset bytes about to be read, refusing more than the file holds. */
  countBytes(bytes: number, path: string): void {
    this.bytesRead += bytes;
    if (this.bytesRead > this.byteLength)
      throw new FormatError(
        `${this.label}: dataset ${path} would bring the data read to ${this.bytesRead} bytes, more than the ` +
          `file's ${this.byteLength}`,
      );
  }
}

/** Runs a jsfive call, turning whatever it throws into a FormatError that names the file and the object. */
function guard<T>(label: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CandorError) throw e;
    throw new FormatError(`${label}: cannot read ${what}: ${errorMessage(e)}`);
  }
}

/**
 * jsfive keeps the padding of fixed-length strings (numpy's 'S' arrays, as Keras 2 writes layer_names and
 * weight_names, are padded with NULs to the longest): HDF5's null-padded and null-terminated strings end there.
 */
const stripNul = (s: string) => (s.includes('\0') ? s.slice(0, s.indexOf('\0')) : s);

/**
 * jsfive allocates and loops over as many values as an attribute's dataspace declares, reading past the file's
 * end without failing (fixed-length strings), so a flipped dimension costs gigabytes. Every value takes at least
 * one byte of the file: a larger count is refused before jsfive reads the values.
 */
function boundAttributeSizes(objects: jsfive.Group['_dataobjects'], file: H5File, path: string): void {
  const read = objects.determine_data_shape;
  objects.determine_data_shape = (buf, offset) => {
    const shape = read.call(objects, buf, offset);
    const count = shape.reduce((a, b) => a * b, 1);
    if (!(count <= file.byteLength))
      throw new FormatError(
        `${file.label}: an attribute of ${path} declares ${fmtValue(shape)} values, more than the file's bytes`,
      );
    return shape;
  };
}

const join = (path: string, name: string) => (path === '/' ? `/${name}` : `${path}/${name}`);

export class H5Group {
  private keyList?: string[];
  private attrMap?: Record<string, unknown>;

  constructor(
    readonly file: H5File,
    /** Absolute path, '/' for the root. */
    readonly path: string,
    private readonly h5: jsfive.Group,
  ) {}

  /** The names of the group's members (links), in the order jsfive lists them. */
  keys(): string[] {
    this.keyList ??= guard(this.file.label, `the members of group ${this.path}`, () => {
      const keys = this.h5.keys;
      if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw new Error('malformed link names');
      return keys;
    });
    return [...this.keyList];
  }

  has(name: string): boolean {
    return this.keys().includes(name);
  }

  /** All attributes of the group, as jsfive decodes them (strings, numbers, arrays of them). */
  attrs(): Record<string, unknown> {
    this.attrMap ??= guard(this.file.label, `the attributes of group ${this.path}`, () => {
      boundAttributeSizes(this.h5._dataobjects, this.file, this.path);
      return this.h5.attrs;
    });
    return this.attrMap;
  }

  /** A string attribute, or undefined when absent; another type is a FormatError. */
  stringAttr(name: string): string | undefined {
    const value = this.attrs()[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string')
      throw new FormatError(
        `${this.file.label}: attribute ${name} of ${this.path} is not a string: ${fmtValue(value)}`,
      );
    return stripNul(value);
  }

  /** A list-of-strings attribute (Keras' layer_names, weight_names), or undefined when absent. */
  stringListAttr(name: string): string[] | undefined {
    const value = this.attrs()[name];
    if (value === undefined) return undefined;
    // h5py writes an empty list as a float64 array of length 0.
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
      throw new FormatError(
        `${this.file.label}: attribute ${name} of ${this.path} is not a list of strings: ${fmtValue(value)}`,
      );
    return value.map(stripNul);
  }

  /** A member by name (one level), or undefined when there is none. */
  child(name: string): H5Group | H5Dataset | undefined {
    if (!this.has(name)) return undefined;
    const path = join(this.path, name);
    this.file.countObject();
    const obj = guard(this.file.label, `object ${path}`, () => this.h5.get(name));
    if (obj instanceof jsfive.Dataset) return new H5Dataset(this.file, path, obj);
    if (obj instanceof jsfive.Group) return new H5Group(this.file, path, obj);
    return undefined; // a dangling soft link
  }

  /** A member group by name, or undefined; a dataset of that name is a FormatError. */
  group(name: string): H5Group | undefined {
    const obj = this.child(name);
    if (obj instanceof H5Dataset) throw new FormatError(`${this.file.label}: ${obj.path} is a dataset, not a group`);
    return obj;
  }

  /** Follows a relative path of member names ('a/b/c'); undefined if a member is missing. */
  resolve(relative: string): H5Group | H5Dataset | undefined {
    let at: H5Group | H5Dataset | undefined = this;
    for (const part of relative.split('/').filter((p) => p !== '')) {
      if (!(at instanceof H5Group)) return undefined;
      at = at.child(part);
    }
    return at;
  }
}

/** Item sizes of the float types a weight may have: '<f4' little-endian float32 and so on. */
const FLOAT_TYPE = /^[<>=|]?f([248])$/;

export class H5Dataset {
  constructor(
    readonly file: H5File,
    readonly path: string,
    private readonly dataset: jsfive.Dataset,
  ) {}

  /** The declared shape, checked (each dimension a safe integer, the rank at most 32). */
  get shape(): number[] {
    const shape = guard(this.file.label, `the shape of ${this.path}`, () => this.dataset.shape);
    if (
      !Array.isArray(shape) ||
      shape.length > MAX_RANK ||
      !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
    )
      throw new FormatError(`${this.file.label}: dataset ${this.path} has a malformed shape ${fmtValue(shape)}`);
    return shape;
  }

  /** jsfive's dtype string ('<f4', '<i8', '|S10' ...); a compound or variable-length type gives its class. */
  get dtype(): string {
    const dtype = guard(this.file.label, `the type of ${this.path}`, () => this.dataset.dtype);
    return typeof dtype === 'string' ? dtype : `${fmtValue(Array.isArray(dtype) ? dtype[0] : dtype)}`;
  }

  /**
   * Reads a float16/32/64 dataset whole (float16 and float32 as Float32Array, float64 as Float64Array). Its
   * declared size must fit in the file before anything is read; other types are an InteropError.
   */
  readFloats(): H5Array {
    const { label } = this.file;
    const shape = this.shape;
    const dtype = this.dtype;
    const match = FLOAT_TYPE.exec(dtype);
    if (!match)
      throw new InteropError(`${label}: dataset ${this.path} has type ${dtype}; weights must be float16, 32 or 64`);
    const itemSize = Number(match[1]);
    const size = shape.reduce((a, b) => a * b, 1);
    const bytes = size * itemSize;
    if (!Number.isSafeInteger(bytes) || bytes > this.file.byteLength)
      throw new FormatError(
        `${label}: dataset ${this.path} declares ${fmtShape(shape)} x ${itemSize} bytes, more than the file's ` +
          `${this.file.byteLength}`,
      );
    const objects = guard(label, `the storage of ${this.path}`, () => this.dataset._dataobjects);
    const filters = guard(label, `the filters of ${this.path}`, () => objects.filter_pipeline);
    if (filters !== null && filters !== undefined)
      throw new InteropError(
        `${label}: dataset ${this.path} is compressed or filtered (HDF5 filters are not supported; Keras and ` +
          `h5py write none unless asked)`,
      );
    const chunks = guard(label, `the chunk shape of ${this.path}`, () => objects.chunks);
    if (chunks !== null && chunks !== undefined) {
      // jsfive walks every element of every chunk: the chunk's declared size bounds that loop.
      const chunkSize = Array.isArray(chunks) ? chunks.reduce((a: number, b: unknown) => a * Number(b), 1) : NaN;
      if (!Number.isSafeInteger(chunkSize) || chunkSize > this.file.byteLength)
        throw new FormatError(`${label}: dataset ${this.path} has a malformed chunk shape ${fmtValue(chunks)}`);
    }
    this.file.countBytes(bytes, this.path);
    const values = guard(label, `the data of ${this.path}`, () => this.dataset.value);
    if (values === null || typeof values !== 'object' || values.length !== size)
      throw new FormatError(
        `${label}: dataset ${this.path} holds ${fmtValue(values?.length)} values, its shape ${size}`,
      );
    const data = itemSize === 8 ? new Float64Array(size) : new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const v = values[i];
      if (typeof v !== 'number')
        throw new FormatError(`${label}: dataset ${this.path} has an unreadable value at ${i} (missing chunk?)`);
      data[i] = v;
    }
    return { shape, data };
  }
}
