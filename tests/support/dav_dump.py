#!/usr/bin/env python3
"""dav_dump.py: an independent view of what a CalDAV/CardDAV account really holds (Python's
http.client and ElementTree, not cutover's code), for the tests to compare a destination
against its source.

  dav_dump.py --url http://127.0.0.1:PORT --user U --password P [--normalise]

Discovery, as a client does it: PROPFIND (Depth 0) on the URL for DAV:current-user-principal,
PROPFIND on the principal for C:calendar-home-set and CR:addressbook-home-set, PROPFIND Depth 1
on each home for its collections (resourcetype calendar or addressbook; others are skipped),
PROPFIND Depth 1 on each collection for its resources and their DAV:getetag, then GET of
each resource.

Prints a JSON list sorted by (collection, href), one object per resource:
  {"collection": last path segment of the collection, "kind": "calendar"|"addressbook",
   "displayname": the collection's DAV:displayname ("" when none), "href": as the server gave it,
   "etag": DAV:getetag, "uid": the first UID value (as written: "urn:uuid:..." stays so),
   "recurrence_ids": sorted RECURRENCE-ID of every VEVENT/VTODO/VJOURNAL, "" for the master,
   each written as its sorted parameters then ":" and the value (e.g.
   "TZID=America/New_York:20260302T090000", "VALUE=DATE:20260704", "20260302T140000Z"),
   [] for a vCard, "content": the text}

--normalise makes "content" comparable between two servers, or two dumps of one server:
  - lines are unfolded (a CRLF or LF followed by a space or tab is removed), line ends are LF,
    empty lines dropped;
  - property and parameter names are upper-cased; parameters are sorted by name, with
    surrounding double quotes removed from values (servers re-quote as they like: Radicale
    drops the quotes of CN="..." when they are not needed), and a parameter given twice
    (TYPE=a;TYPE=b) is merged with the comma form (TYPE=a,b); parameter VALUES keep their
    case and order (TYPE=work and TYPE=WORK differ: a change of case is a change);
  - inside every component, properties are sorted, and sub-components are sorted by their
    normalised text (Radicale re-serialises what it is given through vobject and does not
    keep the order of properties, nor of the STANDARD/DAYLIGHT blocks of a VTIMEZONE);
  - dropped, because a server or a migration sets them itself and they say nothing about the
    user's data: the properties DTSTAMP (time the object was serialised), PRODID (the
    writing program), LAST-MODIFIED and CREATED (times in the store: a copy is created and
    modified at migration time) and REV (vCard's LAST-MODIFIED); the parameters
    SCHEDULE-AGENT and SCHEDULE-STATUS (RFC 6638 scheduling control: cutover writes
    SCHEDULE-AGENT=CLIENT so no server sends invitations, and a server records delivery
    status in SCHEDULE-STATUS).
  Everything else is compared as written: values (text escaping included), VERSION, UID,
  SEQUENCE, VTIMEZONE definitions, VALARMs, X- properties, base64 data (unfolded).
Python 3 standard library only.
"""
import argparse
import json
import sys
import urllib.parse
import xml.etree.ElementTree as ET

from davhttp import Http

NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav", "CR": "urn:ietf:params:xml:ns:carddav"}
DROP_PROPS = {"DTSTAMP", "PRODID", "LAST-MODIFIED", "CREATED", "REV"}
DROP_PARAMS = {"SCHEDULE-AGENT", "SCHEDULE-STATUS"}
RID_COMPONENTS = {"VEVENT", "VTODO", "VJOURNAL"}


class Dav(Http):
    def __init__(self, url, user, password):
        super().__init__(url, user, password, "dav_dump.py")
        self.base = self.path or "/"

    def propfind(self, path, depth, props):
        body = ('<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" '
                'xmlns:C="urn:ietf:params:xml:ns:caldav" '
                'xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop>%s</D:prop></D:propfind>'
                % "".join("<%s/>" % p for p in props)).encode()
        st, _, data = self.request("PROPFIND", path, body, {
            "Depth": str(depth), "Content-Type": "application/xml; charset=utf-8"})
        if st != 207:
            sys.exit("dav_dump.py: PROPFIND %s -> HTTP %d: %s" % (path, st, data[:200]))
        out = []
        for resp in ET.fromstring(data).findall("D:response", NS):
            href = resp.findtext("D:href", "", NS)
            found = {}
            for ps in resp.findall("D:propstat", NS):
                if " 200 " not in ps.findtext("D:status", "", NS) + " ":
                    continue
                for prop in ps.find("D:prop", NS):
                    found[prop.tag] = prop
            out.append((href, found))
        return out


def href_path(href):
    """The path of an href (absolute URL or path)."""
    return urllib.parse.urlsplit(href).path


def discover(dav):
    (_, props), *_ = dav.propfind(dav.base, 0, ["D:current-user-principal"])
    p = props.get("{DAV:}current-user-principal")
    principal = p.findtext("D:href", None, NS) if p is not None else None
    if not principal:
        sys.exit("dav_dump.py: no current-user-principal at %s" % dav.base)
    (_, props), *_ = dav.propfind(href_path(principal), 0,
                                  ["C:calendar-home-set", "CR:addressbook-home-set"])
    homes = []
    for tag in ("{%s}calendar-home-set" % NS["C"], "{%s}addressbook-home-set" % NS["CR"]):
        el = props.get(tag)
        if el is not None:
            homes += [href_path(h.text) for h in el.findall("D:href", NS) if h.text]
    collections = {}
    for home in dict.fromkeys(homes):  # the same home may serve both
        for href, props in dav.propfind(home, 1, ["D:resourcetype", "D:displayname"]):
            rt = props.get("{DAV:}resourcetype")
            if rt is None:
                continue
            if rt.find("C:calendar", NS) is not None:
                kind = "calendar"
            elif rt.find("CR:addressbook", NS) is not None:
                kind = "addressbook"
            else:
                continue
            dn = props.get("{DAV:}displayname")
            collections[href_path(href)] = (kind, (dn.text or "") if dn is not None else "")
    return collections


# ---------------------------------------------------------------- content lines

def split_unquoted(s, sep):
    out, cur, quoted = [], [], False
    for ch in s:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def parse_line(line):
    """NAME;P=V;P="V":value -> (NAME, [(P, V)], value)."""
    quoted, i = False, 0
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            break
    else:
        return line.upper(), [], ""
    head, value = line[:i], line[i + 1:]
    parts = split_unquoted(head, ";")
    params = []
    for p in parts[1:]:
        k, _, v = p.partition("=")
        params.append((k.upper(), v))
    return parts[0].upper(), params, value


def unfold(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [l for l in text.replace("\n ", "").replace("\n\t", "").split("\n") if l]


def recurrence_ids(lines):
    out, stack = [], []
    for line in lines:
        name, params, value = parse_line(line)
        if name == "BEGIN":
            stack.append([value.upper(), ""])
        elif name == "END":
            comp = stack.pop() if stack else None
            if comp and comp[0] in RID_COMPONENTS:
                out.append(comp[1])
        elif name == "RECURRENCE-ID" and stack:
            ps = ";".join("%s=%s" % (k, v.strip('"')) for k, v in sorted(params))
            stack[-1][1] = (ps + ":" if ps else "") + value
    return sorted(out)


def norm_param(values):
    vals = []
    for v in values:
        vals += [x.strip('"') for x in split_unquoted(v, ",")]
    return ",".join(vals)


def normalise(text):
    """See the module doc: unfolded, volatile properties and scheduling parameters dropped,
    parameters sorted, properties and components sorted."""

    def render(node):
        props = []
        for line in node["props"]:
            name, params, value = parse_line(line)
            if name in DROP_PROPS:
                continue
            merged = {}
            for k, v in params:
                if k in DROP_PARAMS:
                    continue
                merged.setdefault(k, []).append(v)
            ps = "".join(";%s=%s" % (k, norm_param(merged[k])) for k in sorted(merged))
            props.append("%s%s:%s" % (name, ps, value))
        subs = sorted(render(c) for c in node["children"])
        return "\n".join(["BEGIN:" + node["name"], *sorted(props), *subs, "END:" + node["name"]])

    root = {"name": "", "props": [], "children": []}
    stack = [root]
    for line in unfold(text):
        name, _, value = parse_line(line)
        if name == "BEGIN":
            node = {"name": value.upper(), "props": [], "children": []}
            stack[-1]["children"].append(node)
            stack.append(node)
        elif name == "END" and len(stack) > 1:
            stack.pop()
        else:
            stack[-1]["props"].append(line)
    out = [render(c) for c in root["children"]]
    out += sorted(root["props"])  # stray lines outside any component, kept as they are
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="the DAV root, e.g. http://127.0.0.1:5232")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--normalise", action="store_true")
    a = ap.parse_args()
    dav = Dav(a.url, a.user, a.password)
    items = []
    for coll, (kind, displayname) in sorted(discover(dav).items()):
        name = urllib.parse.unquote(coll.rstrip("/").rsplit("/", 1)[-1])
        for href, props in dav.propfind(coll, 1, ["D:getetag", "D:resourcetype"]):
            if href_path(href).rstrip("/") == coll.rstrip("/"):
                continue
            rt = props.get("{DAV:}resourcetype")
            if rt is not None and rt.find("D:collection", NS) is not None:
                continue
            st, headers, body = dav.request("GET", href_path(href))
            if st != 200:
                sys.exit("dav_dump.py: GET %s -> HTTP %d" % (href, st))
            text = body.decode("utf-8")
            lines = unfold(text)
            uid = next((parse_line(l)[2] for l in lines if parse_line(l)[0] == "UID"), "")
            etag = props.get("{DAV:}getetag")
            items.append({
                "collection": name, "kind": kind, "displayname": displayname, "href": href,
                "etag": etag.text if etag is not None else headers.get("etag", ""),
                "uid": uid,
                "recurrence_ids": recurrence_ids(lines) if kind == "calendar" else [],
                "content": normalise(text) if a.normalise else text,
            })
    items.sort(key=lambda i: (i["collection"], i["href"]))
    json.dump(items, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
