// The part of ONNX's protobuf schema (onnx.proto, package onnx, proto2) that an inference graph of
// dense float tensors needs, as a protobufjs JSON descriptor: protobufjs does the wire encoding and
// decoding from it. Field numbers and types are ONNX's own; messages and fields the lab never writes
// (training info, sparse tensors, functions, sequence and map types) are left out, and decoders skip
// them as unknown fields. What this file is not: the graph of the ResNet (onnx-model.ts).

import protobuf from 'protobufjs/light.js';

const opt = (id: number, type: string) => ({ id, type });
const rep = (id: number, type: string, packed = false) => ({
  id,
  type,
  rule: 'repeated',
  ...(packed ? { options: { packed: true } } : {}),
});

/** onnx.proto's messages, by name, as protobufjs reads them (Root.fromJSON). */
const ONNX_DESCRIPTOR = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: opt(1, 'string'),
            type: opt(20, 'AttributeType'),
            f: opt(2, 'float'),
            i: opt(3, 'int64'),
            s: opt(4, 'bytes'),
            t: opt(5, 'TensorProto'),
            floats: rep(7, 'float'),
            ints: rep(8, 'int64'),
            strings: rep(9, 'bytes'),
            docString: opt(13, 'string'),
          },
          nested: {
            AttributeType: { values: { UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } },
          },
        },
        ValueInfoProto: { fields: { name: opt(1, 'string'), type: opt(2, 'TypeProto'), docString: opt(3, 'string') } },
        NodeProto: {
          fields: {
            input: rep(1, 'string'),
            output: rep(2, 'string'),
            name: opt(3, 'string'),
            opType: opt(4, 'string'),
            domain: opt(7, 'string'),
            attribute: rep(5, 'AttributeProto'),
            docString: opt(6, 'string'),
          },
        },
        ModelProto: {
          fields: {
            irVersion: opt(1, 'int64'),
            opsetImport: rep(8, 'OperatorSetIdProto'),
            producerName: opt(2, 'string'),
            producerVersion: opt(3, 'string'),
            domain: opt(4, 'string'),
            modelVersion: opt(5, 'int64'),
            docString: opt(6, 'string'),
            graph: opt(7, 'GraphProto'),
            metadataProps: rep(14, 'StringStringEntryProto'),
          },
        },
        StringStringEntryProto: { fields: { key: opt(1, 'string'), value: opt(2, 'string') } },
        GraphProto: {
          fields: {
            node: rep(1, 'NodeProto'),
            name: opt(2, 'string'),
            initializer: rep(5, 'TensorProto'),
            docString: opt(10, 'string'),
            input: rep(11, 'ValueInfoProto'),
            output: rep(12, 'ValueInfoProto'),
            valueInfo: rep(13, 'ValueInfoProto'),
          },
        },
        TensorProto: {
          fields: {
            dims: rep(1, 'int64', true),
            dataType: opt(2, 'int32'),
            floatData: rep(4, 'float', true),
            int32Data: rep(5, 'int32', true),
            int64Data: rep(7, 'int64', true),
            name: opt(8, 'string'),
            docString: opt(12, 'string'),
            rawData: opt(9, 'bytes'),
          },
          nested: {
            DataType: {
              values: { UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9 },
            },
          },
        },
        TensorShapeProto: {
          fields: { dim: rep(1, 'Dimension') },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: { dimValue: opt(1, 'int64'), dimParam: opt(2, 'string'), denotation: opt(3, 'string') },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType'] } },
          fields: { tensorType: opt(1, 'Tensor'), denotation: opt(6, 'string') },
          nested: { Tensor: { fields: { elemType: opt(1, 'int32'), shape: opt(2, 'TensorShapeProto') } } },
        },
        OperatorSetIdProto: { fields: { domain: opt(1, 'string'), version: opt(2, 'int64') } },
      },
    },
  },
};

let root: protobuf.Root | undefined;

/** onnx.ModelProto's protobufjs type (built once). */
export function modelProtoType(): protobuf.Type {
  root ??= protobuf.Root.fromJSON(ONNX_DESCRIPTOR);
  return root.lookupType('onnx.ModelProto');
}

/** TensorProto.DataType values the lab uses. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;
