#!/usr/bin/env python3
"""A hostile IMAP or POP3 server for tests: one process plays one behaviour.

    hostile_imap.py BEHAVIOUR [--folders N] [--literal BYTES]

Listens on 127.0.0.1 (a free port), prints "port=N" on stdout once ready, then serves every
connection (a thread each) until killed. Any user and password log in. Behaviours:

  fetch-flood       IMAP: one folder (INBOX, 3 messages); every UID FETCH is answered with
                    "* n FETCH (UID n RFC822.SIZE 100)" lines that never end
  list-flood        IMAP: LIST is answered with LIST lines that never end
  starttls-line     IMAP: the answer to STARTTLS is one line that never ends
  starttls-chatter  IMAP: STARTTLS is answered with untagged lines that never end (no tagged one)
  big-literal       IMAP: --folders folders (default 4) of one 56-byte message each; the body
                    FETCH announces a literal of --literal bytes (default 400 MB), then stalls
  uid-negative      IMAP: INBOX of 2 messages, the second answered with "UID -5" (metadata and
                    bodies); the first is a valid 56-byte message
  uid-huge          the same with "UID 4294967296" (above 2^32-1)
  uidvalidity-0     IMAP: INBOX of 1 valid message, but EXAMINE/SELECT say UIDVALIDITY 0
  flags-only        IMAP: INBOX of 1 message whose body FETCH is answered with its flags only
  list-fat          IMAP: LIST lines that never end, each a name of about 60 KiB made of
                    thousands of levels ("fatN/ab/ab/...")
  gmail-labels      IMAP: a Gmail look-alike (X-GM-EXT-1, "[Gmail]/All Mail" with \All),
                    every folder EXISTS 0; the identities FETCH is answered with responses
                    that never end, each with 20,000 one-letter labels (X-GM-LABELS)
  status-bye        IMAP, as a destination: APPENDs are counted per folder for all connections
                    (APPENDUID; SELECT and UID FETCH show them), and STATUS is answered with
                    "* BYE" while the connection is held open
  pop3-capa         POP3: the CAPA answer never ends
  pop3-uidl         POP3: the UIDL answer never ends (STAT says 2 messages)
  pop3-stat-lie     POP3: STAT says 10,000,000 messages, then the UIDL answer never ends
  pop3-size-lie     POP3: 2 messages, LIST says the first is 18446744073709551615 bytes
"""

import argparse
import socket
import sys
import threading

IMAP = {"fetch-flood", "list-flood", "starttls-line", "starttls-chatter", "big-literal",
        "uid-negative", "uid-huge", "uidvalidity-0", "flags-only", "list-fat", "gmail-labels",
        "status-bye"}
BAD_UID = {"uid-negative": b"-5", "uid-huge": b"4294967296"}
MESSAGE = b"From: a@example.com\r\nSubject: hostile\r\n\r\nfifty-six bytes.\r\n"
POP3 = {"pop3-capa", "pop3-uidl", "pop3-stat-lie", "pop3-size-lie"}


# status-bye: the sizes of the messages appended to each folder, for every connection.
APPENDED = {}
APPENDED_LOCK = threading.Lock()


def mailbox_arg(rest):
    """The folder name at the start of a command's arguments (quoted or an atom)."""
    if rest.startswith('"'):
        out, i = "", 1
        while i < len(rest) and rest[i] != '"':
            if rest[i] == "\\":
                i += 1
            out += rest[i:i + 1]
            i += 1
        return out
    return rest.split(" ", 1)[0]


def flood(conn, make_line):
    """Send lines made by make_line(i) until the client goes away."""
    i = 1
    while True:
        batch = []
        for _ in range(2000):
            batch.append(make_line(i))
            i += 1
        try:
            conn.sendall(b"".join(batch))
        except OSError:
            return


def stall(conn):
    """Send nothing more; return when the client closes the connection."""
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


class Lines:
    """Command lines from the client."""

    def __init__(self, conn):
        self.conn = conn
        self.buf = b""

    def next(self):
        while b"\n" not in self.buf:
            try:
                chunk = self.conn.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def take(self, n):
        """The next n bytes (a literal), or None when the client went away."""
        while len(self.buf) < n:
            try:
                chunk = self.conn.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


def imap(conn, behaviour, args):
    folders = ["INBOX"]
    if behaviour == "big-literal":
        folders = ["INBOX"] + ["Folder%d" % i for i in range(1, args.folders)]
    if behaviour == "gmail-labels":
        folders = ["INBOX", "[Gmail]/All Mail"]
    exists = {"big-literal": 1, "uidvalidity-0": 1, "flags-only": 1, "uid-negative": 2, "uid-huge": 2,
              "gmail-labels": 0, "status-bye": 0}.get(behaviour, 3)
    caps = "IMAP4rev1 LITERAL+ UIDPLUS" + (" X-GM-EXT-1" if behaviour == "gmail-labels" else "")
    selected = None

    def send(text):
        conn.sendall(text.encode() + b"\r\n")

    if behaviour.startswith("starttls"):
        send("* OK hostile IMAP ready")
    else:
        send("* OK [CAPABILITY %s] hostile IMAP ready" % caps)
    lines = Lines(conn)
    while True:
        line = lines.next()
        if line is None:
            return
        parts = line.split(" ", 2)
        if len(parts) < 2:
            continue
        tag, cmd = parts[0], parts[1].upper()
        rest = parts[2] if len(parts) > 2 else ""
        if cmd == "UID" and rest:
            sub = rest.split(" ", 1)
            cmd = "UID " + sub[0].upper()
            rest = sub[1] if len(sub) > 1 else ""
        if cmd == "STARTTLS":
            if behaviour == "starttls-line":
                conn.sendall(tag.encode() + b" OK ")
                flood(conn, lambda i: b"x" * 4096)
            else:
                flood(conn, lambda i: b"* OK still thinking %d\r\n" % i)
            return
        if cmd == "CAPABILITY":
            send("* CAPABILITY " + caps)
            send(tag + " OK CAPABILITY completed")
        elif cmd in ("LOGIN", "AUTHENTICATE"):
            send(tag + " OK LOGIN completed")
        elif cmd == "LIST":
            if behaviour == "list-flood":
                flood(conn, lambda i: b'* LIST (\\HasNoChildren) "/" "folder%d"\r\n' % i)
                return
            if behaviour == "list-fat":
                fat = b"/ab" * 20000
                flood(conn, lambda i: b'* LIST (\\HasNoChildren) "/" "fat%d%s"\r\n' % (i, fat))
                return
            for f in folders:
                special = " \\All" if f == "[Gmail]/All Mail" else ""
                send('* LIST (\\HasNoChildren%s) "/" "%s"' % (special, f))
            send(tag + " OK LIST completed")
        elif cmd in ("EXAMINE", "SELECT"):
            selected = mailbox_arg(rest)
            n = exists
            uidnext = exists + 1
            if behaviour == "status-bye":
                with APPENDED_LOCK:
                    n = len(APPENDED.get(selected, []))
                uidnext = n + 1
            elif behaviour == "gmail-labels":
                # Empty, it says, but with UIDs to list.
                uidnext = 1000000
            send("* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)")
            send("* %d EXISTS" % n)
            send("* OK [UIDVALIDITY %d] UIDs valid" % (0 if behaviour == "uidvalidity-0" else 7))
            send("* OK [UIDNEXT %d] next" % uidnext)
            send(tag + " OK [READ-ONLY] EXAMINE completed")
        elif cmd == "STATUS":
            if behaviour == "status-bye":
                # No tagged answer and the connection held open: only the BYE says it is over.
                send("* BYE going away")
                stall(conn)
                return
            send(tag + " OK STATUS completed")
        elif cmd == "APPEND":
            # ... {N} or {N+} at the end of the line: the literal, then the line's end.
            size = rest.rsplit("{", 1)[-1].rstrip("}")
            sync = not size.endswith("+")
            if sync:
                send("+ go ahead")
            data = lines.take(int(size.rstrip("+")))
            if data is None or lines.next() is None:
                return
            folder = mailbox_arg(rest)
            with APPENDED_LOCK:
                APPENDED.setdefault(folder, []).append(len(data))
                uid = len(APPENDED[folder])
            send(tag + " OK [APPENDUID 7 %d] APPEND completed" % uid)
        elif cmd == "UID FETCH" and behaviour == "status-bye":
            with APPENDED_LOCK:
                sizes = list(APPENDED.get(selected, []))
            for uid, size in enumerate(sizes, 1):
                send("* %d FETCH (UID %d RFC822.SIZE %d)" % (uid, uid, size))
            send(tag + " OK FETCH completed")
        elif cmd == "UID FETCH" and behaviour == "gmail-labels":
            if "X-GM-LABELS" in rest.upper():
                labels = b" ".join([b"a"] * 20000)
                flood(conn, lambda i: b"* %d FETCH (UID %d RFC822.SIZE 56 X-GM-MSGID %d "
                      b"X-GM-LABELS (%s))\r\n" % (i, i, i, labels))
                return
            send(tag + " OK FETCH completed")
        elif cmd == "UID FETCH" and (behaviour in BAD_UID or behaviour in ("uidvalidity-0", "flags-only")):
            body = "BODY.PEEK[]" in rest.upper() or "BODY[]" in rest.upper()
            if body and behaviour == "flags-only":
                send("* 1 FETCH (UID 1 FLAGS (\\Seen))")
                send(tag + " OK FETCH completed")
                continue
            uids = [b"1"] + ([BAD_UID[behaviour]] if behaviour in BAD_UID else [])
            for seq, uid in enumerate(uids, 1):
                if body:
                    conn.sendall(
                        b'* %d FETCH (UID %s FLAGS () INTERNALDATE "01-Jan-2024 10:00:00 +0000" '
                        b"RFC822.SIZE %d BODY[] {%d}\r\n%s)\r\n"
                        % (seq, uid, len(MESSAGE), len(MESSAGE), MESSAGE))
                else:
                    conn.sendall(b"* %d FETCH (UID %s RFC822.SIZE %d)\r\n" % (seq, uid, len(MESSAGE)))
            send(tag + " OK FETCH completed")
        elif cmd == "UID FETCH":
            if behaviour == "fetch-flood":
                flood(conn, lambda i: b"* %d FETCH (UID %d RFC822.SIZE 100)\r\n" % (i, i))
                return
            if "BODY.PEEK[]" in rest.upper() or "BODY[]" in rest.upper():
                # A 56-byte message announced as a huge literal, then nothing more.
                send(
                    '* 1 FETCH (UID 1 FLAGS () INTERNALDATE "01-Jan-2024 10:00:00 +0000" '
                    "RFC822.SIZE 56 BODY[] {%d}" % args.literal
                )
                stall(conn)
                return
            send("* 1 FETCH (UID 1 RFC822.SIZE 56)")
            send(tag + " OK FETCH completed")
        elif cmd == "LOGOUT":
            send("* BYE bye")
            send(tag + " OK LOGOUT completed")
            return
        else:
            send(tag + " OK done")


def pop3(conn, behaviour):
    def send(text):
        conn.sendall(text.encode() + b"\r\n")

    send("+OK hostile POP3 ready")
    lines = Lines(conn)
    while True:
        line = lines.next()
        if line is None:
            return
        cmd = line.split(" ", 1)[0].upper()
        if cmd == "CAPA":
            send("+OK capability list follows")
            if behaviour == "pop3-capa":
                flood(conn, lambda i: b"X-CAPABILITY-%d\r\n" % i)
                return
            send("USER\r\nUIDL\r\nTOP\r\n.")
        elif cmd in ("USER", "PASS"):
            send("+OK")
        elif cmd == "STAT":
            send("+OK 10000000 999" if behaviour == "pop3-stat-lie" else "+OK 2 112")
        elif cmd == "UIDL":
            send("+OK unique-id listing follows")
            if behaviour == "pop3-size-lie":
                send("1 uid-1\r\n2 uid-2\r\n.")
                continue
            flood(conn, lambda i: b"%d uid-%d\r\n" % (i, i))
            return
        elif cmd == "LIST":
            first = b"18446744073709551615" if behaviour == "pop3-size-lie" else b"56"
            conn.sendall(b"+OK scan listing follows\r\n1 %s\r\n2 56\r\n.\r\n" % first)
        elif cmd in ("TOP", "RETR"):
            conn.sendall(b"+OK message follows\r\n" + MESSAGE + b".\r\n")
        elif cmd == "QUIT":
            send("+OK bye")
            return
        else:
            send("-ERR unknown command")


def serve(conn, behaviour, args):
    try:
        if behaviour in POP3:
            pop3(conn, behaviour)
        else:
            imap(conn, behaviour, args)
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("behaviour", choices=sorted(IMAP | POP3))
    p.add_argument("--folders", type=int, default=4)
    p.add_argument("--literal", type=int, default=400_000_000)
    args = p.parse_args()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print("port=%d" % srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, args.behaviour, args), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
