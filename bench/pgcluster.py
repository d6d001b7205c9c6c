"""pgcluster.py: a throwaway PostgreSQL cluster for the benchmarks, as the tests start one
(tests/it/support/postgres.rs): the newest /usr/lib/postgresql/*/bin (or $CUTOVER_PG_BIN),
initdb into a directory (as root, owned by nobody and run through setpriv: initdb refuses
root), 127.0.0.1 on a free port, password authentication over TCP.

Unlike the tests' cluster, fsync and synchronous_commit stay on by default (the cost of a
commit is what a benchmark of the journal measures); pg_stat_statements is loaded.
"""
import glob
import os
import socket
import subprocess
import time

PASSWORD = "cutover-bench"


def bin_dir():
    if os.environ.get("CUTOVER_PG_BIN"):
        return os.environ["CUTOVER_PG_BIN"]
    found = sorted(
        (int(os.path.basename(os.path.dirname(b))), b)
        for b in glob.glob("/usr/lib/postgresql/*/bin")
        if os.path.exists(os.path.join(b, "initdb"))
    )
    if not found:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    return found[-1][1]


def _owner():
    if os.geteuid() != 0:
        return []
    import pwd
    nobody = pwd.getpwnam("nobody")
    return ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Cluster:
    def __init__(self, root, fsync=True):
        self.bin = bin_dir()
        self.root = root
        os.makedirs(root, exist_ok=True)
        pw = os.path.join(root, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD)
        if os.geteuid() == 0:
            import pwd
            nobody = pwd.getpwnam("nobody")
            for p in (root, pw):
                os.chown(p, nobody.pw_uid, nobody.pw_gid)
        self.data = os.path.join(root, "data")
        subprocess.run(_owner() + [os.path.join(self.bin, "initdb"), "-D", self.data, "-U",
                                   "postgres", "--auth-local=trust",
                                   "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
                                   f"--pwfile={pw}"], check=True, capture_output=True)
        self.port = _free_port()
        sync = "on" if fsync else "off"
        log = open(os.path.join(root, "server.log"), "w")
        self.proc = subprocess.Popen(
            _owner() + [os.path.join(self.bin, "postgres"), "-D", self.data, "-p",
                        str(self.port), "-k", root, "-c", "listen_addresses=127.0.0.1",
                        "-c", f"fsync={sync}", "-c", f"synchronous_commit={sync}",
                        "-c", "shared_preload_libraries=pg_stat_statements",
                        "-c", "max_connections=200"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.time() + 60
        while subprocess.run([os.path.join(self.bin, "pg_isready"), "-h", "127.0.0.1", "-p",
                              str(self.port), "-t", "2"], capture_output=True).returncode:
            if time.time() > deadline:
                raise SystemExit(f"postgres did not start: see {root}/server.log")
            time.sleep(0.2)
        self.psql("postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def url(self, db):
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}?sslmode=disable"

    def create(self, db):
        self.psql("postgres", f"CREATE DATABASE {db} LC_COLLATE 'C' TEMPLATE template0")
        self.psql(db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def psql(self, db, sql):
        out = subprocess.run([os.path.join(self.bin, "psql"), "-h", "127.0.0.1", "-p",
                              str(self.port), "-U", "postgres", "-d", db, "-v",
                              "ON_ERROR_STOP=1", "-At", "-c", sql],
                             env=dict(os.environ, PGPASSWORD=PASSWORD), check=True,
                             capture_output=True, text=True)
        return out.stdout.strip()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
