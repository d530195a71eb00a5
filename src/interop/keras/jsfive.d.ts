// The part of jsfive's API (a pure-JS HDF5 reader, untyped) that the Keras file readers use.
declare module 'jsfive' {
  /** jsfive's internal object header reader: shape and dtype without reading data; the filter pipeline. */
  interface DataObjects {
    readonly shape: number[];
    readonly dtype: string | unknown[];
    readonly chunks: number[] | null;
    readonly filter_pipeline: unknown[] | null;
    /** Reads the shape of an attribute's dataspace (unpack_attribute calls it before reading the values). */
    determine_data_shape(buf: ArrayBuffer, offset: number): number[];
  }
  export class Group {
    readonly name: string;
    readonly keys: string[];
    readonly attrs: Record<string, unknown>;
    readonly _dataobjects: DataObjects;
    get(path: string): Group | Dataset | null;
  }
  export class File extends Group {
    constructor(buffer: ArrayBuffer, filename?: string);
  }
  export class Dataset {
    readonly name: string;
    readonly shape: number[];
    readonly dtype: string | unknown[];
    readonly attrs: Record<string, unknown>;
    readonly value: ArrayLike<number | string>;
    readonly _dataobjects: DataObjects;
  }
}
