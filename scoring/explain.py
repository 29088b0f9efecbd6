"""Exact TreeSHAP for XGBoost boosters, in float64, from the booster's JSON model.

Why not ``pred_contribs``: XGBoost computes contributions in float32, so ``base + sum`` drifts from
the margin by ~1e-6 on a few hundred trees, and a decision report that promises additivity must
keep it. Why not ``shap.TreeExplainer``: for XGBoost it calls that same ``pred_contribs``.

The method is the "v2" idea of Fast TreeSHAP (Yang, 2021), arranged for numpy. For a leaf whose
path has ``k`` splits on ``u`` distinct features, which of those splits a row agrees with is a
``k``-bit mask, and the leaf's contribution to each of its ``u`` features depends only on that
mask. So at build time every leaf gets a table of ``2**k × u`` exact contributions (Shapley weights
over the path's features, path-dependent expectations from the node covers), and explaining a row
costs one comparison per split node, one sparse product that turns split decisions into every
leaf's table row, one look-up per (leaf, path feature) and one sparse product that sums them per
feature. Split comparisons are exactly XGBoost's (``x < threshold`` in float32, NaN to the default
child); everything after is float64, so ``base + sum(contributions) == margin`` to ~1e-13 and the
values agree with ``shap.TreeExplainer`` to XGBoost's float32 rounding (~1e-6).
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse
from scipy.special import logit

from risk_engine.errors import InvalidInput

#: Table entries (float64) allowed for one model: 2**24 = 128 MiB. Depth 6 × 300 trees needs ~3.5 M.
MAX_TABLE_ENTRIES = 1 << 24
#: Rows per chunk: about this many (leaf × row) look-up cells per chunk, within [8, 256] rows.
_CHUNK_CELLS = 1 << 19
#: Up to this many rows, look-ups go leaf by leaf (cache-friendly); beyond, slot by slot (fewer passes).
_FEW_ROWS = 4
_CORES = os.cpu_count() or 1

_Path = list[
    tuple[int, int, int, float]
]  # per split on the way down: (split id, went right, feature, cover ratio)


@dataclass(frozen=True)
class _WidthGroup:
    """The leaves (a contiguous range) whose paths have ``width`` distinct features."""

    first: int
    last: int
    width: int
    # slots 0..width-1: the contributions of the leaf's path features; slot width: the leaf's value
    # in the table row where every split agrees (the leaf is reached), else 0 — so the same look-ups
    # also give the margin, computed from the leaf values and not from the contributions
    by_feature: np.ndarray  # (width + 1, table rows): for batches, one look-up per (slot, leaf, row)
    by_row: np.ndarray  # (table rows, width + 1): for a row or two, a leaf's slots share a cache line
    scatter_by_feature: sparse.csr_array  # (n_features + 1, (width + 1)·leaves), (slot, leaf) order
    scatter_by_row: sparse.csr_array  # the same in (leaf, slot) order


class ExactTreeShap:
    """Path-dependent TreeSHAP (``shap.TreeExplainer``'s default for trees) for an XGBoost booster
    with numeric splits and one output (``binary:logistic``, ``reg:*``).

    ``base`` is the expected margin (``shap``'s ``expected_value``); ``explain(X)`` gives per-column
    contributions in margin (log-odds) units and the margin, both float64, with
    ``base + contributions.sum(1) == margin``; ``margin(X)`` is the same margin by plain traversal.
    ``X`` holds the booster's input columns, NaN for missing.
    """

    def __init__(self, model: Mapping, *, max_table_entries: int = MAX_TABLE_ENTRIES) -> None:
        learner = model["learner"]
        if (
            max(
                int(learner["learner_model_param"].get("num_class", "0")),
                int(learner["learner_model_param"].get("num_target", "1")),
            )
            > 1
        ):
            raise InvalidInput(
                "boosters with more than one output are not supported", code="unsupported_model"
            )
        self.n_features = int(learner["learner_model_param"]["num_feature"])
        self.base_offset = _base_offset(learner)
        self._build(learner["gradient_booster"]["model"]["trees"], max_table_entries)

    @classmethod
    def from_booster(cls, booster, **kwargs) -> ExactTreeShap:
        return cls(json.loads(booster.save_raw("json")), **kwargs)

    # -- building ---------------------------------------------------------------------------------
    def _build(self, trees: Sequence[Mapping], max_table_entries: int) -> None:
        split_feature: list[int] = []
        split_threshold: list[float] = []
        split_default_left: list[bool] = []
        leaf_value: list[float] = []
        leaf_path: list[_Path] = []
        # all nodes of all trees, for plain traversal; a leaf points at itself
        node_left: list[int] = []
        node_right: list[int] = []
        node_split: list[int] = []
        node_value: list[float] = []
        roots: list[int] = []
        for tree in trees:
            if any(int(t) != 0 for t in tree.get("split_type", [])):
                raise InvalidInput(
                    "categorical splits are not supported; one-hot encode instead", code="unsupported_model"
                )
            left, right, feature = tree["left_children"], tree["right_children"], tree["split_indices"]
            condition = np.asarray(tree["split_conditions"], dtype=np.float32)
            cover = np.asarray(tree["sum_hessian"], dtype=np.float64)
            offset = len(node_left)
            roots.append(offset)
            split_id: dict[int, int] = {}
            for node in range(len(left)):
                is_leaf = left[node] == -1
                node_value.append(float(condition[node]) if is_leaf else 0.0)
                node_left.append(offset + (node if is_leaf else left[node]))
                node_right.append(offset + (node if is_leaf else right[node]))
                node_split.append(-1 if is_leaf else len(split_feature))
                if not is_leaf:
                    split_id[node] = len(split_feature)
                    split_feature.append(int(feature[node]))
                    split_threshold.append(condition[node])
                    split_default_left.append(bool(tree["default_left"][node]))
            stack: list[tuple[int, _Path]] = [(0, [])]
            while stack:
                node, path = stack.pop()
                if left[node] == -1:
                    leaf_value.append(float(condition[node]))
                    leaf_path.append(path)
                    continue
                for child, went_right in ((left[node], 0), (right[node], 1)):
                    ratio = cover[child] / cover[node] if cover[node] > 0 else 0.0
                    stack.append((child, [*path, (split_id[node], went_right, int(feature[node]), ratio)]))

        self.n_trees = len(trees)
        self.max_depth = max((len(p) for p in leaf_path), default=0)
        self._split_feature = np.asarray(split_feature, dtype=np.intp)
        self._split_threshold = np.asarray(split_threshold, dtype=np.float32)[:, None]
        self._split_default_left = np.asarray(split_default_left, dtype=bool)[:, None]
        self._node_left = np.asarray(node_left, dtype=np.intp)
        self._node_right = np.asarray(node_right, dtype=np.intp)
        self._node_split = np.asarray(node_split, dtype=np.intp)
        self._node_value = np.asarray(node_value, dtype=np.float64)
        self._roots = np.asarray(roots, dtype=np.intp)
        self._build_tables(leaf_path, np.asarray(leaf_value, dtype=np.float64), max_table_entries)

    def _build_tables(self, leaf_path: list[_Path], leaf_value: np.ndarray, max_entries: int) -> None:
        distinct = [list(dict.fromkeys(f for _, _, f, _ in path)) for path in leaf_path]
        needed = sum((len(d) + 1) << len(p) for p, d in zip(leaf_path, distinct, strict=True))
        if needed > max_entries:
            raise InvalidInput(
                f"model too large for exact explanation tables ({needed} entries > "
                f"{max_entries}); use shallower trees",
                code="unsupported_model",
            )
        # leaves sorted by width so each width's leaves are one contiguous range
        order = sorted(range(len(leaf_path)), key=lambda leaf: len(distinct[leaf]))
        leaf_path = [leaf_path[i] for i in order]
        distinct = [distinct[i] for i in order]
        self._leaf_value = leaf_value = leaf_value[order]
        n_leaves = len(leaf_path)
        width = np.asarray([len(d) for d in distinct], dtype=np.intp)
        depth = np.asarray([len(p) for p in leaf_path], dtype=np.intp)

        zero_fraction = [np.ones(len(d)) for d in distinct]  # Π cover ratios per distinct feature
        for leaf, path in enumerate(leaf_path):
            position = {f: j for j, f in enumerate(distinct[leaf])}
            for _, _, feature, ratio in path:
                zero_fraction[leaf][position[feature]] *= ratio
        self.base = float(
            self.base_offset + sum(v * np.prod(z) for v, z in zip(leaf_value, zero_fraction, strict=True))
        )

        # each leaf's first table row within its width group
        row_start = np.zeros(n_leaves, dtype=np.intp)
        self._always_reached = 0.0
        self._groups: list[_WidthGroup] = []
        for u in np.unique(width):
            members = np.flatnonzero(width == u)
            first, last = int(members[0]), int(members[-1]) + 1
            sizes = 1 << depth[first:last]
            row_start[first:last] = np.cumsum(sizes) - sizes
            if u == 0:  # one-leaf trees: always reached, explain nothing
                self._always_reached = float(leaf_value[first:last].sum())
                continue
            table = np.zeros((u + 1, int(sizes.sum())))
            reached_rows = row_start[first:last] + sizes - 1
            table[u, reached_rows] = leaf_value[first:last]
            # leaves sharing path length and which splits repeat a feature share one mask→pattern map
            shapes: dict[tuple[int, ...], list[int]] = defaultdict(list)
            for leaf in range(first, last):
                position = {f: j for j, f in enumerate(distinct[leaf])}
                shapes[tuple(position[f] for _, _, f, _ in leaf_path[leaf])].append(leaf)
            for shape, leaves in shapes.items():
                k = len(shape)
                per_pattern = _distinct_feature_tables(
                    np.asarray([zero_fraction[leaf] for leaf in leaves]), leaf_value[leaves], int(u)
                )
                mask_bits = (np.arange(1 << k)[:, None] >> np.arange(k)[None, :]) & 1
                pattern = np.zeros(1 << k, dtype=np.intp)
                for j in range(u):  # a feature is satisfied when every split on it agrees
                    pattern |= np.all(mask_bits[:, np.asarray(shape) == j] == 1, axis=1).astype(np.intp) << j
                rows = row_start[leaves][:, None] + np.arange(1 << k)[None, :]  # (n, 2**k)
                table[:u, rows] = per_pattern[:, pattern, :].transpose(2, 0, 1)
            margin_slot = np.full((last - first, 1), self.n_features)
            slot_feature = np.hstack(
                [np.asarray([distinct[leaf] for leaf in range(first, last)]), margin_slot]
            )
            self._groups.append(
                _WidthGroup(
                    first,
                    last,
                    int(u),
                    table,
                    np.ascontiguousarray(table.T),
                    self._scatter_matrix(slot_feature.T.reshape(-1)),
                    self._scatter_matrix(slot_feature.reshape(-1)),
                )
            )
        self.table_entries = needed

        # table row of every leaf = row start + Σ_d 2**d · [the row went the path's way at split d]:
        # with s = 1 for "went left", a left step adds 2**d·s and a right step 2**d·(1 − s).
        rows, cols, weights = [], [], []
        constant = row_start.astype(np.float64)
        for leaf, path in enumerate(leaf_path):
            for d, (split, went_right, _, _) in enumerate(path):
                rows.append(leaf)
                cols.append(split)
                weights.append(-(2.0**d) if went_right else 2.0**d)
                constant[leaf] += 2.0**d if went_right else 0.0
        # float32 counts table rows exactly below 2**24 (true within MAX_TABLE_ENTRIES) with half the traffic
        exact = np.float32 if constant.max(initial=0.0) + 2.0**self.max_depth < 2.0**24 else np.float64
        self._row_matrix = sparse.csr_array(
            (np.asarray(weights, dtype=exact), (rows, cols)), shape=(n_leaves, len(self._split_feature))
        )
        self._row_constant = constant.astype(exact)[:, None]

    def _scatter_matrix(self, feature_of_slot: np.ndarray) -> sparse.csr_array:
        n = len(feature_of_slot)
        return sparse.csr_array((np.ones(n), (feature_of_slot, np.arange(n))), shape=(self.n_features + 1, n))

    # -- evaluating -------------------------------------------------------------------------------
    def _as_float32(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64) if not isinstance(X, np.ndarray) else X
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise InvalidInput(
                f"expected {self.n_features} encoded columns, got shape {X.shape}", code="shape_mismatch"
            )
        # XGBoost compares float32 values; so do we, to take exactly its branches.
        return X.astype(np.float32, copy=False)

    def margin(self, X) -> np.ndarray:
        """Margin (log-odds) in float64 by walking every tree: base offset + the leaves reached."""
        X32 = self._as_float32(X)
        rows = np.arange(len(X32))[:, None]
        node = np.broadcast_to(self._roots, (len(X32), len(self._roots))).copy()
        for _ in range(self.max_depth):
            split = np.maximum(self._node_split[node], 0)  # leaves loop to themselves either way
            value = X32[rows, self._split_feature[split]]
            go_left = (value < self._split_threshold[split, 0]) | (
                np.isnan(value) & self._split_default_left[split, 0]
            )
            node = np.where(go_left, self._node_left[node], self._node_right[node])
        return self.base_offset + self._node_value[node].sum(axis=1)

    def explain(self, X, *, n_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(contributions (n, n_features), margin (n,)), float64. Large batches run in chunks on
        ``n_threads`` threads (default: all cores); numpy and scipy release the GIL in the loops."""
        X32 = self._as_float32(X)
        n = len(X32)
        contributions = np.empty((n, self.n_features))
        margin = np.empty(n)
        step = int(np.clip(_CHUNK_CELLS // max(1, len(self._leaf_value)), 8, 256))
        chunks = [slice(i, min(n, i + step)) for i in range(0, n, step)]
        threads = min(n_threads or _CORES, len(chunks))
        if threads <= 1:
            for chunk in chunks:
                self._explain_chunk(X32[chunk], contributions[chunk], margin[chunk])
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda c: self._explain_chunk(X32[c], contributions[c], margin[c]), chunks))
        return contributions, margin

    def contributions(self, X) -> np.ndarray:
        return self.explain(X)[0]

    def _explain_chunk(self, X32: np.ndarray, out: np.ndarray, margin_out: np.ndarray) -> None:
        n = len(X32)
        columns = np.ascontiguousarray(X32.T)  # (features, rows): the gathers below copy whole rows
        value = columns[self._split_feature]
        went_left = (value < self._split_threshold) | (np.isnan(value) & self._split_default_left)
        row = self._row_matrix @ went_left.astype(self._row_matrix.dtype)
        row += self._row_constant  # (leaves, rows): each leaf's table row, exact small integers
        row = row.astype(np.intp)
        total = np.zeros((self.n_features + 1, n))
        for group in self._groups:
            leaves = row[group.first : group.last]
            if n <= _FEW_ROWS:
                looked_up = np.take(group.by_row, leaves, axis=0, mode="clip")  # (leaves, n, slots)
                looked_up = looked_up.transpose(0, 2, 1).reshape(-1, n)
                total += group.scatter_by_row @ looked_up
            else:
                looked_up = np.take(group.by_feature, leaves, axis=1, mode="clip")  # (slots, leaves, n)
                total += group.scatter_by_feature @ looked_up.reshape(-1, n)
        out[:] = total[:-1].T
        margin_out[:] = self.base_offset + self._always_reached + total[-1]


def _base_offset(learner: Mapping) -> float:
    """The margin before any tree: ``base_score`` through the objective's link (as shap reads it)."""
    score = float(str(learner["learner_model_param"]["base_score"]).strip("[]").split(",")[0])
    objective = learner["objective"]["name"]
    if objective in ("binary:logistic", "reg:logistic"):
        return float(logit(score))
    if objective in ("binary:logitraw", "reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror"):
        return score
    raise InvalidInput(f"objective {objective} is not supported", code="unsupported_model")


def _distinct_feature_tables(z: np.ndarray, v: np.ndarray, u: int) -> np.ndarray:
    """Contributions of a path's ``u`` distinct features for each of the ``2**u`` patterns of which
    ones the row satisfies, for ``n`` leaves at once: (n, 2**u, u). With o_j the bit j of pattern q
    and z_j the product of cover ratios of the path's splits on feature j,

        φ_j(q) = v · (o_j − z_j) · Σ_{S ⊆ q∖{j}} |S|!(u−|S|−1)!/u! · Π_{i ∉ S∪{j}} z_i

    (Lundberg et al. 2020, Alg. 2, written per leaf); the sum over subsets of q is a subset-sum
    (zeta) transform of the per-S terms.
    """
    n = len(v)
    bits = ((np.arange(1 << u)[:, None] >> np.arange(u)[None, :]) & 1).astype(bool)  # (2**u, u)
    weight = np.array(
        [math.factorial(s) * math.factorial(u - s - 1) / math.factorial(u) for s in range(u)] + [0.0]
    )[bits.sum(axis=1)]
    terms = np.empty((n, 1 << u, u))
    for j in range(u):
        excluded = bits.copy()
        excluded[:, j] = True
        terms[:, :, j] = np.prod(np.where(excluded[None], 1.0, z[:, None, :]), axis=2) * weight
        terms[:, bits[:, j], j] = 0.0
    for b in range(u):
        view = terms.reshape(n, 1 << (u - b - 1), 2, 1 << b, u)
        view[:, :, 1] += view[:, :, 0]
    return v[:, None, None] * (bits[None] - z[:, None, :]) * terms


# -- folding and summarising ----------------------------------------------------------------------
def fold_to_sources(contributions: np.ndarray, source_index: np.ndarray, n_sources: int) -> np.ndarray:
    """Sum encoded-column contributions into their source columns (a one-hot group back into one
    column); ``source_index[i]`` is the source column of encoded column ``i``."""
    folding = np.zeros((len(source_index), n_sources))
    folding[np.arange(len(source_index)), source_index] = 1.0
    return np.atleast_2d(contributions) @ folding


def global_importance(contributions: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """Mean absolute contribution per column, largest first."""
    means = np.abs(np.atleast_2d(contributions)).mean(axis=0)
    return {names[i]: float(means[i]) for i in np.argsort(-means, kind="stable")}
