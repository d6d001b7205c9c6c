#!/usr/bin/env python3
"""imap_dump.py: an independent view of what an IMAP account really holds (Python's imaplib,
not cutover's code), for the tests to compare a destination against its source.

  imap_dump.py HOST PORT USER PASSWORD

Prints one JSON object: {"delimiter": "/", "folders": {"A/B": [[sha256, [flags], internaldate,
size], ...]}} with folder names decoded from modified UTF-7 and split on the server's
delimiter, joined with "/". \\Recent is dropped (no client can set it).
"""
import base64
import hashlib
import imaplib
import json
import re
import sys


def mutf7_decode(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "&":
            j = s.index("-", i)
            if j == i + 1:
                out.append("&")
            else:
                b64 = s[i + 1:j].replace(",", "/")
                b64 += "=" * (-len(b64) % 4)
                out.append(base64.b64decode(b64).decode("utf-16-be"))
            i = j + 1
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


LIST_RE = re.compile(rb'\((?P<flags>[^)]*)\) (?:"(?P<delim>[^"]*)"|NIL) (?P<name>.*)$')


def parse_name(raw):
    raw = raw.strip()
    if raw.startswith(b'"'):
        return raw[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\").decode()
    return raw.decode()


def main():
    host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    m = imaplib.IMAP4(host, port)
    m._encoding = "utf-8"
    m.login(user, pw)
    typ, data = m.list()
    folders = {}
    delim = "/"
    entries = []
    i = 0
    while i < len(data):
        item = data[i]
        if isinstance(item, tuple):  # name sent as a literal
            head, lit = item
            mm = LIST_RE.match(head.rstrip() + b' ""')
            entries.append((mm.group("flags"), mm.group("delim"), lit.decode()))
        elif item:
            mm = LIST_RE.match(item)
            entries.append((mm.group("flags"), mm.group("delim"), parse_name(mm.group("name"))))
        i += 1
    for flags, d, name in entries:
        if b"\\Noselect" in flags or b"\\NonExistent" in flags:
            continue
        if d:
            delim = d.decode()
        path = "/".join(mutf7_decode(p) for p in (name.split(delim) if d else [name]))
        quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        typ, cnt = m.select(quoted, readonly=True)
        if typ != "OK":
            raise SystemExit("cannot select %r: %r" % (name, cnt))
        msgs = []
        if int(cnt[0]) > 0:
            typ, meta = m.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE)")
            info = {}
            for line in meta:
                if not line:
                    continue
                if isinstance(line, tuple):
                    line = line[0]
                uid = int(re.search(rb"UID (\d+)", line).group(1))
                fl = re.search(rb"FLAGS \(([^)]*)\)", line).group(1).decode().split()
                fl = sorted(f for f in fl if f.lower() != "\\recent")
                date = re.search(rb'INTERNALDATE "([^"]*)"', line).group(1).decode()
                size = int(re.search(rb"RFC822.SIZE (\d+)", line).group(1))
                info[uid] = (fl, date, size)
            typ, bodies = m.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
            for item in bodies:
                if not isinstance(item, tuple):
                    continue
                uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                fl, date, size = info[uid]
                msgs.append([hashlib.sha256(item[1]).hexdigest(), fl, date, size])
        folders[path] = sorted(msgs)
    m.logout()
    print(json.dumps({"delimiter": delim, "folders": folders}))


if __name__ == "__main__":
    main()
