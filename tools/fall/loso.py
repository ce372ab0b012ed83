"""Leave-one-subject-out cross-validation of the fall models, by subject (the honest figures on the tuning sets:
each subject is scored by a model fitted without them). Waist: SisFall at 200 Hz and 50 Hz (every 4th sample),
trials of a subject streamed in order so the upright direction is learned as in a capture; the model is fitted on
both rates at once (--augment: every fall also slowed and damped, `FIT_SLOW`, data.slow_soft, each copy weighing
--augment-weight W [0.25] beside a recorded fall; --trigger G: another candidate trigger than FallModel.swift's).
The model is fitted on candidates at or above the trigger only; the low-impact path (reference.LOW_IMPACT: candidates
from the lower trigger, gated on the turn, stillness and lying after, with the upright direction known) is scored
with it; --no-low-impact: without that path.
Each held-out subject is then scored at other rates too (100, 40 Hz by stride, 60 Hz interpolated, 25 Hz) and on its falls slowed and damped by other factors (`EVAL_SLOW`): the proxy for older
people's slower, softer falls, which the tuning part lacks; and on the older adults' daily activities done more
vigorously (`EVAL_VIGOROUS`, data.vigorous_adls: faster, with more movement around the posture), with the activities
falsely alarmed. Summaries by group (young, older) and rate.
Wrist: UMAFall at its own ~20 Hz. Thresholds are those of FallModel.swift.
usage: python3 tools/fall/loso.py [--wrist] [--augment [--augment-weight W]] [--trigger G] [--no-low-impact]   (--wrist: only the wrist, ~5 s)"""
import collections, sys, numpy as np
import data, features as F, upright as U, model, reference, capture

FIT_RATES = (200, 50)
EVAL_RATES = (100, 60, 40, 25)
# (stretch, damp): falls played this much slower with their movement around the posture scaled by this much.
FIT_SLOW = ((1.3, 0.8), (1.7, 0.6))
EVAL_SLOW = ((1.5, 0.7), (2.0, 0.5))
# (speed, amp): older adults' daily activities played this much faster with their movement around the posture scaled
# by this much (data.vigorous_adls): the proxy for older people who sit down, lie down and stumble harder.
EVAL_VIGOROUS = ((1.0, 1.25), (1.0, 1.5), (1.25, 1.0), (1.25, 1.25))
# The weight of a slowed, damped fall in the fit, beside a recorded one (--augment-weight W).
AUG_WEIGHT = float(sys.argv[sys.argv.index("--augment-weight") + 1]) if "--augment-weight" in sys.argv else 0.25
# The waist trigger (g) of FallModel.swift; --trigger G tries another.
TRIGGER = float(sys.argv[sys.argv.index("--trigger") + 1]) if "--trigger" in sys.argv else reference.MODELS["waist"]["trigger"]
LOW_IMPACT = "--no-low-impact" not in sys.argv
CANDIDATE_TRIGGER = min(TRIGGER, reference.LOW_IMPACT["trigger"]) if LOW_IMPACT else TRIGGER

def sisfall_candidates(S, hz, only=None):
    prm = dict(F.DEFAULT); prm["trigger"] = CANDIDATE_TRIGGER
    recs = []; learners = {}
    for k, tr in enumerate(S):
        if only and tr.group != only: continue
        t, xyz = capture.resample(tr.t, tr.xyz, 200, hz); xyz = xyz.astype(float)
        a = np.linalg.norm(xyz, axis=1); imp = t[np.argmax(a)]
        L = learners.setdefault(tr.subject, U.Upright()); L.history = []
        before = (L.u.copy(), L.known()); L.feed_trial(t, xyz)
        for r in F.trial_features(t, xyz, prm):
            tp, tdec = r[0], r[1]; u, known = before
            for tu, uu, kk in L.history:
                if tu <= tdec: u, known = uu, kk
            i0 = np.searchsorted(t, tp - 2.5); i1 = np.searchsorted(t, tp - 1.0)
            j0 = np.searchsorted(t, tp + 1.0, "right"); j1 = np.searchsorted(t, tp + 2.5, "right")
            tilt = lambda g: np.degrees(np.arccos(np.clip(g @ u / np.linalg.norm(g), -1, 1))) if known else np.nan
            recs.append((k, tr.label == "fall", abs(tp - imp) <= 1.0, *r, tilt(xyz[i0:i1].mean(0)), tilt(xyz[j0:j1].mean(0))))
    return np.array(recs).reshape(-1, 14)

def X_of(R, with_tilt):
    X = model.design(R[:, 5:12])
    if not with_tilt: return X
    pre = np.nan_to_num(R[:, 12], nan=30.0); post = np.nan_to_num(R[:, 13], nan=90.0)
    return np.hstack([X, np.maximum(0, pre - 45)[:, None] / 45, np.minimum(post, 75)[:, None] / 75])

def gate(R): return (R[:, 6] >= reference.GATE_ANGLE) & (R[:, 8] < reference.GATE_POST_STD)

def low_impact(R, sc, thr, with_tilt):
    """sc with the candidates below the trigger kept only where the low-impact path would decide a fall."""
    low = R[:, 5] < TRIGGER
    if not low.any(): return sc
    ok = np.array([with_tilt and reference.low_impact_ok(R[i, 5:12], not np.isnan(R[i, 13]), R[i, 13], sc[i], thr)
                   for i in np.flatnonzero(low)], bool)
    sc = sc.copy(); sc[np.flatnonzero(low)[~ok]] = -np.inf
    return sc

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

def summary(name, trials, near, anyc, thr, soft, falls_only=False, older_adls=False):
    """One line by group: young subjects' falls found (and the softest quarter of them), ADLs falsely alarmed by
    group (older_adls: only older adults' ADLs, with the activities alarmed)."""
    lab = np.array([t.label == "fall" for t in trials]); old = np.array([t.group == "elderly" for t in trials])
    det = near >= thr; fa = anyc >= thr
    pct = lambda k, n: f"{100 * k / n:.2f}% ({k}/{n})" if n else "-"
    if older_adls:
        m = ~lab & old
        by = collections.Counter(trials[i].activity for i in np.flatnonzero(m & fa))
        print(f"{name:34} older ADLs falsely alarmed {pct(fa[m].sum(), m.sum())} {dict(sorted(by.items()))}")
        return
    y = lab & ~old; line = f"{name:34} young falls {pct(det[y].sum(), y.sum())}"
    if soft is not None: line += f", softest quarter {pct(det[y & soft].sum(), (y & soft).sum())}"
    if not falls_only:
        line += f"; ADLs falsely alarmed: young {pct(fa[~lab & ~old].sum(), (~lab & ~old).sum())}, older {pct(fa[~lab & old].sum(), (~lab & old).sum())}"
    print(line)


def trial_scores(R, sc, n):
    near = np.full(n, -np.inf); anyc = np.full(n, -np.inf)
    np.maximum.at(near, R[R[:, 2] == 1, 0].astype(int), sc[R[:, 2] == 1])
    np.maximum.at(anyc, R[:, 0].astype(int), sc)
    return near, anyc


def main():
    if "--wrist" in sys.argv[1:]:
        return wrist_loso()
    augment = "--augment" in sys.argv[1:]
    S = data.sisfall()
    subj_of = np.array([t.subject for t in S])
    peaks = np.array([np.linalg.norm(t.xyz.astype(float), axis=1).max() if t.label == "fall" else np.inf for t in S])
    soft = peaks <= np.percentile(peaks[np.isfinite(peaks)], 25)
    # (name, rate, candidates, falls only? / "older" for older adults' ADLs only, in the fit?)
    sets = [(f"{hz} Hz", hz, sisfall_candidates(S, hz), False, True) for hz in FIT_RATES]
    if augment:
        for st, dm in FIT_SLOW:
            T = data.slowed_falls(S, st, dm)
            sets += [(f"{hz} Hz falls x{st} slower, x{dm} movement", hz, sisfall_candidates(T, hz), True, True) for hz in FIT_RATES]
    sets += [(f"{hz} Hz", hz, sisfall_candidates(S, hz), False, False) for hz in EVAL_RATES]
    for st, dm in EVAL_SLOW:
        T = data.slowed_falls(S, st, dm)
        sets += [(f"{hz} Hz falls x{st} slower, x{dm} movement", hz, sisfall_candidates(T, hz), True, False) for hz in FIT_RATES]
    for sp, am in EVAL_VIGOROUS:
        T = data.vigorous_adls(S, sp, am)
        sets += [(f"{hz} Hz older ADLs x{sp} faster, x{am} movement", hz, sisfall_candidates(T, hz, "elderly"), "older", False)
                 for hz in FIT_RATES]
    print(f"\nwaist model fitted on {', '.join(n for n, _, _, _, f in sets if f)}")
    for with_tilt, mname in ((True, "waist-upright"), (False, "waist")):
        scores = [np.full(len(R), -np.inf) for _, _, R, _, _ in sets]
        for s in sorted(set(subj_of)) + ["ALL"]:
            Xs, ys, ws = [], [], []
            for _, _, R, falls_only, fitted in sets:
                if not fitted: continue
                subj = subj_of[R[:, 0].astype(int)]; pos = (R[:, 1] == 1) & (R[:, 2] == 1)
                neg = (R[:, 1] == 0) & (not falls_only)
                tr = gate(R) & (pos | neg) & (subj != s) & (R[:, 5] >= TRIGGER); Xs.append(X_of(R, with_tilt)[tr]); ys.append(pos[tr].astype(float))
                ws.append(np.full(tr.sum(), AUG_WEIGHT if falls_only else 1.0))
            beta = model.fit(np.vstack(Xs), np.concatenate(ys), l2=1.0, w=np.concatenate(ws))
            if s == "ALL": print(f"\n{mname} coefficients fitted on every subject (FallModel.swift):", np.round(beta, 4).tolist()); break
            for k, (_, _, R, _, _) in enumerate(sets):
                subj = subj_of[R[:, 0].astype(int)]; m = gate(R) & (subj == s)
                scores[k][m] = model.score(X_of(R, with_tilt)[m], beta)
        thr = reference.MODELS[mname]["thr"]
        scores = [low_impact(R, scores[k], thr, with_tilt) for k, (_, _, R, _, _) in enumerate(sets)]
        tag = "" if with_tilt else " (upright never learned)"
        for k, (name, hz, R, falls_only, fitted) in enumerate(sets):
            if fitted and not falls_only:
                table(f"SisFall waist {name}, model {mname}{tag}", S, *trial_scores(R, scores[k], len(S)), thr)
        print(f"\n== LOSO by group and rate, model {mname}{tag} (older subjects recorded ADLs only)")
        for k, (name, hz, R, falls_only, fitted) in enumerate(sets):
            if falls_only and fitted: continue
            summary(name, S, *trial_scores(R, scores[k], len(S)), thr, None if falls_only else soft, falls_only is True,
                    falls_only == "older")
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
