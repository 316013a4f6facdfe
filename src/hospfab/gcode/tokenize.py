"""Turn a chunk of G-code into moves (vectorised) and special lines (one by one).

A chunk is bytes ending with a newline. Every line is one of:

- a *clean move*: ``G0 ``/``G1 `` followed only by ``X Y Z E F`` words with plain decimal numbers, single
  spaces, no comment. These are almost all lines a slicer writes; they are parsed with numpy, without a
  Python loop (see :func:`tokenize_fast`);
- a comment-only or empty line: skipped;
- anything else (``G92``, ``M104``, ``G91``, inline comments, ``N`` line numbers, lower case, arcs...):
  a *special* line, parsed in Python by :func:`parse_line`, the reference parser.

:func:`tokenize_fast` returns None whenever the chunk breaks one of its assumptions; the caller then uses
:func:`tokenize_slow`, which gives the same result with :func:`parse_line` on every line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

AXES = "XYZE"
_G, _NL, _SP, _SEMI, _DOT, _MINUS = 71, 10, 32, 59, 46, 45

# Bytes allowed in a clean move line.
_ALLOWED = np.zeros(256, dtype=bool)
_ALLOWED[list(b"GXYZEF0123456789.- \n")] = True
_BAD = ~_ALLOWED
_LETTER = np.zeros(256, dtype=np.uint8)
for _i, _c in enumerate(b"GXYZEF", start=1):
    _LETTER[_c] = _i
_AXIS_CODE = {"X": 2, "Y": 3, "Z": 4, "E": 5}

# Fixed-point window around the decimal point: up to 5 integer digits, the point, up to 6 decimals
# (further decimals are below 1e-6 mm and dropped).
_INT_DIGITS, _FRAC_DIGITS = 5, 6
_WIDTH = _INT_DIGITS + 1 + _FRAC_DIGITS
_OFFSETS = np.arange(-_INT_DIGITS, _FRAC_DIGITS + 1)
_WEIGHTS = np.array([10.0**k for k in range(_INT_DIGITS - 1, -1, -1)] + [0.0]
                    + [10.0**-k for k in range(1, _FRAC_DIGITS + 1)])


@dataclass
class Special:
    """A non-move line: its index in the chunk, how many moves precede it in the chunk, and its words."""

    line: int
    moves_before: int
    command: str  # "G92", "M104", "G2", ... or the first word of an unknown line
    words: dict[str, float] = field(default_factory=dict)
    text: str = ""


@dataclass
class ChunkTokens:
    """Moves as columns (NaN where a word is absent) plus the special lines, in file order."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    e: np.ndarray
    move_lines: np.ndarray  # chunk line index of each move
    specials: list[Special]
    lines: int


# -- reference parser --------------------------------------------------------------------------------------
_PAREN = re.compile(r"\([^)]*\)")
_WORD = re.compile(r"([A-Z])[ \t]*([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))")
_LINE_NUMBER = re.compile(r"^N[0-9]+[ \t]*")


def parse_line(raw: bytes) -> tuple[str, dict[str, float], str] | None:
    """One line -> (command, words, text) or None for a blank or comment-only line.

    Handles ``;`` and ``( )`` comments, ``N`` line numbers, ``*`` checksums, lower case and spacing.
    A line that is not G/M/T code (e.g. a Klipper macro) gives its first word as the command.
    """
    text = raw.decode("utf-8", "replace")
    code = text.split(";", 1)[0]
    if "(" in code:
        code = _PAREN.sub(" ", code)
    code = code.split("*", 1)[0].strip()
    if not code:
        return None
    upper = _LINE_NUMBER.sub("", code.upper())
    if not upper:
        return None
    words = _WORD.findall(upper)
    if not words or not upper.startswith(words[0][0]) or words[0][0] not in "GMT":
        return upper.split()[0], {}, code
    letter, number = words[0]
    try:
        num = float(number)
    except ValueError:
        return upper.split()[0], {}, code
    command = f"{letter}{num:g}"
    args: dict[str, float] = {}
    for letter, number in words[1:]:
        args[letter] = float(number)
    return command, args, code


def tokenize_slow(buf: bytes) -> ChunkTokens:
    """Parse every line with :func:`parse_line` (the reference behaviour)."""
    cols: dict[str, list[float]] = {a: [] for a in AXES}
    move_lines: list[int] = []
    specials: list[Special] = []
    nan = float("nan")
    lines = buf.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for index, raw in enumerate(lines):
        parsed = parse_line(raw)
        if parsed is None:
            continue
        command, words, text = parsed
        if command in ("G0", "G1"):
            for a in AXES:
                cols[a].append(words.get(a, nan))
            move_lines.append(index)
        else:
            specials.append(Special(index, len(move_lines), command, words, text))
    return ChunkTokens(
        *(np.array(cols[a], dtype=np.float64) for a in AXES),
        move_lines=np.array(move_lines, dtype=np.int64),
        specials=specials,
        lines=len(lines),
    )


# -- vectorised parser -------------------------------------------------------------------------------------
def tokenize_fast(buf: bytes, max_special_fraction: float = 0.2) -> ChunkTokens | None:
    """Vectorised tokenizer for slicer output; None when the chunk needs the reference parser."""
    b = np.frombuffer(buf, dtype=np.uint8)
    n = b.size
    if n == 0 or b[-1] != _NL:
        return None
    nl = np.flatnonzero(b == _NL)
    nlines = nl.size
    starts = np.empty(nlines, dtype=np.int64)
    starts[0] = 0
    starts[1:] = nl[:-1] + 1
    c0 = b[starts]
    c1 = b[np.minimum(starts + 1, n - 1)]
    c2 = b[np.minimum(starts + 2, n - 1)]
    lengths = nl - starts
    is_move = (c0 == _G) & ((c1 == 48) | (c1 == 49)) & (c2 == _SP) & (lengths > 3)
    line_bad = np.logical_or.reduceat(_BAD[b], starts)
    clean = is_move & ~line_bad
    skip = (c0 == _SEMI) | (lengths == 0)
    special_idx = np.flatnonzero(~clean & ~skip)
    if special_idx.size > max_special_fraction * nlines + 16:
        return None
    n_moves = int(np.count_nonzero(clean))
    move_lines = np.flatnonzero(clean)
    moves_before = np.cumsum(clean, dtype=np.int64)  # moves up to and including each line

    specials = []
    for i in special_idx.tolist():
        parsed = parse_line(buf[starts[i] : nl[i]])
        if parsed is not None:
            command, words, text = parsed
            specials.append(Special(i, int(moves_before[i]), command, words, text))

    nan_col = np.full(n_moves, np.nan)
    cols = {a: nan_col.copy() for a in AXES}
    if n_moves:
        byte_clean = np.repeat(clean, lengths + 1)
        letter_pos = np.flatnonzero((_LETTER[b] != 0) & byte_clean)
        sep_pos = np.flatnonzero(((b == _SP) | (b == _NL)) & byte_clean)
        # Strict alternation letter, number, separator: "G1 X1.5 Y2 E.3\n".
        if letter_pos.size != sep_pos.size or np.any(sep_pos <= letter_pos + 1):
            return None
        if letter_pos.size > 1 and np.any(letter_pos[1:] <= sep_pos[:-1]):
            return None
        codes = _LETTER[b[letter_pos]]
        is_nl = b[sep_pos] == _NL
        token_move = np.empty(letter_pos.size, dtype=np.int64)
        token_move[0] = 0
        np.cumsum(is_nl[:-1], out=token_move[1:])
        if np.count_nonzero(codes == 1) != n_moves or np.any(codes[is_nl.nonzero()[0][:-1] + 1] != 1):
            return None  # one G word per line, first
        want = (codes >= 2) & (codes <= 5)
        num_start = letter_pos[want] + 1
        num_end = sep_pos[want]
        tcodes = codes[want]
        tmove = token_move[want]
        negative = b[num_start] == _MINUS
        digits_start = num_start + negative
        # Each number: digits with at most one '.', '-' only first.
        minus_total = int(np.count_nonzero((b == _MINUS) & byte_clean))
        if minus_total != int(np.count_nonzero(negative)) or np.any(digits_start >= num_end):
            return None
        dot_pos = np.flatnonzero((b == _DOT) & byte_clean)
        point = num_end.copy()
        if dot_pos.size:
            owner = np.searchsorted(letter_pos, dot_pos, side="right") - 1
            if np.any(owner < 0) or np.any(dot_pos >= sep_pos[owner]):
                return None
            if owner.size > 1 and np.any(owner[1:] == owner[:-1]):
                return None  # two dots in one number
            mine = want[owner]
            point[(np.cumsum(want) - 1)[owner[mine]]] = dot_pos[mine]
        if np.any(point - digits_start > _INT_DIGITS):
            return None  # more integer digits than the window holds
        if np.any((point == num_end) & (point == digits_start)):
            return None
        if np.any((point < num_end) & (point + 1 == num_end) & (point == digits_start)):
            return None  # a lone "."
        values = np.zeros(point.size)
        for offset, weight in zip(_OFFSETS.tolist(), _WEIGHTS.tolist(), strict=True):
            if weight == 0.0:
                continue
            at = point + offset
            inside = (at >= digits_start) & (at < num_end)
            digit = b[np.minimum(at, n - 1)].astype(np.float64)
            digit -= 48.0
            digit[~inside] = 0.0
            digit *= weight
            values += digit
        values[negative] *= -1.0
        for axis, code in _AXIS_CODE.items():
            sel = tcodes == code
            cols[axis][tmove[sel]] = values[sel]
    return ChunkTokens(
        cols["X"], cols["Y"], cols["Z"], cols["E"], move_lines=move_lines, specials=specials, lines=nlines
    )
