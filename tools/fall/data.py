"""Loading the shared fall-tuning trials (SisFall waist, UMAFall wrist) as numpy arrays, cached.

SisFall: raw ADXL345 ints, g = raw * 32 / 8192, 200 Hz, sample i at i/200 s (README of sisfall-tuning).
UMAFall: t_ms,x,y,z in g, ~20 Hz irregular (README of umafall-wrist-tuning).
"""
import csv, gzip, os, pathlib
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent


def shared_dir():
    env = os.environ.get("CM_SHARED")
    if env:
        return pathlib.Path(env)
    return (REPO.parent / "shared").resolve()


def cache_dir():
    d = pathlib.Path(os.environ.get("CM_FALL_CACHE", "/tmp/cm-fall-cache"))
    d.mkdir(parents=True, exist_ok=True)
    return d


class Trial:
    __slots__ = ("file", "subject", "group", "activity", "label", "t", "xyz", "meta")

    def __init__(self, file, subject, group, activity, label, t, xyz, meta):
        self.file, self.subject, self.group, self.activity, self.label = file, subject, group, activity, label
        self.t, self.xyz, self.meta = t, xyz, meta


def _read_sisfall(path):
    with gzip.open(path, "rt") as f:
        rows = [l.split(",")[:3] for l in f if l.strip()]
    return np.array(rows, dtype=np.int16)


def sisfall(root=None):
    """All SisFall tuning trials (list of Trial, t in s from 0 at 200 Hz, xyz in g float32)."""
    root = pathlib.Path(root or shared_dir() / "data" / "sisfall-tuning")
    man = list(csv.DictReader(open(root / "manifest.csv")))
    cache = cache_dir() / "sisfall.npz"
    if cache.exists() and cache.stat().st_mtime >= (root / "manifest.csv").stat().st_mtime:
        z = np.load(cache)
        raw, off = z["raw"], z["off"]
    else:
        arrs = [_read_sisfall(root / m["file"]) for m in man]
        off = np.cumsum([0] + [len(a) for a in arrs])
        raw = np.concatenate(arrs)
        np.savez(cache, raw=raw, off=off)
    out = []
    for i, m in enumerate(man):
        r = raw[off[i]:off[i + 1]].astype(np.float32) * (32.0 / 8192.0)
        t = np.arange(len(r)) / 200.0
        out.append(Trial(m["file"], m["subject"], m["group"], m["activity"], m["label"], t, r, m))
    return out


def umafall(root=None):
    """All UMAFall wrist tuning trials (t in s from the trial's first sample, xyz in g float32)."""
    root = pathlib.Path(root or shared_dir() / "data" / "umafall-wrist-tuning")
    man = list(csv.DictReader(open(root / "manifest.csv")))
    out = []
    for m in man:
        with gzip.open(root / m["file"], "rt") as f:
            rows = []
            for l in f:
                p = l.strip().split(",")
                if len(p) < 4:
                    continue
                try:
                    rows.append([float(v) for v in p[:4]])
                except ValueError:
                    continue  # header
        a = np.array(rows, dtype=np.float64)
        t = (a[:, 0] - a[0, 0]) / 1000.0
        out.append(Trial(m["file"], m["subject"], "elderly" if int(m["age"]) >= 55 else "young", m["activity"],
                         m["label"], t, a[:, 1:4].astype(np.float32), m))
    return out


def decimate(trial_t, xyz, hz_in, hz_out):
    """Keep every (hz_in/hz_out)-th sample, as a low-rate device (and the project's checks) would see it."""
    step = int(round(hz_in / hz_out))
    return trial_t[::step], xyz[::step]


def slow_soft(t, xyz, hz, stretch, damp, posture_s=0.5):
    """The same trial as a slower, softer faller would make it: the movement around the posture (the vector minus
    its `posture_s` moving mean) scaled by `damp`, then the whole trace played `stretch` times slower, back on a
    regular grid at `hz`. Older people fall more slowly and land more softly than the young volunteers who
    simulated these falls; this is the proxy for their falls."""
    n = max(1, int(round(posture_s * hz)))
    k = np.ones(n) / n
    pad = np.pad(xyz.astype(np.float64), ((n // 2, n - 1 - n // 2), (0, 0)), mode="edge")
    g = np.stack([np.convolve(pad[:, i], k, mode="valid") for i in range(3)], 1)
    soft = g + damp * (xyz - g)
    ts = (t - t[0]) * stretch
    grid = np.arange(0.0, ts[-1] + 1e-9, 1.0 / hz)
    return grid, np.stack([np.interp(grid, ts, soft[:, i]) for i in range(3)], 1).astype(np.float32)


def slowed_falls(trials, stretch, damp, hz=200):
    """The trials with every fall slowed and damped (`slow_soft`); daily activities unchanged, so the upright
    direction is still learned from each subject's walking."""
    out = []
    for tr in trials:
        if tr.label == "fall":
            t, xyz = slow_soft(tr.t, tr.xyz, hz, stretch, damp)
            tr = Trial(tr.file, tr.subject, tr.group, tr.activity, tr.label, t, xyz, tr.meta)
        out.append(tr)
    return out


def vigorous_adls(trials, speed, amp, hz=200, group="elderly"):
    """The trials with `group`'s daily activities done more vigorously (`slow_soft` with stretch 1/speed and the
    movement around the posture scaled by amp > 1): sit-downs, lying down and stumbles more abrupt and harder; the
    posture (gravity's direction) is kept. The held-back older people do some of this harder than the tuning ones;
    this is the proxy for them. Falls and the other group's trials unchanged."""
    out = []
    for tr in trials:
        if tr.label == "adl" and tr.group == group:
            t, xyz = slow_soft(tr.t, tr.xyz, hz, 1.0 / speed, amp)
            tr = Trial(tr.file, tr.subject, tr.group, tr.activity, tr.label, t, xyz, tr.meta)
        out.append(tr)
    return out
