"""Compact latency histograms for result files and charts (statistics never come from them).

A `LatencyHistogram` counts the full-resolution samples (integer nanoseconds) in log-spaced bins on a
fixed grid: edge k is 10 ** (k / bins_per_decade) nanoseconds, so every histogram with the same
`bins_per_decade` shares its edges with every other one (A/B overlays line up bin for bin). Only the
bins from the one holding the smallest sample to the one holding the largest are kept.

Precision: with the default 40 bins per decade a bin spans a factor 10 ** (1/40) = 1.0593, i.e. a
sample lies within 5.9 % above its bin's lower edge (within 2.9 % of the bin's geometric centre).
Counts are exact: they add up to the number of samples. Bin i holds the samples x with
edges[i] <= x < edges[i + 1]; samples below 1 ns (none in practice) count in the bin of 1 ns.

Percentiles, mean, min and max are computed from the samples themselves (stats.py), never from here.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.core.bench.stats import as_ns_array

#: the default resolution: 40 bins per factor of ten (each bin 5.9 % wide)
BINS_PER_DECADE = 40


def edges_ns(first_edge_index: int, bins: int, bins_per_decade: int = BINS_PER_DECADE) -> np.ndarray:
    """The `bins + 1` edges (float nanoseconds) starting at grid index `first_edge_index`."""
    k = np.arange(first_edge_index, first_edge_index + bins + 1, dtype=np.float64)
    return np.power(10.0, k / float(bins_per_decade))


@dataclass(frozen=True)
class LatencyHistogram:
    """Counts of latency samples in log-spaced bins (see the module docstring for the grid)."""

    bins_per_decade: int
    first_edge_index: int
    counts: tuple[int, ...]

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def from_ns(cls, samples_ns: Iterable[int] | np.ndarray | array,
                bins_per_decade: int = BINS_PER_DECADE) -> LatencyHistogram | None:
        """The histogram of integer-nanosecond samples; None when there are none."""
        if bins_per_decade < 1:
            raise ValueError(f"bins_per_decade must be >= 1, got {bins_per_decade}")
        values = np.maximum(as_ns_array(samples_ns), 1)
        if values.size == 0:
            return None
        vmin, vmax = int(values.min()), int(values.max())
        lo = math.floor(bins_per_decade * math.log10(vmin))
        hi = math.floor(bins_per_decade * math.log10(vmax))
        # log10 can be off by an ulp: move the ends until edges[0] <= vmin and vmax < edges[-1]
        while edges_ns(lo, 0, bins_per_decade)[0] > vmin:
            lo -= 1
        while edges_ns(hi + 1, 0, bins_per_decade)[0] <= vmax:
            hi += 1
        edges = edges_ns(lo, hi - lo + 1, bins_per_decade)
        index = np.searchsorted(edges, values, side="right") - 1
        counts = np.bincount(index, minlength=len(edges) - 1)
        nonzero = np.flatnonzero(counts)
        first, last = int(nonzero[0]), int(nonzero[-1])
        return cls(bins_per_decade, lo + first, tuple(int(c) for c in counts[first:last + 1]))

    # -- reading ----------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Number of samples counted (the sum of the bins)."""
        return int(sum(self.counts))

    @property
    def edges_ms(self) -> list[float]:
        """The len(counts) + 1 bin edges in milliseconds."""
        return [float(e) / 1e6 for e in edges_ns(self.first_edge_index, len(self.counts), self.bins_per_decade)]

    @property
    def centers_ms(self) -> list[float]:
        """Geometric centre of each bin in milliseconds."""
        e = edges_ns(self.first_edge_index, len(self.counts), self.bins_per_decade)
        return [float(c) / 1e6 for c in np.sqrt(e[:-1] * e[1:])]

    @property
    def relative_width(self) -> float:
        """How much wider than its lower edge a bin is: 10 ** (1 / bins_per_decade) - 1."""
        return 10.0 ** (1.0 / self.bins_per_decade) - 1.0

    def fractions(self) -> list[float]:
        """Each bin's share of the samples (0..1); comparable between runs of different lengths."""
        total = self.count
        return [c / total for c in self.counts] if total else [0.0] * len(self.counts)

    def coarsen(self, factor: int) -> LatencyHistogram:
        """Merge every `factor` neighbouring bins (aligned on the grid, so overlays still line up).

        `bins_per_decade` must be divisible by `factor`."""
        if factor < 1 or self.bins_per_decade % factor:
            raise ValueError(f"cannot merge {factor} bins of a {self.bins_per_decade}-per-decade histogram")
        if factor == 1:
            return self
        start = self.first_edge_index // factor            # floor division: aligned for negative indices too
        offset = self.first_edge_index - start * factor
        padded = [0] * offset + list(self.counts)
        padded += [0] * (-len(padded) % factor)
        merged = [sum(padded[i:i + factor]) for i in range(0, len(padded), factor)]
        return LatencyHistogram(self.bins_per_decade // factor, start, tuple(merged))

    # -- files ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """{"scale": "log10", "bins_per_decade", "first_edge_index", "count", "edges_ms", "counts"}."""
        return {"scale": "log10", "bins_per_decade": self.bins_per_decade,
                "first_edge_index": self.first_edge_index, "count": self.count,
                "edges_ms": self.edges_ms, "counts": list(self.counts)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LatencyHistogram:
        """Read `to_json` output (the edges are recomputed from the grid, the counts taken as they are)."""
        if data.get("scale", "log10") != "log10":
            raise ValueError(f"unknown histogram scale {data.get('scale')!r}")
        return cls(int(data["bins_per_decade"]), int(data["first_edge_index"]),
                   tuple(int(c) for c in data["counts"]))

    def to_text(self) -> str:
        """The CSV cell form: "log10/40@-3:5 0 12 7" (bins per decade, first edge index, counts)."""
        return f"log10/{self.bins_per_decade}@{self.first_edge_index}:" + " ".join(str(c) for c in self.counts)

    @classmethod
    def from_text(cls, text: str) -> LatencyHistogram:
        """Parse `to_text` output; raises ValueError on anything else."""
        head, sep, body = text.strip().partition(":")
        scale, _, rest = head.partition("/")
        bpd, at, first = rest.partition("@")
        if not sep or scale != "log10" or not at:
            raise ValueError(f"not a histogram cell: {text[:40]!r}")
        return cls(int(bpd), int(first), tuple(int(c) for c in body.split()))


def histogram_of(data: dict[str, Any] | str | None) -> LatencyHistogram | None:
    """A histogram from a result row's `histogram` value (JSON dict or CSV text); None when absent."""
    if data is None or data == "":
        return None
    if isinstance(data, LatencyHistogram):
        return data
    if isinstance(data, str):
        return LatencyHistogram.from_text(data)
    return LatencyHistogram.from_json(data)

