"""Shared by the lab benchmarks in this folder (stdlib only): percentiles,
processes started and stopped by their handles, uplinkctl, bounded waits,
uplinkd's CPU and RSS from /proc, event timestamps."""
import datetime
import json
import os
import signal
import subprocess
import time


def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list; nan when empty."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def event_ns(ts):
    """An event's "ts" (ISO 8601 UTC with milliseconds, as uplinkctl prints it) -> ns since the epoch."""
    dt = datetime.datetime.strptime(ts.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp() * 1e9)


class LabRun:
    """Processes of one benchmark run (stopped in reverse order by down()), uplinkctl on its socket."""

    def __init__(self, build, tmp):
        self.build = build
        self.tmp = tmp
        self.lab = os.path.join(build, "bin", "uplink-lab")
        self.ctl_bin = os.path.join(build, "bin", "uplinkctl")
        self.sock = os.path.join(tmp, "uplinkd.sock")
        self.procs = []

    def spawn(self, argv, log, env=None):
        p = subprocess.Popen(argv, stdout=open(os.path.join(self.tmp, log), "ab"), stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, wait=5):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(wait)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)

    def ctl(self, *args):
        r = subprocess.run([self.ctl_bin, "--socket", self.sock] + list(args), capture_output=True, text=True,
                           timeout=10)
        return r.stdout if r.returncode == 0 else None

    def status(self):
        out = self.ctl("status", "--json")
        return json.loads(out) if out else None

    def events(self):
        out = self.ctl("events", "--json")
        return [json.loads(l) for l in (out or "").splitlines() if l.strip()]

    def wait(self, pred, timeout, what):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if pred():
                    return True
            except (TypeError, KeyError, IndexError, ValueError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"timed out ({timeout}s) waiting for {what}")

    def link(self, name):
        return [l for l in self.status()["links"] if l["name"] == name][0]

    def active(self, policy="default"):
        return [p for p in self.status()["policies"] if p["name"] == policy][0]["active"]

    def cpu_rss(self, pid, seconds):
        """uplinkd's CPU share (% of one core) over `seconds`, and its RSS (MiB) at the end."""
        def ticks():
            with open(f"/proc/{pid}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            return int(parts[11]) + int(parts[12])
        a, t0 = ticks(), time.monotonic()
        time.sleep(seconds)
        b, t1 = ticks(), time.monotonic()
        rss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        return 100.0 * (b - a) / os.sysconf("SC_CLK_TCK") / (t1 - t0), rss / 1024.0
