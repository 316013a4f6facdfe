"""Mesh topology cases that the mutation run of ``hospfab.mesh.topology`` showed no other test pinned.

Each test states what it protects: the weld and the grouping stay exact on every path (hash collisions,
float64 ASCII coordinates, the lexicographic path for huge inputs, arrays whose memory held anything), and
the verdict of a whole analysis does not depend on the path the weld took."""

from __future__ import annotations

import numpy as np
import pytest

from hospfab.mesh import analysis, topology
from hospfab.mesh.stlio import Triangles
import meshes as m


def reference_ids(corners: np.ndarray) -> np.ndarray:
    """Vertex ids numbered by first occurrence, by a plain dict of coordinate bytes."""
    seen: dict[bytes, int] = {}
    return np.array([seen.setdefault(c.tobytes(), len(seen)) for c in corners])


def assert_same_partition(w: topology.Weld, corners: np.ndarray) -> None:
    """The weld groups corners exactly as the reference does (ids may be numbered differently), and each
    vertex's ``first`` is the first corner of its group."""
    ref = reference_ids(corners)
    assert w.count == ref.max() + 1 == len(np.unique(np.c_[w.ids, ref], axis=0))
    assert np.array_equal(w.first, [np.flatnonzero(w.ids == v)[0] for v in range(w.count)])
    assert np.array_equal(corners[w.first][w.ids], corners)


def float64_corner_sets() -> list[np.ndarray]:
    """ASCII STL is read as float64. In a box, every coordinate's low 32 bits are zero, so points that share
    x also share the first three 32-bit words of their coordinates: only all of the bits tell them apart."""
    return [m.with_duplicate(m.box()).reshape(-1, 3), m.box((20.0, 10.0, 5.0), (-5.0, 3.0, 0.0)).reshape(-1, 3)]


def all_corner_sets() -> list[np.ndarray]:
    return [*float64_corner_sets(), m.with_duplicate(m.box()).astype(np.float32).reshape(-1, 3),
            m.torus(300, noise=0.01, seed=2).reshape(-1, 3)]


def colliding(corners, idx_bits):
    """The same hash for every corner, index in the low bits: every corner but the first is checked."""
    return np.arange(len(corners), dtype=np.int64) | (np.int64(12345) << idx_bits)


@pytest.mark.parametrize("case", range(2))
def test_float64_weld_exact_when_hashes_collide(monkeypatch, case):
    corners = float64_corner_sets()[case]
    monkeypatch.setattr(topology, "_packed_hash", colliding)
    assert_same_partition(topology.weld(corners), corners)


@pytest.mark.parametrize("case", range(2))
def test_float64_weld_by_coordinates(monkeypatch, case):
    """The lexicographic path (past 2**39 corners, forced here) compares all 64 bits of each coordinate."""
    corners = float64_corner_sets()[case]
    monkeypatch.setattr(topology, "_bits", lambda n: 40)
    w = topology.weld(corners)
    ref = reference_ids(corners)
    assert np.array_equal(w.ids, ref) and w.count == ref.max() + 1


class PoisonedNumpy:
    """numpy, except that ``empty`` fills its arrays with one byte value: code that reads an element of an
    ``np.empty`` array before writing it gives a result that depends on that byte."""

    def __init__(self, byte: int) -> None:
        self._byte = byte

    def __getattr__(self, name):
        return getattr(np, name)

    def empty(self, shape, dtype=float, *args, **kwargs):
        out = np.empty(shape, dtype, *args, **kwargs)
        out.view(np.uint8).fill(self._byte)
        return out


@pytest.fixture(params=[0x00, 0xFF, 0x5A], ids=["zeros", "ones", "pattern"])
def poisoned(request, monkeypatch):
    monkeypatch.setattr(topology, "np", PoisonedNumpy(request.param))


@pytest.mark.parametrize("path", ["hash", "collisions", "coordinates"])
def test_weld_never_reads_unwritten_memory(poisoned, monkeypatch, path):
    if path == "collisions":
        monkeypatch.setattr(topology, "_packed_hash", colliding)
    elif path == "coordinates":
        monkeypatch.setattr(topology, "_bits", lambda n: 40)
    for corners in all_corner_sets():
        w = topology.weld(corners)
        assert_same_partition(w, corners)
        if path != "collisions":  # without collisions, vertices are numbered by first occurrence
            assert np.array_equal(w.ids, reference_ids(corners))


def assert_groups_like_unique(ids: np.ndarray, count: int, keys: np.ndarray) -> None:
    ref = np.unique(keys, return_inverse=True)[1].reshape(-1)
    assert len(ids) == len(keys) and count == ref.max() + 1 == len(np.unique(np.c_[ids, ref], axis=0))
    assert ids.min() == 0 and ids.max() == count - 1


@pytest.mark.parametrize("mult", [None, 0, 1], ids=["hash", "one-group", "identity"])
def test_group_ids_never_reads_unwritten_memory(poisoned, monkeypatch, mult):
    """A single hash for all keys (every key after the first re-numbered) and the identity hash (a few
    groups collide) give the exact grouping whatever ``np.empty`` returned."""
    if mult is not None:
        monkeypatch.setattr(topology, "_HASH_MULT", np.uint64(mult))
    keys = np.random.default_rng(11).integers(0, 40, size=500).astype(np.int64) * 3
    assert_groups_like_unique(*topology.group_ids(keys), keys)
    two = np.array([7, 7, 3, 3, 7], np.int64)  # two keys: one keeps the group's id, one gets a new one
    ids, count = topology.group_ids(two)
    assert count == 2 and ids[0] == ids[1] == ids[4] != ids[2] == ids[3]


def test_group_ids_collision_between_the_first_two_sorted_keys(monkeypatch):
    """With the identity hash, ``k >> 5`` is the hash of 12 keys: 0 and 1 collide and sort to positions 0
    and 1, the first pair the full-key pass compares; no other keys collide."""
    monkeypatch.setattr(topology, "_HASH_MULT", np.uint64(1))
    keys = np.array([1, 0, 64, 128, 192, 256, 320, 384, 448, 512, 576, 640], np.int64)
    ids, count = topology.group_ids(keys)
    assert count == 12 and sorted(ids.tolist()) == list(range(12))


@pytest.mark.parametrize("size", [100, 5000])
def test_group_ids_are_int32_on_the_hash_path(size):
    """Below 2**31 keys the ids are int32 (the documented dense ids, half the memory of np.unique's)."""
    keys = np.arange(size, dtype=np.int64) % 37
    ids, count = topology.group_ids(keys)
    assert ids.dtype == np.int32 and count == 37
    assert_groups_like_unique(ids, count, keys)


def facts_summary(tri: Triangles) -> dict:
    f = analysis.analyse(tri)
    e = f.edges
    return {"edges": (e.edges, e.open, e.non_manifold, e.inconsistent), "welding": f.welding,
            "degenerate": f.degenerate_faces, "duplicate": f.duplicate_faces, "bodies": f.bodies,
            "shells": f.shells, "volume": round(f.volume_mm3, 6), "inverted": f.inverted_bodies,
            "closed": f.closed}


def verdict_meshes() -> list[np.ndarray]:
    return [m.with_duplicate(m.box()), m.edge_sharing_boxes(), m.flipped(m.box(), [0]), m.without(m.box(), 4),
            m.with_crack(m.box(), 1e-12), np.concatenate([m.box(), m.box(origin=(30.0, 0.0, 0.0))]),
            np.concatenate([m.box(), m.flipped(m.box()[:1])])]


@pytest.mark.parametrize("fmt", ["ascii", "binary"])
@pytest.mark.parametrize("path", ["collisions", "coordinates"])
def test_analysis_is_the_same_on_every_weld_path(monkeypatch, fmt, path):
    """Open, non-manifold and inconsistent edges, duplicates, cracks closed by tolerance and bodies come
    out the same when every hash collides or when the huge-input paths (lexicographic weld, np.unique
    grouping) are taken, for float64 (ASCII) and float32 (binary) coordinates."""
    dtype = np.float64 if fmt == "ascii" else np.float32
    tris = [Triangles(t.astype(dtype), np.zeros((len(t), 3), np.float32), fmt) for t in verdict_meshes()]
    expected = [facts_summary(t) for t in tris]
    assert [e["edges"][1:] for e in expected[:4]] == [(0, 0, 0), (0, 1, 0), (0, 0, 3), (3, 0, 0)]
    assert expected[0]["duplicate"] == expected[6]["duplicate"] == 1 and expected[5]["bodies"] == 2
    if fmt == "ascii":  # a 1e-12 mm crack survives float64 only; float32 rounds it away
        assert expected[4]["welding"]["merged_by_tolerance"] == 1 and expected[4]["closed"]
    if path == "collisions":
        monkeypatch.setattr(topology, "_packed_hash", colliding)
    else:
        monkeypatch.setattr(topology, "_bits", lambda n: 40)
    assert [facts_summary(t) for t in tris] == expected


def reference_components(node_count: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each node's component label, the smallest node id in it, by a plain union-find."""
    parent = list(range(node_count))

    def root(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for u, v in zip(a.tolist(), b.tolist()):
        ru, rv = root(u), root(v)
        parent[max(ru, rv)] = min(ru, rv)
    return np.array([root(x) for x in range(node_count)])


def graphs() -> list[tuple[int, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(17)
    chain = np.arange(40)
    shuffled = rng.permutation(60)
    out = [
        (40, chain[1:], chain[:-1]),  # a path: many rounds of hooking
        (40, chain[:-1][::-1].copy(), chain[1:][::-1].copy()),  # the same path, edges given the other way
        (60, shuffled[:-1], shuffled[1:]),  # a path through the nodes in random order
        (30, np.zeros(29, int), np.arange(1, 30)),  # a star
        (12, np.array([3, 7, 7, 11]), np.array([5, 5, 9, 1])),  # two components and isolated nodes
        (5, np.zeros(0, int), np.zeros(0, int)),  # no edges: every node is its own component
    ]
    for n in (50, 300):
        e = rng.integers(0, n, size=(n // 2 + 5, 2))
        out.append((n, e[:, 0], e[:, 1]))
    return out


@pytest.mark.parametrize("case", range(8))
def test_components_label_each_node_with_its_smallest_node(case):
    """Bodies, shells and crack closing all rest on these labels: every node gets the smallest id of its
    connected component, whatever the order and direction of the edges."""
    n, a, b = graphs()[case]
    labels = topology.components(n, a, b)
    assert labels.tolist() == reference_components(n, a, b).tolist()


def grid_corners(dtype) -> np.ndarray:
    """Points of a 12 x 12 x 12 grid, each twice: many share two of their three coordinates."""
    g = np.stack(np.meshgrid(*[np.arange(12) * 2.5] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    return np.concatenate([g, g[::-1]]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weld_hash_tells_points_apart(monkeypatch, dtype):
    """The weld's hash mixes all three coordinates: points of a grid (sharing x, y or z) and of a noisy
    torus get distinct hashes, so no corner needs the slow collision pass (it is meant for about one pair
    per million vertices)."""
    calls = []
    real = topology._split_misfits
    monkeypatch.setattr(topology, "_split_misfits", lambda *a: calls.append(len(a[2])) or real(*a))
    for corners in (grid_corners(dtype), m.torus(4000, noise=0.01, seed=3).astype(dtype).reshape(-1, 3)):
        w = topology.weld(corners)
        assert np.array_equal(w.ids, reference_ids(corners))
    assert calls == []


def test_group_ids_hash_separates_keys_that_differ_in_their_high_bits(monkeypatch):
    """Duplicate-facet keys are ``(a * V + b) * V + c``: facets that differ in their first vertex only
    differ in the key's high bits. The hash's top bits (those kept) still tell them apart: no key needs the
    collision pass."""
    calls = []
    real = topology._split_collisions
    monkeypatch.setattr(topology, "_split_collisions", lambda *a: calls.append(1) or real(*a))
    keys = np.arange(1, 5001, dtype=np.int64) << 40
    ids, count = topology.group_ids(np.r_[keys, keys[:100]])
    assert count == 5000 and calls == []
    assert np.array_equal(ids[5000:], ids[:100])


@pytest.mark.parametrize("chunk", [4, 7])
def test_weld_finds_collisions_in_every_chunk(monkeypatch, chunk):
    """The bit-for-bit pass runs chunk by chunk over all corners: with every hash colliding and tiny
    chunks, corners far past the first chunks are still told apart."""
    monkeypatch.setattr(topology, "_CHUNK", chunk)
    monkeypatch.setattr(topology, "_packed_hash", colliding)
    for corners in all_corner_sets():
        assert_same_partition(topology.weld(corners), corners)


def tetrahedron(p: int, q: int, r: int, s: int) -> np.ndarray:
    """A closed, consistently wound tetrahedron on vertex ids p, q, r, s (int32 ids, as the weld gives)."""
    return np.array([[p, r, q], [p, q, s], [p, s, r], [q, r, s]], np.int32)


def test_closed_edge_count_of_many_vertices_keeps_edges_apart():
    """Edge keys are ``lo * V + hi`` in int64: with 131072 vertices, ``32769 * V`` does not fit in int32
    (the ids' type) and must not wrap onto ``1 * V``. The tetrahedron's facet (p, q, s) is moved from
    vertex 1 to vertex 32769: four open edges, so the mesh is not closed."""
    v = 1 << 17
    closed = tetrahedron(1, 40000, 40001, 40002)
    assert topology.closed_edge_count(closed, v) == 6
    torn = closed.copy()
    torn[1, 0] = 32769
    assert topology.closed_edge_count(torn, v) is None
    stats = topology.edge_stats(topology.edge_keys(torn, v))
    assert (stats.edges, stats.open, stats.non_manifold, stats.inconsistent) == (8, 4, 0, 0)


@pytest.mark.parametrize("path", ["hash", "collisions"])
def test_weld_ids_are_int32(monkeypatch, path):
    """The weld's ids and first corners are int32 below 2**31 corners (the documented type: a 1.3M-facet
    mesh's facet table stays 16 MB, and the ray scenes take it as it is)."""
    if path == "collisions":
        monkeypatch.setattr(topology, "_packed_hash", colliding)
    for corners in all_corner_sets():
        w = topology.weld(corners)
        assert w.ids.dtype == np.int32 and w.first.dtype == np.int32
