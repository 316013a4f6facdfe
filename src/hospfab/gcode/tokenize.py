"""Turn a chunk of G-code into moves (vectorised) and special lines (one by one).

A chunk is bytes ending with a newline. A bare CR ends a line too, as Marlin's serial reader reads it (CR LF
is one line end); both tokenizers turn every CR into a line end first. Each line is classified with numpy by its first bytes:

- empty or comment-only (``;...``): skipped;
- a plain command word first (``G``/``M``/``T``, 1-4 digits, then a space, ``;`` or the line end):
  - ``G0``-``G3`` (moves and arcs): the words up to any ``;`` are tokenised and their numbers parsed with
    numpy over the whole chunk at once (see :func:`tokenize_fast`); a line that breaks the plain
    ``LETTER[-]DIGITS[.DIGITS]`` word grammar falls back to :func:`parse_line`;
  - a command that changes modes, offsets or temperatures (:data:`STATE_COMMANDS`): :func:`parse_line`;
  - any other command (``M73``, ``M106``, ``M117 text``, ``G4``...): only its name is recorded;
- anything else (``N`` line numbers, lower case, leading spaces, ``( )`` comments, macros...): parsed by
  :func:`parse_line`, the reference parser.

Both :func:`tokenize_fast` and :func:`tokenize_slow` (every line through :func:`parse_line`) give the same
moves, in the same order, so the machine sees the same runs whichever was used. A move that repeats an axis
word (``G1 X500 X10``: the firmware may read either) is not a move but a special line with ``repeated`` set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from hospfab.profiles.models import FIRMWARE_COMMANDS

HEAT_COMMANDS = frozenset("M104 M109 M140 M190 M141 M191 M303".split())
# Commands that change position, modes, temperatures or the firmware; every other command is only recorded.
STATE_COMMANDS = frozenset(
    set("M82 M83 G20 G21 G90 G91 G92 G28 G2 G3 G0 G1".split()) | HEAT_COMMANDS | set(FIRMWARE_COMMANDS)
)
MOVE_COMMANDS = ("G0", "G1", "G2", "G3")
COLUMNS = "XYZEIJR"  # I, J and R are kept for arcs (G2/G3) only
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_NL, _SP, _SEMI, _MINUS = 10, 32, 59, 45


@dataclass
class Special:
    """A non-move line: its index in the chunk, how many moves precede it in the chunk, and its words."""

    line: int
    moves_before: int
    command: str  # "G92", "M104", ... or the first word of an unknown line
    words: dict[str, float] = field(default_factory=dict)
    text: str = ""
    repeated: str = ""  # letters given more than once ("X" for G1 X500 X10): the line is ambiguous


@dataclass
class ChunkTokens:
    """Moves (G0-G3) as columns, NaN where a word is absent, plus the special lines, in file order."""

    x: FloatArray
    y: FloatArray
    z: FloatArray
    e: FloatArray
    i: FloatArray  # arc centre offsets, NaN on G0/G1
    j: FloatArray
    r: FloatArray  # arc radius (G2/G3 R form), NaN on G0/G1
    move_lines: IntArray  # chunk line index of each move
    specials: list[Special]
    lines: int
    commands: set[str] = field(default_factory=set)  # commands seen that need no special handling
    notes: list[bytes] = field(default_factory=list)  # comment lines that may carry slicer estimates


def _chunk_tokens(cols: list[FloatArray], **rest: Any) -> ChunkTokens:
    """ChunkTokens from the columns in :data:`COLUMNS` order."""
    x, y, z, e, i, j, r = cols
    return ChunkTokens(x, y, z, e, i, j, r, **rest)


# Comment lines worth reading for estimates: "; estimated printing time...", "; filament used...",
# "; gcode_flavor = ...", "; hospfab printer = ...", ";TIME:...", ";Filament used: ..." (not ";TYPE:").
NOTE_STARTS = (b"; e", b"; f", b"; g", b"; h", b";TI", b";Fi")
_NOTE_CODES = np.array([int.from_bytes(p, "little") for p in NOTE_STARTS], dtype=np.uint64)


# -- reference parser --------------------------------------------------------------------------------------
_PAREN = re.compile(r"\([^)]*\)")
_WORD = re.compile(r"([A-Z])[ \t]*([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))")
_LINE_NUMBER = re.compile(r"^N[0-9]+[ \t]*")


Parsed = tuple[str, dict[str, float], str, str]


def parse_line(raw: bytes) -> Parsed | None:
    """One line -> (command, words, text, repeated letters) or None for a blank or comment-only line.

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
        return upper.split()[0], {}, code, ""
    letter, number = words[0]
    num = float(number)
    command = f"{letter}{num:g}"
    args: dict[str, float] = {}
    repeated = ""
    for letter, number in words[1:]:
        if letter in args and letter not in repeated:
            repeated += letter
        args[letter] = float(number)
    return command, args, code, repeated


def _is_move(command: str, repeated: str) -> bool:
    """A G0-G3 line that names each axis once (a repeated word makes it an ambiguous special line)."""
    return command in MOVE_COMMANDS and not any(c in COLUMNS for c in repeated)


def as_lines(buf: bytes) -> bytes:
    """Every bare CR as a line end, as the firmware reads it (CR LF stays one line end)."""
    if b"\r" in buf:
        buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return buf


def _move_columns(moves: list[tuple[int, str, dict[str, float]]]) -> list[list[float]]:
    nan = float("nan")
    cols: list[list[float]] = [[] for _ in COLUMNS]
    for _, command, words in moves:
        arc = command in ("G2", "G3")
        for k, a in enumerate(COLUMNS):
            cols[k].append(words.get(a, nan) if k < 4 or arc else nan)
    return cols


def tokenize_slow(buf: bytes) -> ChunkTokens:
    """Parse every line with :func:`parse_line` (the reference behaviour)."""
    moves: list[tuple[int, str, dict[str, float]]] = []
    specials: list[Special] = []
    lines = as_lines(buf).split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    notes = [raw for raw in lines if raw[:3] in NOTE_STARTS]
    for index, raw in enumerate(lines):
        parsed = parse_line(raw)
        if parsed is None:
            continue
        command, words, text, repeated = parsed
        if _is_move(command, repeated):
            moves.append((index, command, words))
        else:
            specials.append(Special(index, len(moves), command, words, text, repeated))
    cols = [np.array(c, dtype=np.float64) for c in _move_columns(moves)]
    return _chunk_tokens(cols, move_lines=np.array([m[0] for m in moves], dtype=np.int64),
                       specials=specials, lines=len(lines), notes=notes)


# -- vectorised parser -------------------------------------------------------------------------------------
_PAD = 8  # bytes of "0" around the chunk, so every 8-byte window read below stays inside
_ZEROS8 = np.uint64(0x3030303030303030)
_KEEP_HIGH = np.array([0] + [(0xFFFFFFFFFFFFFFFF << (8 * (8 - k))) & 0xFFFFFFFFFFFFFFFF for k in range(1, 9)],
                      dtype=np.uint64)  # [k]: the last k bytes of a little-endian word
_KEEP_LOW = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [0xFFFFFFFFFFFFFFFF], dtype=np.uint64)
_DOTS8, _ONES8 = np.uint64(0x2E2E2E2E2E2E2E2E), np.uint64(0x0101010101010101)
_HIGH8 = np.uint64(0x8080808080808080)
_F0, _0F, _06 = np.uint64(0xF0F0F0F0F0F0F0F0), np.uint64(0x0F0F0F0F0F0F0F0F), np.uint64(0x0606060606060606)
_00FF, _0000FFFF = np.uint64(0x00FF00FF00FF00FF), np.uint64(0x0000FFFF0000FFFF)
_M1, _M2, _M3 = np.uint64(2561), np.uint64(6553601), np.uint64(42949672960001)
_S8, _S16, _S32, _BYTE = np.uint64(8), np.uint64(16), np.uint64(32), np.uint64(0xFF)
_COLUMN_OF = np.full(256, -1, dtype=np.int8)
for _k, _c in enumerate(COLUMNS.encode()):
    _COLUMN_OF[_c] = _k
_CLASS = np.zeros(256, dtype=np.uint8)  # 0: not allowed in a plain move line, 1: letter, 2: allowed
_CLASS[list(b"0123456789.- \n;")] = 2  # ";" only blanks other lines (comments are cut off)
_CLASS[65:91] = 1
_STATE_CODES = np.array(sorted(ord(c[0]) * 10000 + int(c[1:]) for c in STATE_COMMANDS - set(MOVE_COMMANDS)))


def _as_words(padded: np.ndarray) -> np.ndarray:
    """Every 8-byte window of ``padded`` as one little-endian uint64 (an unaligned view, no copy)."""
    return np.ndarray((padded.size - 7,), dtype="<u8", buffer=padded, strides=(1,))


def _digits8(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eight ASCII digits per word, first digit in the lowest byte -> (value, whether all are digits)."""
    ok = ((w & _F0) == _ZEROS8) & (((w + _06) & _F0) == _ZEROS8)
    w = w - _ZEROS8
    w = ((w & _0F) * _M1) >> _S8
    w = ((w & _00FF) * _M2) >> _S16
    w = ((w & _0000FFFF) * _M3) >> _S32
    return w, ok


def _heads(head: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per line (``head``: its first 8 bytes): first byte, whether a plain command word starts it
    (``G``/``M``/``T``, 1-4 digits, then a space, newline or ``;``) and that command as
    ``ord(letter) * 10000 + number``."""
    c0 = (head & _BYTE).astype(np.int64)
    run = np.ones(head.size, dtype=bool)
    k = np.zeros(head.size, dtype=np.int64)
    num = np.zeros(head.size, dtype=np.int64)
    for j in range(1, 5):
        d = ((head >> np.uint64(8 * j)) & _BYTE).astype(np.int64) - 48
        run &= (d >= 0) & (d <= 9)
        k += run
        num = np.where(run, num * 10 + d, num)
    term = ((head >> ((k + 1) * 8).astype(np.uint64)) & _BYTE).astype(np.int64)
    ok = ((c0 == 71) | (c0 == 77) | (c0 == 84)) & (k >= 1) & ((term == _SP) | (term == _NL) | (term == _SEMI))
    return c0, ok, c0 * 10000 + num


def _code_ends(b: np.ndarray, starts: np.ndarray, nl: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """End of the code on each of ``lines``: the first ``;`` or the newline, less trailing spaces."""
    ends = nl[lines].copy()
    semis = np.flatnonzero(b == _SEMI)
    if semis.size:
        owner = np.searchsorted(nl, semis)
        first = np.ones(semis.size, dtype=bool)
        first[1:] = owner[1:] != owner[:-1]
        cut = np.full(nl.size, -1, dtype=np.int64)
        cut[owner[first]] = semis[first]
        mine = cut[lines]
        ends = np.where(mine >= 0, mine, ends)
    begin = starts[lines]
    while True:
        trail = (ends > begin) & (b[np.maximum(ends - 1, 0)] == _SP)
        if not trail.any():
            return cast(np.ndarray, ends)
        ends[trail] -= 1


def _move_text(b: np.ndarray, starts: np.ndarray, nl: np.ndarray, lines: np.ndarray,
               ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The code of ``lines`` (each cut at ``ends``), one per line, in a buffer padded with ``_PAD`` bytes of
    ``"0"`` each side. Returns (padded, row of each of ``lines`` in it).

    When few other lines sit between them and none is cut, the chunk is kept as is with those few lines
    blanked with ``;`` (rows = line numbers); otherwise the lines are gathered into a new buffer."""
    n, others = b.size, nl.size - lines.size
    if others <= max(16, nl.size // 32) and np.array_equal(ends, nl[lines]):
        padded = np.full(n + 2 * _PAD, 48, dtype=np.uint8)
        padded[_PAD : _PAD + n] = b
        if others:
            mask = np.ones(nl.size, dtype=bool)
            mask[lines] = False
            for i in np.flatnonzero(mask).tolist():
                padded[_PAD + starts[i] : _PAD + nl[i]] = _SEMI
        return padded, lines
    s = starts[lines]
    bounds = np.empty(2 * lines.size + 1, dtype=np.int64)
    bounds[0] = 0
    bounds[1::2] = s
    bounds[2::2] = ends + 1
    keep = np.zeros(2 * lines.size, dtype=bool)
    keep[1::2] = True
    work = b.copy()
    work[ends] = _NL
    c = work[: bounds[-1]][np.repeat(keep, np.diff(bounds))]
    padded = np.full(c.size + 2 * _PAD, 48, dtype=np.uint8)
    padded[_PAD : _PAD + c.size] = c
    return padded, np.arange(lines.size)


def _parse_moves(padded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised words of the lines in ``padded`` (see :func:`_move_text`).

    Returns (values: float array (len(COLUMNS), lines), bad: bool per line breaking the word grammar)."""
    c = padded[_PAD:-_PAD]
    words = _as_words(padded)
    seps = np.flatnonzero(c <= _SP)  # word ends (spaces, tabs, newlines)
    ts = np.empty(seps.size, dtype=np.int64)
    ts[0] = 0
    ts[1:] = seps[:-1] + 1
    is_nl = c[seps] == _NL
    tline = np.zeros(seps.size, dtype=np.int64)
    np.cumsum(is_nl[:-1], out=tline[1:])
    first = np.ones(seps.size, dtype=bool)
    first[1:] = is_nl[:-1]
    line_ends = seps[is_nl]
    nlines = line_ends.size
    line_bad = np.zeros(nlines, dtype=bool)
    is_letter = (c - np.uint8(65)) < 26
    n_letters = int(np.count_nonzero(is_letter))
    # Bytes of _CLASS 1 or 2: letters, newlines, spaces, ";" and "-./0-9" less "/".
    n_plain = n_letters + nlines + int(np.count_nonzero(c == _SP)) + int(np.count_nonzero(c == _SEMI))
    n_plain += int(np.count_nonzero((c - np.uint8(45)) < 13)) - int(np.count_nonzero(c == 47))
    if n_plain != c.size:  # lower case, tabs, ( ) comments, * checksums, + signs...
        stray = np.flatnonzero(np.take(_CLASS, c) == 0)
        line_bad[np.searchsorted(line_ends, stray)] = True
    letters = c[np.minimum(ts, c.size - 1)]
    bad_tok = (letters < 65) | (letters > 90)  # empty words (double spaces) and words not led by a letter
    if n_letters != seps.size - np.count_nonzero(bad_tok):  # a letter inside a word
        at = np.flatnonzero(is_letter)
        inner = at[~np.isin(at, ts)]
        line_bad[np.searchsorted(line_ends, inner)] = True
    col = np.take(_COLUMN_OF, letters)
    want = np.flatnonzero((col >= 0) & ~first)
    ts, te, tline, col = ts[want], seps[want], tline[want], col[want]
    line_bad |= _repeats_a_column(tline, col, nlines)
    neg = c[ts + 1] == _MINUS
    ds = ts + 1 + neg
    size = te - ds  # bytes of the number after the sign
    head = words[ds + _PAD]  # its first 8 bytes, in one little-endian word
    # The first "." among them (the classic zero-byte test on head XOR "........"): its lowest set bit.
    x = head ^ _DOTS8
    y = (x - _ONES8) & ~x & _HIGH8 & _KEEP_LOW[np.minimum(size, 8)]
    lowest = (y & (~y + np.uint64(1))).astype(np.float64)
    has_dot = y != 0
    k_int = np.where(has_dot, (np.frexp(lowest)[1] - 8) >> 3, size)
    k_frac = np.where(has_dot, size - k_int - 1, 0)
    bad = (k_int > 8) | (k_frac > 8) | ((k_int == 0) & (k_frac == 0))
    k_int, k_frac = np.minimum(k_int, 8), np.minimum(k_frac, 8)
    half = ((8 - k_int) * 4).astype(np.uint64)  # two shifts of 4 * (8 - k) bits: no shift by 64
    hi = _KEEP_HIGH[k_int]
    w_int, ok_int = _digits8(((head << half) << half) | (_ZEROS8 & ~hi))
    lo = _KEEP_LOW[k_frac]
    w_frac, ok_frac = _digits8((words[ds + k_int + 1 + _PAD] & lo) | (_ZEROS8 & ~lo))
    bad |= ~ok_int | ~ok_frac
    bad_tok[want[bad]] = True
    values = w_int.astype(np.float64) + w_frac.astype(np.float64) * 1e-8
    values[neg] *= -1.0
    out = np.full((len(COLUMNS), nlines), np.nan)
    out[col, tline] = values
    line_bad[np.searchsorted(line_ends, seps[bad_tok])] = True
    return out, line_bad


_POPCOUNT7 = np.array([bin(v).count("1") for v in range(128)], dtype=np.int64)


def _repeats_a_column(tline: IntArray, col: npt.NDArray[np.int8], nlines: int) -> npt.NDArray[np.bool_]:
    """Per line: whether a column letter comes twice (``G1 X500 X10``), in one pass over the words.

    Each word adds ``1 << column`` plus 1024 to its line's sum: with at most 7 distinct columns the low part
    stays below 128 and has one bit per word; a repeat shows as fewer bits than words (or a carry past 127)."""
    total = np.bincount(tline, weights=np.left_shift(1, col.astype(np.int64)) + 1024, minlength=nlines)
    total = total.astype(np.int64)
    words, bits = total >> 10, total & 1023
    return cast(npt.NDArray[np.bool_], (words > 7) | (bits > 127) | (_POPCOUNT7[np.minimum(bits, 127)] != words))


def tokenize_fast(buf: bytes) -> ChunkTokens | None:
    """Vectorised tokenizer, same result as :func:`tokenize_slow`; None if ``buf`` does not end a line."""
    buf = as_lines(buf)
    b = np.frombuffer(buf, dtype=np.uint8)
    n = b.size
    if n == 0 or b[-1] != _NL:
        return None
    nl = np.flatnonzero(b == _NL)
    nlines = nl.size
    starts = np.empty(nlines, dtype=np.int64)
    starts[0] = 0
    starts[1:] = nl[:-1] + 1
    padded = np.full(n + 2 * _PAD, 48, dtype=np.uint8)
    padded[_PAD : _PAD + n] = b
    head = _as_words(padded)[starts + _PAD]
    c0, plain, code = _heads(head)
    skip = (c0 == _SEMI) | (starts == nl)
    is_move = plain & (c0 == 71) & (code - 710000 <= 3)
    is_state = plain & np.isin(code, _STATE_CODES)
    others = np.unique(code[plain & ~is_move & ~is_state])
    commands = {f"{chr(int(v) // 10000)}{int(v) % 10000}" for v in others.tolist()}

    move_idx = np.flatnonzero(is_move)
    values = np.empty((len(COLUMNS), 0))
    if move_idx.size:
        padded, rows = _move_text(b, starts, nl, move_idx, _code_ends(b, starts, nl, move_idx))
        values, bad = _parse_moves(padded)
        values, bad = values[:, rows], bad[rows]
        arc = code[move_idx] >= 710002
        values[4:, ~arc] = np.nan
        if bad.any():
            is_move[move_idx[bad]] = False
            plain[move_idx[bad]] = False  # back to the reference parser
            values, move_idx = values[:, ~bad], move_idx[~bad]
    slow_idx = np.flatnonzero(~skip & ~is_move & (is_state | ~plain))
    specials: list[Special] = []
    extra: list[tuple[int, str, dict[str, float]]] = []
    for i in slow_idx.tolist():
        parsed = parse_line(buf[starts[i] : nl[i]])
        if parsed is not None:
            command, words, text, repeated = parsed
            if _is_move(command, repeated):
                extra.append((i, command, words))
            else:
                specials.append(Special(i, 0, command, words, text, repeated))
    if extra:
        move_idx = np.concatenate([move_idx, np.array([m[0] for m in extra], dtype=np.int64)])
        values = np.concatenate([values, np.array(_move_columns(extra), dtype=np.float64)], axis=1)
        order = np.argsort(move_idx, kind="stable")
        move_idx, values = move_idx[order], values[:, order]
    if specials:
        before = np.searchsorted(move_idx, [s.line for s in specials]).tolist()
        for s, k in zip(specials, before, strict=True):
            s.moves_before = k
    notes = []
    comment = np.flatnonzero(c0 == _SEMI)
    if comment.size:
        first3 = head[comment] & np.uint64(0xFFFFFF)
        for i in comment[np.isin(first3, _NOTE_CODES)].tolist():
            notes.append(buf[starts[i] : nl[i]])
    return _chunk_tokens(list(values), move_lines=move_idx, specials=specials, lines=nlines, commands=commands,
                       notes=notes)
