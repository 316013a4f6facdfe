"""The printer's motion and temperature state, advanced over tokenized G-code.

Moves are applied a run at a time with numpy (positions forward-filled in absolute mode, summed in relative
mode); every other command goes through :meth:`Machine.special` one by one. Positions are physical
(machine) coordinates: ``G92`` offsets and ``G20`` inches are applied, ``G28`` homes to 0.

An axis position is *unknown* (NaN) until ``G28`` homes it or ``G92`` sets it: a move that names an unknown
axis cannot be proven inside the printer, so it is refused (``unknown_position``), in absolute and relative
mode alike. The extruder position is followed in both E modes (relative moves and ``G92 E`` move it), so an
absolute E move after ``M82`` is compared with where the extruder is. Temperature, heating and firmware rules
live in :mod:`hospfab.gcode.rules`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
import numpy as np
import numpy.typing as npt

from hospfab.gcode.rules import MAX_REPORTED, Issue, Limits, Rules
from hospfab.gcode.tokenize import HEAT_COMMANDS, STATE_COMMANDS, ChunkTokens, FloatArray, IntArray, Special

TOLERANCE_MM = 0.01  # coordinates are written with 3 decimals; allow rounding at the bed edges
_HOME_WORD = re.compile(r"G0*28(?![0-9.])")

__all__ = ["MAX_REPORTED", "TOLERANCE_MM", "Issue", "Limits", "Machine"]


def _minmax(values: FloatArray, lo: list[float], hi: list[float], axis: int) -> None:
    """Widen ``lo``/``hi`` on ``axis`` to the known (non-NaN) ``values``; nothing when there are none."""
    known = values[~np.isnan(values)]
    if known.size:
        lo[axis] = min(lo[axis], float(known.min()))
        hi[axis] = max(hi[axis], float(known.max()))


def _forward_fill(seq: FloatArray) -> FloatArray:
    """Each NaN replaced by the last number before it (``seq[0]`` is the starting value)."""
    idx = np.where(~np.isnan(seq), np.arange(seq.size), 0)
    np.maximum.accumulate(idx, out=idx)
    return seq[idx]


@dataclass
class Machine(Rules):
    pos: list[float] = field(default_factory=lambda: [np.nan, np.nan, np.nan])
    offset: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    e: float = 0.0
    relative_xyz: bool = False
    relative_e: bool = False
    scale: float = 1.0
    moves: int = 0
    printing_moves: int = 0
    all_lo: list[float] = field(default_factory=lambda: [np.inf] * 3)
    all_hi: list[float] = field(default_factory=lambda: [-np.inf] * 3)
    print_lo: list[float] = field(default_factory=lambda: [np.inf] * 3)
    print_hi: list[float] = field(default_factory=lambda: [-np.inf] * 3)
    layer_z: set[float] = field(default_factory=set)
    commands_seen: set[str] = field(default_factory=set)

    # -- chunks ----------------------------------------------------------------------------------------------
    def run(self, tokens: ChunkTokens, first_line: int) -> None:
        """Apply one chunk: ``first_line`` is the 1-based file line number of the chunk's first line."""
        done = 0
        self.commands_seen |= tokens.commands
        for sp in tokens.specials:
            cmd = sp.command
            if cmd not in STATE_COMMANDS:
                self.commands_seen.add(cmd)
                continue
            if cmd == "G92" and set(sp.words) == {"E"} and self._e_relative and not sp.repeated:
                # G92 E in relative E mode (each layer of a sliced file) moves nothing: it does not end the
                # run of moves. The run's moves before it are added to ``e`` when the run is applied.
                self.commands_seen.add(cmd)
                self.e = sp.words["E"] - float(np.nansum(tokens.e[done:sp.moves_before]))
                continue
            if sp.moves_before > done:
                self._moves(tokens, done, sp.moves_before, first_line)
                done = sp.moves_before
            self.special(sp, first_line + sp.line)
        if tokens.x.size > done:
            self._moves(tokens, done, tokens.x.size, first_line)

    @property
    def _e_relative(self) -> bool:
        return self.relative_e or self.relative_xyz

    def _moves(self, t: ChunkTokens, i0: int, i1: int, first_line: int) -> None:
        cols = (t.x[i0:i1], t.y[i0:i1], t.z[i0:i1])
        arcs = (t.i[i0:i1], t.j[i0:i1], t.r[i0:i1])
        self.apply_moves(cols, t.e[i0:i1], t.move_lines[i0:i1] + first_line, arcs)

    def apply_moves(self, cols: tuple[FloatArray, FloatArray, FloatArray], e: FloatArray, lines: IntArray,
                    arcs: tuple[FloatArray, FloatArray, FloatArray]) -> None:
        """A run of G0-G3 moves with constant modes. ``lines``: file line number of each move; ``arcs``:
        the I and J offsets of the arc centres and the R radius (NaN for straight moves)."""
        n = e.size
        self.moves += n
        is_arc = ~(np.isnan(arcs[0]) & np.isnan(arcs[1]) & np.isnan(arcs[2]))
        filled = []
        for axis, col in enumerate(cols):
            seq = np.empty(n + 1)
            seq[0] = self.pos[axis]
            if np.isnan(seq[0]):
                named = ~np.isnan(col)
                if axis < 2:
                    named |= is_arc  # an arc moves X and Y whatever words it names
                if named.any():
                    self._unknown(axis, lines[named])
                seq[1:] = np.nan
            elif self.relative_xyz:
                seq[1:] = np.nan_to_num(col) * self.scale
                np.cumsum(seq, out=seq)
            else:
                seq[1:] = col * self.scale + self.offset[axis]
                seq = _forward_fill(seq)
            filled.append(seq)
            self.pos[axis] = float(seq[-1])
        if self._e_relative:
            extruding = e > 1e-9
            self.e += float(np.nansum(e))  # the position absolute E moves start from after M82
        else:
            es = np.empty(n + 1)
            es[0] = self.e
            es[1:] = e
            es = _forward_fill(es)
            extruding = es[1:] > es[:-1] + 1e-9
            self.e = float(es[-1])
        end_points = [f[1:] for f in filled]
        for axis in range(3):
            _minmax(end_points[axis], self.all_lo, self.all_hi, axis)
        n_print = int(np.count_nonzero(extruding))
        if n_print:
            self.printing_moves += n_print
            # The part's extents and layers: extruding moves in X or Y (a purge or an unretract standing still,
            # e.g. above the bed, lays no part).
            laying = extruding & (~np.isnan(cols[0]) | ~np.isnan(cols[1]) | is_arc)
            if self._travel_beyond_bed:  # a purge line beside the bed is not part of the part
                laying &= self._on_bed(filled, 0) & self._on_bed(filled, 1)
            for axis in range(3):
                _minmax(filled[axis][1:][laying], self.print_lo, self.print_hi, axis)
                _minmax(filled[axis][:-1][laying], self.print_lo, self.print_hi, axis)
            zs = filled[2][1:][laying]
            self.layer_z.update(np.unique(np.round(zs[~np.isnan(zs)], 3)).tolist())
            if self.temps_pending:
                self.check_temps_in_use(int(lines[int(np.argmax(extruding))]))
        if is_arc.any():
            end_points, lines = self._arc_boxes(filled, arcs, np.flatnonzero(is_arc), lines)
        self._check_bounds(end_points, lines)

    @property
    def _travel_beyond_bed(self) -> bool:
        lim = self.limits
        return lim.travel_x_mm != (0.0, lim.bed_x_mm) or lim.travel_y_mm != (0.0, lim.bed_y_mm)

    def _on_bed(self, filled: list[FloatArray], axis: int) -> npt.NDArray[np.bool_]:
        """Per move: start and end inside the bed on ``axis`` (0: X, 1: Y)."""
        size = self.limits.bed_x_mm if axis == 0 else self.limits.bed_y_mm
        seq = filled[axis]
        inside = (seq >= -TOLERANCE_MM) & (seq <= size + TOLERANCE_MM)
        return inside[1:] & inside[:-1]

    def _unknown(self, axis: int, lines: IntArray) -> None:
        a = "XYZ"[axis]
        for line in lines[: max(0, MAX_REPORTED - self.counts.get("unknown_position", 0))].tolist():
            self.issues.append(Issue("unknown_position", f"line {line}: move on {a} before the {a} position is "
                                     f"known (home it with G28 or set it with G92 first)", line))
        self.counts["unknown_position"] = self.counts.get("unknown_position", 0) + int(lines.size)

    def _arc_boxes(self, filled: list[FloatArray], arcs: tuple[FloatArray, FloatArray, FloatArray],
                   has: IntArray, lines: IntArray) -> tuple[list[FloatArray], IntArray]:
        """Add, after each arc's end point, two corners of a box holding its whole circle (conservative): the
        points to check against the bed, in file order. The boxes also widen the travel extents.

        I/J form: the circle around the centre through the start. R form: the centre is within R of the start,
        so the circle lies within 2R of it."""
        i, j, r = (a[has] for a in arcs)
        end_points = [f[1:] for f in filled]
        sx, sy = filled[0][:-1][has], filled[1][:-1][has]
        centre = ~(np.isnan(i) & np.isnan(j))
        cx = np.where(centre, sx + np.nan_to_num(i) * self.scale, sx)
        cy = np.where(centre, sy + np.nan_to_num(j) * self.scale, sy)
        radius = np.where(centre, np.hypot(cx - sx, cy - sy), 2 * np.abs(np.nan_to_num(r)) * self.scale)
        z = end_points[2][has]
        box = (np.concatenate([cx - radius, cx + radius]), np.concatenate([cy - radius, cy + radius]),
               np.concatenate([z, z]))
        for axis in range(3):
            _minmax(box[axis], self.all_lo, self.all_hi, axis)
        # Each arc: end point, box low corner, box high corner.
        n = lines.size
        order = np.argsort(np.concatenate([np.arange(n) * 3, has * 3 + 1, has * 3 + 2]), kind="stable")
        pts = [np.concatenate([end_points[a], box[a]])[order] for a in range(3)]
        return pts, np.concatenate([lines, lines[has], lines[has]])[order]

    def _check_bounds(self, pts: list[FloatArray], lines: IntArray) -> None:
        """Every point inside the allowed box: the travel area in X and Y (the bed unless the profile widens
        it), 0..max height in Z. The box is convex, so a straight move between two points inside stays
        inside."""
        lim, tol = self.limits, TOLERANCE_MM
        (x0, x1), (y0, y1) = lim.travel_x_mm, lim.travel_y_mm
        x, y, z = pts
        with np.errstate(invalid="ignore"):
            bad_xy = (x < x0 - tol) | (x > x1 + tol) | (y < y0 - tol) | (y > y1 + tol) | (z < -tol)
            too_high = z > lim.max_z_mm + tol
        for mask, code in ((bad_xy, "out_of_bounds"), (too_high, "exceeds_max_height")):
            hits = np.flatnonzero(mask)
            if hits.size:
                for k in hits[: max(0, MAX_REPORTED - self.counts.get(code, 0))].tolist():
                    where = f"X{x[k]:.3f} Y{y[k]:.3f} Z{z[k]:.3f}"
                    if code == "out_of_bounds":
                        msg = (f"line {lines[k]}: move to {where} is outside the allowed area "
                               f"(X {x0:g}..{x1:g}, Y {y0:g}..{y1:g}, Z from 0 mm)")
                    else:
                        msg = f"line {lines[k]}: move to {where} is above the maximum height {lim.max_z_mm:g} mm"
                    self.issues.append(Issue(code, msg, int(lines[k])))
                self.counts[code] = self.counts.get(code, 0) + int(hits.size)

    # -- one special command ---------------------------------------------------------------------------------
    def special(self, sp: Special, line: int) -> None:
        cmd, w = sp.command, sp.words
        self.commands_seen.add(cmd)
        if sp.repeated:  # moves only come here when ambiguous: the others are applied in runs
            self._ambiguous(sp, line)
        elif cmd in ("G90", "G91"):
            self.relative_xyz = cmd == "G91"
        elif cmd in ("M82", "M83"):
            self.relative_e = cmd == "M83"
        elif cmd in ("G20", "G21"):
            self.scale = 25.4 if cmd == "G20" else 1.0
        elif cmd == "G28":
            self._home(sp.text)
        elif cmd == "G92":
            self._set_position(w)
        elif cmd in HEAT_COMMANDS:
            self.heat(cmd, w, line)
        else:
            self.firmware_command(cmd, w, line)

    def _ambiguous(self, sp: Special, line: int) -> None:
        """A line naming a letter twice: refused; the axes it names become unknown (either value may be
        used)."""
        self._issue("ambiguous_word", f"line {line}: {sp.command} gives {', '.join(sp.repeated)} more than "
                    f"once; the firmware may use either value", line)
        if sp.command in ("G0", "G1", "G2", "G3", "G92"):
            for i, a in enumerate("XYZ"):
                if a in sp.words:
                    self.pos[i] = np.nan

    def _home(self, text: str) -> None:
        """``G28`` homes the axes it names (``G28 X Y``), all of them when it names none (``G28``, ``G28 W``)."""
        code = text.upper()
        found = _HOME_WORD.search(code)
        named = {a for a in "XYZ" if a in code[found.end() :]} if found else set()
        for i, a in enumerate("XYZ"):
            if not named or a in named:
                self.pos[i], self.offset[i] = 0.0, 0.0

    def _set_position(self, w: dict[str, float]) -> None:
        """``G92``: the current position is declared. On a known axis that shifts the coordinates; on an unknown
        axis it makes the position known (declared as the physical one). A bare ``G92`` means "all zero" to
        some firmwares and nothing to others (Marlin), so X, Y and Z become unknown."""
        if not w:
            self.pos = [np.nan, np.nan, np.nan]
            self.e = 0.0
            return
        for i, a in enumerate("XYZ"):
            if a in w:
                if np.isnan(self.pos[i]):
                    self.pos[i], self.offset[i] = w[a] * self.scale, 0.0
                else:
                    self.offset[i] = self.pos[i] - w[a] * self.scale
        if "E" in w:
            self.e = w["E"]
