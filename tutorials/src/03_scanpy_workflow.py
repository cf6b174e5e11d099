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
# # A scanpy workflow: from counts to fates
#
# This tutorial starts where a real analysis starts, from a matrix of raw counts with a time
# label per cell, and goes through the usual scanpy preprocessing (normalisation, log
# transform, PCA, neighbours, UMAP) before fitting scam on the PCs. It then reads the fitted
# model out the way a biologist would: which way cells move on the UMAP, where they multiply or
# die, which fate each early cell is heading to, how much each population contributes to each
# later population, and how individual genes change.
#
# The counts come from `scam.datasets.branching`, a simulated time course (days 0 to 4) in which
# a single progenitor population splits into two branches: branch **A** proliferates, branch
# **B** dies off. Because it is simulated, the true fate of every cell and the true birth and
# death rates are known, so we can check the read-outs against the truth; nothing is
# downloaded.

# %%
import os
import time
import warnings

# tqdm's notice that ipywidgets is missing (it names a local path) is not part of the tutorial
warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scanpy as sc

import scam

# %matplotlib inline
# %config InlineBackend.figure_format = "png"
plt.rcParams["figure.dpi"] = 80

# Quick mode (SCAM_TUTORIAL_QUICK=1, used by the test suite): fewer cells and optimisation steps,
# so the notebook runs in seconds. The committed outputs come from the full run.
QUICK = os.environ.get("SCAM_TUTORIAL_QUICK") == "1"
N_CELLS = 100 if QUICK else 400  # cells sequenced per day
N_ITERS = 100 if QUICK else 2000  # optimisation steps (2,000 is scam.tl.fit's default)
print(f"quick mode: {QUICK}; cells per day: {N_CELLS}; fit steps: {N_ITERS}")

# %% [markdown]
# ## Raw counts
#
# The data set has one row per cell and one column per gene, raw counts in `adata.X`, the day in
# `obs["day"]`. The simulation's ground truth sits beside it: the cell's current state
# (`obs["branch"]`: root, A or B), its true fate (`obs["fate"]`, what lineage tracing would
# report) and its true birth, death and growth rates. A real data set would not have these
# columns; we only use them to check the results.

# %%
adata = scam.datasets.branching(n_cells=N_CELLS, random_state=0)
adata.layers["counts"] = adata.X.copy()  # keep the raw counts
print(adata)
adata.obs[["day", "branch", "fate", "growth"]].head()

# %% [markdown]
# ## Standard scanpy preprocessing
#
# Library-size normalisation and a log transform, then PCA, a neighbour graph and a UMAP. With
# thousands of genes one would also select highly variable genes
# (`sc.pp.highly_variable_genes`) before the PCA; this simulation has only a few hundred genes,
# all of them informative, so we keep them all.

# %%
sc.pp.normalize_total(adata, target_sum=1e4)
sc.pp.log1p(adata)
sc.pp.pca(adata, n_comps=20, random_state=0)
sc.pp.neighbors(adata, n_neighbors=15, n_pcs=10, random_state=0)
sc.tl.umap(adata, random_state=0)

# %% [markdown]
# The UMAP coloured by day and by the (simulated) branch: the day-0 progenitors on one side,
# then a split into the two branches from day 2 on.

# %%
sc.pl.umap(adata, color=["day", "branch"], wspace=0.3)

# %% [markdown]
# ## Fit scam on the PCs
#
# scam models the dynamics in a low-dimensional representation: here the first 5 PCs
# (`use_rep="X_pca", n_dims=5`), which carry the structure of this data set. The UMAP is only
# used for drawing; scam never trains on it.
#
# Because branch A expands and branch B dies, we let the model learn growth, with a growth
# network of its own (`growth="free"`, which is also what `scam.tl.fit` picks by default). We
# train it on a path between the days built with unbalanced optimal transport
# (`interpolant="growth"`: each cell sends as much mass forward as its descendants need) rather
# than on the default spline path: in the *Growth* tutorial both paths learned the growth about
# equally well, but this one called the cells' fates clearly better. We also tell the model how
# the total number of cells changed from day to day (`masses`):
# sequencing a fixed number of cells per day hides this, so it has to come from outside the
# snapshots, e.g. from cell counts of the culture. In this simulation the true relative
# population sizes are known (`uns["ground_truth"]["masses"]`); the *Growth* tutorial also shows
# how to estimate growth from proliferation and apoptosis genes when the sizes are unknown.

# %%
gt = adata.uns["ground_truth"]
masses = dict(zip(gt["times"].tolist(), gt["masses"].tolist()))
print("true relative population size per day:", {k: round(v, 2) for k, v in masses.items()})

start = time.perf_counter()
model = scam.tl.fit(
    adata,
    time_key="day",
    use_rep="X_pca",
    n_dims=5,
    growth="free",
    interpolant="growth",
    masses=masses,
    n_iters=N_ITERS,
    progress_bar=False,
)
print(f"fitted in {time.perf_counter() - start:.1f} s")
print("population size the model predicts per day:", np.round(adata.uns["scam"]["learned_masses"], 2))

# %% [markdown]
# ## Trajectories, velocities and growth on the UMAP
#
# Paths simulated from 200 day-0 cells to day 4, drawn on the UMAP (each path point is placed by
# its nearest observed cells, since the UMAP is not a linear function of the PCs). The colour
# runs from early (dark) to late (bright) simulated time; a path's width follows its mass, so
# paths thicken where cells proliferate and thin out where they die. The placement on the UMAP
# is approximate: a path can jump where the UMAP puts cells far apart that are close in PC
# space.

# %%
scam.tl.trajectories(adata, model, n_cells=200)
scam.pl.trajectories(adata, basis="umap", n_trajectories=100)

# %% [markdown]
# The velocity field on the UMAP, as streamlines: scam's velocities live in PC space and are
# projected onto the UMAP with a local linear map around each cell
# (`scam.tl.velocity_embedding`, called by the plot). The streams should run from the
# progenitors into both branches.

# %%
scam.pl.velocity(adata, basis="umap", kind="stream")

# %% [markdown]
# Learned growth rates per cell (red: expanding, blue: shrinking), next to the true growth rates
# of the simulation (birth minus death per day) on the same colour scale. In the simulation,
# progenitors grow slowly, branch A grows fast and branch B shrinks.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
vmax = float(np.percentile(np.abs(adata.obs["scam_growth"]), 99))
scam.pl.growth(adata, basis="umap", ax=axes[0], vmax=vmax, title="learned growth (scam)")
sc.pl.umap(adata, color="growth", cmap="RdBu_r", vmin=-vmax, vmax=vmax, ax=axes[1], show=False, title="true growth")
plt.show()
corr = np.corrcoef(adata.obs["scam_growth"], adata.obs["growth"])[0, 1]
print(f"correlation of learned and true growth rates over all cells: {corr:.2f}")
print(adata.obs.groupby("branch", observed=True)[["scam_growth", "growth"]].mean().round(2))

# %% [markdown]
# The learned growth follows the true pattern (progenitors in between, branch A the fastest,
# branch B the slowest), and the population sizes the model predicts (printed after the fit)
# can be compared with the true ones printed above them. But compare the means per state with
# the truth: it gives branch B a *positive* mean growth (+0.17 per day), where in truth B shrinks
# (−0.36). It finds where cells grow slowest, not that they die. (On the 2-D latent state, in the
# *Growth* tutorial, the same default fit does make B shrink, at about a third of the true rate.)
#
# ## Fate probabilities
#
# Where are the day-2 cells heading? `scam.tl.fate` pushes every cell observed on day 2 to day
# 4 with the learned dynamics and lets the observed day-4 cells near each end point vote for
# their branch; a descendant counts in proportion to its growth weight (a cell on the
# proliferating branch leaves more descendants). The result, one probability per branch for each
# day-2 cell, is in `obsm["scam_fate"]`.
#
# The heatmap shows the mean fate probabilities of the day-2 cells, grouped by their current
# state: progenitors still undecided, cells already on a branch staying on it.

# %%
scam.tl.fate(adata, model, source=2.0, target=4.0, groupby="branch")
scam.pl.fate(adata, groupby="branch")

# %% [markdown]
# The probability of reaching branch A for each day-2 cell on the UMAP (other days in grey):

# %%
scam.pl.fate(adata, basis="X_umap", fate_class="A")

# %% [markdown]
# How good are these fate calls? The simulation knows each cell's true fate probability
# (`obs["fate_probability_A"]`, estimated from simulated futures of the cell) and the fate of one
# of its descendants (`obs["fate"]`, as lineage tracing would report it). We compare scam's
# probabilities with the first and call the more likely branch for each cell against the second;
# the best possible accuracy, calling the fate from the *true* probabilities, is printed beside
# it, since some cells are genuinely undecided on day 2.

# %%
day2 = (adata.obs["day"] == 2.0).to_numpy()
classes = list(adata.uns["scam_fate"]["classes"])
p_a = adata.obsm["scam_fate"][day2, classes.index("A")]
p_true = adata.obs["fate_probability_A"].to_numpy()[day2]
fate_a = (adata.obs["fate"] == "A").to_numpy()[day2]
print(f"day-2 cells: {day2.sum()}")
print(f"mean |scam P(A) - true P(A)|: {np.abs(p_a - p_true).mean():.3f}")
print(f"fate-call accuracy, scam: {np.mean((p_a > 0.5) == fate_a):.3f}")
print(f"fate-call accuracy, true probabilities (ceiling): {np.mean((p_true > 0.5) == fate_a):.3f}")

# %% [markdown]
# ## Transitions between populations
#
# `scam.tl.transition_matrix` aggregates the same fate probabilities by population, like
# moscot's `cell_transition`: entry (a, b) is the share of the day-2 cells that are in population
# a now and whose descendants are in population b on day 4. With `normalize=True` each row is
# divided by its sum, giving the probability of each destination given the origin. Growth
# enters through the descendants' weights.

# %%
table = scam.tl.transition_matrix(adata, model, source=2.0, target=4.0, groupby="branch")
scam.pl.transitions(adata, normalize=True)

# %% [markdown]
# The same table from the simulation's true fates (share of day-2 cells with each current state
# and true fate), for comparison:

# %%
truth = pd.crosstab(adata.obs["branch"][day2], adata.obs["fate"][day2], normalize="all")
truth = truth.reindex(index=table.index, columns=table.columns, fill_value=0.0)
print("scam:")
print(table.round(3))
print("truth:")
print(truth.round(3))
print(f"largest difference: {np.abs(table.to_numpy() - truth.to_numpy()).max():.3f}")

# %% [markdown]
# ## Genes
#
# scam's velocities live in PC space; `scam.tl.gene_velocity` maps them back through the PCA
# loadings to a velocity for every gene (`layers["scam_velocity"]`: change of log-expression per
# day). The simulation made some genes proliferation markers (their expression rises with the
# birth rate) and some apoptosis markers (rising with the death rate). The table averages the
# gene velocities of each marker set over the cells of each day and current state: positive
# means the markers are being switched on. Cells that have just entered branch A (days 1 and 2)
# are switching proliferation markers on and apoptosis markers off, cells entering branch B the
# reverse, as the simulation's birth and death rates change along the branches.

# %%
scam.tl.gene_velocity(adata, model)
pro = list(gt["proliferation_genes"])
apo = list(gt["apoptosis_genes"])
V = pd.DataFrame(
    {
        "proliferation genes": adata[:, pro].layers["scam_velocity"].mean(1),
        "apoptosis genes": adata[:, apo].layers["scam_velocity"].mean(1),
        "day": adata.obs["day"].to_numpy(),
        "branch": adata.obs["branch"].values,
    }
)
V.groupby(["day", "branch"], observed=True).mean().round(3)

# %% [markdown]
# One proliferation marker and one apoptosis marker: their expression (top) and their velocity
# (bottom; red: rising, blue: falling) on the UMAP. The velocity is highest where cells are
# about to switch the gene on: the proliferation marker on the way into branch A, the apoptosis
# marker on the way into branch B.

# %%
genes = [pro[0], apo[0]]
sc.pl.umap(adata, color=genes, cmap="viridis", wspace=0.3, title=[f"{g} expression" for g in genes])
sc.pl.umap(
    adata, color=genes, layer="scam_velocity", cmap="RdBu_r", vcenter=0, wspace=0.3, title=[f"{g} velocity" for g in genes]
)

# %% [markdown]
# Finally, gene trends: `scam.tl.gene_trends` simulates paths from day 2 to day 4, maps each point
# of a path back to gene expression, and averages per fate (growth-weighted; the band is ± one
# standard deviation over paths, the legend gives the number of paths per fate).

# %%
scam.tl.gene_trends(adata, model, genes=pro[:2] + apo[:2], groupby="branch", source=2.0, target=4.0)
scam.pl.gene_trends(adata, ncols=4)

# %% [markdown]
# ## Summary
#
# The whole analysis used standard scanpy preprocessing, one fit (`scam.tl.fit` on the PCs), the
# read-outs `scam.tl.trajectories`, `scam.tl.fate`, `scam.tl.transition_matrix`,
# `scam.tl.gene_velocity` and `scam.tl.gene_trends`, each stored in `adata` next to scanpy's
# results, and the `scam.pl` functions to draw them on the UMAP. On your own data, replace
# `scam.datasets.branching` by your counts with a time column. If you know how the population
# size changed, pass it as `masses` as here. Otherwise the default fit still learns *relative*
# growth (which states expand at the expense of others), `scam.pp.growth_prior` estimates growth
# from proliferation and apoptosis genes (see the *Growth* tutorial), and `growth="none"` fits a
# model that conserves mass.
