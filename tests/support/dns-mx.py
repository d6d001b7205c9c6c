#!/usr/bin/env python3
"""dns-mx.py: a tiny authoritative DNS server on 127.0.0.1 (UDP and TCP) that answers MX queries
for one domain, so tests can check cutover's `mx` item against a real resolver exchange.

  dns-mx.py DOMAIN MX_HOST [MX_HOST...]
  dns-mx.py --zone ZONE_FILE

Prints "port=N" once listening (port picked free, same number for UDP and TCP), then serves
until killed. MX queries for DOMAIN get one MX record per host (preference 10, 20, ...); any
other query gets NXDOMAIN.

With --zone, the records come from ZONE_FILE, read again at every query (a test changes the
zone by rewriting it): one record a line, "NAME TYPE TTL VALUE" with TYPE one of A, NS, MX
(VALUE "PREF HOST"), CNAME, TXT (VALUE the rest of the line). A name with records of other
types only gets an empty answer (NODATA), an unknown name NXDOMAIN.
"""
import socket
import struct
import sys
import threading


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def parse_question(msg):
    i, labels = 12, []
    while msg[i] != 0:
        n = msg[i]
        labels.append(msg[i + 1:i + 1 + n].decode(errors="replace"))
        i += n + 1
    qtype, _qclass = struct.unpack(">HH", msg[i + 1:i + 5])
    return ".".join(labels).lower(), qtype, msg[12:i + 5]


TYPES = {"A": 1, "NS": 2, "CNAME": 5, "MX": 15, "TXT": 16}


def rdata_of(rtype, value):
    if rtype == "A":
        return socket.inet_aton(value)
    if rtype in ("NS", "CNAME"):
        return encode_name(value)
    if rtype == "MX":
        pref, host = value.split(None, 1)
        return struct.pack(">H", int(pref)) + encode_name(host)
    data = value.encode()
    out = b""
    for i in range(0, max(len(data), 1), 255):
        chunk = data[i:i + 255]
        out += bytes([len(chunk)]) + chunk
    return out


def zone_answer(msg, zone_file):
    tid = msg[:2]
    name, qtype, question = parse_question(msg)
    records = []
    with open(zone_file) as f:
        for line in f:
            parts = line.strip().split(None, 3)
            if len(parts) == 4 and not parts[0].startswith("#"):
                records.append((parts[0].lower().rstrip("."), parts[1].upper(), int(parts[2]), parts[3]))
    known = any(r[0] == name for r in records)
    rrs, count = b"", 0
    for rname, rtype, ttl, value in records:
        if rname == name and TYPES.get(rtype) == qtype:
            rdata = rdata_of(rtype, value)
            rrs += b"\xc0\x0c" + struct.pack(">HHIH", qtype, 1, ttl, len(rdata)) + rdata
            count += 1
    rcode = 0 if known else 3
    header = tid + struct.pack(">HHHHH", 0x8400 | rcode, 1, count, 0, 0)
    return header + question + rrs


def answer(msg, domain, hosts):
    if domain is None:
        return zone_answer(msg, hosts)
    tid = msg[:2]
    name, qtype, question = parse_question(msg)
    if name == domain and qtype == 15:
        rrs = b""
        for k, h in enumerate(hosts):
            rdata = struct.pack(">H", 10 * (k + 1)) + encode_name(h)
            rrs += b"\xc0\x0c" + struct.pack(">HHIH", 15, 1, 300, len(rdata)) + rdata
        flags, rcode, count = 0x8400, 0, len(hosts)
    else:
        rrs, flags, rcode, count = b"", 0x8400, 3, 0
    header = tid + struct.pack(">HHHHH", flags | rcode, 1, count, 0, 0)
    return header + question + rrs


def serve_udp(sock, domain, hosts):
    while True:
        msg, addr = sock.recvfrom(4096)
        try:
            sock.sendto(answer(msg, domain, hosts), addr)
        except Exception:
            pass


def serve_tcp(sock, domain, hosts):
    while True:
        conn, _ = sock.accept()
        try:
            n = struct.unpack(">H", conn.recv(2))[0]
            msg = b""
            while len(msg) < n:
                msg += conn.recv(n - len(msg))
            out = answer(msg, domain, hosts)
            conn.sendall(struct.pack(">H", len(out)) + out)
        except Exception:
            pass
        finally:
            conn.close()


def main():
    if sys.argv[1] == "--zone":
        domain, hosts = None, sys.argv[2]
    else:
        domain, hosts = sys.argv[1].lower().rstrip("."), sys.argv[2:]
    # A free UDP port whose TCP twin is free too: on a busy machine another process may hold
    # the TCP one, so try again with another port.
    for _ in range(100):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", port))
            break
        except OSError:
            udp.close()
            tcp.close()
    else:
        sys.exit("dns-mx.py: no port free for both UDP and TCP")
    tcp.listen(8)
    threading.Thread(target=serve_tcp, args=(tcp, domain, hosts), daemon=True).start()
    print("port=%d" % port, flush=True)
    serve_udp(udp, domain, hosts)


if __name__ == "__main__":
    main()
