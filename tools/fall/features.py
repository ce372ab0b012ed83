"""Candidate impacts and their features, computed exactly as the streaming Swift detector does
(Sources/Anomaly/Detectors/FallDetector.swift): keep both in step.

Candidate: the largest |a| among samples >= trigger, merged while each next one lies within `merge` s of the
current peak. Features of a candidate at time tp, from the samples around it (time windows, any rate):
  peak      |a| at tp (g)
  angle     degrees between the mean acceleration vector over [tp-preFrom, tp-preTo) (posture before) and over
            (tp+postFrom, tp+postTo] (posture after): the change of the gravity direction
  postStd   standard deviation of |a| over the post window (g): lying still vs. moving on
  postDev   mean | |a| - 1 | over the post window
  dip       integral of max(0, 1-|a|) dt over [tp-dipSpan, tp] (g s): free fall before the impact
  preStd    standard deviation of |a| over the pre window
  area      integral of | |a| - 1 | dt over [tp-areaSpan, tp+areaSpan] (g s): impact energy
dt of each sample = time since the previous one, at most `dtCap` s (gaps do not count as free fall).
With `historySeconds` > 0 (the wrist) one more column:
  earlier   the smallest angle (degrees) between the posture after and the mean acceleration vector of any posture
            block (`posture_blocks`: the stream cut into 1 s blocks as upright.py / FallTrack cut it) that starts at
            or after tp-historySeconds and ends at or before tp-historyMargin, or of the pre window (a posture held
            before too: right after the stream starts it is the only one known). A fallen arm rests in a posture it
            did not hold before (lying, the forearm horizontal); hands lowered after clapping, raising them or a
            call return to one they held seconds earlier.
"""
import numpy as np

DEFAULT = dict(trigger=1.8, merge=0.5, preFrom=2.5, preTo=1.0, postFrom=1.0, postTo=2.5, dipSpan=1.0,
               areaSpan=0.5, dtCap=0.1, minWindowSamples=4)

NAMES = ["peak", "angle", "postStd", "postDev", "dip", "preStd", "area"]

# The wrist: no angle gate, the stillness gate on postDev, and the earlier-posture column (FallWindows.wrist).
WRIST = dict(DEFAULT, trigger=2.2, historySeconds=10.0, historyMargin=0.5, block=1.0)


def posture_blocks(t, xyz, block=1.0):
    """(start, end, mean vector) of the stream's posture blocks: a block starts at a sample and closes at the first
    sample at or after start + block (which opens the next); kept when it spans <= 1.5 block and has >= 4 samples."""
    out = []; s = 0; n = len(t)
    while s < n:
        e = int(np.searchsorted(t, t[s] + block, "left"))
        if e >= n:
            break
        if t[e] - t[s] <= 1.5 * block and e - s >= 4:
            out.append((t[s], t[e], xyz[s:e].mean(0)))
        s = e
    return out


def earlier_posture_angle(blocks, tp, gpost, span, margin, pre_angle):
    best = pre_angle
    for s, e, m in blocks:
        if s >= tp - span and e <= tp - margin:
            c = m @ gpost / max(np.linalg.norm(m) * np.linalg.norm(gpost), 1e-9)
            a = np.degrees(np.arccos(np.clip(c, -1, 1)))
            best = min(best, a)
    return best


def candidates(t, a, trigger, merge):
    idx = np.flatnonzero(a >= trigger)
    out = []
    p = -1
    for j in idx:
        if p >= 0 and t[j] - t[p] >= merge:
            out.append(p)
            p = -1
        if p < 0 or a[j] > a[p]:
            p = j
    if p >= 0:
        out.append(p)
    return out


def trial_features(t, xyz, prm=DEFAULT):
    """Rows (tp, decision time, features...) for every candidate whose windows have enough samples."""
    xyz = xyz.astype(np.float64)
    a = np.sqrt((xyz * xyz).sum(1))
    dt = np.minimum(np.diff(t, prepend=t[0]), prm["dtCap"])
    c = candidates(t, a, prm["trigger"], prm["merge"])
    history = prm.get("historySeconds", 0) > 0
    blocks = posture_blocks(t, xyz, prm.get("block", 1.0)) if history else None
    rows = []
    for p in c:
        tp = t[p]
        # pre window [tp-preFrom, tp-preTo)
        i0 = np.searchsorted(t, tp - prm["preFrom"], "left"); i1 = np.searchsorted(t, tp - prm["preTo"], "left")
        # post window (tp+postFrom, tp+postTo]
        j0 = np.searchsorted(t, tp + prm["postFrom"], "right"); j1 = np.searchsorted(t, tp + prm["postTo"], "right")
        if i1 - i0 < prm["minWindowSamples"] or j1 - j0 < prm["minWindowSamples"]:
            continue
        if j1 >= len(t):   # the trial ended before the decision: the detector would not have decided yet
            continue
        gpre = xyz[i0:i1].mean(0); gpost = xyz[j0:j1].mean(0)
        cosang = gpre @ gpost / max(np.linalg.norm(gpre) * np.linalg.norm(gpost), 1e-9)
        angle = np.degrees(np.arccos(np.clip(cosang, -1, 1)))
        post = a[j0:j1]; pre = a[i0:i1]
        k0 = np.searchsorted(t, tp - prm["dipSpan"], "left")
        dip = (np.maximum(0, 1 - a[k0:p + 1]) * dt[k0:p + 1]).sum()
        m0 = np.searchsorted(t, tp - prm["areaSpan"], "left"); m1 = np.searchsorted(t, tp + prm["areaSpan"], "right")
        area = (np.abs(a[m0:m1] - 1) * dt[m0:m1]).sum()
        row = (tp, t[j1], a[p], angle, post.std(), np.abs(post - 1).mean(), dip, pre.std(), area)
        if history:
            row += (earlier_posture_angle(blocks, tp, gpost, prm["historySeconds"], prm["historyMargin"], angle),)
        rows.append(row)
    return np.array(rows).reshape(-1, 2 + len(NAMES) + (1 if history else 0))
