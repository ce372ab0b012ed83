"""The learned 'upright' direction of a body-worn (waist) sensor: the mean acceleration vector during sustained
walking, as FallDetector.swift learns it online. Blocks of `block` s (a block closes at the first sample at or
after its start + block; that sample opens the next). A block is walking-like when the standard deviation of |a|
lies in [stdLo, stdHi] g and its mean |a| within 1 ± meanTol; after `needRun` consecutive such blocks (no gap
> 1.5 block between them) whose mean vectors agree within `agreeDeg`, the block's mean direction is blended into
the estimate (weight `weight`); it is `known` after `needUpdates` updates."""
import numpy as np

P = dict(block=1.0, stdLo=0.08, stdHi=1.5, meanTol=0.3, needRun=3, agreeDeg=25.0, weight=0.2, needUpdates=5)


class Upright:
    def __init__(self, p=P):
        self.p = p; self.u = np.zeros(3); self.updates = 0; self.run = 0
        self.prev = None
        self.history = []   # (time of update, u copy, known)

    def known(self):
        return self.updates >= self.p["needUpdates"]

    def feed_trial(self, t, xyz):
        """Feeds one contiguous stream (t ascending)."""
        p = self.p
        a = np.sqrt((xyz * xyz).sum(1))
        i = 0; n = len(t)
        # block boundaries as the streaming code makes them
        starts = []
        s = 0
        while s < n:
            e = np.searchsorted(t, t[s] + p["block"], "left")
            if e >= n:
                break  # the last partial block is not closed (no later sample)
            starts.append((s, e)); s = e
        self.run = 0   # a new stream: the block before the gap was cut short
        for s, e in starts:
            m = xyz[s:e].mean(0); am = a[s:e].mean(); asd = a[s:e].std()
            valid = t[e] - t[s] <= 1.5 * p["block"] and e - s >= 4
            active = valid and p["stdLo"] <= asd <= p["stdHi"] and abs(am - 1) <= p["meanTol"]
            if active and self.run > 0:
                c = m @ self.prev / max(np.linalg.norm(m) * np.linalg.norm(self.prev), 1e-9)
                self.run = self.run + 1 if c >= np.cos(np.radians(p["agreeDeg"])) else 1
            elif active:
                self.run = 1
            else:
                self.run = 0
            self.prev = m
            if self.run >= p["needRun"]:
                d = m / max(np.linalg.norm(m), 1e-9)
                self.u = d.copy() if self.updates == 0 else (1 - p["weight"]) * self.u + p["weight"] * d
                self.u /= max(np.linalg.norm(self.u), 1e-9)
                self.updates += 1
                self.history.append((t[e], self.u.copy(), self.known()))
