"""Published leave-one-timepoint-out results on EB-5D (mean W1 over held-out times 1–3; mean ± std over seeds).

Sources: Tong et al., AISTATS 2024 (Table 4; OT-CFM, [SF]²M, I-CFM, SB-CFM, DSB), TrajectoryNet
(Tong et al., ICML 2020), OT-MFM (Kapusniak et al., NeurIPS 2024), as collected in
``shared/docs/action_matching.md`` §6. These numbers are quoted, not re-run.
"""

#: method -> (mean W1, std over seeds or nan)
PUBLISHED_EB_W1 = {
    "OT-MFM": (0.713, 0.039),
    "OT-CFM": (0.790, 0.068),
    "[SF]²M-Exact": (0.793, 0.066),
    "TrajectoryNet": (0.848, float("nan")),
    "DSB": (0.862, 0.023),
    "I-CFM": (0.872, 0.087),
    "SB-CFM": (1.221, 0.380),
}
