"""A compressed-sparse-row matrix in plain NumPy: TF-IDF features without SciPy in the install."""

from __future__ import annotations

from typing import Any

import numpy as np

_BLOCK_VALUES = 1 << 18  # entries x columns per block of a product: the temporary stays cache-sized


class SparseRows:
    """Rows of (column, value) pairs; only what the classifier needs: products with dense matrices."""

    def __init__(
        self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]
    ) -> None:
        self.data = data
        self.indices = indices
        self.indptr = indptr
        self.shape = shape
        self.dtype = data.dtype
        self._transposed: SparseRows | None = None

    @property
    def nnz(self) -> int:
        """Number of stored entries."""
        return int(self.indptr[-1])

    def astype(self, dtype: Any) -> SparseRows:
        """The same matrix with values of another dtype (the structure is shared)."""
        return SparseRows(self.data.astype(dtype), self.indices, self.indptr, self.shape)

    def toarray(self) -> np.ndarray:
        """The dense matrix (tests and tiny inputs only)."""
        out = np.zeros(self.shape, self.dtype)
        out[self._row_of_entry(), self.indices] = self.data
        return out

    def take_rows(self, rows: np.ndarray) -> SparseRows:
        """The sub-matrix of the given rows, in that order."""
        rows = np.asarray(rows, np.int64)
        starts, stops = self.indptr[rows], self.indptr[rows + 1]
        lengths = stops - starts
        indptr = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        entries = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return SparseRows(
            self.data[entries], self.indices[entries], indptr, (len(rows), self.shape[1])
        )

    @property
    def T(self) -> SparseRows:  # noqa: N802 - mirrors the NumPy spelling
        """The transpose (computed once and kept: gradients need it every iteration)."""
        if self._transposed is None:
            order = np.argsort(self.indices, kind="stable")
            counts = np.bincount(self.indices, minlength=self.shape[1])
            self._transposed = SparseRows(
                self.data[order],
                self._row_of_entry()[order],
                np.r_[0, np.cumsum(counts)].astype(np.int64),
                (self.shape[1], self.shape[0]),
            )
        return self._transposed

    def __matmul__(self, dense: np.ndarray) -> np.ndarray:
        """Sparse (n, m) @ dense (m, k) -> dense (n, k), block by block to bound memory."""
        dense = np.asarray(dense)
        squeeze = dense.ndim == 1
        if squeeze:
            dense = dense[:, None]
        dtype = np.result_type(self.data, dense)
        out = np.zeros((self.shape[0], dense.shape[1]), dtype)
        for first, last in self._row_blocks(max(256, _BLOCK_VALUES // dense.shape[1])):
            lo, hi = int(self.indptr[first]), int(self.indptr[last])
            if lo == hi:
                continue
            products = dense[self.indices[lo:hi]] * self.data[lo:hi, None]
            starts = self.indptr[first:last] - lo
            filled = np.flatnonzero(np.diff(self.indptr[first : last + 1]) > 0)
            out[first + filled] = np.add.reduceat(products, starts[filled], axis=0)
        return out[:, 0] if squeeze else out

    def _row_blocks(self, entries: int) -> list[tuple[int, int]]:
        """Row ranges holding about `entries` stored entries each."""
        n = self.shape[0]
        if self.nnz <= entries:
            return [(0, n)]
        cuts = np.searchsorted(self.indptr, np.arange(entries, self.nnz, entries))
        bounds = np.unique(np.r_[0, np.clip(cuts, 0, n), n])
        return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))

    def _row_of_entry(self) -> np.ndarray:
        """The row index of every stored entry."""
        return np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
