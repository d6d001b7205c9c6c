#!/usr/bin/env python3
"""seed-dav.py: create realistic calendars and address books on a CalDAV/CardDAV server over
HTTP, the way a client would (MKCALENDAR, extended MKCOL, PUT with If-None-Match: *).

  seed-dav.py --url http://127.0.0.1:PORT --user alice --password alice-pw [--seed N]
              [--scale small|medium] [--email ADDR] [-q]

Deterministic: the same --seed, user and scale always give the same collections, UIDs,
resource names and bytes (DTSTAMP/REV are fixed, nothing depends on the clock), so tests can
compare a destination against what was written. Python 3 standard library only (works with
any python3). Seeding again with the same arguments changes nothing: an existing collection
is kept and an existing resource (412 to If-None-Match: *) is counted as "existing"; a
different --seed adds other UIDs to the same collections (e.g. a destination's own items).

Collections, below the user's home (/USER/ on Radicale):
  calendar/  "Calendar"  (CalDAV, VEVENT only)
  work/      "Work"      (CalDAV, VEVENT only)
  contacts/  "Contacts"  (CardDAV)

Events (every UID is ONE resource, series with their overrides, as CalDAV requires):
  - a weekly series in America/New_York across the March DST change and a monthly series
    (BYDAY=1TU) in Europe/Berlin across both of its DST changes, each with one moved occurrence
    (an override VEVENT with RECURRENCE-ID and another DTSTART), one EXDATE and one override
    with STATUS:CANCELLED;
  - all-day (VALUE=DATE) one-day and three-day events, a two-day timed event in Asia/Tokyo, a
    UTC event, events spanning the DST changes of New York and Berlin (VTIMEZONE included);
  - two meetings with twenty ATTENDEEs each (PARTSTAT ACCEPTED/DECLINED/TENTATIVE/NEEDS-ACTION/
    DELEGATED): one organised by the user, one by someone else with the user attending;
  - CLASS:PRIVATE, VALARM (DISPLAY, AUDIO, relative and absolute triggers), ATTACH by URI
    and inline (ENCODING=BASE64;VALUE=BINARY), a long DESCRIPTION folded over many lines,
    non-ASCII summaries;
  - at --scale medium, filler events (single, all-day, weekly series with exceptions,
    meetings of 2-20 attendees) drawn from the seed.
Contacts: vCard 3.0 and 4.0 with PHOTO (small generated JPEGs, PHOTO;ENCODING=b;TYPE=JPEG in
both versions: Radicale 3.1 destroys a 4.0 "PHOTO:data:image/jpeg;base64,..." URI, keeping only
what is before its first comma), several EMAIL/TEL with TYPE, ADR, ORG, TITLE, BDAY, NOTE, CATEGORIES, non-ASCII
names (Zoë Ångström, 山田太郎...), and groups: a 4.0 KIND:group with MEMBER:urn:uuid:... and
a 3.0 X-ADDRESSBOOKSERVER-KIND:group with X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:...

small: 16 events + 10 contacts (tests); medium: 500 events + 300 contacts (bench, sample).

Prints one JSON line (the summary the tests read):
  {"user", "seed", "scale", "collections": [{"name", "kind", "displayname", "items",
   "created", "existing", "components": {"VEVENT": n, ...}}], "items", "components",
   "features": {...counts...}, "landmarks": {"weekly_series": UID, ...}}
"items" counts resources (one per UID); "components" counts BEGIN: blocks (an override is one
more VEVENT in the same resource; VTIMEZONE and VALARM are counted too, VCARD once per card).
"""
import argparse
import base64
import json
import random
import sys
import unicodedata
import uuid
from datetime import date, datetime, timedelta

from davhttp import Http

DTSTAMP = "20260101T000000Z"
PRODID = "-//cutover//seed-dav 1.0//EN"

VTIMEZONES = {
    "America/New_York": """BEGIN:VTIMEZONE
TZID:America/New_York
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:19700308T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:19701101T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE""",
    "Europe/Berlin": """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE""",
    "Asia/Tokyo": """BEGIN:VTIMEZONE
TZID:Asia/Tokyo
BEGIN:STANDARD
TZOFFSETFROM:+0900
TZOFFSETTO:+0900
TZNAME:JST
DTSTART:19700101T000000
END:STANDARD
END:VTIMEZONE""",
}
ZONES = ["America/New_York", "Europe/Berlin", "Asia/Tokyo", "UTC"]

PEOPLE = [
    ("Zoë Ångström", "zoe.angstrom"), ("山田太郎", "taro.yamada"), ("José Núñez", "jose.nunez"),
    ("Ingrid Øverli", "ingrid.overli"), ("Mehmet Yılmaz", "mehmet.yilmaz"),
    ("Łukasz Żółć", "lukasz.zolc"), ("Chloé Dubois", "chloe.dubois"),
    ("Nguyễn Văn An", "an.nguyen"), ("Sven Müller", "sven.mueller"), ("Aoife Ní Bhriain", "aoife"),
    ("Priya Raman", "priya.raman"), ("Oleksandr Kovalenko", "o.kovalenko"),
    ("Fatima Zahra", "fatima.zahra"), ("Björn Lindqvist", "bjorn.lindqvist"),
    ("김민준", "minjun.kim"), ("María García", "maria.garcia"), ("Tomás Ó Briain", "tomas"),
    ("Ana Popescu", "ana.popescu"), ("Dmitri Ivanov", "d.ivanov"), ("Grace O'Neill", "grace.oneill"),
    ("Émile Laurent", "emile.laurent"), ("Hana Novák", "hana.novak"),
]
PARTSTATS = ["ACCEPTED", "DECLINED", "TENTATIVE", "NEEDS-ACTION", "DELEGATED"]
TOPICS = ["Budget review", "Sprint planning", "Kundentermin", "Réunion d'équipe", "1:1",
          "Architecture sync", "Déjeuner", "Quarterly business review", "打ち合わせ",
          "Zahnarzt", "Board meeting", "Onboarding", "Retrospective", "Förderantrag",
          "Site visit", "Interview", "Workshop: Café & Croissants", "Release go/no-go"]
PLACES = ["Room 4.12", "Konferenzraum Süd", "Zoom", "会議室A", "Café Ümlaut, Hauptstraße 5",
          "HQ, 1 Main St., Springfield", "Teams", ""]

GIVEN = ["Anna", "Ben", "Clara", "David", "Eva", "Farid", "Greta", "Hugo", "Irene", "Jonas",
         "Kofi", "Lena", "Marco", "Nora", "Omar", "Paula", "Quentin", "Rosa", "Stefan", "Tara",
         "Zoë", "Åsa", "Søren", "Chloé", "Jürgen", "Ngozi", "Raúl", "Ewa", "Yuki", "太郎"]
FAMILY = ["Schmidt", "Ångström", "Núñez", "Øverli", "Dubois", "Kowalski", "Rossi", "Smith",
          "O'Brien", "Yılmaz", "Müller", "García", "Nakamura", "山田", "Kim", "Novák", "Okafor"]
COMPANIES = [("ACME Corp", "Sales"), ("Müller & Söhne GmbH", "Einkauf"),
             ("株式会社サンプル", "営業部"), ("Ñandú Logística S.L.", "Operaciones"),
             ("Example Ltd", "IT")]
TITLES = ["CEO", "Buyer", "部長", "Engineer", "Office manager", "Consultant", "Geschäftsführerin"]
CATEGORIES = ["Clients", "Suppliers", "Family", "Friends", "VIP", "Japan", "Board"]


# ---------------------------------------------------------------- iCalendar/vCard text

def fold(line):
    """RFC 5545 3.1 / RFC 6350 3.2: lines longer than 75 octets are folded (CRLF + space),
    never inside a UTF-8 sequence."""
    out, cur, n = [], [], 0
    limit = 75
    for ch in line:
        b = len(ch.encode())
        if n + b > limit:
            out.append("".join(cur))
            cur, n, limit = [], 0, 74  # continuation lines start with a space
        cur.append(ch)
        n += b
    out.append("".join(cur))
    return "\r\n ".join(out)


def esc(text):
    """TEXT escaping (RFC 5545 3.3.11)."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def doc(lines):
    return ("\r\n".join(fold(l) for l in lines) + "\r\n").encode()


def qcn(name):
    return '"%s"' % name.replace('"', "'")


def dt_local(d):
    return d.strftime("%Y%m%dT%H%M%S")


def dt_prop(name, d, tz, params=""):
    """DTSTART-like property: TZID for a named zone, Z for UTC."""
    if tz == "UTC":
        return "%s%s:%sZ" % (name, params, dt_local(d))
    return "%s%s;TZID=%s:%s" % (name, params, tz, dt_local(d))


def date_prop(name, d):
    return "%s;VALUE=DATE:%s" % (name, d.strftime("%Y%m%d"))


def tiny_jpeg(shades):
    """A valid baseline greyscale JPEG, 16x16, four flat 8x8 blocks of the given grey levels
    (0-255), made by hand: only DC coefficients (quantisation 1), the standard DC Huffman
    table and an AC table holding only end-of-block. About 200 bytes."""
    assert len(shades) == 4

    def seg(marker, payload):
        return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload

    dc_bits = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    dc_vals = list(range(12))
    codes, code, k = {}, 0, 0
    for length, count in enumerate(dc_bits, 1):
        for _ in range(count):
            codes[dc_vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    bits = []

    def put(value, length):
        for i in range(length - 1, -1, -1):
            bits.append((value >> i) & 1)

    prev = 0
    for s in shades:  # blocks in raster order of the 2x2 block grid
        dc = 8 * (s - 128)
        diff, prev = dc - prev, dc
        cat = abs(diff).bit_length()
        put(*codes[cat])
        if cat:
            put(diff if diff > 0 else diff + (1 << cat) - 1, cat)
        put(0, 1)  # AC: end of block (the only AC code, "0")
    while len(bits) % 8:
        bits.append(1)
    data = bytearray()
    for i in range(0, len(bits), 8):
        byte = int("".join(map(str, bits[i:i + 8])), 2)
        data.append(byte)
        if byte == 0xFF:
            data.append(0)
    out = b"\xFF\xD8"
    out += seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += seg(0xDB, b"\x00" + b"\x01" * 64)
    out += seg(0xC0, b"\x08\x00\x10\x00\x10\x01\x01\x11\x00")
    out += seg(0xC4, b"\x00" + bytes(dc_bits) + bytes(dc_vals))
    out += seg(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    out += seg(0xDA, b"\x01\x01\x00\x00\x3F\x00")
    return out + bytes(data) + b"\xFF\xD9"


# ---------------------------------------------------------------- the data

class Seeder:
    def __init__(self, user, email, seed, scale):
        self.user, self.email, self.seed, self.scale = user, email, seed, scale
        self.rng = random.Random("%s/%d/%s" % (user, seed, scale))
        self.n = 0
        self.features = {k: 0 for k in (
            "series", "overrides_moved", "overrides_cancelled", "exdates", "all_day",
            "multi_day", "dst_spanning", "tz_new_york", "tz_berlin", "tz_tokyo", "tz_utc",
            "meetings", "meetings_organised_by_user", "attendees", "private", "alarms",
            "attach_uri", "attach_inline", "vcard3", "vcard4", "photos", "groups")}
        self.landmarks = {}

    def uid(self, kind):
        """Deterministic: seed, user and a counter."""
        self.n += 1
        u = uuid.uuid5(uuid.NAMESPACE_URL, "cutover-seed-dav:%s:%d:%s:%d" % (
            self.user, self.seed, kind, self.n))
        return str(u)

    def me(self):
        name = self.user.split("@")[0].capitalize()
        return name, self.email

    # ------------------------------------------------------------ events

    def calendar(self, events, zones):
        lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:" + PRODID, "CALSCALE:GREGORIAN"]
        for z in sorted(set(zones) - {"UTC"}):
            lines += VTIMEZONES[z].split("\n")
        for ev in events:
            lines += ev
        lines.append("END:VCALENDAR")
        for z in set(zones):
            key = {"America/New_York": "tz_new_york", "Europe/Berlin": "tz_berlin",
                   "Asia/Tokyo": "tz_tokyo", "UTC": "tz_utc"}[z]
            self.features[key] += 1
        return doc(lines)

    def vevent(self, uid, summary, start, end, tz, extra=(), all_day=False, rid=None,
               rid_tz=None):
        ev = ["BEGIN:VEVENT", "UID:" + uid, "DTSTAMP:" + DTSTAMP]
        if rid is not None:
            ev.append(date_prop("RECURRENCE-ID", rid) if all_day
                      else dt_prop("RECURRENCE-ID", rid, rid_tz or tz))
        if all_day:
            ev += [date_prop("DTSTART", start), date_prop("DTEND", end)]
        else:
            ev += [dt_prop("DTSTART", start, tz), dt_prop("DTEND", end, tz)]
        ev.append("SUMMARY:" + esc(summary))
        ev += list(extra)
        ev.append("END:VEVENT")
        return ev

    def alarm(self, trigger="-PT15M", action="DISPLAY", text="Reminder"):
        self.features["alarms"] += 1
        a = ["BEGIN:VALARM", "ACTION:" + action, "TRIGGER" + trigger if trigger.startswith(";")
             else "TRIGGER:" + trigger]
        if action == "DISPLAY":
            a.append("DESCRIPTION:" + esc(text))
        a.append("END:VALARM")
        return a

    def attendees(self, n, organiser_is_user, rng):
        """ORGANIZER plus n ATTENDEEs (the user among them), with their responses."""
        my_name, my_mail = self.me()
        people = rng.sample(PEOPLE, min(n, len(PEOPLE)))
        while len(people) < n:
            people.append(("Guest %d" % len(people), "guest%d" % len(people)))
        if organiser_is_user:
            org = (my_name, my_mail)
        else:
            org = (people[0][0], people[0][1] + "@partner.example")
        lines = ["ORGANIZER;CN=%s:mailto:%s" % (qcn(org[0]), org[1])]
        lines.append("ATTENDEE;CN=%s;ROLE=CHAIR;PARTSTAT=ACCEPTED:mailto:%s" % (qcn(org[0]), org[1]))
        for i, (name, local) in enumerate(people[:-1] if organiser_is_user else people[1:-1]):
            mail = local + ("@partner.example" if i % 3 else "@example.test")
            ps = PARTSTATS[(i + rng.randrange(5)) % 5]
            role = "OPT-PARTICIPANT" if i % 7 == 6 else "REQ-PARTICIPANT"
            extra = ";DELEGATED-TO=\"mailto:assistant@partner.example\"" if ps == "DELEGATED" else ""
            rsvp = ";RSVP=TRUE" if ps == "NEEDS-ACTION" else ""
            lines.append("ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=%s;PARTSTAT=%s%s%s;CN=%s:mailto:%s"
                         % (role, ps, rsvp, extra, qcn(name), mail))
        if not organiser_is_user:
            lines.append("ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=%s:mailto:%s"
                         % (qcn(my_name), my_mail))
        assert sum(1 for l in lines if l.startswith("ATTENDEE")) == n
        self.features["meetings"] += 1
        self.features["attendees"] += n
        if organiser_is_user:
            self.features["meetings_organised_by_user"] += 1
        return lines

    def series(self, uid, summary, start, tz, rrule, step, moved_k, moved_to, ex_k, cancel_k,
               extra=()):
        """A recurring series in ONE resource: master + a moved override + a cancelled
        override, one EXDATE. step(k) = the k-th occurrence's start."""
        dur = timedelta(hours=1)
        master = self.vevent(uid, summary, start, start + dur, tz, extra=[
            "RRULE:" + rrule, dt_prop("EXDATE", step(ex_k), tz), "SEQUENCE:0", *extra])
        moved = self.vevent(uid, summary + " (moved)", moved_to, moved_to + dur, tz,
                            rid=step(moved_k), extra=["SEQUENCE:1", *extra])
        cancelled = self.vevent(uid, summary, step(cancel_k), step(cancel_k) + dur, tz,
                                rid=step(cancel_k), extra=["SEQUENCE:1", "STATUS:CANCELLED"])
        self.features["series"] += 1
        self.features["overrides_moved"] += 1
        self.features["overrides_cancelled"] += 1
        self.features["exdates"] += 1
        return [master, moved, cancelled]

    def feature_events(self):
        """(collection, uid, body) of the events every scale has."""
        out = []
        rng = random.Random("%s/%d/features" % (self.user, self.seed))

        def add(coll, key, evs, zones):
            uid = evs[0][1][4:]
            out.append((coll, uid, self.calendar(evs, zones)))
            if key:
                self.landmarks[key] = uid

        # Weekly, New York, across 2026-03-08 (DST starts).
        uid = self.uid("weekly")
        s = datetime(2026, 2, 16, 9, 0)
        wk = lambda k: s + timedelta(weeks=k)
        add("work", "weekly_series", self.series(
            uid, "Weekly team sync – Überblick", s, "America/New_York",
            "FREQ=WEEKLY;BYDAY=MO;COUNT=12", wk, 2, datetime(2026, 3, 3, 14, 0), 3, 5,
            extra=[*self.alarm("-PT10M")]), ["America/New_York"])
        # Monthly (first Tuesday), Berlin, across both 2026 changes.
        uid = self.uid("monthly")
        first_tue = []
        for m in range(1, 13):
            d = date(2026, m, 1)
            d += timedelta(days=(1 - d.weekday()) % 7)
            first_tue.append(datetime(d.year, d.month, d.day, 10, 0))
        add("calendar", "monthly_series", self.series(
            uid, "Monatliches Jour fixe", first_tue[0], "Europe/Berlin",
            "FREQ=MONTHLY;BYDAY=1TU;COUNT=12", lambda k: first_tue[k], 3,
            datetime(2026, 4, 8, 11, 0), 7, 5), ["Europe/Berlin"])
        # All-day, one day and three days.
        uid = self.uid("allday")
        add("calendar", "all_day", [self.vevent(
            uid, "Feiertag: Tag der Deutschen Einheit", date(2026, 10, 3), date(2026, 10, 4),
            None, all_day=True, extra=["TRANSP:TRANSPARENT",
                                       *self.alarm(";VALUE=DATE-TIME:20261002T080000Z")])], [])
        self.features["all_day"] += 1
        uid = self.uid("vacation")
        add("calendar", "multi_day_all_day", [self.vevent(
            uid, "Vacances à la mer 🌊", date(2026, 7, 20), date(2026, 7, 23), None,
            all_day=True, extra=["TRANSP:TRANSPARENT"])], [])
        self.features["all_day"] += 1
        self.features["multi_day"] += 1
        # Two days in Tokyo.
        uid = self.uid("tokyo")
        add("work", "tokyo", [self.vevent(
            uid, "東京カンファレンス", datetime(2026, 5, 12, 9, 30), datetime(2026, 5, 13, 18, 0),
            "Asia/Tokyo", extra=["LOCATION:" + esc("東京ビッグサイト, 江東区")])], ["Asia/Tokyo"])
        self.features["multi_day"] += 1
        # UTC.
        uid = self.uid("utc")
        add("work", "utc", [self.vevent(
            uid, "Maintenance window (UTC)", datetime(2026, 4, 18, 22, 0),
            datetime(2026, 4, 19, 2, 0), "UTC", extra=["TRANSP:OPAQUE"])], ["UTC"])
        # Spanning the DST changes: Berlin spring night, New York autumn night.
        uid = self.uid("dst-berlin")
        add("calendar", "dst_berlin", [self.vevent(
            uid, "Nachtzug Berlin–München", datetime(2026, 3, 29, 1, 30),
            datetime(2026, 3, 29, 4, 0), "Europe/Berlin")], ["Europe/Berlin"])
        uid = self.uid("dst-ny")
        add("calendar", "dst_new_york", [self.vevent(
            uid, "Red-eye flight JFK", datetime(2026, 11, 1, 0, 30), datetime(2026, 11, 1, 3, 0),
            "America/New_York")], ["America/New_York"])
        self.features["dst_spanning"] += 2
        # Meetings with twenty attendees: organised by the user, and by someone else.
        uid = self.uid("meeting-own")
        add("work", "meeting_organised_by_user", [self.vevent(
            uid, "Projekt Kick-off (20 Teilnehmende)", datetime(2026, 6, 9, 14, 0),
            datetime(2026, 6, 9, 15, 30), "Europe/Berlin", extra=[
                *self.attendees(20, True, rng), "LOCATION:" + esc(PLACES[1]), "SEQUENCE:2",
                *self.alarm("-PT30M")])], ["Europe/Berlin"])
        uid = self.uid("meeting-other")
        add("work", "meeting_organised_by_other", [self.vevent(
            uid, "Partner all-hands", datetime(2026, 6, 11, 10, 0), datetime(2026, 6, 11, 11, 0),
            "America/New_York", extra=[*self.attendees(20, False, rng), "SEQUENCE:0",
                                       "LOCATION:Teams"])], ["America/New_York"])
        # Private, with two alarms.
        uid = self.uid("private")
        add("calendar", "private", [self.vevent(
            uid, "Arzttermin (privat)", datetime(2026, 2, 3, 8, 15), datetime(2026, 2, 3, 9, 0),
            "Europe/Berlin", extra=["CLASS:PRIVATE", *self.alarm("-P1D"),
                                    *self.alarm("-PT1H", "AUDIO")])], ["Europe/Berlin"])
        self.features["private"] += 1
        # Attachments: by URI and inline.
        uid = self.uid("attach-uri")
        add("work", "attach_uri", [self.vevent(
            uid, "Agenda review", datetime(2026, 3, 16, 15, 0), datetime(2026, 3, 16, 16, 0),
            "UTC", extra=["ATTACH;FMTTYPE=application/pdf:https://files.example.test/agenda-2026.pdf"])],
            ["UTC"])
        self.features["attach_uri"] += 1
        uid = self.uid("attach-inline")
        note = "Packliste:\n- Pass\n- Ladegerät\n- 日本円\n".encode()
        add("calendar", "attach_inline", [self.vevent(
            uid, "Reise nach Tokio – Packliste", datetime(2026, 5, 10, 7, 0),
            datetime(2026, 5, 10, 8, 0), "Europe/Berlin", extra=[
                "ATTACH;FMTTYPE=text/plain;ENCODING=BASE64;VALUE=BINARY;X-FILENAME=packliste.txt:"
                + base64.b64encode(note).decode()])], ["Europe/Berlin"])
        self.features["attach_inline"] += 1
        # Long folded description, non-ASCII everywhere.
        uid = self.uid("long")
        desc = " ".join("Absatz %d: Überprüfung der Änderungen für das Ångström-Projekt, "
                        "café crème, 会議の議事録; naïve façade – “quotes”." % i
                        for i in range(1, 9))
        add("calendar", "long_folded", [self.vevent(
            uid, "Réunion d'équipe – Überprüfung 日本語 🗓", datetime(2026, 9, 15, 13, 0),
            datetime(2026, 9, 15, 14, 0), "Europe/Berlin", extra=[
                "DESCRIPTION:" + esc(desc), "LOCATION:" + esc(PLACES[4]),
                "CATEGORIES:Büro,Planung"])], ["Europe/Berlin"])
        return out

    def filler_event(self, rng):
        coll = "work" if rng.random() < 0.45 else "calendar"
        uid = self.uid("filler")
        tz = rng.choice(ZONES)
        day = date(2025, 6, 1) + timedelta(days=rng.randrange(0, 540))
        topic = rng.choice(TOPICS)
        r = rng.random()
        extra = []
        if rng.random() < 0.3:
            extra += self.alarm(rng.choice(["-PT5M", "-PT15M", "-PT1H", "-P1D"]))
        if rng.random() < 0.2:
            extra.append("DESCRIPTION:" + esc("Notizen zu %s – %s" % (topic, rng.choice(PEOPLE)[0])))
        place = rng.choice(PLACES)
        if place:
            extra.append("LOCATION:" + esc(place))
        if rng.random() < 0.05:
            extra.append("CLASS:PRIVATE")
            self.features["private"] += 1
        if r < 0.15:  # all-day, 1-4 days
            days = rng.choice([1, 1, 1, 2, 3, 4])
            ev = [self.vevent(uid, topic, day, day + timedelta(days=days), None, all_day=True,
                              extra=extra)]
            self.features["all_day"] += 1
            if days > 1:
                self.features["multi_day"] += 1
            return coll, uid, self.calendar(ev, [])
        start = datetime(day.year, day.month, day.day, rng.randrange(7, 19), rng.choice([0, 15, 30, 45]))
        dur = timedelta(minutes=rng.choice([15, 30, 45, 60, 60, 90, 120]))
        if r < 0.30:  # weekly series, sometimes with exceptions
            count = rng.randrange(4, 30)
            step = lambda k: start + timedelta(weeks=k)
            if count >= 8 and rng.random() < 0.5:
                evs = self.series(uid, topic, start, tz, "FREQ=WEEKLY;COUNT=%d" % count, step,
                                  2, step(2) + timedelta(days=1, hours=1), 4, 6, extra=extra)
                return coll, uid, self.calendar(evs, [tz])
            ev = [self.vevent(uid, topic, start, start + dur, tz,
                              extra=["RRULE:FREQ=WEEKLY;COUNT=%d" % count, *extra])]
            self.features["series"] += 1
            return coll, uid, self.calendar(ev, [tz])
        if r < 0.50:  # meeting
            n = rng.randrange(2, 21)
            extra = self.attendees(n, rng.random() < 0.5, rng) + extra
        return coll, uid, self.calendar([self.vevent(uid, topic, start, start + dur, tz,
                                                     extra=extra)], [tz])

    # ------------------------------------------------------------ contacts

    def vcard(self, version, uid, given, family, rng, photo=False, full=True):
        fn = "%s %s" % (given, family) if not any(ord(c) > 0x3000 for c in given + family) \
            else family + given
        lines = ["BEGIN:VCARD", "VERSION:" + version]
        if version == "4.0":
            lines += ["UID:urn:uuid:" + uid, "KIND:individual"]
        else:
            lines += ["UID:" + uid]
        lines += ["FN:" + esc(fn), "N:%s;%s;;;" % (esc(family), esc(given))]
        ascii_name = unicodedata.normalize("NFKD", given + "." + family).replace("ø", "o").replace("ł", "l")
        local = "".join(c for c in ascii_name.lower() if c.isascii() and (c.isalnum() or c == "."))
        local = local.strip(".").replace("..", ".") or "contact-" + uid[:8]
        if full:
            org, dept = rng.choice(COMPANIES)
            lines += ["ORG:%s;%s" % (esc(org), esc(dept)), "TITLE:" + esc(rng.choice(TITLES))]
            if version == "4.0":
                lines += ["EMAIL;TYPE=work;PREF=1:%s@%s" % (local, "example.test"),
                          "EMAIL;TYPE=home:%s@mail.example" % local,
                          "TEL;VALUE=uri;TYPE=cell:tel:+49-170-%07d" % rng.randrange(10**7),
                          "TEL;VALUE=uri;TYPE=\"work,voice\":tel:+49-30-%07d" % rng.randrange(10**7),
                          "ADR;TYPE=work:;;Hauptstraße %d;Berlin;;10115;Deutschland" % rng.randrange(1, 200),
                          "BDAY:%04d%02d%02d" % (rng.randrange(1950, 2000), rng.randrange(1, 13), rng.randrange(1, 29))]
            else:
                lines += ["EMAIL;TYPE=INTERNET,WORK,PREF:%s@%s" % (local, "example.test"),
                          "EMAIL;TYPE=INTERNET,HOME:%s@mail.example" % local,
                          "TEL;TYPE=CELL:+81 90 %04d %04d" % (rng.randrange(10**4), rng.randrange(10**4)),
                          "TEL;TYPE=WORK,VOICE:+81 3 %04d %04d" % (rng.randrange(10**4), rng.randrange(10**4)),
                          "TEL;TYPE=HOME,FAX:+81 3 %04d %04d" % (rng.randrange(10**4), rng.randrange(10**4)),
                          "ADR;TYPE=WORK:;;1-2-%d Marunouchi;Chiyoda-ku;Tokyo;100-0005;Japan" % rng.randrange(1, 30),
                          "ADR;TYPE=HOME:;Apt 4;12 Rue de la Paix;Paris;;75002;France",
                          "BDAY:%04d-%02d-%02d" % (rng.randrange(1950, 2000), rng.randrange(1, 13), rng.randrange(1, 29))]
            lines += ["NOTE:" + esc("Met at the %s trade fair; prefers email. Café ☕ at 10." % rng.choice(["Hannover", "Lyon", "大阪"])),
                      "CATEGORIES:" + ",".join(esc(c) for c in rng.sample(CATEGORIES, 2))]
        else:
            lines.append("EMAIL;TYPE=%s:%s@example.test" % ("work" if version == "4.0" else "INTERNET", local))
        if photo:
            jpeg = tiny_jpeg([rng.randrange(256) for _ in range(4)])
            b64 = base64.b64encode(jpeg).decode()
            # vCard 4.0 would say PHOTO:data:image/jpeg;base64,... but Radicale 3.1 (vobject
            # 0.9.6) cuts such a value at its first comma and stores only
            # "PHOTO:data:image/jpeg\\;base64": the photo is lost. Both versions therefore
            # carry the b-encoded form, which Radicale keeps byte for byte.
            lines.append("PHOTO;ENCODING=b;TYPE=JPEG:" + b64)
            self.features["photos"] += 1
        lines += ["REV:20260101T000000Z", "END:VCARD"]
        self.features["vcard4" if version == "4.0" else "vcard3"] += 1
        return doc(lines)

    def group(self, version, uid, name, members):
        lines = ["BEGIN:VCARD", "VERSION:" + version]
        if version == "4.0":
            lines += ["UID:urn:uuid:" + uid, "KIND:group", "FN:" + esc(name), "N:%s;;;;" % esc(name)]
            lines += ["MEMBER:urn:uuid:" + m for m in members]
        else:
            lines += ["UID:" + uid, "FN:" + esc(name), "N:%s;;;;" % esc(name),
                      "X-ADDRESSBOOKSERVER-KIND:group"]
            lines += ["X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:" + m for m in members]
        lines += ["REV:20260101T000000Z", "END:VCARD"]
        self.features["groups"] += 1
        self.features["vcard4" if version == "4.0" else "vcard3"] += 1
        return doc(lines)

    def contacts(self, total):
        rng = random.Random("%s/%d/contacts/%s" % (self.user, self.seed, self.scale))
        out, v3, v4 = [], [], []

        def add(key, uid, body, version):
            out.append(("contacts", uid, body))
            (v4 if version == "4.0" else v3).append(uid)
            if key:
                self.landmarks[key] = uid

        uid = self.uid("vcard4")
        add("vcard4_photo", uid, self.vcard("4.0", uid, "Zoë", "Ångström", rng, photo=True), "4.0")
        uid = self.uid("vcard3")
        add("vcard3_photo", uid, self.vcard("3.0", uid, "太郎", "山田", rng, photo=True), "3.0")
        for i in range(total - 4):  # two with photos above, two groups below
            version = "4.0" if i % 2 == 0 else "3.0"
            uid = self.uid("vcard")
            add(None, uid, self.vcard(version, uid, rng.choice(GIVEN), rng.choice(FAMILY), rng,
                                      photo=rng.random() < 0.3, full=rng.random() < 0.8), version)
        uid = self.uid("group4")
        body = self.group("4.0", uid, "Projektteam Ω", v4[: max(2, len(v4) // 2)])
        out.append(("contacts", uid, body))
        self.landmarks["group4"] = uid
        uid = self.uid("group3")
        body = self.group("3.0", uid, "Family & Friends", v3[: max(2, len(v3) // 2)])
        out.append(("contacts", uid, body))
        self.landmarks["group3"] = uid
        return out

    def everything(self):
        n_events, n_contacts = {"small": (16, 10), "medium": (500, 300)}[self.scale]
        items = self.feature_events()
        rng = random.Random("%s/%d/events/%s" % (self.user, self.seed, self.scale))
        while len(items) < n_events:
            items.append(self.filler_event(rng))
        items += self.contacts(n_contacts)
        return items


# ---------------------------------------------------------------- HTTP

class Dav(Http):
    def __init__(self, url, user, password):
        super().__init__(url, user, password, "seed-dav.py")
        self.base = self.path.rstrip("/")

    def request(self, method, path, body=b"", headers=None):
        """(status, body)."""
        st, _, data = super().request(method, path, body, headers)
        return st, data

    def principal(self):
        body = (b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
                b'<D:current-user-principal/></D:prop></D:propfind>')
        st, data = self.request("PROPFIND", self.base + "/", body,
                                {"Depth": "0", "Content-Type": "application/xml; charset=utf-8"})
        if st != 207:
            sys.exit("seed-dav.py: PROPFIND %s/ -> HTTP %d (wrong user/password?)" % (self.base, st))
        import xml.etree.ElementTree as ET
        href = ET.fromstring(data).find(".//{DAV:}current-user-principal/{DAV:}href")
        if href is None or not href.text:
            sys.exit("seed-dav.py: no current-user-principal in the answer to PROPFIND")
        return href.text


MKCALENDAR = """<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<D:displayname>{name}</D:displayname>
<C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
</D:prop></D:set></C:mkcalendar>"""
MKADDRESSBOOK = """<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>
<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>
<D:displayname>{name}</D:displayname>
</D:prop></D:set></D:mkcol>"""
COLLECTIONS = [("calendar", "calendar", "Calendar"), ("work", "calendar", "Work"),
               ("contacts", "addressbook", "Contacts")]


def components(body):
    counts = {}
    for line in body.decode().split("\r\n"):
        if line.startswith("BEGIN:") and line != "BEGIN:VCALENDAR":
            counts[line[6:]] = counts.get(line[6:], 0) + 1
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="the DAV root, e.g. http://127.0.0.1:5232")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", choices=["small", "medium"], default="small")
    ap.add_argument("--email", help="the user's address (default USER@example.test, or USER "
                    "when it is an address)")
    ap.add_argument("-q", action="store_true", help="no progress on stderr")
    a = ap.parse_args()
    email = a.email or (a.user if "@" in a.user else a.user + "@example.test")
    dav = Dav(a.url, a.user, a.password)
    home = dav.principal()
    if not home.endswith("/"):
        home += "/"
    seeder = Seeder(a.user, email, a.seed, a.scale)
    items = seeder.everything()

    summary = {"user": a.user, "seed": a.seed, "scale": a.scale, "home": home,
               "collections": [], "items": 0, "components": {}}
    by_coll = {}
    for name, kind, display in COLLECTIONS:
        path = home + name + "/"
        body = (MKCALENDAR if kind == "calendar" else MKADDRESSBOOK).format(name=display).encode()
        st, data = dav.request("MKCALENDAR" if kind == "calendar" else "MKCOL", path, body,
                               {"Content-Type": "application/xml; charset=utf-8"})
        if st not in (201, 405, 409):
            sys.exit("seed-dav.py: creating %s -> HTTP %d: %s" % (path, st, data[:300]))
        if st in (405, 409):  # already there: must be the right kind
            st2, data2 = dav.request("PROPFIND", path, b"", {"Depth": "0"})
            want = b"calendar" if kind == "calendar" else b"addressbook"
            if st2 != 207 or want not in data2:
                sys.exit("seed-dav.py: %s exists and is not a%s %s" % (
                    path, "" if kind == "calendar" else "n", kind))
        by_coll[name] = {"name": name, "kind": kind, "displayname": display, "items": 0,
                         "created": 0, "existing": 0, "components": {}}
    for i, (coll, uid, body) in enumerate(items):
        ext = ".ics" if by_coll[coll]["kind"] == "calendar" else ".vcf"
        ctype = "text/calendar; charset=utf-8" if ext == ".ics" else "text/vcard; charset=utf-8"
        path = home + coll + "/" + uid + ext
        st, data = dav.request("PUT", path, body, {"Content-Type": ctype, "If-None-Match": "*"})
        c = by_coll[coll]
        if st in (201, 204):
            c["created"] += 1
        elif st == 412:
            c["existing"] += 1
        else:
            sys.exit("seed-dav.py: PUT %s -> HTTP %d: %s\n--- body\n%s" % (
                path, st, data[:500].decode(errors="replace"), body.decode()))
        c["items"] += 1
        for k, v in components(body).items():
            c["components"][k] = c["components"].get(k, 0) + v
            summary["components"][k] = summary["components"].get(k, 0) + v
        if not a.q and (i + 1) % 100 == 0:
            print("seed-dav.py: %d/%d" % (i + 1, len(items)), file=sys.stderr)
    summary["collections"] = [by_coll[n] for n, _, _ in COLLECTIONS]
    summary["items"] = sum(c["items"] for c in summary["collections"])
    summary["features"] = seeder.features
    summary["landmarks"] = seeder.landmarks
    print(json.dumps(summary, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main()
