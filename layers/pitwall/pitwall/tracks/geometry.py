"""Track geometry, computed the way the DeepRacer simulation app computes it.

A track is the simapp's `.npy` array: one row per waypoint, columns `center_x, center_y,
inner_x, inner_y, outer_x, outer_y` (metres); a loop repeats its first row as its last.
The simapp builds shapely lines from those columns; this module does the same arithmetic with
numpy (projection onto a polyline, distance along it, nearest point), vectorised over many
points at once so that thousands of reward `params` can be built quickly.

Pure code: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

CHUNK_SEGMENTS = 8  # segments per bounding box in a projection
NEAREST_CHUNKS = 3  # boxes a projection looks into before proving it needs no more
COLUMNS = ("center_x", "center_y", "inner_x", "inner_y", "outer_x", "outer_y")


@dataclass(frozen=True)
class Projection:
    """Where points fall on a polyline: one entry per point."""

    distance: FloatArray  # distance along the polyline from its first point (m)
    nearest: FloatArray  # (M, 2) nearest point on the polyline
    gap: FloatArray  # distance from each point to its nearest point (m)
    segment: IntArray  # index of the segment holding the nearest point


@dataclass(frozen=True)
class Polyline:
    """A chain of points, as a shapely LineString/LinearRing of the simapp."""

    points: FloatArray  # (K, 2)

    @cached_property
    def segment_lengths(self) -> FloatArray:
        return np.asarray(np.hypot(*np.diff(self.points, axis=0).T), dtype=np.float64)

    @cached_property
    def cumulative(self) -> FloatArray:
        """Distance along the line of each point (first is 0, last is the length)."""
        return np.concatenate(([0.0], np.cumsum(self.segment_lengths)))

    @property
    def length(self) -> float:
        return float(self.cumulative[-1])

    @cached_property
    def is_closed(self) -> bool:
        return bool(np.all(self.points[0] == self.points[-1]))

    @property
    def segment_count(self) -> int:
        return len(self.points) - 1

    @cached_property
    def _segments(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """Each segment's start (x, y), step (dx, dy) and 1 / length^2 (0 for a zero-length one)."""
        start = self.points[:-1]
        step = self.points[1:] - start
        length2 = step[:, 0] ** 2 + step[:, 1] ** 2
        inverse = np.divide(1.0, length2, out=np.zeros_like(length2), where=length2 > 0.0)
        return start[:, 0].copy(), start[:, 1].copy(), step[:, 0].copy(), step[:, 1].copy(), inverse

    @cached_property
    def _chunks(self) -> tuple[FloatArray, FloatArray, FloatArray, IntArray]:
        """Runs of CHUNK_SEGMENTS segments: a circle around each (centre x, y, radius) and the
        run's segment indices (the last run padded with its own last segment)."""
        count = self.segment_count
        first = np.arange(0, count, CHUNK_SEGMENTS)
        segments = np.minimum(first[:, None] + np.arange(CHUNK_SEGMENTS)[None, :], count - 1)
        ends = np.concatenate([self.points[:-1][segments], self.points[1:][segments]], axis=1)
        centre = (ends.min(axis=1) + ends.max(axis=1)) / 2
        radius = np.hypot(*(ends - centre[:, None, :]).transpose(2, 0, 1)).max(axis=1)
        return centre[:, 0].copy(), centre[:, 1].copy(), radius, segments

    def _candidates(
        self, x: FloatArray, y: FloatArray, segments: IntArray
    ) -> tuple[IntArray, FloatArray, FloatArray]:
        """The best of `segments` ((M|1, C) indices, ascending) for each point."""
        start_x, start_y, step_x, step_y, inverse = self._segments
        rel_x = x[:, None] - start_x[segments]
        rel_y = y[:, None] - start_y[segments]
        sx, sy = step_x[segments], step_y[segments]
        t = np.clip((rel_x * sx + rel_y * sy) * inverse[segments], 0.0, 1.0)
        off_x = rel_x - t * sx
        off_y = rel_y - t * sy
        gap2 = off_x * off_x + off_y * off_y
        best = np.argmin(gap2, axis=1)  # the first of equals: the lowest segment index
        rows = np.arange(len(x))
        segment = np.broadcast_to(segments, gap2.shape)[rows, best]
        return segment, t[rows, best], np.sqrt(gap2[rows, best])

    def project(self, points: npt.ArrayLike) -> Projection:
        """Nearest point on the line of each of `points` (M, 2); ties go to the first segment,
        as GEOS does.

        Exact and cheap: each point is matched against the segments of the NEAREST_CHUNKS runs
        of segments whose enclosing circles come nearest; where the next run's circle is not
        farther than the match, the point is matched against every segment instead."""
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        x, y = p[:, 0], p[:, 1]
        centre_x, centre_y, radius, chunk_segments = self._chunks
        if len(radius) <= NEAREST_CHUNKS:
            segment, t, gap = self._candidates(x, y, np.arange(self.segment_count)[None, :])
        else:
            bound = np.hypot(x[:, None] - centre_x, y[:, None] - centre_y) - radius  # (M, chunks)
            order = np.argpartition(bound, NEAREST_CHUNKS, axis=1)
            chosen = chunk_segments[order[:, :NEAREST_CHUNKS]].reshape(len(p), -1)
            chosen.sort(axis=1)
            segment, t, gap = self._candidates(x, y, chosen)
            next_bound = bound[np.arange(len(p)), order[:, NEAREST_CHUNKS]]
            unproven = np.flatnonzero(next_bound <= gap)
            if unproven.size:
                every = np.arange(self.segment_count)[None, :]
                segment[unproven], t[unproven], gap[unproven] = self._candidates(
                    x[unproven], y[unproven], every
                )
        start = self.points[:-1][segment]
        nearest = start + t[:, None] * (self.points[1:][segment] - start)
        distance = self.cumulative[segment] + t * self.segment_lengths[segment]
        return Projection(distance, nearest, gap, segment)


def headings_deg(points: FloatArray) -> FloatArray:
    """Heading of each segment point[i] -> point[i+1], degrees in (-180, 180]."""
    step = np.diff(points, axis=0)
    return normalise_deg(np.degrees(np.arctan2(step[:, 1], step[:, 0])))


def normalise_deg(angle: npt.ArrayLike) -> FloatArray:
    """Angles folded into (-180, 180]."""
    folded = np.mod(np.asarray(angle, dtype=np.float64) + 180.0, 360.0) - 180.0
    return np.asarray(np.where(folded == -180.0, 180.0, folded), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Track:
    """One track in one driving direction.

    `rows` is the file's (N, 6) array, in driving order: `reversed_view()` gives the same track
    driven the other way (rows reversed, inner border still inner), as the simapp does when
    `REVERSE_DIR` is set.
    """

    name: str
    rows: FloatArray = field(repr=False)
    is_reversed: bool = False

    # -- the three lines -------------------------------------------------------------------
    @cached_property
    def center(self) -> Polyline:
        return Polyline(np.ascontiguousarray(self.rows[:, 0:2]))

    @cached_property
    def inner(self) -> Polyline:
        return Polyline(np.ascontiguousarray(self.rows[:, 2:4]))

    @cached_property
    def outer(self) -> Polyline:
        return Polyline(np.ascontiguousarray(self.rows[:, 4:6]))

    # -- facts -----------------------------------------------------------------------------
    @cached_property
    def is_loop(self) -> bool:
        """A closed loop repeats its first row as its last (simapp: all columns equal)."""
        return bool(np.all(self.rows[0] == self.rows[-1]))

    @property
    def waypoint_count(self) -> int:
        """Rows, including the repeated last row of a loop (the simapp's waypoint indices)."""
        return len(self.rows)

    @property
    def length(self) -> float:
        """Centre-line length (m)."""
        return self.center.length

    @property
    def cumulative_distance(self) -> FloatArray:
        """Distance along the centre line of each waypoint from waypoint 0 (m)."""
        return self.center.cumulative

    @cached_property
    def waypoint_fractions(self) -> FloatArray:
        """The simapp's `ndists`: each waypoint's share of the length, the last forced to 1.0."""
        fractions = self.center.cumulative / self.length
        fractions[-1] = 1.0
        return fractions

    @cached_property
    def border_gaps(self) -> FloatArray:
        """Distance between each row's inner and outer point (the width a file's rows state;
        INDEX.csv's median width). Where a file's border rows are not abreast of the centre
        row, this overstates the road: `widths` is what the simapp reports."""
        return np.asarray(np.hypot(*(self.rows[:, 2:4] - self.rows[:, 4:6]).T), dtype=np.float64)

    @cached_property
    def widths(self) -> FloatArray:
        """Local width at each waypoint, as the simapp measures `track_width`: between the points
        of the inner and outer borders nearest to the centre point."""
        return self.width_at(self.center.points)

    @cached_property
    def is_ccw(self) -> bool:
        """Counter-clockwise in the driving direction. An open track counts as counter-clockwise
        when driven forward (the simapp's rule), clockwise reversed."""
        if not self.is_loop:
            return not self.is_reversed
        x, y = self.center.points[:-1].T
        twice_area = float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
        return twice_area > 0.0

    @property
    def direction(self) -> str:
        return "ccw" if self.is_ccw else "cw"

    @cached_property
    def segment_headings(self) -> FloatArray:
        """Heading (degrees, (-180, 180]) of each centre-line segment i -> i+1 (N - 1 values)."""
        return headings_deg(self.center.points)

    def waypoint_heading(self, index: int) -> float:
        """Heading of the driving direction at waypoint `index`: of the segment leaving it (the
        last waypoint of an open track uses the segment arriving at it)."""
        segments = len(self.segment_headings)
        if index >= segments:
            index = 0 if self.is_loop else segments - 1
        return float(self.segment_headings[index])

    @cached_property
    def left_normals(self) -> FloatArray:
        """(N, 2) unit vectors pointing left of the driving direction at each waypoint, across
        the bisector of the two segments that meet there."""
        step = np.diff(self.center.points, axis=0)
        lengths = np.hypot(*step.T)
        unit = step / np.where(lengths > 0, lengths, 1.0)[:, None]
        before, after = (unit[-1:], unit[:1]) if self.is_loop else (unit[:1], unit[-1:])
        tangent = np.vstack([before, unit]) + np.vstack([unit, after])
        size = np.hypot(*tangent.T)
        tangent = np.where(size[:, None] > 1e-9, tangent / np.where(size > 0, size, 1.0)[:, None], 0.0)
        return np.column_stack([-tangent[:, 1], tangent[:, 0]])

    def reversed_view(self) -> Track:
        """The same track driven the other way (made once, then kept)."""
        return self._reversed

    @cached_property
    def _reversed(self) -> Track:
        reversed_track = Track(self.name, np.ascontiguousarray(self.rows[::-1]), not self.is_reversed)
        reversed_track.__dict__["_reversed"] = self
        reversed_track.__dict__["widths"] = np.ascontiguousarray(self.widths[::-1])  # the same road
        return reversed_track

    # -- queries about points --------------------------------------------------------------
    def closest_waypoints(self, points: npt.ArrayLike) -> IntArray:
        """The simapp's `closest_waypoints` [prev, next] of each point (M, 2): the waypoints on
        either side of the point's projection onto the centre line."""
        fractions = self.center.project(points).distance / self.length
        return self.waypoints_around(fractions)

    def waypoints_around(self, fractions: npt.ArrayLike) -> IntArray:
        """[prev, next] waypoint indices around normalised distances along the centre line."""
        ndists = self.waypoint_fractions
        next_index = np.searchsorted(ndists, np.asarray(fractions, dtype=np.float64), side="right")
        prev_index = next_index - 1
        prev_index = np.where(prev_index == -1, len(ndists) - 1, prev_index)
        next_index = np.where(next_index == len(ndists), 0, next_index)
        return np.stack([prev_index, next_index], axis=-1)

    def width_at(self, points: npt.ArrayLike) -> FloatArray:
        """Local track width at the centre-line points nearest to `points`."""
        on_center = self.center.project(points)
        near_inner = self.inner.project(on_center.nearest).nearest
        near_outer = self.outer.project(on_center.nearest).nearest
        return np.asarray(np.hypot(*(near_inner - near_outer).T), dtype=np.float64)

    def side_of_center(self, points: npt.ArrayLike) -> SideOfCenter:
        """Distance from the centre line and left/right of it (facing the driving direction),
        by the simapp's rule: nearer the inner border's point than the outer's, XOR clockwise."""
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        on_center = self.center.project(p)
        near_inner = self.inner.project(on_center.nearest).nearest
        near_outer = self.outer.project(on_center.nearest).nearest
        nearer_inner = np.hypot(*(p - near_inner).T) < np.hypot(*(p - near_outer).T)
        width = np.hypot(*(near_inner - near_outer).T)
        return SideOfCenter(
            nearest=on_center.nearest,
            segment=on_center.segment,
            distance_along=on_center.distance,
            distance_from_center=on_center.gap,
            is_left=nearer_inner ^ (not self.is_ccw),
            width=np.asarray(width, dtype=np.float64),
        )


@dataclass(frozen=True)
class SideOfCenter:
    nearest: FloatArray  # (M, 2) the point's projection onto the centre line
    segment: IntArray  # the centre-line segment holding it
    distance_along: FloatArray
    distance_from_center: FloatArray
    is_left: npt.NDArray[np.bool_]
    width: FloatArray
