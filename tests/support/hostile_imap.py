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
  pop3-capa         POP3: the CAPA answer never ends
  pop3-uidl         POP3: the UIDL answer never ends (STAT says 2 messages)
"""

import argparse
import socket
import sys
import threading

IMAP = {"fetch-flood", "list-flood", "starttls-line", "starttls-chatter", "big-literal",
        "uid-negative", "uid-huge", "uidvalidity-0", "flags-only"}
BAD_UID = {"uid-negative": b"-5", "uid-huge": b"4294967296"}
MESSAGE = b"From: a@example.com\r\nSubject: hostile\r\n\r\nfifty-six bytes.\r\n"
POP3 = {"pop3-capa", "pop3-uidl"}


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


def imap(conn, behaviour, args):
    folders = ["INBOX"]
    if behaviour == "big-literal":
        folders = ["INBOX"] + ["Folder%d" % i for i in range(1, args.folders)]
    exists = {"big-literal": 1, "uidvalidity-0": 1, "flags-only": 1, "uid-negative": 2, "uid-huge": 2}.get(
        behaviour, 3)

    def send(text):
        conn.sendall(text.encode() + b"\r\n")

    if behaviour.startswith("starttls"):
        send("* OK hostile IMAP ready")
    else:
        send("* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] hostile IMAP ready")
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
            send("* CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS")
            send(tag + " OK CAPABILITY completed")
        elif cmd in ("LOGIN", "AUTHENTICATE"):
            send(tag + " OK LOGIN completed")
        elif cmd == "LIST":
            if behaviour == "list-flood":
                flood(conn, lambda i: b'* LIST (\\HasNoChildren) "/" "folder%d"\r\n' % i)
                return
            for f in folders:
                send('* LIST (\\HasNoChildren) "/" "%s"' % f)
            send(tag + " OK LIST completed")
        elif cmd in ("EXAMINE", "SELECT"):
            send("* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)")
            send("* %d EXISTS" % exists)
            send("* OK [UIDVALIDITY %d] UIDs valid" % (0 if behaviour == "uidvalidity-0" else 7))
            send("* OK [UIDNEXT %d] next" % (exists + 1))
            send(tag + " OK [READ-ONLY] EXAMINE completed")
        elif cmd == "STATUS":
            send(tag + " OK STATUS completed")
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
            send("+OK 2 112")
        elif cmd == "UIDL":
            send("+OK unique-id listing follows")
            flood(conn, lambda i: b"%d uid-%d\r\n" % (i, i))
            return
        elif cmd == "LIST":
            send("+OK scan listing follows\r\n1 56\r\n2 56\r\n.")
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
