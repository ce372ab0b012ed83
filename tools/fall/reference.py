"""The Python reference of FallDetector.swift's decisions, run on a capture written by capture.py: per trial,
the first fall it would raise (decision time, impact time, score). fall-eval --reference compares it with the
Swift replay. Keep MODELS in step with Sources/Anomaly/Fall/FallModel.swift."""
import csv, json, pathlib
import numpy as np
import features as F, upright as U

WRIST_W, WRIST_B = [4.0445, -0.9266, 1.4041, -1.7938], -9.3672
MODELS = {
    "waist-upright": dict(trigger=1.8, w=[2.4759, 3.8205, 0.1904, 0.8189, 1.2259, 3.3369, -3.7622, 4.3977], b=-6.4858, thr=0.0),
    "waist": dict(trigger=1.8, w=[2.3994, 5.5111, 0.3797, 0.4991, 1.2005, 5.6472], b=-5.3073, thr=0.0),
    "wrist": dict(trigger=2.2, w=WRIST_W, b=WRIST_B, thr=-0.25),
}
GATE_ANGLE, GATE_POST_STD = 20.0, 0.5      # body-worn (waist) gates
WRIST_GATE_POST_DEV = 0.5                  # the wrist: no angle gate; mean | |a|-1 | after below this,
WRIST_GATE_EARLIER = 5.0                   # and the posture after >= 5 deg from every earlier one (deciding only)
# The waist's low-impact path (FallLowImpact in FallTrack.swift): candidates from this lower trigger whose peak stays
# below the model's trigger are decided only with the upright direction known, and only when the body turned
# >= angle deg, lies still after (std of |a| < post_std g), lies after (tilt from upright >= post_tilt deg) and the
# upright model's score is >= its threshold + margin. Older people's slower, softer falls often peak below 1.8 g.
LOW_IMPACT = dict(trigger=1.4, angle=60.0, post_std=0.1, post_tilt=60.0, margin=0.5)


def low_impact_ok(f, known, post_tilt, s, thr):
    """f: features.NAMES; whether a candidate below the waist trigger may be a fall (LOW_IMPACT)."""
    L = LOW_IMPACT
    return known and f[1] >= L["angle"] and f[2] < L["post_std"] and post_tilt >= L["post_tilt"] and s >= thr + L["margin"]


def wrist_inputs(f):
    """f: features.NAMES + the earlier-posture angle (features.WRIST) -> the wrist model's inputs."""
    peak, angle, pstd, pdev, dip, prestd, area, earlier = f
    return np.array([min(earlier, 90.0) / 90, np.log(prestd + 0.02), 2 * area, np.log(pdev + 0.02)])


def inputs(f, pre_tilt=None, post_tilt=None, upright=False):
    peak, angle, pstd, pdev, dip, prestd, area = f
    x = [np.log(peak), angle / 90, np.log(pdev + 0.02), 10 * dip, np.log(prestd + 0.02), 2 * area]
    if upright:
        x += [max(0.0, pre_tilt - 45) / 45, min(post_tilt, 75) / 75]
    return np.array(x)


def score(model, x):
    m = MODELS[model]; return float(np.dot(m["w"], x) + m["b"])


def load_capture(d):
    """{device: (t, xyz)} from capture.ndjson, samples in order."""
    per = {}
    for line in open(pathlib.Path(d) / "capture.ndjson"):
        o = json.loads(line); p = json.loads(o["payload"]); dev = o["topic"].split("/")[1]
        n = len(p["x"])
        t = np.array(p["t"]) if "t" in p else p["t0"] + np.arange(n) / p["hz"]
        per.setdefault(dev, []).append((t, np.array([p["x"], p["y"], p["z"]], dtype=np.float32).T))
    return {k: (np.concatenate([a for a, _ in v]), np.concatenate([b for _, b in v])) for k, v in per.items()}


def first_fires(d, placement):
    """[(trial row, fire or None)] where fire = (decision time, impact time, score, model)."""
    rows = list(csv.DictReader(open(pathlib.Path(d) / "trials.csv")))
    streams = load_capture(d)
    learners = {}
    out = []
    wrist = placement == "wrist"
    if wrist:
        prm = dict(F.WRIST); prm["trigger"] = MODELS["wrist"]["trigger"]
    else:
        prm = dict(F.DEFAULT); prm["trigger"] = min(MODELS["waist"]["trigger"], LOW_IMPACT["trigger"])
    for r in rows:
        T, X = streams[r["device"]]
        m = (T >= float(r["start"]) - 1e-6) & (T <= float(r["end"]) + 1e-6)
        t, xyz = T[m], X[m].astype(np.float64)
        L = learners.setdefault(r["device"], U.Upright()); L.history = []
        before = (L.u.copy(), L.known())
        if not wrist:
            L.feed_trial(t, xyz)
        fire = None
        for c in F.trial_features(t, xyz, prm):
            tp, tdec = c[0], c[1]
            f = c[2:]
            if wrist:
                if f[3] >= WRIST_GATE_POST_DEV or f[7] < WRIST_GATE_EARLIER:
                    continue
            elif f[1] < GATE_ANGLE or f[2] >= GATE_POST_STD:
                continue
            u, known = before
            for tu, uu, kk in L.history:
                if tu <= tdec: u, known = uu, kk
            low = not wrist and f[0] < MODELS["waist"]["trigger"]
            if low and not known:
                continue
            post_tilt = None
            if wrist:
                model, x = "wrist", wrist_inputs(f)
            elif known:
                i0 = np.searchsorted(t, tp - 2.5); i1 = np.searchsorted(t, tp - 1.0)
                j0 = np.searchsorted(t, tp + 1.0, "right"); j1 = np.searchsorted(t, tp + 2.5, "right")
                tilt = lambda g: np.degrees(np.arccos(np.clip(g @ u / np.linalg.norm(g), -1, 1)))
                post_tilt = tilt(xyz[j0:j1].mean(0))
                model, x = "waist-upright", inputs(f[:7], tilt(xyz[i0:i1].mean(0)), post_tilt, True)
            else:
                model, x = "waist", inputs(f[:7])
            s = score(model, x)
            if low and not low_impact_ok(f, known, post_tilt, s, MODELS[model]["thr"]):
                continue
            if s >= MODELS[model]["thr"]:
                fire = (tdec, tp, s, model); break
        out.append((r, fire))
    return out
