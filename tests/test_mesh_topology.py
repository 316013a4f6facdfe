"""The fast paths of the mesh topology: exact welding (also when hashes collide), the closed-mesh edge test
and the bodies' box sweep, each checked against a slow, obviously correct reference."""

from __future__ import annotations

import numpy as np
import pytest

from hospfab.mesh import analysis, topology
import meshes as m


def reference_ids(corners: np.ndarray) -> np.ndarray:
    """Vertex ids numbered by first occurrence, by a plain dict of coordinate bytes."""
    seen: dict[bytes, int] = {}
    return np.array([seen.setdefault(c.tobytes(), len(seen)) for c in corners])


def corner_sets() -> list[np.ndarray]:
    tris = m.torus(600, noise=0.01, seed=1)
    signed_zero = m.box(origin=(-5.0, -5.0, -5.0)).astype(np.float32)
    signed_zero[0, 0, 0] = -0.0  # -0.0 and 0.0 are different bits: not welded exactly
    return [tris.astype(np.float32).reshape(-1, 3), tris.reshape(-1, 3), signed_zero.reshape(-1, 3),
            m.with_duplicate(m.box()).astype(np.float32).reshape(-1, 3)]


@pytest.mark.parametrize("case", range(4))
def test_weld_matches_reference_numbering(case):
    corners = corner_sets()[case]
    w = topology.weld(corners)
    ref = reference_ids(corners)
    assert np.array_equal(w.ids, ref) and w.count == ref.max() + 1
    assert np.array_equal(w.first, [np.flatnonzero(ref == v)[0] for v in range(w.count)])


@pytest.mark.parametrize("case", range(4))
def test_weld_stays_exact_when_every_hash_collides(monkeypatch, case):
    corners = corner_sets()[case]

    def colliding(corners, idx_bits):  # the same hash for every corner, index in the low bits
        return np.arange(len(corners), dtype=np.int64) | (np.int64(12345) << idx_bits)

    monkeypatch.setattr(topology, "_packed_hash", colliding)
    assert_same_partition(topology.weld(corners), corners)


def assert_same_partition(w: topology.Weld, corners: np.ndarray) -> None:
    """The weld groups corners exactly as the reference does (ids may be numbered differently)."""
    ref = reference_ids(corners)
    assert w.count == ref.max() + 1 == len(np.unique(np.c_[w.ids, ref], axis=0))
    assert np.array_equal(w.first, [np.flatnonzero(w.ids == v)[0] for v in range(w.count)])


def test_weld_splits_only_the_groups_a_short_hash_merged(monkeypatch):
    corners = corner_sets()[0]
    real = topology._packed_hash

    def two_bit_hash(corners, idx_bits):  # four hash values: every group mixes many points
        packed = real(corners, idx_bits)
        return (packed & ((1 << idx_bits) - 1)) | ((packed >> 61) << idx_bits)

    monkeypatch.setattr(topology, "_packed_hash", two_bit_hash)
    assert_same_partition(topology.weld(corners), corners)


def slow_edge_stats(faces: np.ndarray) -> tuple[int, int, int, int]:
    uses: dict[tuple[int, int], list[bool]] = {}
    for f in faces:
        for a, b in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0])):
            uses.setdefault((min(a, b), max(a, b)), []).append(a < b)
    counts = [len(u) for u in uses.values()]
    inconsistent = sum(1 for u in uses.values() if len(u) == 2 and u[0] == u[1])
    return len(uses), counts.count(1), sum(c > 2 for c in counts), inconsistent


@pytest.mark.parametrize("tris", [
    m.torus(400), m.box(), m.without(m.torus(400), 3), m.flipped(m.torus(400), [2]),
    m.edge_sharing_boxes(), m.with_duplicate(m.box()), np.concatenate([m.box(), m.flipped(m.box())]),
])
def test_closed_edge_count_agrees_with_full_edge_stats(tris):
    w = topology.weld(tris.reshape(-1, 3))
    faces = w.ids.reshape(-1, 3)
    edges, open_, many, inconsistent = slow_edge_stats(faces)
    stats = topology.edge_stats(topology.edge_keys(faces, w.count))
    assert (stats.edges, stats.open, stats.non_manifold, stats.inconsistent) == (edges, open_, many, inconsistent)
    fast = topology.closed_edge_count(faces, w.count)
    assert fast == (edges if open_ == many == inconsistent == 0 else None)


def test_box_sweep_finds_exactly_the_overlapping_pairs():
    rng = np.random.default_rng(7)
    lo = rng.uniform(0, 100, (300, 3))
    hi = lo + rng.uniform(0.5, 12, (300, 3))
    lo[5], hi[5] = lo[4], hi[4]  # identical boxes
    candidates = np.flatnonzero(rng.random(300) > 0.1)
    brute = [(int(a), int(b)) for i, a in enumerate(candidates) for b in candidates[i + 1:]
             if np.all(lo[a] < hi[b]) and np.all(lo[b] < hi[a])]
    assert brute and analysis._box_overlaps(lo, hi, candidates) == brute


def reference_partition(keys: np.ndarray) -> np.ndarray:
    return np.unique(keys, return_inverse=True)[1].reshape(-1)


def assert_groups_like_unique(ids: np.ndarray, count: int, keys: np.ndarray) -> None:
    ref = reference_partition(keys)
    assert len(ids) == len(keys) and count == ref.max() + 1 == len(np.unique(np.c_[ids, ref], axis=0))
    assert ids.min() == 0 and ids.max() == count - 1


def test_group_ids_of_nothing():
    ids, count = topology.group_ids(np.zeros(0, np.int64))
    assert count == 0 and ids.dtype == np.int32 and ids.shape == (0,)


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_group_ids_matches_unique_across_chunks(dtype):
    rng = np.random.default_rng(3)
    keys = rng.integers(-2000, 2000, size=(1 << 16) + 4000).astype(dtype)  # more than one chunk
    ids, count = topology.group_ids(keys)
    assert_groups_like_unique(ids, count, keys.astype(np.int64))


def test_group_ids_hash_separates_distinct_keys(monkeypatch):
    """Distinct keys get distinct hash prefixes (no collision pass): the hash bits are really used."""
    calls = []
    real = topology._split_collisions
    monkeypatch.setattr(topology, "_split_collisions", lambda *a: calls.append(1) or real(*a))
    keys = np.arange(5000, dtype=np.int64) * 7919
    ids, count = topology.group_ids(np.r_[keys, keys[::-1]])
    assert count == 5000 and calls == []
    assert np.array_equal(ids[:5000], ids[5000:][::-1])


def test_group_ids_plain_unique_for_huge_inputs(monkeypatch):
    """Past 2**39 elements the index no longer leaves room for the hash: plain np.unique (forced here)."""
    monkeypatch.setattr(topology, "_bits", lambda n: 40)
    keys = np.array([5, -3, 5, 9, -3, 5], np.int64)
    assert_groups_like_unique(*topology.group_ids(keys), keys)


def test_group_ids_splits_every_hash_collision(monkeypatch):
    """A hash that maps every key to one value: the full-key pass splits all groups exactly."""
    monkeypatch.setattr(topology, "_HASH_MULT", np.uint64(0))
    keys = np.random.default_rng(5).integers(0, 50, size=3000).astype(np.int64)
    assert_groups_like_unique(*topology.group_ids(keys), keys)


def test_group_ids_finds_a_collision_at_a_chunk_boundary(monkeypatch):
    """The full-key pass overlaps its chunks by one: two keys sharing a hash on either side of a chunk
    boundary are still split. With the identity hash, ``k >> 5`` (12 keys) is the hash: 192 and 193 collide
    and sort to positions 3 and 4, across the first 4-element chunk."""
    monkeypatch.setattr(topology, "_HASH_MULT", np.uint64(1))
    monkeypatch.setattr(topology, "_CHUNK", 4)
    keys = np.array([0, 64, 128, 192, 193, 256, 320, 384, 448, 512, 576, 640], np.int64)
    ids, count = topology.group_ids(keys[::-1].copy())
    assert count == 12 and sorted(ids.tolist()) == list(range(12))
    later = np.r_[keys[:8], keys[8] + 1, keys[8] + 2, keys[10:]]  # the collision in a later chunk only
    ids, count = topology.group_ids(later)
    assert count == len(set(later.tolist())) == 12


def edge(a: int, b: int, vertex_count: int = 10) -> int:
    return ((min(a, b) * vertex_count + max(a, b)) << 1) | (a > b)


def test_open_edge_vertices_first_and_last_edges_and_shared_ones():
    """Single edges at both ends of the sorted order count; an edge used twice (either direction) does not."""
    keys = np.array([edge(9, 8), edge(4, 5), edge(0, 1), edge(5, 4)], np.int64)
    assert topology.open_edge_vertices(keys, 10).tolist() == [0, 1, 8, 9]
    closed = np.array([edge(2, 3), edge(3, 2), edge(6, 7), edge(6, 7)], np.int64)
    assert topology.open_edge_vertices(closed, 10).tolist() == []
    assert topology.open_edge_vertices(np.array([edge(3, 7)], np.int64), 10).tolist() == [3, 7]


def test_close_cracks_merges_two_candidates_within_tolerance():
    positions = np.array([[0, 0, 0], [5, 0, 0], [0.0005, 0, 0], [9, 9, 9]], np.float32)
    ids = np.array([0, 1, 2, 2, 3], np.int32)
    merged, remap = topology.close_cracks(ids, positions, np.array([0, 2]), 0.001)
    assert merged == 1 and ids.tolist() == [0, 1, 0, 0, 3] and remap.tolist() == [0, 1, 0, 3]
    assert ids.dtype == remap.dtype == np.int32
    ids = np.array([0, 1, 2], np.int32)
    assert topology.close_cracks(ids, positions, np.array([0, 1]), 0.001) == (0, None)
    assert topology.close_cracks(ids, positions, np.array([2]), 0.001) == (0, None)
    assert topology.close_cracks(ids, positions, np.array([], np.int64), 0.001) == (0, None)
    assert ids.tolist() == [0, 1, 2]


@pytest.mark.parametrize("case", range(4))
def test_weld_by_coordinates_for_huge_inputs(monkeypatch, case):
    """Past 2**39 corners the index leaves no room for a hash: the lexicographic sort (forced here) welds
    the same way, numbered by first occurrence."""
    corners = corner_sets()[case]
    monkeypatch.setattr(topology, "_bits", lambda n: 40)
    w = topology.weld(corners)
    ref = reference_ids(corners)
    assert np.array_equal(w.ids, ref) and w.count == ref.max() + 1
    assert np.array_equal(w.first, [np.flatnonzero(ref == v)[0] for v in range(w.count)])


def test_exact_weld_returns_ids_and_count():
    corners = corner_sets()[3]
    ids, count = topology.exact_weld(corners)
    ref = reference_ids(corners)
    assert np.array_equal(ids, ref) and count == ref.max() + 1


@pytest.mark.parametrize("keys, stats", [
    ([edge(1, 2), edge(2, 1)], (1, 0, 0, 0)),  # the smallest closed edge: one edge, used twice
    ([edge(1, 2), edge(1, 2)], (1, 0, 0, 1)),  # twice in the same direction
    ([edge(1, 2)], (1, 1, 0, 0)),
    ([edge(1, 2), edge(2, 1), edge(1, 2)], (1, 0, 1, 0)),
])
def test_edge_stats_of_the_smallest_inputs(keys, stats):
    s = topology.edge_stats(np.array(keys, np.int64))
    assert (s.edges, s.open, s.non_manifold, s.inconsistent) == stats


@pytest.mark.parametrize("chunk", [2, 3, 5, 1 << 16])
def test_edge_stats_across_chunk_boundaries(monkeypatch, chunk):
    """Runs of equal edges that straddle the chunked comparison's boundaries are counted once."""
    from collections import Counter

    monkeypatch.setattr(topology, "_CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    pairs = rng.integers(0, 6, size=(60, 2))
    keys = np.array([edge(int(a), int(b)) for a, b in pairs if a != b], np.int64)
    runs = Counter(int(k) >> 1 for k in keys)
    ways = Counter(int(k) for k in keys)
    s = topology.edge_stats(keys.copy())
    assert s.edges == len(runs) and s.open == sum(n == 1 for n in runs.values())
    assert s.non_manifold == sum(n >= 3 for n in runs.values())
    assert s.inconsistent == sum(n == 2 and ways[(u << 1)] != 1 for u, n in runs.items())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weld_of_no_corners(dtype):
    w = topology.weld(np.zeros((0, 3), dtype))
    assert w.count == 0 and w.ids.shape == w.first.shape == (0,)
    assert w.ids.dtype == w.first.dtype == np.int32


def test_weld_of_one_corner():
    w = topology.weld(np.array([[1.0, 2.0, 3.0]], np.float32))
    assert w.count == 1 and w.ids.tolist() == [0] and w.first.tolist() == [0]


@pytest.mark.parametrize("chunk", [2, 3, 7])
def test_weld_with_tiny_chunks(monkeypatch, chunk):
    """Group starts found chunk by chunk: a group that straddles a chunk boundary stays one vertex."""
    monkeypatch.setattr(topology, "_CHUNK", chunk)
    corners = m.with_duplicate(m.box()).astype(np.float32).reshape(-1, 3)
    w = topology.weld(corners)
    ref = reference_ids(corners)
    assert np.array_equal(w.ids, ref) and w.count == ref.max() + 1
    ids, count = topology.group_ids(np.array([5, 5, 5, 1, 1, 9, 5, 9, 1, 1, 1], np.int64))
    assert count == 3 and len(set(ids[[0, 1, 2, 6]].tolist())) == 1 and len(set(ids[[3, 4, 8, 9, 10]].tolist())) == 1
