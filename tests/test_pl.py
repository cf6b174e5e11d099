"""scam.pl plots and scam.tl.velocity_embedding: what is drawn, projections against closed forms, bad inputs."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from _helpers import MEDIUM_NET, Snapshot  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

import scam  # noqa: E402
from scam.datasets import gaussian_path  # noqa: E402
from scam.pl._velocity import grid_velocity  # noqa: E402

A = np.array([[1.0, 0.5], [-0.3, 2.0], [0.7, -1.2]])  # a linear embedding of the 3-D representation
N_PATHS, N_STEPS = 12, 10


@pytest.fixture(scope="module")
def fitted():
    """A tiny fit with growth (λ > 0), trajectories, a linear and a non-linear 2-D embedding."""
    adata = gaussian_path(n_cells=120, times=(0.0, 1.0, 2.0), n_dims=3, random_state=0)
    model = scam.tl.fit(adata, "time", lam=0.5, n_iters=100, validation=True, **MEDIUM_NET)
    scam.tl.trajectories(adata, model, n_cells=N_PATHS, n_steps=N_STEPS)
    adata.obsm["X_lin"] = adata.obsm["X_pca"] @ A
    adata.obsm["X_umap"] = np.tanh(adata.obsm["X_pca"][:, :2])  # non-linear, with a known Jacobian
    return adata


@pytest.fixture
def adata(fitted):
    return fitted.copy()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _paths(ax):
    found = [c for c in ax.collections if c.get_gid() == "scam_trajectories"]
    assert len(found) == 1
    return found[0]


def _colorbar_label(fig, ax):
    """Labels of the colourbars added beside ``ax`` (either orientation)."""
    return [a.get_xlabel() or a.get_ylabel() for a in fig.axes if a is not ax and a.get_label() == "<colorbar>"]


# --- trajectories -------------------------------------------------------------------------------


def test_trajectories_pca_draws_every_path_exactly(adata):
    traj = adata.uns["scam"]["trajectories"]
    fig = scam.pl.trajectories(adata, basis="pca", dimensions=(0, 2), return_fig=True)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lines = _paths(ax)
    segs = lines.get_segments()
    assert len(segs) == N_PATHS * N_STEPS
    # basis "pca" is the representation: path points are drawn at their exact coordinates
    drawn = np.array([s[0] for s in segs]).reshape(N_PATHS, N_STEPS, 2)
    np.testing.assert_allclose(drawn, traj["paths"][:, :-1, [0, 2]], rtol=1e-6)
    # the path starts at its start cell; the start dots sit there
    start_xy = adata.obsm["X_pca"][traj["start_index"]][:, [0, 2]]
    np.testing.assert_allclose(drawn[:, 0], start_xy, rtol=1e-6)
    starts = [c for c in ax.collections if c.get_gid() == "scam_trajectory_starts"][0]
    np.testing.assert_allclose(starts.get_offsets(), start_xy, rtol=1e-6)
    # time runs along each path: segment colours follow the mid-segment time, 0 → 2
    seg_t = lines.get_array().reshape(N_PATHS, N_STEPS)
    assert np.all(np.diff(seg_t, axis=1) > 0)
    assert lines.get_clim() == (0.0, 2.0)
    assert "simulated time (time)" in _colorbar_label(fig, ax)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("PC1", "PC3")


def test_trajectories_nonlinear_basis_maps_points_by_knn(adata):
    traj = adata.uns["scam"]["trajectories"]
    ax = scam.pl.trajectories(adata, basis="umap", show=False)
    segs = _paths(ax).get_segments()
    pts = np.array([s[0] for s in segs]).reshape(N_PATHS, N_STEPS, 2)
    E = adata.obsm["X_umap"]
    # a point on a cell maps to that cell exactly; every point is an average of cells' coordinates
    np.testing.assert_allclose(pts[:, 0], E[traj["start_index"]], atol=1e-5)  # paths are float32
    assert np.all(pts >= E.min(0) - 1e-9) and np.all(pts <= E.max(0) + 1e-9)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("UMAP1", "UMAP2")


def test_trajectories_line_width_follows_weight_with_growth(adata):
    w = adata.uns["scam"]["trajectories"]["weights"]
    assert not np.allclose(w, 1.0), "the fixture has growth: weights must vary"
    ax = scam.pl.trajectories(adata, basis="pca", linewidth=2.0, show=False)
    widths = np.asarray(_paths(ax).get_linewidths())
    expected = 2.0 * np.clip(0.5 * (w[:, :-1] + w[:, 1:]), 0.2, 5.0).ravel()
    np.testing.assert_allclose(widths, expected, rtol=1e-6)
    assert widths.std() > 0
    # without growth (all weights 1) every path has the same width
    adata.uns["scam"]["trajectories"]["weights"] = np.ones_like(w)
    ax = scam.pl.trajectories(adata, basis="pca", linewidth=2.0, show=False)
    assert np.unique(np.asarray(_paths(ax).get_linewidths())).tolist() == [2.0]
    ax = scam.pl.trajectories(adata, basis="pca", scale_by_weight=False, show=False)
    assert len(np.unique(np.asarray(_paths(ax).get_linewidths()))) == 1


def test_trajectories_subset_and_default_color(adata):
    adata.obs["stage"] = pd.Categorical(np.where(adata.obs["time"] < 1, "early", "late"))
    ax = scam.pl.trajectories(adata, basis="lin", n_trajectories=5, color="stage", show=False)
    assert len(_paths(ax).get_segments()) == 5 * N_STEPS
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["early", "late"]
    # default colour: the fit's time key ("time", numeric: a colourbar of the observed cells)
    fig = scam.pl.trajectories(adata, basis="lin", return_fig=True)
    cells = fig.axes[0].collections[0]
    np.testing.assert_allclose(np.sort(cells.get_array()), np.sort(adata.obs["time"].to_numpy()))


def test_show_semantics(adata, monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(1))
    _, ax = plt.subplots()
    assert scam.pl.trajectories(adata, basis="pca", ax=ax) is ax  # ax given: not shown
    assert scam.pl.growth(adata, basis="pca", ax=ax) is ax
    assert not shown
    assert scam.pl.history(adata) is None and shown == [1]  # no ax: shown, nothing returned
    assert isinstance(scam.pl.velocity(adata, basis="pca", return_fig=True), Figure)
    assert scam.pl.velocity(adata, basis="pca", ax=ax, show=True) is None and shown == [1, 1]
    table = pd.DataFrame(
        {"method": ["scam", "ot"], "held_out": "1", "seed": 0, "metric": "w1", "value": [1.0, 2.0], "fit_seconds": 1.0}
    )
    assert scam.pl.benchmark(table, ax=ax) is ax and shown == [1, 1]  # as every plot: ax given, not shown
    assert scam.pl.benchmark(table) is None and shown == [1, 1, 1]


# --- velocity_embedding ----------------------------------------------------------------------


def test_velocity_embedding_is_exact_for_a_linear_embedding(adata):
    V = adata.obsm["scam_velocity"]
    scam.tl.velocity_embedding(adata, basis="lin")
    np.testing.assert_allclose(adata.obsm["scam_velocity_lin"], V @ A, rtol=1e-4, atol=1e-5)
    assert adata.uns["scam"]["velocity_embedding"]["lin"]["method"] == "local_linear"
    # basis "pca" is the representation itself: the velocity, unchanged
    scam.tl.velocity_embedding(adata, basis="pca")
    np.testing.assert_array_equal(adata.obsm["scam_velocity_pca"], V)
    assert adata.uns["scam"]["velocity_embedding"]["pca"]["method"] == "exact"


def test_velocity_embedding_nonlinear_matches_jacobian(adata):
    """Embedding tanh(x1), tanh(x2): the projected velocity is (1 − tanh²(x)) v to first order."""
    X, V = adata.obsm["X_pca"], adata.obsm["scam_velocity"]
    truth = (1 - np.tanh(X[:, :2]) ** 2) * V[:, :2]
    scam.tl.velocity_embedding(adata, basis="X_umap", n_neighbors=20)
    got = adata.obsm["scam_velocity_umap"]
    # 0.14 here (neighbourhoods of 20 among 360 cells are wide for tanh's curvature)
    assert np.linalg.norm(got - truth) / np.linalg.norm(truth) < 0.25
    # dropping the Jacobian (the raw velocity) is far off: 1.3 here
    assert np.linalg.norm(V[:, :2] - truth) / np.linalg.norm(truth) > 0.8


def test_velocity_embedding_copy_and_h5ad(adata, tmp_path):
    snap = Snapshot.of(adata)
    out = scam.tl.velocity_embedding(adata, basis="lin", copy=True)
    snap.assert_unchanged(adata)
    assert "scam_velocity_lin" in out.obsm
    out.write_h5ad(tmp_path / "a.h5ad")


# --- velocity ------------------------------------------------------------------------------------


def test_velocity_stream(adata):
    assert "scam_velocity_umap" not in adata.obsm
    ax = scam.pl.velocity(adata, basis="umap", show=False)
    assert "scam_velocity_umap" in adata.obsm  # computed when missing, scvelo naming
    stream = [c for c in ax.collections if c.get_gid() == "scam_velocity_stream"]
    assert len(stream) == 1 and isinstance(stream[0], LineCollection) and len(stream[0].get_segments()) > 10
    assert len(ax.patches) > 0  # the streamlines' arrowheads
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("UMAP1", "UMAP2")


def test_velocity_arrows_show_projected_velocities(adata):
    ax = scam.pl.velocity(adata, basis="lin", kind="arrows", n_arrows=40, show=False)
    q = [c for c in ax.collections if isinstance(c, Quiver)]
    assert len(q) == 1 and q[0].N == 40
    # each arrow sits on a cell and is that cell's velocity pushed through the linear map
    idx = [int(np.argmin(np.linalg.norm(adata.obsm["X_lin"] - p, axis=1))) for p in np.c_[q[0].X, q[0].Y]]
    np.testing.assert_allclose(np.c_[q[0].X, q[0].Y], adata.obsm["X_lin"][idx])
    truth = (adata.obsm["scam_velocity"] @ A)[idx]
    np.testing.assert_allclose(np.c_[q[0].U, q[0].V], truth, rtol=1e-3, atol=1e-4)
    ax = scam.pl.velocity(adata, basis="lin", kind="grid", n_grid=15, show=False)
    q = [c for c in ax.collections if isinstance(c, Quiver)]
    assert len(q) == 1 and 0 < q[0].N < 15 * 15  # empty grid points are left out


def test_velocity_recomputes_after_refit(adata):
    scam.tl.velocity_embedding(adata, basis="lin")
    adata.obsm["scam_velocity_lin"][:] = 0.0
    del adata.uns["scam"]["velocity_embedding"]  # as after a new fit, which rewrites uns["scam"]
    scam.pl.velocity(adata, basis="lin", show=False)
    assert np.abs(adata.obsm["scam_velocity_lin"]).max() > 0


def test_velocity_reuses_a_projection_only_for_the_coordinates_it_was_made_from(adata):
    """As after rerunning ``sc.tl.umap``: the same basis with new coordinates is projected anew, not drawn stale."""
    a = adata.copy()
    scam.tl.velocity_embedding(a, basis="lin")
    a.obsm["scam_velocity_lin"][:] = 7.0  # a marker: reused as it is while the embedding is unchanged
    scam.pl.velocity(a, basis="lin", show=False)
    assert np.all(a.obsm["scam_velocity_lin"] == 7.0)
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
    a.obsm["X_lin"] = a.obsm["X_lin"] @ rotation
    scam.pl.velocity(a, basis="lin", show=False)
    np.testing.assert_allclose(
        a.obsm["scam_velocity_lin"], a.obsm["scam_velocity"] @ A @ rotation, rtol=1e-3, atol=1e-4
    )


def test_grid_velocity_kernel_average():
    rng = np.random.default_rng(0)
    E = np.r_[rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + [10, 0]]
    V = np.tile([1.0, -2.0], (400, 1))
    x, y, U, W = grid_velocity(E, V, n_grid=30)
    ok = np.isfinite(U)
    assert U.shape == W.shape == (30, 30)
    np.testing.assert_allclose(U[ok], 1.0)
    np.testing.assert_allclose(W[ok], -2.0)
    # the gap between the clusters (x ≈ 5) and the corners are empty
    assert not ok[:, np.argmin(np.abs(x - 5))].any() and not ok[0, 0]
    # a linear field is averaged to itself at the grid point (symmetric kernel, dense cells)
    E = rng.uniform(-3, 3, size=(5000, 2))
    x, y, U, W = grid_velocity(E, E * [1.0, 0.0], n_grid=10)
    mid = np.abs(x) < 2
    np.testing.assert_allclose(
        U[np.ix_(np.abs(y) < 2, mid)], np.broadcast_to(x[mid], (int((np.abs(y) < 2).sum()), mid.sum())), atol=0.1
    )


# --- growth, history --------------------------------------------------------------------------------


def test_growth_diverging_centred_at_zero(adata):
    fig = scam.pl.growth(adata, basis="pca", return_fig=True)
    ax = fig.axes[0]
    cells = [c for c in ax.collections if c.get_gid() == "scam_growth"][0]
    g = adata.obs["scam_growth"].to_numpy()
    np.testing.assert_allclose(np.sort(cells.get_array()), np.sort(g), rtol=1e-6)
    lo, hi = cells.get_clim()
    assert lo == pytest.approx(-hi) and hi == pytest.approx(np.percentile(np.abs(g), 99))
    assert cells.get_cmap().name == "RdBu_r"
    assert _colorbar_label(fig, ax) == ["growth rate (per unit of time)"]
    ax = scam.pl.growth(adata, basis="pca", vmax=5.0, show=False)
    assert ax.collections[0].get_clim() == (-5.0, 5.0)


def test_history_draws_loss_and_validation(adata):
    hist = adata.uns["scam"]["history"]
    ax = scam.pl.history(adata, show=False)
    (loss,) = ax.get_lines()[:1]
    np.testing.assert_allclose(loss.get_ydata(), hist["loss"])
    np.testing.assert_allclose(loss.get_xdata(), hist["iteration"])
    twin = [a for a in ax.figure.axes if a is not ax][0]
    np.testing.assert_allclose(twin.get_lines()[0].get_ydata(), hist["val_w1"])
    assert twin.get_ylabel() == "validation W1" and ax.get_xlabel() == "optimisation step"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:2] == ["training loss", "validation W1"] and texts[2].startswith("best W1")


def test_history_without_validation_draws_the_loss_alone(adata):
    """The default fit holds no cells back: no validation axis, no empty legend entries."""
    other = adata.copy()
    hist = dict(other.uns["scam"]["history"])
    hist["val_iteration"], hist["val_w1"] = [], []
    other.uns["scam"]["history"] = hist
    ax = scam.pl.history(other, show=False)
    assert len(ax.figure.axes) == 1
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), hist["loss"])
    assert "validation W1" not in [t.get_text() for t in ax.get_legend().get_texts()]


# --- interpolation -------------------------------------------------------------------------------


def _lot_uns(adata):
    X = adata.obsm["X_pca"]
    t = adata.obs["time"].to_numpy()
    pred = X[t == 0.0] + [1.0, 0.0, 0.0]
    w = np.linspace(0.5, 1.5, len(pred))
    adata.uns["scam_lot"] = {
        "params": {"time_key": "time", "use_rep": "X_pca"},
        "predictions": {"scam": {"1": {"X": pred.astype(np.float32), "weights": w / w.sum()}}},
        "results": {
            "method": np.array(["scam", "scam"]),
            "held_out": np.array(["1", "1"]),
            "seed": np.array([0, 1]),
            "metric": np.array(["w1", "w1"]),
            "value": np.array([0.5, 0.7]),
        },
    }
    return pred, w


def test_interpolation_from_stored_predictions(adata):
    pred, w = _lot_uns(adata)
    ax = scam.pl.interpolation(adata, dimensions=(0, 2), size=10.0, show=False)
    observed, predicted = ax.collections
    t = adata.obs["time"].to_numpy()
    np.testing.assert_allclose(observed.get_offsets(), adata.obsm["X_pca"][t == 1.0][:, [0, 2]])
    np.testing.assert_allclose(predicted.get_offsets(), pred[:, [0, 2]], rtol=1e-6)
    np.testing.assert_allclose(predicted.get_sizes(), 10.0 * w / w.mean(), rtol=1e-6)
    assert ax.get_title() == "held out 1: W1 = 0.600"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("pca1", "pca3")
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["observed (120 cells)", "predicted: scam"]
    # in a linear embedding the predictions are mapped by kNN regression; cells that coincide map exactly
    adata.uns["scam_lot"]["predictions"]["scam"]["1"]["X"] = adata.obsm["X_pca"][t == 0.0].astype(np.float32)
    ax = scam.pl.interpolation(adata, basis="lin", show=False)
    np.testing.assert_allclose(ax.collections[1].get_offsets(), adata.obsm["X_lin"][t == 0.0], atol=1e-4)


def test_interpolation_after_lot():
    adata = gaussian_path(n_cells=60, times=(0.0, 1.0, 2.0, 3.0), n_dims=2, random_state=1)
    df = scam.tl.leave_one_timepoint_out(
        adata, "time", methods=["scam", "ot_midpoint"], metrics=("w1",), fit_kwargs={"n_iters": 50}, progress_bar=False
    )
    fig = scam.pl.interpolation(adata, method="ot_midpoint", return_fig=True)
    assert len(fig.axes) == 2  # held out 1 and 2
    for ax, label in zip(fig.axes, ["1", "2"], strict=True):
        w1 = df[(df["method"] == "ot_midpoint") & (df["held_out"] == label)]["value"].mean()
        assert ax.get_title() == f"held out {label}: W1 = {w1:.3f}"
        assert len(ax.collections[1].get_offsets()) == 60  # all cells of the previous time, pushed
    ax = scam.pl.interpolation(adata, held_out="2", show=False)
    assert ax.get_title().startswith("held out 2")


# --- bad inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda a: scam.pl.trajectories(a, basis="phate"), "Basis 'phate' not found"),
        (lambda a: scam.pl.trajectories(a, basis="umap", key="other"), r"run `scam.tl.fit"),
        (lambda a: scam.pl.trajectories(a, basis="pca", dimensions=(0, 0)), "dimensions"),
        (lambda a: scam.pl.trajectories(a, basis="pca", dimensions=(0, 3)), "0..2"),
        (lambda a: scam.pl.trajectories(a, basis="pca", n_trajectories=0), "n_trajectories"),
        (lambda a: scam.pl.velocity(a, basis="umap", kind="quiver"), "Unknown `kind='quiver'`"),
        (lambda a: scam.pl.velocity(a, basis="tsne"), r"sc.tl.umap|not found"),
        (lambda a: scam.pl.velocity(a, basis="umap", n_grid=1), "n_grid"),
        (lambda a: scam.pl.growth(a, basis="umap", vmax=-1), "vmax"),
        (lambda a: scam.pl.history(a, key="missing"), r"run `scam.tl.fit"),
        (lambda a: scam.pl.interpolation(a), r"run `scam.tl.leave_one_timepoint_out"),
        (lambda a: scam.tl.velocity_embedding(a, basis="umap", n_neighbors=0), "n_neighbors"),
        (lambda a: scam.tl.velocity_embedding(a, basis="umap", key="x"), r"run `scam.tl.fit"),
    ],
)
def test_bad_inputs_raise_and_leave_adata_unchanged(adata, call, match):
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        call(adata)
    snap.assert_unchanged(adata)


@pytest.mark.parametrize(
    "plot",
    [
        lambda a, ax: scam.pl.trajectories(a, basis="pca", ax=ax),
        lambda a, ax: scam.pl.velocity(a, basis="umap", ax=ax),
        lambda a, ax: scam.pl.growth(a, basis="umap", ax=ax),
        lambda a, ax: scam.pl.history(a, ax=ax),
    ],
    ids=["trajectories", "velocity", "growth", "history"],
)
@pytest.mark.parametrize(
    ("make_ax", "match"),
    [
        (lambda: plt.subplots(1, 2)[1], r"`ax` must be one matplotlib Axes, got ndarray; pass one of them.*axs\[0\]"),
        (lambda: plt.figure(), r"got Figure; pass an Axes of it.*add_subplot"),
        (lambda: "left", r"got str; pass one.*or `ax=None`"),
    ],
    ids=["array-of-axes", "figure", "string"],
)
def test_a_wrong_ax_names_the_fix(adata, plot, make_ax, match):
    """``ax`` must be one Axes: the array of ``plt.subplots(1, 2)``, a Figure or anything else raises an error that
    says what to pass (instead of an AttributeError from matplotlib), and ``adata`` is left as it was."""
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        plot(adata, make_ax())
    snap.assert_unchanged(adata)


def test_missing_results_name_the_step(adata):
    del adata.uns["scam"]["trajectories"]
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=r"run `scam.tl.trajectories"):
        scam.pl.trajectories(adata, basis="pca")
    snap.assert_unchanged(adata)
    del adata.obs["scam_growth"]
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=r"adata.obs\['scam_growth'\] is missing"):
        scam.pl.growth(adata, basis="pca")
    snap.assert_unchanged(adata)
    del adata.obsm["scam_velocity"]
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=r"adata.obsm\['scam_velocity'\] is missing"):
        scam.pl.velocity(adata, basis="pca")
    snap.assert_unchanged(adata)


def test_interpolation_bad_choices(adata):
    _lot_uns(adata)
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match="choose one of"):
        scam.pl.interpolation(adata, method="otcfm")
    with pytest.raises(ValueError, match="choose one of"):
        scam.pl.interpolation(adata, held_out="7")
    with pytest.raises(ValueError, match="Basis"):
        scam.pl.interpolation(adata, basis="umap3d")
    snap.assert_unchanged(adata)


def test_named_time_points_label_the_time_colourbars(adata):
    adata.uns["scam"]["time"]["labels"] = np.array(["early", "mid", "late"])  # as for an ordered categorical
    fig = scam.pl.trajectories(adata, basis="pca", return_fig=True)
    cbar = [a for a in fig.axes if a.get_label() == "<colorbar>" and a.get_xlabel().startswith("simulated")][0]
    assert [t.get_text() for t in cbar.get_xticklabels()] == ["early", "mid", "late"]
    np.testing.assert_allclose(cbar.get_xticks(), [0.0, 1.0, 2.0])
    fig = scam.pl.growth(adata, basis="pca", return_fig=True)
    assert _colorbar_label(fig, fig.axes[0]) == ["growth rate (per time step)"]


# --- save= (scanpy's semantics, the whole figure) -------------------------------------------------


@pytest.fixture
def figdir(tmp_path):
    """scanpy's figure settings pointed at a fresh folder, PNG by default; restored afterwards."""
    import scanpy as sc

    before = (sc.settings.figdir, sc.settings.file_format_figs, sc.settings.plot_suffix)
    sc.settings.figdir = tmp_path / "figures"
    sc.settings.file_format_figs = "png"
    sc.settings.plot_suffix = ""
    yield tmp_path / "figures"
    sc.settings.figdir, sc.settings.file_format_figs, sc.settings.plot_suffix = before


def _png(path):
    return plt.imread(str(path))


def _resave(fig, path):
    fig.savefig(path, format="png", bbox_inches="tight")
    return _png(path)


# each plot, and what it draws on top of scanpy's embedding (hidden to show the saved file holds it)
DRAWN_ON_TOP = {
    "velocity": lambda ax: [c for c in ax.collections if c.get_gid() == "scam_velocity_stream"] + list(ax.patches),
    "trajectories": lambda ax: [
        c for c in ax.collections if c.get_gid() in ("scam_trajectories", "scam_trajectory_starts")
    ],
    "growth": lambda ax: [ax.collections[-1].colorbar.ax.yaxis.label],
}


@pytest.mark.parametrize("name", list(DRAWN_ON_TOP))
def test_save_writes_the_whole_figure(adata, figdir, tmp_path, name):
    plot = getattr(scam.pl, name)
    ax = plot(adata, basis="pca", save="_eb.png", show=False)
    saved = figdir / f"{name}_eb.png"
    assert sorted(p.name for p in figdir.iterdir()) == [saved.name]  # nothing from sc.pl.embedding's own save
    on_top = DRAWN_ON_TOP[name](ax)
    assert on_top
    fig = ax.figure
    np.testing.assert_array_equal(_png(saved), _resave(fig, tmp_path / "full.png"))
    for artist in on_top:
        artist.set_visible(False)
    without = _resave(fig, tmp_path / "without.png")
    assert _png(saved).shape != without.shape or np.abs(_png(saved) - without).sum() > 10  # the paths are in it
    assert not plt.fignum_exists(fig.number)  # a saved figure that scam made is closed, as scanpy does


def test_save_true_uses_scanpys_figdir_format_and_suffix(adata, figdir):
    import scanpy as sc

    scam.pl.velocity(adata, basis="pca", save=True, show=False)
    sc.settings.file_format_figs = "pdf"
    scam.pl.trajectories(adata, basis="pca", save=True, show=False)
    scam.pl.growth(adata, basis="pca", save="_day", show=False)  # no extension: the default format
    sc.settings.plot_suffix = "_v2"
    scam.pl.history(adata, save=".svg", show=False)  # an extension alone: the format, the name unchanged
    names = sorted(p.name for p in figdir.iterdir())
    assert names == ["growth_day.pdf", "history_v2.svg", "trajectories.pdf", "velocity.png"]
    assert (figdir / "trajectories.pdf").read_bytes().startswith(b"%PDF")
    assert (figdir / "velocity.png").read_bytes().startswith(b"\x89PNG")


def test_save_with_return_fig_or_a_given_axes(adata, figdir):
    fig = scam.pl.velocity(adata, basis="pca", kind="arrows", save="_fig.png", return_fig=True)
    assert isinstance(fig, Figure) and plt.fignum_exists(fig.number)  # returned: left open
    mine, ax = plt.subplots()
    assert scam.pl.trajectories(adata, basis="pca", ax=ax, save="_ax.png") is ax
    assert plt.fignum_exists(mine.number)  # the user's figure is never closed
    assert sorted(p.name for p in figdir.iterdir()) == ["trajectories_ax.png", "velocity_fig.png"]
    for bad in (1, ["_a.png"]):
        with pytest.raises(ValueError, match=r"`save` must be True, False, None or a file-name suffix"):
            scam.pl.growth(adata, basis="pca", save=bad, show=False)
    assert scam.pl.growth(adata, basis="pca", save=False, show=False) is not None
    assert len(list(figdir.iterdir())) == 2
