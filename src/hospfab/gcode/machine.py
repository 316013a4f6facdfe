"""The printer's motion and temperature state, advanced over tokenized G-code.

Moves are applied a run at a time with numpy (positions forward-filled in absolute mode, summed in relative
mode); every other command goes through :meth:`Machine.special` one by one. Positions are physical
(machine) coordinates: ``G92`` offsets and ``G20`` inches are applied, ``G28`` homes to 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hospfab.gcode.tokenize import STATE_COMMANDS, ChunkTokens, Special

TOLERANCE_MM = 0.01  # coordinates are written with 3 decimals; allow rounding at the bed edges
MAX_REPORTED = 5  # issues of one kind reported in full; the rest are counted


@dataclass
class Issue:
    code: str
    message: str
    line: int | None = None

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "line": self.line}


@dataclass
class Limits:
    bed_x_mm: float
    bed_y_mm: float
    max_z_mm: float
    nozzle_min_c: float
    nozzle_max_c: float
    bed_min_c: float
    bed_max_c: float
    printer_nozzle_max_c: float
    printer_bed_max_c: float


def _minmax(values: np.ndarray, lo: list, hi: list, axis: int) -> None:
    if values.size:
        vmin, vmax = np.nanmin(values), np.nanmax(values)
        if not np.isnan(vmin):
            lo[axis] = min(lo[axis], float(vmin))
            hi[axis] = max(hi[axis], float(vmax))


@dataclass
class Machine:
    limits: Limits
    pos: list[float] = field(default_factory=lambda: [np.nan, np.nan, np.nan])
    offset: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    e: float = 0.0
    relative_xyz: bool = False
    relative_e: bool = False
    scale: float = 1.0
    nozzle_c: float | None = None
    bed_c: float | None = None
    temps_pending: bool = True
    moves: int = 0
    printing_moves: int = 0
    all_lo: list[float] = field(default_factory=lambda: [np.inf] * 3)
    all_hi: list[float] = field(default_factory=lambda: [-np.inf] * 3)
    print_lo: list[float] = field(default_factory=lambda: [np.inf] * 3)
    print_hi: list[float] = field(default_factory=lambda: [-np.inf] * 3)
    layer_z: set[float] = field(default_factory=set)
    nozzle_temps: set[float] = field(default_factory=set)
    bed_temps: set[float] = field(default_factory=set)
    commands_seen: set[str] = field(default_factory=set)
    issues: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    # -- reporting -------------------------------------------------------------------------------------------
    def _issue(self, code: str, message: str, line: int | None, warning: bool = False) -> None:
        self.counts[code] = self.counts.get(code, 0) + 1
        if self.counts[code] <= MAX_REPORTED:
            (self.warnings if warning else self.issues).append(Issue(code, message, line))

    # -- chunks ----------------------------------------------------------------------------------------------
    def run(self, tokens: ChunkTokens, first_line: int) -> None:
        """Apply one chunk: ``first_line`` is the 1-based file line number of the chunk's first line."""
        done = 0
        self.commands_seen |= tokens.commands
        for sp in tokens.specials:
            cmd = sp.command
            if cmd not in STATE_COMMANDS or (cmd == "G92" and set(sp.words) <= {"E"} and self._e_relative):
                self.commands_seen.add(cmd)
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
        self.apply_moves(cols, t.e[i0:i1], t.move_lines[i0:i1] + first_line, (t.i[i0:i1], t.j[i0:i1]))

    def apply_moves(self, cols: tuple[np.ndarray, ...], e: np.ndarray, lines: np.ndarray,
                    arcs: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """A run of G0-G3 moves with constant modes. ``lines``: file line number of each move; ``arcs``:
        the I and J offsets of the arc centres (NaN for straight moves)."""
        n = e.size
        self.moves += n
        filled = []
        for axis, col in enumerate(cols):
            seq = np.empty(n + 1)
            seq[0] = self.pos[axis]
            if self.relative_xyz:
                seq[1:] = np.nan_to_num(col) * self.scale
                np.cumsum(seq, out=seq)
            else:
                seq[1:] = col * self.scale + self.offset[axis]
                known = ~np.isnan(seq)
                idx = np.where(known, np.arange(n + 1), 0)
                np.maximum.accumulate(idx, out=idx)
                seq = seq[idx]
            filled.append(seq)
            self.pos[axis] = float(seq[-1])
        if self._e_relative:
            extruding = e > 1e-9
        else:
            es = np.empty(n + 1)
            es[0] = self.e
            es[1:] = e
            known = ~np.isnan(es)
            idx = np.where(known, np.arange(n + 1), 0)
            np.maximum.accumulate(idx, out=idx)
            es = es[idx]
            extruding = es[1:] > es[:-1] + 1e-9
            self.e = float(es[-1])
        end_points = [f[1:] for f in filled]
        for axis in range(3):
            _minmax(end_points[axis], self.all_lo, self.all_hi, axis)
        n_print = int(np.count_nonzero(extruding))
        if n_print:
            self.printing_moves += n_print
            for axis in range(3):
                _minmax(filled[axis][1:][extruding], self.print_lo, self.print_hi, axis)
                _minmax(filled[axis][:-1][extruding], self.print_lo, self.print_hi, axis)
            zs = filled[2][1:][extruding]
            self.layer_z.update(np.unique(np.round(zs[~np.isnan(zs)], 3)).tolist())
            if self.temps_pending:
                self._check_temps_in_use(int(lines[int(np.argmax(extruding))]))
        if arcs is not None:
            end_points, lines = self._arc_boxes(filled, arcs, lines)
        self._check_bounds(end_points, lines, self.limits)

    def _arc_boxes(self, filled: list[np.ndarray], arcs: tuple[np.ndarray, np.ndarray], lines: np.ndarray):
        """Add, after each arc's end point, two corners of its whole circle's box (conservative): the points
        to check against the bed, in file order. The boxes also widen the travel extents."""
        i, j = arcs
        has = np.flatnonzero(~np.isnan(i) | ~np.isnan(j))
        end_points = [f[1:] for f in filled]
        if not has.size:
            return end_points, lines
        sx, sy = filled[0][:-1][has], filled[1][:-1][has]
        cx = sx + np.nan_to_num(i[has]) * self.scale
        cy = sy + np.nan_to_num(j[has]) * self.scale
        r = np.hypot(cx - sx, cy - sy)
        z = end_points[2][has]
        box = (np.concatenate([cx - r, cx + r]), np.concatenate([cy - r, cy + r]), np.concatenate([z, z]))
        for axis in range(3):
            _minmax(box[axis], self.all_lo, self.all_hi, axis)
        # Each arc: end point, box low corner, box high corner.
        n = lines.size
        order = np.argsort(np.concatenate([np.arange(n) * 3, has * 3 + 1, has * 3 + 2]), kind="stable")
        pts = [np.concatenate([end_points[a], box[a]])[order] for a in range(3)]
        return pts, np.concatenate([lines, lines[has], lines[has]])[order]

    def _check_bounds(self, pts: list[np.ndarray], lines: np.ndarray, lim: Limits) -> None:
        tol = TOLERANCE_MM
        x, y, z = pts
        with np.errstate(invalid="ignore"):
            bad_xy = (x < -tol) | (x > lim.bed_x_mm + tol) | (y < -tol) | (y > lim.bed_y_mm + tol) | (z < -tol)
            too_high = z > lim.max_z_mm + tol
        for mask, code in ((bad_xy, "out_of_bounds"), (too_high, "exceeds_max_height")):
            hits = np.flatnonzero(mask)
            if hits.size:
                for k in hits[: max(0, MAX_REPORTED - self.counts.get(code, 0))].tolist():
                    where = f"X{x[k]:.3f} Y{y[k]:.3f} Z{z[k]:.3f}"
                    if code == "out_of_bounds":
                        msg = (f"line {lines[k]}: move to {where} is outside the bed "
                               f"(0..{lim.bed_x_mm:g} x 0..{lim.bed_y_mm:g} mm)")
                    else:
                        msg = f"line {lines[k]}: move to {where} is above the maximum height {lim.max_z_mm:g} mm"
                    self.issues.append(Issue(code, msg, int(lines[k])))
                self.counts[code] = self.counts.get(code, 0) + int(hits.size)

    # -- temperatures ----------------------------------------------------------------------------------------
    def _check_temps_in_use(self, line: int) -> None:
        lim = self.limits
        self.temps_pending = False
        if self.nozzle_c is None or self.nozzle_c <= 0:
            self._issue("no_nozzle_temperature", f"line {line}: extrusion before any nozzle temperature is set",
                        line, warning=True)
        elif self.nozzle_c < lim.nozzle_min_c:
            self._issue("temperature_out_of_range", f"line {line}: extruding with the nozzle at "
                        f"{self.nozzle_c:g} °C, below the material's minimum {lim.nozzle_min_c:g} °C", line)
        if self.bed_c is not None and 0 < self.bed_c < lim.bed_min_c:
            self._issue("temperature_out_of_range", f"line {line}: printing with the bed at {self.bed_c:g} °C, "
                        f"below the material's minimum {lim.bed_min_c:g} °C", line)

    def _set_temp(self, which: str, value: float, line: int) -> None:
        lim = self.limits
        if which == "nozzle":
            self.nozzle_c = value
            self.nozzle_temps.add(value)
            top, top_what, printer_top = lim.nozzle_max_c, "material's", lim.printer_nozzle_max_c
        else:
            self.bed_c = value
            self.bed_temps.add(value)
            top, top_what, printer_top = lim.bed_max_c, "material's", lim.printer_bed_max_c
        self.temps_pending = True
        if value > printer_top:
            self._issue("temperature_out_of_range", f"line {line}: {which} set to {value:g} °C, above the "
                        f"printer's limit {printer_top:g} °C", line)
        elif value > top:
            self._issue("temperature_out_of_range", f"line {line}: {which} set to {value:g} °C, above the "
                        f"{top_what} maximum {top:g} °C", line)
        elif value < 0:
            self._issue("temperature_out_of_range", f"line {line}: {which} set to {value:g} °C", line)

    # -- one special command ---------------------------------------------------------------------------------
    def special(self, sp: Special, line: int) -> None:
        cmd, w = sp.command, sp.words
        self.commands_seen.add(cmd)
        if cmd in ("G0", "G1", "G2", "G3"):
            cols = tuple(np.array([w.get(a, np.nan)]) for a in "XYZ")
            arc = cmd in ("G2", "G3")
            ij = tuple(np.array([w.get(a, np.nan) if arc else np.nan]) for a in "IJ")
            self.apply_moves(cols, np.array([w.get("E", np.nan)]), np.array([line]), ij)
        elif cmd == "G90":
            self.relative_xyz = False
        elif cmd == "G91":
            self.relative_xyz = True
        elif cmd == "M82":
            self.relative_e = False
        elif cmd == "M83":
            self.relative_e = True
        elif cmd == "G20":
            self.scale = 25.4
        elif cmd == "G21":
            self.scale = 1.0
        elif cmd == "G28":
            axes = [i for i, a in enumerate("XYZ") if a in w] or [0, 1, 2]
            for i in axes:
                self.pos[i], self.offset[i] = 0.0, 0.0
        elif cmd == "G92":
            if not w:
                w = {"X": 0.0, "Y": 0.0, "Z": 0.0, "E": 0.0}
            for i, a in enumerate("XYZ"):
                if a in w:
                    phys = self.pos[i] if not np.isnan(self.pos[i]) else 0.0
                    self.offset[i] = phys - w[a] * self.scale
            if "E" in w:
                self.e = w["E"]
        elif cmd in ("M104", "M109"):
            value = w.get("S", w.get("R"))
            if value is not None:
                self._set_temp("nozzle", value, line)
        elif cmd in ("M140", "M190"):
            value = w.get("S", w.get("R"))
            if value is not None:
                self._set_temp("bed", value, line)
