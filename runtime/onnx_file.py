"""Read an ONNX file's custom metadata map without the onnx package and without a session.

The precision a model runs in (and so how its engine is built) depends on its metadata, so the
metadata must be known before any engine exists. An ONNX file is a protobuf `ModelProto`;
its `metadata_props` (field 14) are small key/value messages at the top level, while the graph
(field 7), which holds the weights, is skipped over by its length without being read.
"""

from __future__ import annotations

import os
from typing import BinaryIO

_METADATA_PROPS = 14  # ModelProto.metadata_props: repeated StringStringEntryProto
_KEY, _VALUE = 1, 2  # StringStringEntryProto.key / .value
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


class NotProtobuf(ValueError):
    """The bytes are not a protobuf message (so not an ONNX model)."""


def read_metadata_props(path: str | os.PathLike) -> dict[str, str]:
    """The custom metadata map of an ONNX file; raises NotProtobuf or OSError."""
    props: dict[str, str] = {}
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        while handle.tell() < size:
            field, wire = _tag(handle)
            if wire == _LENGTH:
                length = _varint(handle)
                if handle.tell() + length > size:
                    raise NotProtobuf("a field runs past the end of the file")
                if field == _METADATA_PROPS:
                    key, value = _entry(handle.read(length))
                    props[key] = value
                else:
                    handle.seek(length, os.SEEK_CUR)
            else:
                _skip_scalar(handle, wire)
    return props


def _entry(data: bytes) -> tuple[str, str]:
    fields = {_KEY: "", _VALUE: ""}
    position = 0
    while position < len(data):
        tag, position = _varint_at(data, position)
        field, wire = tag >> 3, tag & 7
        if wire != _LENGTH:
            raise NotProtobuf("a metadata entry holds a non-string field")
        length, position = _varint_at(data, position)
        if field in fields:
            try:
                fields[field] = data[position:position + length].decode("utf-8")
            except UnicodeDecodeError:
                raise NotProtobuf("a metadata entry is not UTF-8") from None
        position += length
    if position != len(data):
        raise NotProtobuf("a metadata entry runs past its end")
    return fields[_KEY], fields[_VALUE]


def _tag(handle: BinaryIO) -> tuple[int, int]:
    tag = _varint(handle)
    field, wire = tag >> 3, tag & 7
    if field == 0 or wire not in (_VARINT, _FIXED64, _LENGTH, _FIXED32):
        raise NotProtobuf(f"invalid field tag {tag}")
    return field, wire


def _skip_scalar(handle: BinaryIO, wire: int) -> None:
    if wire == _VARINT:
        _varint(handle)
    else:
        handle.seek(8 if wire == _FIXED64 else 4, os.SEEK_CUR)


def _varint(handle: BinaryIO) -> int:
    result = shift = 0
    while True:
        byte = handle.read(1)
        if not byte:
            raise NotProtobuf("the file ends inside a number")
        result |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return result
        shift += 7
        if shift > 63:
            raise NotProtobuf("a number is longer than 64 bits")


def _varint_at(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise NotProtobuf("a metadata entry ends inside a number")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise NotProtobuf("a number is longer than 64 bits")
