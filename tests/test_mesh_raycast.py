"""Ray queries: the bundled Embree bound directly (ctypes) and the embreex binding give the same first hits,
the checks give the same findings on either path, and Embree's failures become hospfab errors."""

from __future__ import annotations

import numpy as np
import pytest

import meshes as m
from hospfab.errors import HospfabError
from hospfab.mesh import Triangles, embree, raycast
from hospfab.mesh.analysis import analyse

needs_native = pytest.mark.skipif(embree.library() is None,
                                  reason="the Embree bundled with embreex cannot be loaded")


def soup(seed: int, count: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Random triangles (crossing, touching, slivers) in a 20 mm box: positions and faces."""
    rng = np.random.default_rng(seed)
    tri = rng.uniform(-10, 10, (count, 1, 3)) + rng.normal(0, 1.5, (count, 3, 3))
    tri[: count // 10, 2] = tri[: count // 10, 1] + rng.normal(0, 1e-3, (count // 10, 3))  # slivers
    positions = tri.reshape(-1, 3).astype(np.float32)
    return positions, np.arange(len(positions)).reshape(-1, 3)


def rays(seed: int, count: int = 20011) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    origins = rng.uniform(-12, 12, (count, 3))
    directions = rng.normal(size=(count, 3))
    directions /= np.linalg.norm(directions, axis=1)[:, None]
    return origins, directions, rng.uniform(0, 30, count)


@needs_native
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_native_and_embreex_first_hits_agree(seed):
    positions, faces = soup(seed)
    origins, directions, lengths = rays(seed + 10)  # not a multiple of 16: a part-filled last packet
    ids = np.random.default_rng(seed).permutation(len(faces)) + 7
    native = raycast.RayScene(positions, faces, ids, engine="native").first_hits(origins, directions,
                                                                                lengths)
    binding = raycast.RayScene(positions, faces, ids, engine="embreex").first_hits(origins, directions,
                                                                                  lengths)
    assert np.count_nonzero(native[0] >= 0) > len(origins) // 4  # the rays do hit things
    np.testing.assert_array_equal(native[0], binding[0])
    np.testing.assert_allclose(native[1], binding[1], rtol=1e-6)


@needs_native
def test_rays_from_near_to_far():
    """``near`` starts the rays part-way: the same hits as moving the origins, with t from the origin."""
    positions, faces = soup(3)
    origins, directions, lengths = rays(4)
    near = np.random.default_rng(5).uniform(0, 10, len(origins))
    for engine in ("native", "embreex"):
        scene = raycast.RayScene(positions, faces, engine=engine)
        prim, t = scene.first_hits(origins, directions * 2, lengths / 2, near=near / 2)
        moved, s = scene.first_hits(origins + directions * near[:, None], directions,
                                    np.maximum(lengths - near, 0))
        same = (prim >= 0) & (moved >= 0)
        assert np.count_nonzero(same) > len(origins) // 5
        assert np.mean(prim == moved) > 0.999  # float32 rounding of the moved origins may flip a grazing ray
        np.testing.assert_allclose((t * 2)[same & (prim == moved)], (s + near)[same & (prim == moved)],
                                   rtol=1e-4, atol=1e-4)


def facts(tris, min_wall_mm):
    tris = np.asarray(tris, np.float32)
    return analyse(Triangles(tris, np.zeros((len(tris), 3), np.float32), "binary"), min_wall_mm=min_wall_mm)


@needs_native
@pytest.mark.parametrize("make, wall", [
    (lambda: m.pulled_vertex_box(), None),
    (lambda: m.pushed_cap_sphere(), None),
    (lambda: m.hollow_box(0.25), 0.4),
    (lambda: m.fin_on_base(0.1), 0.4),
    (lambda: m.torus(4000), 0.4),
])
def test_checks_agree_on_both_paths(make, wall, monkeypatch):
    """The whole check, slab by slab, finds the same facets through embreex when the library is not there."""
    monkeypatch.setattr(raycast, "SLAB_FACETS", 300)
    tris = make()
    native = facts(tris, wall)
    monkeypatch.setattr(embree, "library", lambda: None)
    fallback = facts(tris, wall)
    assert native.self_intersections is not None and fallback.self_intersections is not None
    np.testing.assert_array_equal(native.self_intersections.facets, fallback.self_intersections.facets)
    if wall is not None:
        assert native.thin_walls is not None and fallback.thin_walls is not None
        np.testing.assert_array_equal(native.thin_walls.facets, fallback.thin_walls.facets)


def test_unloadable_library_falls_back_to_embreex(monkeypatch, tmp_path):
    broken = tmp_path / "libembree4.so.4"
    broken.write_bytes(b"not a shared library")
    monkeypatch.setattr(embree, "_candidates", lambda: [str(broken)])
    embree.library.cache_clear()
    try:
        assert embree.library() is None
        positions, faces = soup(6, 200)
        prim, _ = raycast.RayScene(positions, faces).first_hits(*rays(7, 500))
        assert np.count_nonzero(prim >= 0) > 0
        with pytest.raises(embree.RayCastError, match="cannot be loaded"):
            raycast.RayScene(positions, faces, engine="native").build()
    finally:
        embree.library.cache_clear()


@needs_native
def test_embree_failure_is_a_hospfab_error(monkeypatch):
    """An error Embree records (here: a build quality it refuses) is raised as RayCastError, not a crash."""
    monkeypatch.setattr(embree, "BUILD_QUALITY", 99)
    positions, faces = soup(8, 100)
    with pytest.raises(HospfabError) as caught:
        raycast.RayScene(positions, faces).first_hits(*rays(9, 100))
    assert isinstance(caught.value, embree.RayCastError)
    assert caught.value.code == "surface_checks_failed" and "Embree failed" in caught.value.message


@needs_native
def test_embree_failure_through_the_cli(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(embree, "BUILD_QUALITY", 99)
    path = m.write_binary(tmp_path / "sphere.stl", m.pushed_cap_sphere())
    out = cli("check", path, "--json")
    assert out.exit_code == 1
    (error,) = out.json()["errors"]
    assert error["code"] == "surface_checks_failed"


def test_vertex_buffer_reuses_a_padded_array():
    """Positions handed over as all but the spare last row of a float32 array are read in place."""
    padded = np.zeros((11, 3), np.float32)
    padded[:-1] = np.random.default_rng(0).normal(size=(10, 3))
    assert embree.vertex_buffer(padded[:-1]) is padded
    for other in (padded[:-2], padded[1:], padded.astype(np.float64)[:-1], padded[:-1].copy()):
        copied = embree.vertex_buffer(other)
        assert copied.shape == (len(other) + 1, 3) and copied.dtype == np.float32
        np.testing.assert_array_equal(copied[:-1], other)
        assert not np.shares_memory(copied, padded)


class _Tally:
    """What :func:`raycast.for_each_slab` did: each slab's facets, how many calls ran at once."""

    def __init__(self, fail_at: int | None = None):
        import threading

        self.lock = threading.Lock()
        self.facets: list[np.ndarray] = []
        self.running = self.most = self.calls = 0
        self.fail_at = fail_at
        self.both = threading.Barrier(2, timeout=20)  # the first two calls meet: they run at once
        # with a failure to come, the other calls take long and the failing one fails at once: the calls
        # that start after it are those already queued, not those a slow failure let the workers reach
        self.pause = 0.005 if fail_at is None else 0.2

    def __call__(self, slab: raycast.Slab) -> None:
        import time

        with self.lock:
            self.calls += 1
            call = self.calls
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            assert slab.scene.threads == 1  # the worker casts alone: both cores are already busy
            prim, _ = slab.scene.first_hits(*rays(call, 300))
            assert set(prim[prim >= 0]) <= set(slab.scene.ids)
            if call <= 2:
                self.both.wait()  # BrokenBarrierError if slabs were worked one at a time
            if call == self.fail_at:
                raise ValueError(f"slab {call} failed")
            time.sleep(self.pause)
            with self.lock:
                self.facets.append(slab.facets)
        finally:
            with self.lock:
                self.running -= 1


def test_for_each_slab_gives_every_facet_once_two_slabs_at_a_time():
    positions, faces = soup(3, 2000)
    tally = _Tally()
    raycast.for_each_slab(raycast.SlabPlan(positions, faces, 0.5, max_facets=150), tally)
    seen = np.concatenate(tally.facets)
    assert tally.calls == len(tally.facets) >= 13
    assert np.array_equal(np.sort(seen), np.arange(len(faces)))  # each facet's rays in one slab, once
    assert tally.most == 2 and tally.running == 0


def test_for_each_slab_raises_the_first_failure_after_the_running_calls_end():
    positions, faces = soup(4, 2000)
    tally = _Tally(fail_at=3)
    with pytest.raises(ValueError, match="slab 3 failed"):
        raycast.for_each_slab(raycast.SlabPlan(positions, faces, 0.5, max_facets=150), tally)
    assert tally.running == 0  # nothing still casting into arrays the caller is about to drop
    assert tally.calls <= 5  # no new slab started once the failure was seen (at most two were queued)


def test_analyse_leaves_no_work_running_when_it_fails(monkeypatch):
    """Work started on the second core (the slab plan here) has ended when analyse raises: a process may
    fork right after, and must not copy a thread that is inside Embree."""
    import time

    from hospfab.mesh import analysis

    ended = []
    real_plan = analysis.raycast.SlabPlan

    def slow_plan(*args):
        time.sleep(0.3)
        plan = real_plan(*args)
        ended.append(True)
        return plan

    def fail(*args, **kwargs):
        raise RuntimeError("a later stage failed")

    monkeypatch.setattr(analysis.raycast, "SlabPlan", slow_plan)
    monkeypatch.setattr(analysis, "_solid_checks", fail)
    with pytest.raises(RuntimeError, match="later stage"):
        facts(m.pushed_cap_sphere(), 0.4)
    assert ended == [True]


def test_one_scene_mesh_is_worked_in_the_calling_thread_with_split_batches():
    import threading

    positions, faces = soup(5, 100)
    where = []
    raycast.for_each_slab(raycast.SlabPlan(positions, faces, 0.5),
                          lambda slab: where.append((threading.get_ident(), slab.facets, slab.scene.threads)))
    assert where == [(threading.get_ident(), None, raycast._THREADS)]


_FORK_AFTER_A_CHECK = """
import os, signal, sys
import numpy as np
import meshes as m
from hospfab.mesh import Triangles, raycast
from hospfab.mesh.analysis import analyse

raycast.SLAB_FACETS = 300
tris = np.asarray(m.pushed_cap_sphere(), np.float32)

def check():
    return analyse(Triangles(tris, np.zeros((len(tris), 3), np.float32), "binary"), min_wall_mm=0.4)

before = check()  # the parent's pools now exist, with their threads
assert raycast._workers.cache_info().currsize == 1
pid = os.fork()
if pid == 0:  # the child: the same check, within 30 s, or a non-zero exit
    code = 1
    try:
        signal.alarm(30)
        found = check()
        code = 0 if np.array_equal(found.self_intersections.facets, before.self_intersections.facets) else 3
    finally:
        os._exit(code)
_, status = os.waitpid(pid, 0)
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 100 + os.WTERMSIG(status))
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork on this platform")
def test_a_forked_child_checks_with_threads_of_its_own():
    """A process that forks after a check (multiprocessing, a forking server, mutmut) gets pools whose
    threads stayed in the parent: the child must start its own instead of waiting forever (exit 114: the
    child's 30 s alarm rang). Run in a process of its own: inside this test process, after the tests before
    it, a forked child's first Embree build now and then waited forever inside TBB, Embree's thread library
    (both workers in tbb::thread_dispatcher::register_client; seen in 4 of about 60 runs of the mesh tests,
    in none of 290 forks of fresh processes; README, "Checking and repairing meshes")."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", _FORK_AFTER_A_CHECK], env=env, timeout=120,
                          capture_output=True, text=True)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
