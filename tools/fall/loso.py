"""Leave-one-subject-out cross-validation of the fall models, by subject (the honest figures on the tuning sets:
each subject is scored by a model fitted without them). Waist: SisFall at 200 Hz and 50 Hz (every 4th sample),
trials of a subject streamed in order so the upright direction is learned as in a capture; the model is fitted on
both rates at once. Wrist: UMAFall at its own ~20 Hz. Thresholds are those of FallModel.swift.
usage: python3 tools/fall/loso.py [--wrist]   (--wrist: only the wrist, ~5 s)"""
import collections, numpy as np
import data, features as F, upright as U, model, reference

def sisfall_candidates(S, hz):
    recs = []; learners = {}
    for k, tr in enumerate(S):
        t, xyz = data.decimate(tr.t, tr.xyz, 200, hz); xyz = xyz.astype(float)
        a = np.linalg.norm(xyz, axis=1); imp = t[np.argmax(a)]
        L = learners.setdefault(tr.subject, U.Upright()); L.history = []
        before = (L.u.copy(), L.known()); L.feed_trial(t, xyz)
        for r in F.trial_features(t, xyz):
            tp, tdec = r[0], r[1]; u, known = before
            for tu, uu, kk in L.history:
                if tu <= tdec: u, known = uu, kk
            i0 = np.searchsorted(t, tp - 2.5); i1 = np.searchsorted(t, tp - 1.0)
            j0 = np.searchsorted(t, tp + 1.0, "right"); j1 = np.searchsorted(t, tp + 2.5, "right")
            tilt = lambda g: np.degrees(np.arccos(np.clip(g @ u / np.linalg.norm(g), -1, 1))) if known else np.nan
            recs.append((k, tr.label == "fall", abs(tp - imp) <= 1.0, *r, tilt(xyz[i0:i1].mean(0)), tilt(xyz[j0:j1].mean(0))))
    return np.array(recs)

def X_of(R, with_tilt):
    X = model.design(R[:, 5:12])
    if not with_tilt: return X
    pre = np.nan_to_num(R[:, 12], nan=30.0); post = np.nan_to_num(R[:, 13], nan=90.0)
    return np.hstack([X, np.maximum(0, pre - 45)[:, None] / 45, np.minimum(post, 75)[:, None] / 75])

def gate(R): return (R[:, 6] >= reference.GATE_ANGLE) & (R[:, 8] < reference.GATE_POST_STD)

def table(name, trials, near, anyc, thr):
    lab = np.array([t.label == "fall" for t in trials]); old = np.array([t.group == "elderly" for t in trials])
    subj = np.array([t.subject for t in trials]); det = near >= thr; fa = anyc >= thr
    print(f"\n== LOSO {name}")
    print(f"{'subject':8} {'falls':>6} {'found':>6} {'ADLs':>5} {'FA':>4}")
    for s in sorted(set(subj)):
        m = subj == s
        print(f"{s:8} {(m & lab).sum():6} {(m & lab & det).sum():6} {(m & ~lab).sum():5} {(m & ~lab & fa).sum():4}")
    print(f"TOTAL sensitivity {100 * det[lab].mean():.2f}% ({det[lab].sum()}/{lab.sum()}) specificity {100 * (1 - fa[~lab].mean()):.2f}% "
          f"({fa[~lab].sum()}/{(~lab).sum()} false alarms) older adults' ADL false alarms {100 * fa[~lab & old].mean():.2f}% "
          f"({fa[~lab & old].sum()}/{(~lab & old).sum()})")
    print("false alarms:", dict(collections.Counter(trials[i].activity for i in np.flatnonzero(fa & ~lab))))

def main():
    import sys
    if "--wrist" in sys.argv[1:]:
        return wrist_loso()
    S = data.sisfall()
    D = {hz: sisfall_candidates(S, hz) for hz in (200, 50)}
    subj_of = np.array([t.subject for t in S])
    for with_tilt, mname in ((True, "waist-upright"), (False, "waist")):
        scores = {hz: np.full(len(R), -np.inf) for hz, R in D.items()}
        for s in sorted(set(subj_of)) + ["ALL"]:
            Xs, ys = [], []
            for hz, R in D.items():
                subj = subj_of[R[:, 0].astype(int)]; pos = (R[:, 1] == 1) & (R[:, 2] == 1); neg = R[:, 1] == 0
                tr = gate(R) & (pos | neg) & (subj != s); Xs.append(X_of(R, with_tilt)[tr]); ys.append(pos[tr].astype(float))
            beta = model.fit(np.vstack(Xs), np.concatenate(ys), l2=1.0)
            if s == "ALL": print(f"\n{mname} coefficients fitted on every subject (FallModel.swift):", np.round(beta, 4).tolist()); break
            for hz, R in D.items():
                subj = subj_of[R[:, 0].astype(int)]; m = gate(R) & (subj == s)
                scores[hz][m] = model.score(X_of(R, with_tilt)[m], beta)
        for hz, R in D.items():
            near = np.full(len(S), -np.inf); anyc = np.full(len(S), -np.inf)
            np.maximum.at(near, R[R[:, 2] == 1, 0].astype(int), scores[hz][R[:, 2] == 1])
            np.maximum.at(anyc, R[:, 0].astype(int), scores[hz])
            table(f"SisFall waist {hz} Hz, model {mname}" + ("" if with_tilt else " (upright never learned)"), S, near, anyc,
                  reference.MODELS[mname]["thr"])
    wrist_loso()


def wrist_candidates(Uf):
    """Rows (trial, fall?, in window?, tp, decision time, features.NAMES..., earlier) of the UMAFall trials. In window:
    the decision comes between 1.5 s before and 4 s after the impact (the largest |a|), as fall-eval scores it."""
    prm = dict(F.WRIST); prm["trigger"] = reference.MODELS["wrist"]["trigger"]
    recs = []
    for k, tr in enumerate(Uf):
        a = np.linalg.norm(tr.xyz.astype(float), axis=1); imp = tr.t[a.argmax()]
        for r in F.trial_features(tr.t, tr.xyz, prm):
            recs.append((k, tr.label == "fall", imp - 1.5 <= r[1] <= imp + 4.0, *r))
    return np.array(recs)


def first_fire(R, sc, thr, n):
    """Per trial, as the detector decides (refractory after a fall): found = the first candidate at or above thr is in
    the window; fired = any is."""
    found = np.zeros(n, bool); fired = np.zeros(n, bool)
    for i in np.lexsort((R[:, 4], R[:, 0])):
        k = int(R[i, 0])
        if fired[k] or sc[i] < thr: continue
        fired[k] = True; found[k] = R[i, 2] == 1
    return found, fired


def wrist_loso():
    """The wrist: the gates and inputs of FallModel.wrist (no angle gate; postDev < 0.5, and when deciding an
    earlier-posture angle >= 5 deg; a new resting posture,
    stillness before, impact energy, the arm at rest after). Positives: fall trials' candidates decided in the
    window; negatives: every ADL candidate. Each subject scored by a model fitted without them."""
    Uf = data.umafall(); R = wrist_candidates(Uf)
    subj = np.array([t.subject for t in Uf])[R[:, 0].astype(int)]
    pos = (R[:, 1] == 1) & (R[:, 2] == 1); neg = R[:, 1] == 0
    g = R[:, 3 + 2 + 3] < reference.WRIST_GATE_POST_DEV
    X = model.design_wrist(R[:, 5:13]); sc = np.full(len(R), -np.inf)
    for s in sorted(set(subj)):
        tr = g & (pos | neg) & (subj != s); beta = model.fit(X[tr], pos[tr].astype(float), l2=1.0)
        m = g & (subj == s); sc[m] = model.score(X[m], beta)
    sc[R[:, 12] < reference.WRIST_GATE_EARLIER] = -np.inf   # the decision's gate (not the fit's)
    tr = g & (pos | neg)
    print("\nwrist coefficients fitted on every subject (FallModel.swift):", np.round(model.fit(X[tr], pos[tr].astype(float), l2=1.0), 4).tolist())
    thr = reference.MODELS["wrist"]["thr"]
    found, fired = first_fire(R, sc, thr, len(Uf))
    as_score = lambda b: np.where(b, 1.0, -np.inf)
    table(f"UMAFall wrist ~20 Hz, model wrist (threshold {thr})", Uf, as_score(found), as_score(fired), 0.0)
    lab = np.array([t.label == "fall" for t in Uf]); sweep = []
    for t in np.arange(-1.0, 1.01, 0.25):
        f, fi = first_fire(R, sc, t, len(Uf)); sweep.append(f"{t:+.2f}: {f[lab].sum()}/{lab.sum()} {fi[~lab].sum()}/{(~lab).sum()}")
    print("threshold sweep (falls found, ADLs falsely alarmed):", "  ".join(sweep))


if __name__ == "__main__":
    main()
