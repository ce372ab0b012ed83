"""Logistic model over candidate features; fitting (Newton, L2) and leave-subjects-out scoring."""
import numpy as np

def design(F):
    """F: rows of features in features.NAMES order -> model inputs (the Swift detector computes the same)."""
    peak, angle, pstd, pdev, dip, prestd, area = [F[:, i] for i in range(7)]
    return np.stack([np.log(peak), angle / 90.0, np.log(pdev + 0.02), dip * 10, np.log(prestd + 0.02), area * 2], 1)

XNAMES = ["ln peak", "angle/90", "ln(postDev+0.02)", "10 dip", "ln(preStd+0.02)", "2 area"]


def design_wrist(F):
    """F: rows of features.NAMES + the earlier-posture angle -> the wrist model's inputs (FallModel.Inputs.wrist):
    a new resting posture, stillness before, impact energy, the arm at rest after."""
    peak, angle, pstd, pdev, dip, prestd, area, earlier = [F[:, i] for i in range(8)]
    return np.stack([np.minimum(earlier, 90) / 90, np.log(prestd + 0.02), area * 2, np.log(pdev + 0.02)], 1)

WRIST_XNAMES = ["min(earlier,90)/90", "ln(preStd+0.02)", "2 area", "ln(postDev+0.02)"]

def fit(X, y, l2=1.0, w=None):
    n, d = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])
    w_ = np.ones(n) if w is None else w
    beta = np.zeros(d + 1)
    for _ in range(50):
        z = Xb @ beta; p = 1 / (1 + np.exp(-z))
        g = Xb.T @ (w_ * (p - y)) + l2 * np.r_[beta[:-1], 0]
        H = (Xb * (w_ * p * (1 - p))[:, None]).T @ Xb + l2 * np.diag(np.r_[np.ones(d), 0])
        step = np.linalg.solve(H, g); beta -= step
        if np.abs(step).max() < 1e-8: break
    return beta

def score(X, beta):
    return X @ beta[:-1] + beta[-1]
