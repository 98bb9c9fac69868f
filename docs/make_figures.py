"""Draw docs/geometry.png from drr's own geometry code (run: python docs/make_figures.py)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import drr  # noqa: E402
from drr.data import load_example_ct  # noqa: E402
from drr.io.atomic import atomic_path  # noqa: E402

OUT = Path(__file__).resolve().parent / "geometry.png"


def board_outline(geo: drr.Geometry) -> np.ndarray:
    """The 4 outer corners of pose 0's board (pixel edges, not centres), closed."""
    rows, cols = geo.shape
    du, dv = geo.pixel_spacing[0]
    hu, hv = cols / 2 * du * geo.u[0], rows / 2 * dv * geo.v[0]
    c = geo.center[0]
    return np.array([c - hu - hv, c + hu - hv, c + hu + hv, c - hu + hv, c - hu - hv])


def main() -> None:
    vol = load_example_ct()
    geo = drr.Geometry.carm(vol.center(), sid=700, sdd=1100, primary_deg=30, secondary_deg=15,
                            shape=(200, 200), pixel_spacing=2.2)
    image = drr.render(vol, geo, backend="cpu")

    fig = plt.figure(figsize=(11, 5.2))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    corners = vol.corners()                       # ordered i fastest, then j, then k
    for a in range(8):
        for b in range(a + 1, 8):
            if bin(a ^ b).count("1") == 1:      # box edges join corners differing in one index
                ax.plot(*corners[[a, b]].T, color="tab:blue", lw=1)
    s = geo.source[0]
    board = board_outline(geo)
    ax.plot(*board.T, color="k", lw=1.5)
    for p in board[:4]:
        ax.plot(*np.c_[s, p], color="tab:orange", lw=0.9)
    ax.plot(*np.c_[s, geo.center[0]], color="tab:red", lw=1, ls="--")
    ax.scatter(*s, color="tab:red", s=30)
    ax.text(*s, "  source", color="tab:red")
    c = geo.center[0]
    for vec, name, col in ((geo.u[0], "u (columns)", "tab:green"), (geo.v[0], "v (rows)", "tab:purple")):
        ax.quiver(*(board[0]), *(vec * 150), color=col, arrow_length_ratio=0.15)
        ax.text(*(board[0] + vec * 170), name, color=col)
    ax.text(*board[0], " pixel (0, 0)", fontsize=8)
    ax.text(*c, "  board", color="k")
    ax.text(*corners[-1], " CT volume", color="tab:blue")
    ax.set_xlabel("x: patient left (mm)")
    ax.set_ylabel("y: posterior (mm)")
    ax.set_zlabel("z: superior (mm)")
    ax.set_title("LPS world frame: C-arm LAO 30°, cranial 15°")
    pts = np.r_[corners, board, s[None]]
    mid, half = pts.mean(0), (pts.max(0) - pts.min(0)).max() / 2
    ax.set_xlim(mid[0] - half, mid[0] + half)
    ax.set_ylim(mid[1] - half, mid[1] + half)
    ax.set_zlim(mid[2] - half, mid[2] + half)
    ax.view_init(elev=12, azim=-25)

    ax2 = fig.add_subplot(1, 2, 2)
    ax2.imshow(image, cmap="gray", origin="upper")
    ax2.set_title("the DRR: row 0 at the top, column 0 at the left\n(bright = more attenuation)")
    ax2.set_xlabel("column (along u)")
    ax2.set_ylabel("row (along v)")
    fig.tight_layout()
    with atomic_path(OUT) as tmp:
        fig.savefig(tmp, dpi=110)
    print(OUT)


if __name__ == "__main__":
    main()
