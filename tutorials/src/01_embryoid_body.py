# ---
# jupyter:
#   jupytext:
#     formats: ipynb,src//py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Embryoid Body: from snapshots to cell dynamics
#
# Single-cell RNA-seq destroys the cell it measures, so a time course is a series of *snapshots*:
# different cells at each time point, never the same cell twice. scam learns how cells move
# through expression space, and where they multiply or die, from such snapshots alone. It fits
# one function, the *action* $s(x, t)$, with Action Matching: the cells' velocity is the gradient
# $\nabla s$. By default a second, small network $g(x, t)$ learns the cells' growth rate, where
# they multiply or die (with a growth weight $\lambda > 0$ the growth rate is tied to the action
# instead, $\lambda s$, the paper's form).
#
# This tutorial runs the whole workflow on the bundled **Embryoid Body** (EB) data (Moon et al.
# 2019): human embryonic stem cells differentiating over 27 days, sampled in five 3-day windows
# and reduced to 5 principal components, as in TrajectoryNet and later benchmarks. We
#
# 1. fit a model,
# 2. look at the velocities, growth rates and simulated trajectories it learned,
# 3. check the training history, and
# 4. ask the question that matters: can the model predict a time point it has never seen?
#
# The data set has only PCs (no genes, no UMAP), so every picture uses the first two PCs
# (`basis="pca"`), where scam draws velocities and paths exactly.

# %%
import os
import time
import warnings

# tqdm's notice that ipywidgets is missing (it names a local path) is not part of the tutorial
warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt
import numpy as np
import scanpy as sc

import scam
import scam.benchmark

# %matplotlib inline
# %config InlineBackend.figure_format = "png"
plt.rcParams["figure.dpi"] = 80

# Quick mode (SCAM_TUTORIAL_QUICK=1, used by the test suite): a subsample and few optimisation
# steps, so the notebook runs in seconds. The committed outputs come from the full run.
QUICK = os.environ.get("SCAM_TUTORIAL_QUICK") == "1"
N_ITERS = 100 if QUICK else 2000  # optimisation steps of the main fit (the default, n_iters="auto", takes 500 here)
LOT_ITERS = 100 if QUICK else 500  # optimisation steps per fold of the leave-one-out benchmark
print(f"quick mode: {QUICK}; fit steps: {N_ITERS}; benchmark steps per fold: {LOT_ITERS}")

# %% [markdown]
# ## The data
#
# `scam.datasets.embryoid_body()` returns an `AnnData` with the 5 PCs in `obsm["X_pca"]`, the
# sampling window as an ordered category in `obs["day"]` and as a number (0 to 4) in
# `obs["time"]`.

# %%
adata = scam.datasets.embryoid_body()
if QUICK:
    sc.pp.subsample(adata, n_obs=3000, random_state=0)
print(adata)
print(adata.obs["day"].value_counts().sort_index())

# %% [markdown]
# The figure below shows the cells on the first two PCs, coloured by sampling window: the early
# cells sit in one corner (bottom right) and the population spreads out from there over time.
# Each window holds *different* cells, so nothing in the data says which early cell became which
# late cell: that is what the model has to infer.

# %%
sc.pl.embedding(adata, basis="pca", color="day", title="Embryoid Body cells (PC1, PC2)")

# %% [markdown]
# ## Fit the model
#
# `scam.tl.fit` trains the action network on all five windows. We keep the defaults but one, the number
# of optimisation steps: 2,000 instead of the 500 that `n_iters="auto"` takes below 20 dimensions (the leave-one-out
# benchmark below uses 500). The defaults: a path
# through all time points built from cubic splines through chains of cells (how much the splines
# bend is chosen from the data, `curvature="auto"`), no noise, and
# growth (`growth="auto"`): the chains of cells carry mass, gaining it where a state expands
# from one window to the next and losing it where a state shrinks, and a growth network
# $g(x, t)$ learns that gain and loss, so the model may let cells in some states multiply and
# others disappear. The EB data carries no information about how the total number of cells
# changed, so we leave the relative masses equal (the default): growth then only
# *redistributes* mass, making some states expand at the expense of others. (`growth="none"`
# would fit a model that conserves mass; `lam=0.1` the paper's tied growth $\lambda s$.)
#
# The fit writes its results into `adata`:
# `obsm["scam_velocity"]` (velocity of each cell), `obs["scam_growth"]` (growth rate),
# `obs["scam_weight"]` (how much each cell's mass multiplies until the next window) and
# `uns["scam"]` (parameters and training history). It returns the model, which can simulate
# cells forward and backward in time.

# %%
start = time.perf_counter()
model = scam.tl.fit(adata, time_key="day", n_iters=N_ITERS, progress_bar=False)
print(f"fitted in {time.perf_counter() - start:.1f} s")
params = adata.uns["scam"]["params"]
print(f"growth: {params['growth']}; spline curvature chosen: {params['spline_curvature']}")
model

# %% [markdown]
# ## Velocities
#
# The learned velocity field, drawn as streamlines over the cells: each line follows the
# direction in which cells at that position move according to the model (averaged over the
# cells nearby). The streams run from the early cells (bottom right) towards the late ones
# (left), the direction of differentiation. The model was never told which cell became which:
# it only saw the order of the windows.

# %%
scam.pl.velocity(adata, basis="pca", kind="stream")

# %% [markdown]
# ## Growth
#
# The growth rate $g(x, t)$ at every cell (per window), on a diverging colour map: red cells are in
# states that expand (more descendants than cells), blue cells in states that shrink. Because we
# gave equal masses, the total is conserved and growth shows the *relative* expansion of some
# states over others.

# %%
scam.pl.growth(adata, basis="pca")

# %% [markdown]
# The same read-out per sampling window: the mean growth rate of the cells of each window and
# the mass the model predicts at each window (`uns["scam"]["learned_masses"]`, relative to the
# first window). Values close to 1 mean the model kept the total mass constant, as the equal
# masses it was given ask: growth here moves mass between states rather than creating it.

# %%
print(adata.obs.groupby("day", observed=True)["scam_growth"].mean().round(3).to_string())
print("learned masses:", np.round(adata.uns["scam"]["learned_masses"], 3))

# %% [markdown]
# ## Trajectories
#
# `scam.tl.trajectories` picks cells of the first window and integrates the learned dynamics
# forward to the last window; `scam.pl.trajectories` draws the paths over the observed cells,
# coloured from early (dark) to late (bright) simulated time, with a dot at each start cell.
# With growth, a path's width follows its mass: paths that thicken lead into expanding states.

# %%
scam.tl.trajectories(adata, model, n_cells=200)
scam.pl.trajectories(adata, basis="pca", n_trajectories=80)

# %% [markdown]
# ## Training history
#
# `scam.pl.history` shows the training loss (the Action Matching objective, which can be
# negative) over the optimisation steps. With `validation=True`, `scam.tl.fit` holds back up to
# 10 % of each window's cells and the plot adds, on a right axis, the validation W1 (the distance
# between cells simulated by the model and the held-back cells), with a dashed line at the best
# step, whose model the fit returns. Validation is off by default.

# %%
scam.pl.history(adata)

# %% [markdown]
# ## Can the model predict a day it has never seen?
#
# A good fit to the training windows is not the goal; correct dynamics are. The field's
# standard check (TrajectoryNet, TorchCFM) is **leave one time point out**: hide one interior
# window, fit on the others, push all cells of the previous window forward to the hidden time,
# and measure how far the predicted cells are from the cells actually observed there, with the
# Wasserstein-1 distance (W1: the average distance cells must be moved to turn one cloud into
# the other; lower is better, in the units of the standardised PCs).
#
# `scam.tl.leave_one_timepoint_out` runs this for scam (with the defaults of `scam.tl.fit`, so
# with the growth network: its predicted cells carry weights, which the W1 takes into account)
# and three baselines that need no training:
#
# - `ot_midpoint`: the optimal-transport interpolation between the two neighbouring windows,
#   the best any method that only looks at those two windows can expect to do;
# - `previous` / `next`: the cells of the previous / next window, unchanged.
#
# To keep this tutorial quick we give scam fewer optimisation steps per fold than the default
# (printed at the top of the notebook), so its scores here may be a little worse than with the
# defaults; the repository's `docs/benchmarks.md` has the full protocol with 5 seeds.

# %%
held_out = ["Day 12-15"] if QUICK else None  # None: every interior window in turn
start = time.perf_counter()
results = scam.tl.leave_one_timepoint_out(
    adata,
    "day",
    held_out=held_out,
    methods=("scam", "ot_midpoint", "previous", "next"),
    metrics=("w1",),
    fit_kwargs={"n_iters": LOT_ITERS},
    progress_bar=False,
)
print(f"benchmark in {time.perf_counter() - start:.1f} s")
results.head()

# %% [markdown]
# `scam.benchmark.summarize` turns the long table into one row per method: the W1 averaged over
# the held-out windows (`mean`; `std` is over seeds, 0 with one seed), the W1 for each held-out
# window, and the seconds one fold took.

# %%
table = scam.benchmark.summarize(results, metric="w1")
table.round(3)

# %% [markdown]
# Reading the table: the `previous` and `next` rows show how far the held-out cells are from
# simply not moving; a method is useful only well below them. The `ot_midpoint` row is the bar
# to beat: a model that reaches or beats it has learned something from the other time points
# beyond the two neighbouring snapshots. Compare scam's row with it, window by window.
#
# The same numbers as a chart (lower is better):

# %%
scam.pl.benchmark(adata)

# %% [markdown]
# Finally, what the prediction looks like: for each held-out window, the cells observed there
# against the cells scam predicted by pushing the previous window forward (drawn with area
# proportional to their weight), on the first two PCs. The panel titles give the W1.

# %%
scam.pl.interpolation(adata, method="scam")

# %% [markdown]
# ## What next
#
# - Save the model with `model.save("eb_model")` and reload it with `scam.ActionModel.load`.
# - `model.simulate(X, t0, t1, return_weights=True)` moves any cells (rows of PCs) from time `t0`
#   to `t1`, backward too.
# - The *Growth* tutorial checks the growth rates against a simulation where the true birth and
#   death rates are known; the *scanpy workflow* tutorial starts from raw counts and adds fate
#   probabilities and gene-level read-outs.
