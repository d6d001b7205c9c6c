#!/usr/bin/env python3
"""stop-latency.py: how fast does `cutover stop` halt the writes of a running migration?

Starts two throwaway Dovecot servers on 127.0.0.1 (tests/support/dovecot-instance.sh), seeds
the source (tests/support/seed-maildir.py), then for each trial: starts `cutover run` on a
fresh destination user, waits until some mail has landed, runs `cutover stop PROJECT` from a
second process, and watches the destination's message count (doveadm mailbox status, polled
every ~20 ms) until it has not moved for 3 s. Reports, per trial:

  stop-cmd   how long the `cutover stop` command took (request to reply)
  last-write time from issuing the stop to the last change of the destination's count
             (the stop latency; 0 when no write was seen after the stop)
  exit       how long until the `cutover run` process exited
  after      messages that still landed after the stop was issued

With `--journal postgres` the journal is a database of a throwaway PostgreSQL cluster
(bench/pgcluster.py) and the stop goes as a fleet command (journalled, NOTIFY, heard by the
engine's listener) instead of through the control socket.

Usage: bench/stop-latency.py [--trials N] [--messages N] [--fsync optimized|always]
                             [--journal sqlite|postgres]
       (CUTOVER=path/to/cutover; default target/release/cutover, built if missing)
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SUPPORT = os.path.join(ROOT, "tests", "support")
sys.path.insert(0, HERE)
import pgcluster  # noqa: E402


def start(name, d, users, extra):
    args = [os.path.join(SUPPORT, "dovecot-instance.sh"), "start", name, "auto", d]
    for u in users:
        args += ["--user", f"{u}:{u}-pw"]
    out = subprocess.run(args + extra, check=True, capture_output=True, text=True).stdout
    return dict(kv.split("=", 1) for kv in out.split())


def count(conf, user):
    out = subprocess.run(
        ["doveadm", "-c", conf, "mailbox", "status", "-u", user, "messages", "*"],
        capture_output=True, text=True,
    ).stdout
    return sum(int(l.rsplit("messages=", 1)[1]) for l in out.splitlines() if "messages=" in l)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--messages", type=int, default=4000)
    ap.add_argument("--fsync", default="always", help="destination mail_fsync (always = slow writes)")
    ap.add_argument("--journal", default="sqlite", choices=["sqlite", "postgres"])
    a = ap.parse_args()
    cutover = os.environ.get("CUTOVER") or os.path.join(ROOT, "target", "release", "cutover")
    if not os.path.exists(cutover):
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="cutover-stop-")
    os.chmod(work, 0o755)  # the PostgreSQL cluster may run as nobody (as root)
    users = [f"u{i}" for i in range(a.trials)]
    pg = None
    env = dict(os.environ)
    try:
        if a.journal == "postgres":
            pg = pgcluster.Cluster(os.path.join(work, "pg"))
            env["PGPASSWORD"] = pgcluster.PASSWORD
        src = start("src", os.path.join(work, "src"), ["seed"], [])
        dst = start("dst", os.path.join(work, "dst"), users, ["--fsync", a.fsync])
        subprocess.run([sys.executable, os.path.join(SUPPORT, "seed-maildir.py"), "--instance",
                        os.path.join(work, "src"), "--user", "seed", "-n", str(a.messages),
                        "--seed", "7", "--no-tricky", "-q"], check=True)
        rows = []
        for u in users:
            proj = os.path.join(work, f"{u}.toml")
            state = f"{u}.sqlite"
            if pg:
                pg.create(f"stop_{u}")
                state = pg.url(f"stop_{u}")
            with open(proj, "w") as f:
                f.write(f"""[project]
name = "stop latency {u}"
state = "{state}"
[source]
kind = "imap"
host = "127.0.0.1"
port = {src['port']}
security = "none"
[destination]
kind = "imap"
host = "127.0.0.1"
port = {dst['port']}
security = "none"
[[mailbox]]
source = {{ user = "seed", password = "seed-pw" }}
destination = {{ user = "{u}", password = "{u}-pw" }}
""")
            run = subprocess.Popen([cutover, "run", proj], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, env=env)
            deadline = time.time() + 60
            while count(dst["conf"], u) < a.messages // 5:
                if time.time() > deadline or run.poll() is not None:
                    raise SystemExit("nothing copied: is Dovecot working?")
                time.sleep(0.02)
            t0 = time.monotonic()
            before = count(dst["conf"], u)
            subprocess.run([cutover, "stop", proj], check=True, capture_output=True, env=env)
            t_cmd = time.monotonic() - t0
            last, last_change, t_exit = before, t0, None
            while time.monotonic() - last_change < 3.0:
                n = count(dst["conf"], u)
                now = time.monotonic()
                if n != last:
                    last, last_change = n, now
                if t_exit is None and run.poll() is not None:
                    t_exit = now - t0
                time.sleep(0.02)
            run.wait()
            rows.append((t_cmd, max(0.0, last_change - t0), t_exit or (time.monotonic() - t0),
                         last - before))
        print(f"cutover stop latency: {a.trials} trials, {a.messages} messages of source, "
              f"destination mail_fsync={a.fsync}, journal {a.journal}, {cutover}")
        print(f"{'trial':>5} {'stop-cmd ms':>12} {'last-write ms':>14} {'exit ms':>9} {'after':>6}")
        for i, (c, l, e, n) in enumerate(rows, 1):
            print(f"{i:>5} {c*1000:>12.0f} {l*1000:>14.0f} {e*1000:>9.0f} {n:>6}")
        lat = [r[1] * 1000 for r in rows]
        print(f"last write after the stop: median {statistics.median(lat):.0f} ms, "
              f"max {max(lat):.0f} ms (polling resolution ~20-40 ms)")
    finally:
        if pg:
            pg.stop()
        for d in ("src", "dst"):
            subprocess.run([os.path.join(SUPPORT, "dovecot-instance.sh"), "destroy",
                            os.path.join(work, d)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
