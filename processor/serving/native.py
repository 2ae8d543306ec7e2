"""Serving's LightGBM: the C API of ``lib_lightgbm.so`` through ctypes, without the ``lightgbm`` package.

The ``lightgbm`` Python package imports scipy (and scikit-learn when it is installed) at import
time: about 200 MB of libraries and most of a second of start-up that scoring never uses. Serving
needs three things from LightGBM: load a text model, count its features, predict a dense float64
matrix. This module calls the same shared library the package ships (found without importing the
package), with the same arguments ``lightgbm.Booster.predict`` passes for a 2-D numpy array, so
the scores are the library's own (tests/unit/serving/test_native.py compares them bit for bit).
Training keeps using the package (``processor[train]``).

The calls release the GIL (ctypes does for ``CDLL`` functions), so the worker's latency budget
still bounds a slow prediction from the event loop's thread.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

from processor.errors import ProcessorError

# c_api.h
_DTYPE_FLOAT64 = 1
_PREDICT_NORMAL = 0
_ROW_MAJOR = 1
_MAX_ROWS = 2**31 - 1


class NativeModelError(ProcessorError):
    """LightGBM's C API refused a call; the message is LightGBM's own (LGBM_GetLastError)."""


def library_path() -> Path:
    """``lib_lightgbm.so`` of the installed ``lightgbm`` distribution, located without importing it.

    Always the wheel's own library: the one training used, so serving reads the model it wrote.
    """
    spec = importlib.util.find_spec("lightgbm")
    if spec is None or not spec.submodule_search_locations:
        raise NativeModelError("lightgbm_missing", "the lightgbm distribution is not installed (pip install lightgbm)")
    for folder in spec.submodule_search_locations:
        for candidate in (Path(folder) / "lib" / "lib_lightgbm.so", Path(folder).parent / "lib_lightgbm.so"):
            if candidate.is_file():
                return candidate
    raise NativeModelError("lightgbm_missing", f"no lib_lightgbm.so under {list(spec.submodule_search_locations)}")


_lib: ctypes.CDLL | None = None
_lib_lock = threading.Lock()


def _library() -> ctypes.CDLL:
    global _lib
    with _lib_lock:
        if _lib is None:
            lib = ctypes.CDLL(os.fspath(library_path()))
            lib.LGBM_GetLastError.restype = ctypes.c_char_p
            lib.LGBM_BoosterCreateFromModelfile.argtypes = [
                ctypes.c_char_p,
                ctypes.POINTER(ctypes.c_int),
                ctypes.POINTER(ctypes.c_void_p),
            ]
            lib.LGBM_BoosterFree.argtypes = [ctypes.c_void_p]
            lib.LGBM_BoosterGetNumFeature.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
            lib.LGBM_BoosterCalcNumPredict.argtypes = [
                ctypes.c_void_p,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.POINTER(ctypes.c_int64),
            ]
            lib.LGBM_BoosterPredictForMat.argtypes = [
                ctypes.c_void_p,  # handle
                ctypes.c_void_p,  # data
                ctypes.c_int,  # data_type
                ctypes.c_int32,  # nrow
                ctypes.c_int32,  # ncol
                ctypes.c_int,  # is_row_major
                ctypes.c_int,  # predict_type
                ctypes.c_int,  # start_iteration
                ctypes.c_int,  # num_iteration
                ctypes.c_char_p,  # parameter
                ctypes.POINTER(ctypes.c_int64),  # out_len
                ctypes.POINTER(ctypes.c_double),  # out_result
            ]
            _lib = lib
        return _lib


def _check(lib: ctypes.CDLL, code: int) -> None:
    if code != 0:
        message = lib.LGBM_GetLastError()
        raise NativeModelError("lightgbm_error", message.decode("utf-8", "replace") if message else "unknown error")


class NativeBooster:
    """A LightGBM model loaded from its text file; ``predict`` gives the probabilities of a binary model."""

    def __init__(self, model_file: Path | str) -> None:
        self._handle: ctypes.c_void_p | None = None
        self._lib = _library()
        handle = ctypes.c_void_p()
        iterations = ctypes.c_int(0)
        _check(
            self._lib,
            self._lib.LGBM_BoosterCreateFromModelfile(
                os.fspath(model_file).encode("utf-8"), ctypes.byref(iterations), ctypes.byref(handle)
            ),
        )
        self._handle = handle
        features = ctypes.c_int(0)
        try:
            _check(self._lib, self._lib.LGBM_BoosterGetNumFeature(handle, ctypes.byref(features)))
        except NativeModelError:
            self.close()
            raise
        self._num_feature = features.value

    def num_feature(self) -> int:
        return self._num_feature

    def predict(self, data: npt.ArrayLike, num_threads: int = 1) -> npt.NDArray[np.float64]:
        """Scores of every row of a 2-D matrix: ``lightgbm.Booster.predict(data, num_threads=...)``."""
        if self._handle is None:
            raise NativeModelError("model_closed", "the model was freed")
        mat = np.ascontiguousarray(data, dtype=np.float64)
        if mat.ndim != 2:
            raise ValueError(f"expected a 2-D matrix, got {mat.ndim} dimensions")
        nrow, ncol = mat.shape
        if nrow > _MAX_ROWS:
            raise ValueError(f"{nrow} rows: LightGBM predicts at most {_MAX_ROWS} per call")
        expected = ctypes.c_int64(0)
        _check(
            self._lib,
            self._lib.LGBM_BoosterCalcNumPredict(self._handle, nrow, _PREDICT_NORMAL, 0, -1, ctypes.byref(expected)),
        )
        out = np.empty(expected.value, dtype=np.float64)
        written = ctypes.c_int64(0)
        _check(
            self._lib,
            self._lib.LGBM_BoosterPredictForMat(
                self._handle,
                mat.ctypes.data_as(ctypes.c_void_p),
                _DTYPE_FLOAT64,
                nrow,
                ncol,
                _ROW_MAJOR,
                _PREDICT_NORMAL,
                0,  # start_iteration
                -1,  # num_iteration: every tree (a model file has no early-stopping best iteration)
                f"num_threads={int(num_threads)}".encode(),
                ctypes.byref(written),
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            ),
        )
        if written.value != expected.value:
            raise NativeModelError(
                "lightgbm_error", f"LightGBM wrote {written.value} scores, {expected.value} expected"
            )
        return out if out.size == nrow else out.reshape(nrow, -1)

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            self._lib.LGBM_BoosterFree(handle)

    def __del__(self) -> None:
        if getattr(self, "_lib", None) is not None:
            self.close()
