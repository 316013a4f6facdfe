"""Registration of a scan onto its reference: a global search independent of the starting pose, then ICP.

Why this design (see FIELD-NOTES, "3D registration"): PCA frames + 24 cube rotations, and FPFH + RANSAC,
both converged to a wrong pose on nearly symmetric parts; many random starts + ICP found the right pose but
were slow when each start ran a full ICP. Here every start is cheap and they all run at once:

1. **Candidates**: the 24 proper rotations taking the scan's PCA frame onto the reference's, plus
   ``random_starts`` rotations spread over SO(3), each with the centroids matched; the same again for the
   mirrored scan (so a mirrored print is recognised, not forced into a wrong pose).
2. **Coarse to fine**: all candidates run a few trimmed point-to-point ICP steps together (batched Kabsch on
   a few hundred scan points against a dense sample of the reference); the best distinct poses continue
   with more points; the last few are refined by point-to-plane ICP against the exact triangles and scored
   on a large share of the scan with a truncated mean distance (every point counts, outliers are capped).
   Point-to-plane ICP trims loosely first, then at 3 sigma: a tight trim from the start can lock a pose a
   few degrees off (it drops the very points that would pull it back).
3. **Near symmetries**: a nearly symmetric part (the corpus propeller: 14 blades, each turn by 25.7 deg
   almost maps it onto itself) has as many nearly equal basins, and the search above keeps only a few of
   them: a pose one blade off would leave a few % of a good scan out of tolerance. So the reference is first
   aligned onto itself (starts every few degrees about its principal axes, and its 24 PCA-frame flips); the
   self-alignments that fit almost as well as the identity are its near symmetries. The best pose of each
   handedness is then tried in every symmetric image, each refined by point-to-plane ICP against the exact
   triangles, and the lowest truncated mean distance on the exact triangles wins.
4. **Scale**: from the rigid pose, a point-to-plane fit with one more unknown (uniform scale) measures
   shrinkage; the deviations themselves are measured on the rigid pose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import permutations, product
from typing import Any

import numpy as np

from hospfab.inspect.distance import SurfaceIndex
from hospfab.inspect.tolerances import RegistrationSettings

MIRROR = np.diag([-1.0, 1.0, 1.0])


@dataclass
class Pose:
    """``x -> scale * rotation @ (mirror @ x) + translation`` (mirror only when ``mirrored``)."""

    rotation: np.ndarray
    translation: np.ndarray
    mirrored: bool = False
    scale: float = 1.0
    score: float = float("inf")
    history: list[str] = field(default_factory=list)

    def apply(self, points: np.ndarray) -> np.ndarray:
        pts = points @ MIRROR.T if self.mirrored else points
        return self.scale * (pts @ self.rotation.T) + self.translation

    def matrix(self) -> np.ndarray:
        out = np.eye(4)
        out[:3, :3] = self.scale * self.rotation @ (MIRROR if self.mirrored else np.eye(3))
        out[:3, 3] = self.translation
        return out


def rotation_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle of the rotation taking ``a`` to ``b`` (degrees)."""
    cos = (np.trace(a.T @ b) - 1) / 2
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def random_rotations(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` rotations uniformly distributed over SO(3) (random unit quaternions)."""
    q = rng.normal(size=(count, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], axis=-1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], axis=-1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=-1),
    ], axis=1)  # fmt: skip


def _frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centre = points.mean(axis=0)
    _, vectors = np.linalg.eigh(np.cov((points - centre).T))
    return centre, vectors


def _pca_rotations(scan_frame: np.ndarray, ref_frame: np.ndarray) -> np.ndarray:
    out = []
    for perm in permutations(range(3)):
        for signs in product((1.0, -1.0), repeat=3):
            s = np.zeros((3, 3))
            s[range(3), perm] = signs
            r = ref_frame @ s @ scan_frame.T
            if np.linalg.det(r) > 0:
                out.append(r)
    return np.array(out)


def _kabsch(src: np.ndarray, dst: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched weighted Kabsch: (C, n, 3) pairs -> rotations (C, 3, 3), translations (C, 3)."""
    wsum = weights.sum(axis=1, keepdims=True) + 1e-12
    ms = (weights[..., None] * src).sum(axis=1) / wsum
    md = (weights[..., None] * dst).sum(axis=1) / wsum
    h = np.einsum("cni,cnj->cij", weights[..., None] * (src - ms[:, None]), dst - md[:, None])
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.transpose(vt, (0, 2, 1)) @ np.transpose(u, (0, 2, 1))))
    d[d == 0] = 1.0
    fix = np.tile(np.eye(3), (len(h), 1, 1))
    fix[:, 2, 2] = d
    rot = np.transpose(vt, (0, 2, 1)) @ fix @ np.transpose(u, (0, 2, 1))
    return rot, md - np.einsum("cij,cj->ci", rot, ms)


class Registration:
    """Align scan points onto ``surface`` (a :class:`SurfaceIndex` of the reference)."""

    def __init__(self, surface: SurfaceIndex, settings: RegistrationSettings | None = None, seed: int = 0) -> None:
        from scipy.spatial import cKDTree

        self.surface = surface
        self.settings = settings or RegistrationSettings()
        self.rng = np.random.default_rng(seed)
        self.ref_points, self.ref_normals = surface.sample(self.settings.reference_samples, self.rng)
        self.ref_tree = cKDTree(self.ref_points)
        self.ref_spacing = float(np.sqrt(surface.areas.sum() / len(self.ref_points)))
        self.ref_centre, self.ref_frame = _frame(self.ref_points)
        self.cap = float(np.clip(self.settings.score_cap_share * surface.diagonal, *self.settings.score_cap_mm))
        self.seed = seed
        self._symmetries: list[tuple[np.ndarray, np.ndarray]] | None = None

    # ---- public ------------------------------------------------------------------------------------------

    def align(self, scan: np.ndarray) -> dict[str, Pose]:
        """Best proper pose (``"direct"``) and best mirrored pose (``"mirrored"``) of ``scan`` (n, 3)."""
        s = self.settings
        candidates = self._candidates(scan)
        for stage, (points, keep, steps) in enumerate(((s.coarse_points, s.coarse_keep, s.coarse_steps),
                                                       (s.coarse_points, s.shift_keep, s.coarse_steps),
                                                       (s.medium_points, s.medium_keep, s.medium_steps))):  # fmt: skip
            if stage == 1:
                candidates = self._shifted(candidates)
            sub = self._subset(scan, points)
            candidates = self._icp_batch(sub, candidates, steps)
            score_sub = self._subset(scan, points * 2)
            for pose, score in zip(candidates, self._score_batch(score_sub, candidates), strict=True):
                pose.score = score
            candidates = self._distinct(candidates, keep)
        fine = self._subset(scan, s.fine_points)
        out: dict[str, Pose] = {}
        for mirrored, name in ((False, "direct"), (True, "mirrored")):
            refined = []
            for pose in [c for c in candidates if c.mirrored == mirrored][: s.fine_keep]:
                pose = self.refine(fine, pose, exact=False)
                pose.score = float(self._score_batch(fine, [pose])[0])
                refined.append(pose)
            # nearly symmetric parts (a propeller turned by one blade) differ in a few % of the points:
            # the last word goes to the exact triangles
            best = None
            for pose in sorted(refined, key=lambda p: p.score)[: s.exact_keep]:
                pose = self.refine(fine, pose, steps=s.exact_steps)
                pose.score = self.score(fine, pose)
                if best is None or pose.score < best.score:
                    best = pose
            if best is not None:
                out[name] = self._symmetric(scan, fine, best)
        return out

    def symmetries(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Near symmetries of the reference, ``x -> rotation @ x + translation`` (identity excluded): its
        sample aligned onto itself from rotations about its principal axes every ``symmetry_step_deg`` and
        from its 24 PCA-frame flips; a self-alignment scoring under ``symmetry_score_share`` of the score cap
        (the identity scores 0) is one. Computed once per reference."""
        if self._symmetries is None:
            s = self.settings
            c = self.ref_centre
            angles = np.radians(np.arange(s.symmetry_step_deg, 360.0 - 1e-9, s.symmetry_step_deg))
            rots = [_pca_rotations(self.ref_frame, self.ref_frame)]
            rots += [np.array([_rodrigues(self.ref_frame[:, axis] * a) for a in angles]) for axis in range(3)]
            poses = [Pose(r, c - r @ c) for r in np.concatenate(rots)]
            rng = np.random.default_rng(self.seed + 1)  # independent of the scan's own random draws
            for count, steps in ((s.coarse_points * 2, s.coarse_steps), (s.medium_points, s.medium_steps)):
                sub = self.ref_points[rng.choice(len(self.ref_points), size=count, replace=False)]
                poses = self._icp_batch(sub, poses, steps)
                score_sub = self.ref_points[rng.choice(len(self.ref_points), size=2 * count, replace=False)]
                for pose, score in zip(poses, self._score_batch(score_sub, poses), strict=True):
                    pose.score = score
                poses = self._distinct(poses, s.symmetry_max + 1)
            limit = s.symmetry_score_share * self.cap
            self._symmetries = [(p.rotation, p.translation) for p in poses
                                if p.score < limit and not self._is_identity(p)][: s.symmetry_max]  # fmt: skip
        return self._symmetries

    def refine(self, scan: np.ndarray, pose: Pose, *, with_scale: bool = False, steps: int | None = None,
               exact: bool = True) -> Pose:
        """Point-to-plane ICP (with a uniform scale when ``with_scale``): against the exact triangles, or
        (``exact=False``, faster) against the reference sample and its normals.

        Trimmed coarse to fine: the first half of the steps keeps every point within ``loose_trim_share`` of
        the score cap, the rest trims at 3 sigma (at least ``trim_share`` of the cap). A tight trim from the
        start can lock a pose a few degrees off: the points it moves off the surface (blade edges, a hub's
        rim) are dropped as outliers instead of pulling it back; the loose steps let them pull."""
        s = self.settings
        rot, trans, scale = pose.rotation.copy(), pose.translation.copy(), pose.scale
        base = scan @ MIRROR.T if pose.mirrored else scan
        total = steps or s.fine_steps
        loose = total // 2
        step = 0
        while step < total:
            floor = (s.loose_trim_share if step < loose else s.trim_share) * self.cap
            step += 1
            moved = scale * (base @ rot.T) + trans
            if exact:
                hit = self.surface.closest(moved, exact=False)
                targets, normals, dist = hit.points, self.surface.normals[hit.triangle], np.abs(hit.distance)
            else:
                dist, idx = self.ref_tree.query(moved)
                targets, normals = self.ref_points[idx], self.ref_normals[idx]
            resid = np.einsum("ij,ij->i", targets - moved, normals)
            limit = max(3.0 * 1.4826 * float(np.median(np.abs(resid))), floor)
            ok = dist <= max(limit, 1e-9) if exact else np.abs(resid) <= max(limit, 1e-9)
            if ok.sum() < 12:
                break
            centre = moved[ok].mean(axis=0)
            rel = moved[ok] - centre
            cols = [np.cross(rel, normals[ok]), normals[ok]]
            if with_scale:
                cols.append(np.einsum("ij,ij->i", rel, normals[ok])[:, None])
            a = np.hstack(cols)
            x, *_ = np.linalg.lstsq(a, resid[ok], rcond=None)
            omega, step_t = x[:3], x[3:6]
            step_s = 1.0 + (x[6] if with_scale else 0.0)
            step_r = _rodrigues(omega)
            # moved' = step_s * step_r @ (moved - centre) + centre + step_t
            rot = step_r @ rot
            trans = step_s * (step_r @ (trans - centre)) + centre + step_t
            scale = scale * step_s
            if np.linalg.norm(omega) < 1e-7 and np.linalg.norm(step_t) < 1e-6 and abs(step_s - 1) < 1e-7:
                if step > loose:
                    break
                step = loose  # converged with the loose trim: on to the tight one
        return Pose(rot, trans, pose.mirrored, scale, pose.score, pose.history + ["point-to-plane"])

    def score(self, scan: np.ndarray, pose: Pose) -> float:
        """Truncated mean distance to the exact surface: every point counts, each at most ``cap`` mm."""
        return float(np.minimum(np.abs(self.surface.closest(pose.apply(scan), exact=False).distance), self.cap).mean())

    # ---- internals ---------------------------------------------------------------------------------------

    def _subset(self, points: np.ndarray, count: int) -> np.ndarray:
        if len(points) <= count:
            return points
        return points[self.rng.choice(len(points), size=count, replace=False)]

    def _candidates(self, scan: np.ndarray) -> list[Pose]:
        sub = self._subset(scan, 4096)
        rotations = random_rotations(self.settings.random_starts, self.rng)
        out = []
        for mirrored in (False, True):
            pts = sub @ MIRROR.T if mirrored else sub
            centre, frame = _frame(pts)
            for rot in np.concatenate([_pca_rotations(frame, self.ref_frame), rotations]):
                out.append(Pose(rot, self.ref_centre - rot @ centre, mirrored))
        return out

    def _is_identity(self, pose: Pose) -> bool:
        return (rotation_angle_deg(pose.rotation, np.eye(3)) < 5.0
                and np.linalg.norm(pose.translation) < 0.02 * self.surface.diagonal)  # fmt: skip

    def _symmetric(self, scan: np.ndarray, fine: np.ndarray, best: Pose) -> Pose:
        """``best`` or one of its images under the reference's near symmetries, whichever fits best: each
        image refined by point-to-plane ICP (sample, then exact triangles) on a subset of the scan and scored
        on the exact triangles; the ``symmetry_keep`` best refined and scored on ``fine`` as ``best`` was."""
        s = self.settings
        symmetries = self.symmetries()
        if not symmetries:
            return best
        sub = self._subset(scan, s.symmetry_points)
        images = []
        for rot, trans in symmetries:
            pose = Pose(rot @ best.rotation, rot @ best.translation + trans, best.mirrored,
                        history=best.history + ["symmetric image"])  # fmt: skip
            pose = self.refine(sub, pose, exact=False, steps=s.exact_steps)
            pose = self.refine(sub, pose, steps=s.exact_steps // 2)
            pose.score = self.score(sub, pose)
            images.append(pose)
        own = self.refine(sub, best, steps=s.exact_steps // 2)
        own_score = self.score(sub, own)
        for pose in sorted(images, key=lambda p: p.score)[: s.symmetry_keep]:
            if pose.score >= own_score:
                break
            pose = self.refine(fine, pose, steps=s.exact_steps)
            pose.score = self.score(fine, pose)
            if pose.score < best.score:
                best = pose
        return best

    def _shifted(self, poses: list[Pose]) -> list[Pose]:
        """Each pose, and the same moved along the reference's principal axes: ICP slides along walls and
        stays in a shifted minimum (a rack sunk by a third of its height fits its walls); a shifted start
        lands in the right basin."""
        flat = self.ref_points - self.ref_centre
        extent = np.ptp(flat @ self.ref_frame, axis=0)
        out = list(poses)
        for pose in poses:
            for axis in range(3):
                for share in self.settings.shift_shares:
                    for sign in (1.0, -1.0):
                        step = sign * share * extent[axis] * self.ref_frame[:, axis]
                        out.append(Pose(pose.rotation, pose.translation + step, pose.mirrored, history=pose.history))
        return out

    def _icp_batch(self, scan: np.ndarray, poses: list[Pose], steps: int) -> list[Pose]:
        rot = np.array([p.rotation for p in poses])
        trans = np.array([p.translation for p in poses])
        mirrored = np.array([p.mirrored for p in poses])
        src = np.where(mirrored[:, None, None], (scan @ MIRROR.T)[None], scan[None])
        for _ in range(steps):
            moved = np.einsum("cij,cnj->cni", rot, src) + trans[:, None]
            dist, idx = self.ref_tree.query(moved.reshape(-1, 3))
            dist = dist.reshape(len(poses), -1)
            target = self.ref_points[idx].reshape(moved.shape)
            weights = (dist <= 2.5 * np.median(dist, axis=1, keepdims=True)).astype(float)
            step_r, step_t = _kabsch(moved, target, weights)
            rot = step_r @ rot
            trans = np.einsum("cij,cj->ci", step_r, trans) + step_t
        return [Pose(r, t, m, history=p.history + [f"icp x{steps}"]) for r, t, m, p in
                zip(rot, trans, mirrored, poses, strict=True)]  # fmt: skip

    def _score_batch(self, scan: np.ndarray, poses: list[Pose]) -> np.ndarray:
        scores = np.empty(len(poses))
        for start in range(0, len(poses), 64):
            group = poses[start:start + 64]
            moved = np.stack([p.apply(scan) for p in group])
            dist = self._sample_distance(moved.reshape(-1, 3))
            scores[start:start + len(group)] = np.minimum(dist, self.cap).reshape(len(group), -1).mean(axis=1)
        return scores

    def _sample_distance(self, points: np.ndarray) -> np.ndarray:
        """Distance to the reference estimated from its nearest sample: the normal component, plus whatever
        tangential offset exceeds the sample spacing (point-to-sample distances would add the spacing to
        every point and hide the difference between a right and a nearly right pose)."""
        dist, idx = self.ref_tree.query(points)
        offset = points - self.ref_points[idx]
        normal = np.abs(np.einsum("ij,ij->i", offset, self.ref_normals[idx]))
        tangential = np.sqrt(np.maximum(dist**2 - normal**2, 0.0))
        return np.sqrt(normal**2 + np.maximum(tangential - self.ref_spacing, 0.0) ** 2)

    def _distinct(self, poses: list[Pose], keep: int) -> list[Pose]:
        """The ``keep`` best poses of each handedness, skipping near-duplicates of a better one."""
        out: list[Pose] = []
        for mirrored in (False, True):
            chosen: list[Pose] = []
            for pose in sorted((p for p in poses if p.mirrored == mirrored), key=lambda p: p.score):
                if any(rotation_angle_deg(pose.rotation, c.rotation) < 5.0
                       and np.linalg.norm(pose.translation - c.translation) < 0.02 * self.surface.diagonal
                       for c in chosen):  # fmt: skip
                    continue
                chosen.append(pose)
                if len(chosen) >= keep:
                    break
            out.extend(chosen)
        return out


def _rodrigues(omega: np.ndarray) -> np.ndarray:
    angle = float(np.linalg.norm(omega))
    if angle < 1e-12:
        return np.eye(3)
    k = omega / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def pose_dict(pose: Pose) -> dict[str, Any]:
    return {"matrix": np.round(pose.matrix(), 6).tolist(), "mirrored": pose.mirrored,
            "scale": round(float(pose.scale), 6)}  # fmt: skip
