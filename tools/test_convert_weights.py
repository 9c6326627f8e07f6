#!/usr/bin/env python3
"""Unit tests for convert_weights.py (standard library only).

Builds small synthetic legacy checkpoints with fake ``torch`` modules, so the
tests need neither torch nor the real weights. Run:
``python3 tools/test_convert_weights.py`` (or ``scripts/test-tools.sh``).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import sys
import tempfile
import types
import unittest
from array import array
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import convert_weights as cw  # noqa: E402


def _install_fake_torch() -> types.ModuleType:
    """Registers minimal ``torch`` / ``torch._utils`` modules for pickling."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:  # noqa: D401 - a stand-in
        def __init__(self, values):
            self.values = list(values)

    class LongStorage:
        def __init__(self, values):
            self.values = list(values)

    def _rebuild_tensor_v2(*args):  # never called: only pickled by reference
        raise AssertionError("not for loading")

    for obj, module, name in ((FloatStorage, "torch", "FloatStorage"),
                              (LongStorage, "torch", "LongStorage"),
                              (_rebuild_tensor_v2, "torch._utils", "_rebuild_tensor_v2")):
        obj.__module__ = module
        obj.__qualname__ = name
    torch.FloatStorage = FloatStorage
    torch.LongStorage = LongStorage
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return torch


class _FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, OrderedDict())

    def __reduce__(self):
        return (sys.modules["torch._utils"]._rebuild_tensor_v2, self.args)


def make_checkpoint(tensors: "OrderedDict[str, _FakeTensor]") -> bytes:
    """Serialises tensors the way legacy ``torch.save`` did."""
    keys: list[str] = []
    storages: dict[int, tuple[str, object]] = {}

    class _Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if type(obj).__name__ in ("FloatStorage", "LongStorage"):
                if id(obj) not in storages:
                    storages[id(obj)] = (str(len(storages)), obj)
                    keys.append(storages[id(obj)][0])
                key = storages[id(obj)][0]
                return ("storage", type(obj), key, "cpu", len(obj.values), None)
            return None

    out = io.BytesIO()
    pickle.dump(cw.MAGIC_NUMBER, out, protocol=2)
    pickle.dump(cw.PROTOCOL_VERSION, out, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, out, protocol=2)
    _Pickler(out, protocol=2).dump(tensors)
    pickle.dump(keys, out, protocol=2)
    by_key = {k: obj for k, obj in storages.values()}
    for key in keys:
        obj = by_key[key]
        out.write(struct.pack("<q", len(obj.values)))
        code = "f" if type(obj).__name__ == "FloatStorage" else "q"
        out.write(array(code, obj.values).tobytes())
    return out.getvalue()


def read_safetensors(path: str) -> dict[str, tuple[list[int], list[float]]]:
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
        data = fh.read()
    result = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        values = array("f")
        values.frombytes(data[begin:end])
        result[name] = (info["shape"], list(values))
    return result


class MaterializeTest(unittest.TestCase):
    def test_contiguous(self):
        data = list(range(6))
        self.assertEqual(cw.materialize(data, 0, (2, 3), (3, 1)), [0, 1, 2, 3, 4, 5])

    def test_transposed_view_is_not_a_reshape(self):
        # Storage holds a 3x2 matrix row-major; the view is its 2x3 transpose.
        data = [0, 1, 2, 3, 4, 5]
        self.assertEqual(cw.materialize(data, 0, (2, 3), (1, 2)), [0, 2, 4, 1, 3, 5])

    def test_offset(self):
        data = [9, 9, 0, 1, 2, 3]
        self.assertEqual(cw.materialize(data, 2, (2, 2), (2, 1)), [0, 1, 2, 3])

    def test_tf_hwio_to_oihw(self):
        # A TF conv kernel (H, W, I, O) = (2, 2, 1, 3) stored contiguously,
        # viewed as PyTorch (O, I, H, W) with strides (1, 3, 6, 3).
        h, w, i, o = 2, 2, 1, 3
        hwio = [hh * 100 + ww * 10 + oo for hh in range(h) for ww in range(w)
                for _ in range(i) for oo in range(o)]
        view = cw.materialize(hwio, 0, (o, i, h, w), (1, o, w * i * o, i * o))
        expected = [hh * 100 + ww * 10 + oo for oo in range(o) for _ in range(i)
                    for hh in range(h) for ww in range(w)]
        self.assertEqual(view, expected)

    def test_scalar(self):
        self.assertEqual(cw.materialize([7, 8], 1, (), ()), [8])

    def test_out_of_range(self):
        with self.assertRaises(cw.ConvertError):
            cw.materialize([0, 1, 2], 1, (3,), (1,))


class RoundTripTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
        cls.torch = _install_fake_torch()

    @classmethod
    def tearDownClass(cls):
        for k, v in cls.saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v

    def _convert(self, blob: bytes) -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "in.pth")
            dst = os.path.join(tmp, "out.safetensors")
            with open(src, "wb") as fh:
                fh.write(blob)
            cw.convert(src, dst)
            return read_safetensors(dst)

    def test_strided_views_and_shared_storage(self):
        torch = self.torch
        shared = torch.FloatStorage([float(v) for v in range(10)])
        counter = torch.LongStorage([3])
        tensors = OrderedDict([
            # 2x3 transpose view of a 3x2 row-major block starting at offset 4.
            ("conv.weight", _FakeTensor(shared, 4, (2, 3), (1, 2))),
            ("bn.bias", _FakeTensor(shared, 0, (4,), (1,))),
            ("bn.num_batches_tracked", _FakeTensor(counter, 0, (), ())),
        ])
        out = self._convert(make_checkpoint(tensors))
        self.assertEqual(set(out), {"conv.weight", "bn.bias"})
        self.assertEqual(out["conv.weight"], ([2, 3], [4.0, 6.0, 8.0, 5.0, 7.0, 9.0]))
        self.assertEqual(out["bn.bias"], ([4], [0.0, 1.0, 2.0, 3.0]))

    def test_rejects_unknown_globals(self):
        blob = io.BytesIO()
        for v in (cw.MAGIC_NUMBER, cw.PROTOCOL_VERSION, {"little_endian": True}):
            pickle.dump(v, blob, protocol=2)
        pickle.dump(OrderedDict([("x", os.getcwd)]), blob, protocol=2)
        with self.assertRaises(cw.ConvertError):
            cw.read_legacy_checkpoint(io.BytesIO(blob.getvalue()))

    def test_rejects_bad_magic(self):
        with self.assertRaises(cw.ConvertError):
            cw.read_legacy_checkpoint(io.BytesIO(pickle.dumps(1234, protocol=2)))

    def test_rejects_truncated_storage(self):
        torch = self.torch
        blob = make_checkpoint(OrderedDict([
            ("w", _FakeTensor(torch.FloatStorage([1.0, 2.0, 3.0]), 0, (3,), (1,)))]))
        with self.assertRaises(cw.ConvertError):
            cw.read_legacy_checkpoint(io.BytesIO(blob[:-4]))


if __name__ == "__main__":
    unittest.main()
