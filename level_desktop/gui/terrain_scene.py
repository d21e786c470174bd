"""How a terrain sits in the 3D scene: coordinates, vertex colours, label anchors, picking (Qt-free).

The scene's ground is a square SCENE_HALF_WIDTH units from the centre to each side; terrain height
10 (the unweighted peak) stands PEAK_SCENE_HEIGHT units tall. The scale never changes with the
weights, so a lowered weight shows as a lower hill.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from level_desktop.core.terrain import GROUND, PEAK, Terrain

SCENE_HALF_WIDTH = 10.0
PEAK_SCENE_HEIGHT = 6.0
Z_PER_HEIGHT = PEAK_SCENE_HEIGHT / PEAK
GROUND_RGB = np.array([0.84, 0.82, 0.76], dtype=np.float32)
BARE_HEIGHT = GROUND * PEAK  # below this a vertex belongs to no hill (terrain.owners says −1)
COLOR_RAMP_HEIGHT = 0.5  # terrain units above BARE_HEIGHT over which ground takes a hill's colour
LIGHT = np.array([-0.45, -0.55, 0.70], dtype=np.float32) / np.linalg.norm([-0.45, -0.55, 0.70])
AMBIENT = 0.35
DIMMED_MIX = 0.3  # how far an unselected hill fades towards the ground colour
LABEL_LIFT = 0.35  # scene units between a hill's top and its label


@dataclass
class TerrainScene:
    """A terrain's grid mapped into scene units, with one colour per cluster."""

    xs: np.ndarray  # (G,) scene x of each grid column
    ys: np.ndarray  # (G,) scene y of each grid row
    centers: np.ndarray  # (k, 2) scene position of each hill's centre
    center_cells: np.ndarray  # (k, 2) grid cell of each hill's centre
    palette: np.ndarray  # (k, 3) floats in [0, 1]
    mid: tuple[float, float] = (0.0, 0.0)  # the map point at the scene's centre
    scale: float = 1.0  # scene units per map unit

    @classmethod
    def from_terrain(cls, terrain: Terrain, palette: np.ndarray) -> TerrainScene:
        mid_x = (terrain.xs[0] + terrain.xs[-1]) / 2
        mid_y = (terrain.ys[0] + terrain.ys[-1]) / 2
        half = max(terrain.xs[-1] - terrain.xs[0], terrain.ys[-1] - terrain.ys[0], 1e-12) / 2
        scale = SCENE_HALF_WIDTH / half
        xs = ((terrain.xs - mid_x) * scale).astype(np.float32)
        ys = ((terrain.ys - mid_y) * scale).astype(np.float32)
        centers = np.column_stack([(terrain.centers[:, 0] - mid_x) * scale,
                                   (terrain.centers[:, 1] - mid_y) * scale]).astype(np.float32)
        cells = np.array([terrain.cell_of(x, y) for x, y in terrain.centers], dtype=np.int64)
        return cls(xs=xs, ys=ys, centers=centers, center_cells=cells.reshape(-1, 2),
                   palette=np.asarray(palette, dtype=np.float32),
                   mid=(float(mid_x), float(mid_y)), scale=float(scale))

    def to_map(self, x: float, y: float) -> tuple[float, float]:
        """The map point (the terrain's own units) drawn at scene point (x, y)."""
        return x / self.scale + self.mid[0], y / self.scale + self.mid[1]

    def to_scene(self, x: float, y: float) -> tuple[float, float]:
        """The scene point where map point (x, y) is drawn."""
        return (x - self.mid[0]) * self.scale, (y - self.mid[1]) * self.scale

    def surface_z(self, heights: np.ndarray) -> np.ndarray:
        """Scene z per vertex for terrain heights (G, G)."""
        return (np.asarray(heights, dtype=np.float32) * Z_PER_HEIGHT).astype(np.float32)

    def vertex_colors(self, heights: np.ndarray, owners: np.ndarray,
                      selected: int | None = None) -> np.ndarray:
        """(G, G, 4) uint8 colours: the owning hill's colour, lit by a fixed sun (hillshade).

        Lighting is baked into the colours so the GPU draws flat per-vertex colours (fast).
        """
        heights = np.asarray(heights, dtype=np.float32)
        z = heights * np.float32(Z_PER_HEIGHT)
        dz_dx, dz_dy = np.gradient(z, self.xs[1] - self.xs[0], self.ys[1] - self.ys[0])
        lit = (-dz_dx * LIGHT[0] - dz_dy * LIGHT[1] + LIGHT[2]) / np.sqrt(
            dz_dx * dz_dx + dz_dy * dz_dy + 1.0)
        shade = np.clip(AMBIENT + (1.0 - AMBIENT) / LIGHT[2] * lit, AMBIENT, 1.15)
        # Row 0 is bare ground, row c + 1 cluster c (faded towards the ground unless selected).
        colors = np.vstack([GROUND_RGB, self.palette]).astype(np.float32)
        if selected is not None:
            faded = np.ones(len(colors), dtype=bool)
            faded[[0, selected + 1]] = False
            colors[faded] = colors[faded] * (1 - DIMMED_MIX) + GROUND_RGB * DIMMED_MIX
        base = colors[owners + 1]
        ramp = np.clip((heights - BARE_HEIGHT) / COLOR_RAMP_HEIGHT, 0.0, 1.0)
        rgb = GROUND_RGB + (base - GROUND_RGB) * ramp[..., None]
        rgb *= (shade * 255.0)[..., None]
        out = np.full((*heights.shape, 4), 255, dtype=np.uint8)
        np.clip(rgb, 0, 255, out=rgb)
        out[..., :3] = rgb
        return out

    def label_anchors(self, heights: np.ndarray) -> np.ndarray:
        """(k, 3) scene positions just above each hill's centre at the current heights."""
        tops = heights[self.center_cells[:, 0], self.center_cells[:, 1]] * Z_PER_HEIGHT
        return np.column_stack([self.centers, tops + LABEL_LIFT]).astype(np.float32)

    def vertices(self, heights: np.ndarray) -> np.ndarray:
        """(G·G, 3) scene positions of the surface's vertices, x-major like the surface item."""
        gx, gy = np.meshgrid(self.xs, self.ys, indexing="ij")
        return np.column_stack([gx.ravel(), gy.ravel(), self.surface_z(heights).ravel()])


def pick_vertex(mvp: np.ndarray, vertices: np.ndarray, width: float, height: float,
                x: float, y: float, radius: float = 6.0) -> int | None:
    """The vertex nearest the camera among those drawn within `radius` pixels of (x, y).

    `mvp` is the row-major 4×4 model-view-projection matrix; (x, y) are widget pixels, y down.
    """
    homogeneous = np.column_stack([vertices, np.ones(len(vertices), dtype=vertices.dtype)])
    clip = homogeneous @ mvp.T
    w = clip[:, 3]
    in_front = w > 1e-9
    ndc = clip[:, :3] / np.where(in_front, w, 1.0)[:, None]
    sx = (ndc[:, 0] + 1) * 0.5 * width
    sy = (1 - ndc[:, 1]) * 0.5 * height
    near = in_front & (np.abs(ndc[:, 2]) <= 1) & ((sx - x) ** 2 + (sy - y) ** 2 <= radius ** 2)
    if not near.any():
        return None
    candidates = np.flatnonzero(near)
    return int(candidates[np.argmin(ndc[candidates, 2])])
