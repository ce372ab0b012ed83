"""Writing `careMonitord replay` captures (mosquitto_sub -F %j lines of `accel` batches) from fall-dataset trials,
with labels.ndjson, trials.csv and a config. Used by tools/sisfall-to-capture, tools/umafall-to-capture, fall-eval."""
import csv, datetime as dt, json, pathlib
import numpy as np

T0 = 1_767_571_200.0          # 2026-01-05T00:00:00Z: where the first trial starts
GAP = 60.0                    # seconds of silence between trials (longer than the detector's maxGapSeconds)


def rfc3339(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def tst(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ+0000")


def resample(t, xyz, hz_in, hz_out):
    """Stride decimation when hz_in is a multiple of hz_out (what a slower device and the project's checks do),
    else linear interpolation onto a regular grid. hz_in None: irregular input."""
    if hz_in and abs(hz_in / hz_out - round(hz_in / hz_out)) < 1e-9 and hz_in >= hz_out:
        step = int(round(hz_in / hz_out)); return t[::step], xyz[::step]
    grid = np.arange(t[0], t[-1] + 1e-9, 1.0 / hz_out)
    return grid, np.stack([np.interp(grid, t, xyz[:, k]) for k in range(3)], 1)


class Writer:
    def __init__(self, out_dir, placement, hz):
        self.dir = pathlib.Path(out_dir); self.dir.mkdir(parents=True, exist_ok=True)
        self.cap = open(self.dir / "capture.ndjson", "w"); self.lab = open(self.dir / "labels.ndjson", "w")
        self.rows = []; self.cursor = T0; self.placement = placement; self.hz = hz

    def _line(self, topic, payload, last_t):
        p = json.dumps(payload, separators=(",", ":"))
        self.cap.write(json.dumps({"tst": tst(last_t), "topic": topic, "qos": 0, "retain": 0, "payloadlen": len(p),
                                   "payload": p}, separators=(",", ":")) + "\n")

    def trial(self, device, t_rel, xyz, regular_hz, meta):
        """t_rel: seconds from the trial's first sample; regular_hz: the rate when t_rel is regular (batches
        carry t0/hz), else None (batches carry t)."""
        start = self.cursor
        t = start + t_rel
        xyz = np.round(xyz.astype(np.float64), 5)
        topic = f"wearable/{device}/accel"
        per = max(1, int(round((regular_hz or 20) / 2)))
        for i in range(0, len(t), per):
            b = xyz[i:i + per]
            if regular_hz:
                payload = {"t0": round(start + i / regular_hz, 6), "hz": regular_hz, "unit": "g"}
                last = start + (i + len(b) - 1) / regular_hz
            else:
                payload = {"t": [round(v, 4) for v in t[i:i + per]], "unit": "g"}
                last = t[i + len(b) - 1]
            payload.update(x=b[:, 0].tolist(), y=b[:, 1].tolist(), z=b[:, 2].tolist())
            self._line(topic, payload, last)
        a = np.sqrt((xyz * xyz).sum(1)); impact = float(t[int(np.argmax(a))])
        end = float(t[-1])
        row = dict(meta, device=device, start=start, end=end, impact=impact if meta["label"] == "fall" else "",
                   hz=regular_hz or "irregular", samples=len(t))
        self.rows.append(row)
        if meta["label"] == "fall":
            self.lab.write(json.dumps({"start": rfc3339(impact), "end": rfc3339(impact + 4.0), "kind": "fall"}) + "\n")
        self.cursor = float(np.ceil(end + GAP))

    def close(self):
        self.cap.close(); self.lab.close()
        with open(self.dir / "trials.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(self.rows[0].keys())); w.writeheader(); w.writerows(self.rows)
        config = {"person": {"id": "fall-eval", "timezone": "UTC"},
                  "sources": [{"topic": "wearable/+/accel", "format": "accel", "placement": self.placement}]}
        (self.dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
