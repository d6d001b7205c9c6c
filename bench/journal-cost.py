#!/usr/bin/env python3
"""journal-cost.py: what the journal costs per message, on SQLite and on PostgreSQL.

Starts two throwaway Dovecot servers and a throwaway PostgreSQL cluster (bench/pgcluster.py:
fsync and synchronous_commit on, pg_stat_statements loaded), seeds N messages, then copies
them Dovecot -> Dovecot with `cutover run` once per journal (a fresh destination user each):

  sqlite             the default file, durability = "crash" (synchronous = NORMAL, WAL)
  sqlite-powerloss   durability = "power-loss" (synchronous = FULL: every commit fsynced)
  postgres           state = "postgres://...", the server's own durability (fsync on)

For each it reads the counters the journal keeps (`CUTOVER_JOURNAL_COST=1` makes
`cutover run` print them: statements, commits, time in commits and in all statements, rows
written) and, for PostgreSQL, the server's own figures for the database as a cross-check
(pg_stat_database: transactions committed, rows inserted/updated/deleted; pg_stat_statements:
calls and execution time). Prints per message: statements, commits, rows written; the mean
time per commit and per statement as the client sees it; and the journal's share of the
run's wall time.

Usage: bench/journal-cost.py [--messages N] [--journals sqlite,sqlite-powerloss,postgres]
       (CUTOVER=path/to/cutover; default $CARGO_TARGET_DIR/debug/cutover or target/debug)
"""
import argparse
import os
import re
import shutil
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


def pg_figures(pg, db):
    row = pg.psql(db, "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted "
                      "FROM pg_stat_database WHERE datname = current_database()")
    commits, rows = (int(x) for x in row.split("|"))
    st = pg.psql(db, "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) "
                     "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
                     "WHERE d.datname = current_database()")
    calls, ms = st.split("|")
    return commits, rows, int(calls), float(ms)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--journals", default="sqlite,sqlite-powerloss,postgres")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    cutover = os.environ.get("CUTOVER") or os.path.join(target, "debug", "cutover")
    if not os.path.exists(cutover):
        raise SystemExit(f"{cutover}: build it first (cargo build), or set CUTOVER")
    journals = a.journals.split(",")
    work = tempfile.mkdtemp(prefix="cutover-jcost-")
    os.chmod(work, 0o755)  # the PostgreSQL cluster may run as nobody (as root)
    pg = None
    try:
        src = start("src", os.path.join(work, "src"), ["seed"], [])
        dst = start("dst", os.path.join(work, "dst"), [j.replace("-", "") for j in journals], [])
        subprocess.run([sys.executable, os.path.join(SUPPORT, "seed-maildir.py"), "--instance",
                        os.path.join(work, "src"), "--user", "seed", "-n", str(a.messages),
                        "--seed", "7", "--no-tricky", "-q"], check=True)
        if "postgres" in journals:
            pg = pgcluster.Cluster(os.path.join(work, "pg"))
        rows = []
        for j in journals:
            user = j.replace("-", "")
            state, extra, env = f"{user}.sqlite", "", dict(os.environ, CUTOVER_JOURNAL_COST="1")
            if j == "sqlite-powerloss":
                extra = 'durability = "power-loss"\n'
            if j == "postgres":
                pg.create("jcost")
                state = pg.url("jcost")
                env["PGPASSWORD"] = pgcluster.PASSWORD
            proj = os.path.join(work, f"{user}.toml")
            with open(proj, "w") as f:
                f.write(f"""[project]
name = "journal cost {user}"
state = "{state}"
{extra}[source]
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
destination = {{ user = "{user}", password = "{user}-pw" }}
""")
            before = pg_figures(pg, "jcost") if j == "postgres" else None
            if before:
                pg.psql("jcost", "SELECT pg_stat_statements_reset()")
                before = pg_figures(pg, "jcost")
            t0 = time.monotonic()
            out = subprocess.run([cutover, "run", proj], env=env, capture_output=True,
                                 text=True)
            wall = time.monotonic() - t0
            if out.returncode != 0:
                raise SystemExit(f"cutover run ({j}) exited {out.returncode}:\n{out.stderr}")
            m = re.search(r"journal cost: statements=(\d+) commits=(\d+) commit_us=(\d+) "
                          r"us=(\d+) rows_written=(\d+)", out.stderr)
            if not m:
                raise SystemExit(f"no journal cost line from cutover run ({j}):\n{out.stderr}")
            st, co, co_us, us, rw = (int(x) for x in m.groups())
            n = count(dst["conf"], user)
            server = None
            if j == "postgres":
                time.sleep(1.5)  # the server's statistics are flushed within a second
                after = pg_figures(pg, "jcost")
                server = tuple(x - y for x, y in zip(after, before))
            rows.append((j, n, wall, st, co, co_us, us, rw, server))
        print(f"journal cost per message: {a.messages} messages Dovecot -> Dovecot, "
              f"one mailbox, {os.path.basename(cutover)} at {cutover}")
        print(f"{'journal':<17} {'msgs':>5} {'wall s':>7} {'msg/s':>6} {'stmt/msg':>9} "
              f"{'commit/msg':>11} {'rows/msg':>9} {'us/commit':>10} {'us/stmt':>8} "
              f"{'journal %':>10}")
        for j, n, wall, st, co, co_us, us, rw, server in rows:
            print(f"{j:<17} {n:>5} {wall:>7.1f} {n / wall:>6.0f} {st / n:>9.2f} "
                  f"{co / n:>11.2f} {rw / n:>9.2f} {co_us / max(co, 1):>10.0f} "
                  f"{us / max(st, 1):>8.0f} {100 * us / 1e6 / wall:>9.0f}%")
            if server:
                commits, rws, calls, ms = server
                print(f"{'  (server side)':<17} {'':>5} {'':>7} {'':>6} {calls / n:>9.2f} "
                      f"{commits / n:>11.2f} {rws / n:>9.2f} {'':>10} "
                      f"{1000 * ms / max(calls, 1):>8.0f}   pg_stat_database/"
                      f"pg_stat_statements")
    finally:
        if pg:
            pg.stop()
        for d in ("src", "dst"):
            subprocess.run([os.path.join(SUPPORT, "dovecot-instance.sh"), "destroy",
                            os.path.join(work, d)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
