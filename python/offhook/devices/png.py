"""A tiny PNG writer and line-plot raster, enough for ``offhook probe``'s report plot.

PNG (ISO/IEC 15948): signature, IHDR (8-bit RGB), one zlib-compressed IDAT of scanlines
each prefixed with filter type 0, IEND; every chunk carries a CRC-32 of its type and data.
The raster is a NumPy uint8 (height, width, 3) array; lines are drawn by sampling each
segment densely (no anti-aliasing), and text with a 5x7 bitmap font covering digits,
upper-case letters and a few signs — all a plot axis needs.
"""
from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["Canvas", "encode_png"]

Image = npt.NDArray[np.uint8]

# 5x7 glyphs, one string of 7 rows of 5 bits each ("#" on, "." off), rows joined by "/".
_FONT = {
    "0": ".###./#...#/#..##/#.#.#/##..#/#...#/.###.",
    "1": "..#../.##../..#../..#../..#../..#../.###.",
    "2": ".###./#...#/....#/...#./..#../.#.../#####",
    "3": "####./....#/....#/.###./....#/....#/####.",
    "4": "...#./..##./.#.#./#..#./#####/...#./...#.",
    "5": "#####/#..../####./....#/....#/#...#/.###.",
    "6": ".###./#..../#..../####./#...#/#...#/.###.",
    "7": "#####/....#/...#./..#../.#.../.#.../.#...",
    "8": ".###./#...#/#...#/.###./#...#/#...#/.###.",
    "9": ".###./#...#/#...#/.####/....#/....#/.###.",
    "-": "...../...../...../#####/...../...../.....",
    "+": "...../..#../..#../#####/..#../..#../.....",
    ".": "...../...../...../...../...../.##../.##..",
    ":": "...../.##../.##../...../.##../.##../.....",
    "/": "....#/...#./...#./..#../.#.../.#.../#....",
    "(": "...#./..#../.#.../.#.../.#.../..#../...#.",
    ")": ".#.../..#../...#./...#./...#./..#../.#...",
    " ": "...../...../...../...../...../...../.....",
    ">": ".#.../..#../...#./....#/...#./..#../.#...",
    "<": "...#./..#../.#.../#..../.#.../..#../...#.",
    "%": "##..#/##..#/...#./..#../.#.../#..##/#..##",
    "=": "...../...../#####/...../#####/...../.....",
}
_LETTERS = {
    "A": ".###./#...#/#...#/#####/#...#/#...#/#...#", "B": "####./#...#/#...#/####./#...#/#...#/####.",
    "C": ".###./#...#/#..../#..../#..../#...#/.###.", "D": "####./#...#/#...#/#...#/#...#/#...#/####.",
    "E": "#####/#..../#..../####./#..../#..../#####", "F": "#####/#..../#..../####./#..../#..../#....",
    "G": ".###./#...#/#..../#.###/#...#/#...#/.####", "H": "#...#/#...#/#...#/#####/#...#/#...#/#...#",
    "I": ".###./..#../..#../..#../..#../..#../.###.", "J": "..###/...#./...#./...#./...#./#..#./.##..",
    "K": "#...#/#..#./#.#../##.../#.#../#..#./#...#", "L": "#..../#..../#..../#..../#..../#..../#####",
    "M": "#...#/##.##/#.#.#/#.#.#/#...#/#...#/#...#", "N": "#...#/##..#/#.#.#/#..##/#...#/#...#/#...#",
    "O": ".###./#...#/#...#/#...#/#...#/#...#/.###.", "P": "####./#...#/#...#/####./#..../#..../#....",
    "Q": ".###./#...#/#...#/#...#/#.#.#/#..#./.##.#", "R": "####./#...#/#...#/####./#.#../#..#./#...#",
    "S": ".####/#..../#..../.###./....#/....#/####.", "T": "#####/..#../..#../..#../..#../..#../..#..",
    "U": "#...#/#...#/#...#/#...#/#...#/#...#/.###.", "V": "#...#/#...#/#...#/#...#/#...#/.#.#./..#..",
    "W": "#...#/#...#/#...#/#.#.#/#.#.#/##.##/#...#", "X": "#...#/#...#/.#.#./..#../.#.#./#...#/#...#",
    "Y": "#...#/#...#/.#.#./..#../..#../..#../..#..", "Z": "#####/....#/...#./..#../.#.../#..../#####",
}
_FONT.update(_LETTERS)
_GLYPHS = {ch: np.array([[c == "#" for c in row] for row in rows.split("/")], dtype=bool)
           for ch, rows in _FONT.items()}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(image: Image) -> bytes:
    """PNG bytes of an 8-bit RGB image given as a (height, width, 3) uint8 array."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"encode_png takes a (height, width, 3) uint8 array, got {image.dtype} "
                         f"{image.shape}")
    height, width = image.shape[:2]
    if not (0 < width < 1 << 31 and 0 < height < 1 << 31):
        raise ValueError(f"image size {width}x{height} is not a valid PNG size")
    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, width * 3)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + _chunk(b"IEND", b""))


class Canvas:
    """A white RGB raster with plot panels: each panel maps data coordinates to pixels."""

    def __init__(self, width: int, height: int) -> None:
        self.image: Image = np.full((height, width, 3), 255, np.uint8)

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Sequence[int]) -> None:
        self.image[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = color

    def line(self, xs: npt.ArrayLike, ys: npt.ArrayLike, color: Sequence[int]) -> None:
        """A polyline through pixel coordinates (floats allowed), clipped to the image."""
        x = np.asarray(xs, dtype=float)
        y = np.asarray(ys, dtype=float)
        if x.size == 1:
            x, y = np.repeat(x, 2), np.repeat(y, 2)
        h, w = self.image.shape[:2]
        for i in range(x.size - 1):
            steps = int(max(abs(x[i + 1] - x[i]), abs(y[i + 1] - y[i]))) + 1
            px = np.rint(np.linspace(x[i], x[i + 1], steps + 1)).astype(int)
            py = np.rint(np.linspace(y[i], y[i + 1], steps + 1)).astype(int)
            keep = (px >= 0) & (px < w) & (py >= 0) & (py < h)
            self.image[py[keep], px[keep]] = color

    def text(self, x: int, y: int, text: str, color: Sequence[int] = (0, 0, 0)) -> None:
        """Writes `text` (upper-cased; unknown characters become spaces) with its top-left at x, y."""
        h, w = self.image.shape[:2]
        for i, ch in enumerate(text.upper()):
            glyph = _GLYPHS.get(ch, _GLYPHS[" "])
            gx = x + 6 * i
            ys, xs = np.nonzero(glyph)
            px, py = xs + gx, ys + y
            keep = (px >= 0) & (px < w) & (py >= 0) & (py < h)
            self.image[py[keep], px[keep]] = color

    def panel(self, box: tuple[int, int, int, int], x: npt.ArrayLike, y: npt.ArrayLike,
              xlim: tuple[float, float], ylim: tuple[float, float], *, title: str,
              xticks: Sequence[float], yticks: Sequence[float], xlog: bool = False,
              color: Sequence[int] = (31, 90, 180)) -> None:
        """A framed plot of y against x inside box = (left, top, right, bottom) pixels."""
        left, top, right, bottom = box

        def fx(v: npt.ArrayLike) -> npt.NDArray[np.float64]:
            a = np.asarray(v, dtype=float)
            lo, hi = xlim
            if xlog:
                a, lo, hi = np.log10(np.maximum(a, 1e-12)), np.log10(lo), np.log10(hi)
            return np.asarray(left + (a - lo) / (hi - lo) * (right - left), dtype=np.float64)

        def fy(v: npt.ArrayLike) -> npt.NDArray[np.float64]:
            a = np.clip(np.asarray(v, dtype=float), ylim[0], ylim[1])
            return np.asarray(bottom - (a - ylim[0]) / (ylim[1] - ylim[0]) * (bottom - top),
                              dtype=np.float64)

        grey, black = (220, 220, 220), (0, 0, 0)
        for t in xticks:
            px = float(fx(t))
            self.line([px, px], [top, bottom], grey)
            label = f"{t:g}"
            self.text(int(px) - 3 * len(label), bottom + 4, label)
        for t in yticks:
            py = float(fy(t))
            self.line([left, right], [py, py], grey)
            label = f"{t:g}"
            self.text(left - 6 * len(label) - 4, int(py) - 3, label)
        self.line([left, right, right, left, left], [top, top, bottom, bottom, top], black)
        self.text(left, top - 11, title)
        xs, ys = fx(x), fy(y)
        ok = np.isfinite(xs) & np.isfinite(ys)
        if ok.any():
            self.line(xs[ok], ys[ok], color)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_bytes(encode_png(self.image))
        return path
