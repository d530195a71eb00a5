// The TensorBoard protobuf messages Candor writes and reads: a subset of tensorboard/compat/proto's event.proto,
// summary.proto, histogram.proto and tensor.proto (package tensorboard, the same field numbers), parsed once by
// protobufjs. Fields outside the subset are skipped when decoding.
import { messageCodec } from '../protobuf-codec.js';

const TENSORBOARD_PROTO = `
syntax = "proto3";
package tensorboard;
message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what {
    string file_version = 3;
    bytes graph_def = 4;
    Summary summary = 5;
  }
}
message Summary {
  message Value {
    string tag = 1;
    SummaryMetadata metadata = 9;
    oneof value {
      float simple_value = 2;
      HistogramProto histo = 5;
      TensorProto tensor = 8;
    }
  }
  repeated Value value = 1;
}
message SummaryMetadata {
  message PluginData {
    string plugin_name = 1;
    bytes content = 2;
  }
  PluginData plugin_data = 1;
  string display_name = 2;
  string summary_description = 3;
  DataClass data_class = 4;
}
enum DataClass {
  DATA_CLASS_UNKNOWN = 0;
  DATA_CLASS_SCALAR = 1;
  DATA_CLASS_TENSOR = 2;
  DATA_CLASS_BLOB_SEQUENCE = 3;
}
message HistogramProto {
  double min = 1;
  double max = 2;
  double num = 3;
  double sum = 4;
  double sum_squares = 5;
  repeated double bucket_limit = 6 [packed = true];
  repeated double bucket = 7 [packed = true];
}
enum DataType {
  DT_INVALID = 0;
  DT_FLOAT = 1;
  DT_DOUBLE = 2;
  DT_INT32 = 3;
  DT_STRING = 7;
  DT_INT64 = 9;
}
message TensorShapeProto {
  message Dim {
    int64 size = 1;
    string name = 2;
  }
  repeated Dim dim = 2;
  bool unknown_rank = 3;
}
message TensorProto {
  DataType dtype = 1;
  TensorShapeProto tensor_shape = 2;
  bytes tensor_content = 4;
  repeated float float_val = 5 [packed = true];
  repeated double double_val = 6 [packed = true];
  repeated int32 int_val = 7 [packed = true];
  repeated bytes string_val = 8;
  repeated int64 int64_val = 10 [packed = true];
}
`;

/** What every event file starts with (Event.file_version of the first record). */
export const FILE_VERSION = 'brain.Event:2';

/** TensorProto.DataType values this subset names. */
export const TB_DTYPE = { FLOAT: 1, DOUBLE: 2, INT32: 3, STRING: 7, INT64: 9 } as const;

// Plain-object views of the messages (protobufjs toObject: longs as numbers, bytes as Uint8Array, enums as
// numbers); fields at their proto3 default are absent.
export interface HistogramProto {
  min?: number;
  max?: number;
  num?: number;
  sum?: number;
  sumSquares?: number;
  /** Right edge of each bucket; TensorBoard takes the last bucket's right edge from max. */
  bucketLimit?: number[];
  bucket?: number[];
}
export interface SummaryMetadata {
  pluginData?: { pluginName?: string; content?: Uint8Array };
  displayName?: string;
  summaryDescription?: string;
  dataClass?: number;
}
export interface TensorProto {
  dtype?: number;
  tensorShape?: { dim?: { size?: number; name?: string }[]; unknownRank?: boolean };
  tensorContent?: Uint8Array;
  floatVal?: number[];
  doubleVal?: number[];
  intVal?: number[];
  stringVal?: Uint8Array[];
  int64Val?: number[];
}
export interface SummaryValue {
  tag?: string;
  metadata?: SummaryMetadata;
  simpleValue?: number;
  histo?: HistogramProto;
  tensor?: TensorProto;
}
export interface TensorBoardEvent {
  /** Seconds since the epoch. */
  wallTime?: number;
  step?: number;
  fileVersion?: string;
  graphDef?: Uint8Array;
  summary?: { value?: SummaryValue[] };
}

const EVENT_CODEC = messageCodec<TensorBoardEvent>(TENSORBOARD_PROTO, 'tensorboard.Event', { arrays: false });

/** The wire bytes of an event. */
export const encodeEvent = (event: TensorBoardEvent): Uint8Array => EVENT_CODEC.encode(event, 'TensorBoard');

/** Decodes one record's bytes as an Event; anything protobufjs cannot parse is a FormatError naming `where`. */
export const decodeEvent = (bytes: Uint8Array, where: string): TensorBoardEvent => EVENT_CODEC.decode(bytes, where);
