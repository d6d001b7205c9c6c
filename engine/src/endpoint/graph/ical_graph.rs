//! An iCalendar event (one series with its exceptions, RFC 5545) as Graph writes it: the
//! series master (or single event), the changes to make to its occurrences (exceptions,
//! cancelled occurrences), its attachments, and the meeting's people kept as text.
//!
//! What Graph cannot express is refused with the reason, never approximated: a recurrence
//! rule outside Graph's patterns, a zone outside the table of `zones`, a start that is not
//! an occurrence of its own rule. Attendees are never written as Graph attendees (Graph
//! would invite them); they go into the body's text and an extended property.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use serde_json::{Value, json};

use super::zones::{to_utc, windows_zone};
use crate::item::content::{Line, unfold};

/// One VEVENT: its properties, and its alarms' properties.
#[derive(Debug, Clone, Default)]
pub(super) struct Ev {
    pub(super) props: Vec<Line>,
    pub(super) alarms: Vec<Vec<Line>>,
}

impl Ev {
    pub(super) fn get(&self, name: &str) -> Option<&Line> {
        self.props.iter().find(|l| l.bare_name() == name)
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &Line> {
        let name = name.to_string();
        self.props.iter().filter(move |l| l.bare_name() == name)
    }

    fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(|l| unescape(&l.value))
    }
}

/// A time of an event: a date (all-day) or a local time in a zone (Windows name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct When {
    pub(super) local: NaiveDateTime,
    pub(super) all_day: bool,
    /// The zone as written (IANA, "UTC"); floating times are read as UTC.
    pub(super) zone: String,
}

impl When {
    pub(super) fn utc(&self) -> Option<NaiveDateTime> {
        if self.all_day {
            return Some(self.local);
        }
        to_utc(self.local, &self.zone)
    }

    fn graph(&self) -> Result<Value, String> {
        let tz = if self.all_day {
            "UTC"
        } else {
            windows_zone(&self.zone).ok_or_else(|| {
                format!(
                    "is in the time zone {}, which cutover cannot name for Microsoft 365",
                    self.zone
                )
            })?
        };
        Ok(json!({"dateTime": self.local.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": tz}))
    }
}

/// The key an occurrence is found by: its original start in UTC.
pub(super) fn key(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Everything to write for one item.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// The series master or single event (without transactionId and extended properties).
    pub(super) master: Value,
    /// Exceptions: (original start key, PATCH body).
    pub(super) exceptions: Vec<(String, Value)>,
    /// Cancelled occurrences (EXDATE, STATUS:CANCELLED override): original start keys.
    pub(super) cancelled: Vec<String>,
    /// (name, media type, bytes) of the binary attachments.
    pub(super) attachments: Vec<(String, String, Vec<u8>)>,
    /// ORGANIZER and ATTENDEE lines, as read.
    pub(super) people: Option<String>,
    /// Where the occurrences are looked for: (from, to), UTC.
    pub(super) window: Option<(NaiveDateTime, NaiveDateTime)>,
}

/// The VEVENTs of a text (VTODO and VJOURNAL are not events Graph has).
pub(super) fn events(text: &str) -> Result<Vec<Ev>, String> {
    let mut out = Vec::new();
    let mut depth: Vec<String> = Vec::new();
    let mut cur: Option<Ev> = None;
    let mut alarm: Option<Vec<Line>> = None;
    for raw in unfold(text) {
        let Some(l) = Line::parse(&raw) else { continue };
        match l.name.as_str() {
            "BEGIN" => {
                let what = l.value.trim().to_ascii_uppercase();
                match what.as_str() {
                    "VEVENT" => cur = Some(Ev::default()),
                    "VALARM" if cur.is_some() => alarm = Some(Vec::new()),
                    "VTODO" | "VJOURNAL" => {
                        return Err(format!(
                            "holds a {what}, which Microsoft 365 calendars do not have"
                        ));
                    }
                    _ => {}
                }
                depth.push(what);
            }
            "END" => match depth.pop().as_deref() {
                Some("VEVENT") => out.extend(cur.take()),
                Some("VALARM") => {
                    if let (Some(a), Some(c)) = (alarm.take(), cur.as_mut()) {
                        c.alarms.push(a);
                    }
                }
                _ => {}
            },
            _ => {
                if let Some(a) = alarm.as_mut() {
                    a.push(l);
                } else if let Some(c) = cur.as_mut()
                    && depth.last().map(String::as_str) == Some("VEVENT")
                {
                    c.props.push(l);
                }
            }
        }
    }
    Ok(out)
}

pub(super) fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') | Some('N') => out.push('\n'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

fn split_unescaped(v: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut it = v.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => {
                if let Some(o) = it.next() {
                    out.last_mut()
                        .expect("one")
                        .push(if o == 'n' { '\n' } else { o });
                }
            }
            ',' => out.push(String::new()),
            _ => out.last_mut().expect("one").push(c),
        }
    }
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// A DTSTART-like property's time.
pub(super) fn when(l: &Line) -> Result<When, String> {
    let v = l.value.trim();
    if l.param("VALUE") == Some("DATE") || (v.len() == 8 && !v.contains('T')) {
        let d = NaiveDate::parse_from_str(v, "%Y%m%d")
            .map_err(|_| format!("has an unreadable date {}:{v}", l.name))?;
        return Ok(When {
            local: d.and_hms_opt(0, 0, 0).unwrap_or_default(),
            all_day: true,
            zone: "UTC".into(),
        });
    }
    let (v, utc) = match v.strip_suffix('Z') {
        Some(x) => (x, true),
        None => (v, false),
    };
    let local = NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%S")
        .map_err(|_| format!("has an unreadable time {}:{}", l.name, l.value))?;
    let zone = match (utc, l.param("TZID")) {
        (true, _) | (false, None) => "UTC".to_string(),
        (false, Some(z)) => z.trim_start_matches('/').to_string(),
    };
    Ok(When {
        local,
        all_day: false,
        zone,
    })
}

fn duration(v: &str) -> Option<Duration> {
    let (neg, v) = match v.strip_prefix('-') {
        Some(x) => (true, x),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let v = v.strip_prefix('P')?;
    let mut total = Duration::zero();
    let mut num = String::new();
    for c in v.chars() {
        match c {
            '0'..='9' => num.push(c),
            'T' => {}
            'W' | 'D' | 'H' | 'M' | 'S' => {
                let n: i64 = num.parse().ok()?;
                num.clear();
                total += match c {
                    'W' => Duration::weeks(n),
                    'D' => Duration::days(n),
                    'H' => Duration::hours(n),
                    'M' => Duration::minutes(n),
                    _ => Duration::seconds(n),
                };
            }
            _ => return None,
        }
    }
    Some(if neg { -total } else { total })
}

fn day_name(d: &str) -> Option<(&'static str, Weekday)> {
    Some(match d {
        "MO" => ("monday", Weekday::Mon),
        "TU" => ("tuesday", Weekday::Tue),
        "WE" => ("wednesday", Weekday::Wed),
        "TH" => ("thursday", Weekday::Thu),
        "FR" => ("friday", Weekday::Fri),
        "SA" => ("saturday", Weekday::Sat),
        "SU" => ("sunday", Weekday::Sun),
        _ => return None,
    })
}

fn index_name(n: i32) -> Option<&'static str> {
    Some(match n {
        1 => "first",
        2 => "second",
        3 => "third",
        4 => "fourth",
        -1 => "last",
        _ => return None,
    })
}

/// An RRULE as Graph's patternedRecurrence; Err says what Graph cannot express.
pub(super) fn recurrence(rrule: &str, start: &When) -> Result<Value, String> {
    let mut parts = std::collections::BTreeMap::new();
    for p in rrule.split(';').filter(|p| !p.is_empty()) {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        parts.insert(k.to_ascii_uppercase(), v.to_ascii_uppercase());
    }
    let no = |why: &str| {
        Err(format!(
            "has the recurrence rule {rrule}, which Microsoft 365 cannot express ({why})"
        ))
    };
    for k in parts.keys() {
        if !matches!(
            k.as_str(),
            "FREQ"
                | "INTERVAL"
                | "COUNT"
                | "UNTIL"
                | "BYDAY"
                | "BYMONTHDAY"
                | "BYMONTH"
                | "WKST"
                | "BYSETPOS"
        ) {
            return no(k);
        }
    }
    let interval: u32 = match parts.get("INTERVAL") {
        Some(i) => match i.parse() {
            Ok(n) if n >= 1 => n,
            _ => return no("INTERVAL"),
        },
        None => 1,
    };
    let d = start.local.date();
    let days: Vec<(i32, &str, Weekday)> = match parts.get("BYDAY") {
        None => Vec::new(),
        Some(b) => {
            let mut v = Vec::new();
            for x in b.split(',') {
                let (n, name) = x.split_at(x.len().saturating_sub(2));
                let Some((gn, wd)) = day_name(name) else {
                    return no("BYDAY");
                };
                let n: i32 = if n.is_empty() {
                    0
                } else {
                    match n.parse() {
                        Ok(n) => n,
                        Err(_) => return no("BYDAY"),
                    }
                };
                v.push((n, gn, wd));
            }
            v
        }
    };
    let setpos: Option<i32> = match parts.get("BYSETPOS") {
        None => None,
        Some(s) => match s.parse() {
            Ok(n) => Some(n),
            Err(_) => return no("BYSETPOS"),
        },
    };
    let month: Option<u32> = match parts.get("BYMONTH") {
        None => None,
        Some(m) => match m.parse() {
            Ok(n) if (1..=12).contains(&n) => Some(n),
            _ => return no("BYMONTH (one month only)"),
        },
    };
    let monthday: Option<u32> = match parts.get("BYMONTHDAY") {
        None => None,
        Some(m) => match m.parse() {
            Ok(n) if (1..=31).contains(&n) => Some(n),
            _ => return no("BYMONTHDAY (one day from 1 to 31 only)"),
        },
    };
    let freq = parts.get("FREQ").map(String::as_str).unwrap_or("");
    // One relative weekday: "1TU", or "TU" with BYSETPOS=1.
    let relative = |days: &[(i32, &str, Weekday)]| -> Option<(&'static str, Vec<String>, Weekday)> {
        let n = match (days, setpos) {
            ([(n, _, _)], None) if *n != 0 => *n,
            (ds, Some(p)) if ds.iter().all(|x| x.0 == 0) && !ds.is_empty() => p,
            _ => return None,
        };
        Some((
            index_name(n)?,
            days.iter().map(|x| x.1.to_string()).collect(),
            days[0].2,
        ))
    };
    let wkst = parts
        .get("WKST")
        .and_then(|w| day_name(w))
        .map(|x| x.0)
        .unwrap_or("monday");
    let pattern = match freq {
        "DAILY" if days.is_empty() && month.is_none() && monthday.is_none() && setpos.is_none() => {
            json!({"type": "daily", "interval": interval})
        }
        "WEEKLY"
            if month.is_none()
                && monthday.is_none()
                && setpos.is_none()
                && days.iter().all(|x| x.0 == 0) =>
        {
            let names: Vec<String> = if days.is_empty() {
                vec![
                    day_name(&d.weekday().to_string().to_ascii_uppercase()[..2])
                        .map(|x| x.0)
                        .unwrap_or("monday")
                        .to_string(),
                ]
            } else {
                if !days.iter().any(|x| x.2 == d.weekday()) {
                    return no("the first occurrence is not on one of its days");
                }
                days.iter().map(|x| x.1.to_string()).collect()
            };
            json!({"type": "weekly", "interval": interval, "daysOfWeek": names, "firstDayOfWeek": wkst})
        }
        "MONTHLY" if month.is_none() => {
            if days.is_empty() {
                if setpos.is_some() {
                    return no("BYSETPOS");
                }
                let dom = monthday.unwrap_or(d.day());
                if dom != d.day() {
                    return no("the first occurrence is not on its day of the month");
                }
                if dom > 28 {
                    return no(
                        "a day of the month after the 28th: Microsoft 365 moves it to the last day of a shorter month, iCalendar skips that month",
                    );
                }
                json!({"type": "absoluteMonthly", "interval": interval, "dayOfMonth": dom})
            } else {
                if monthday.is_some() {
                    return no("BYDAY with BYMONTHDAY");
                }
                let Some((index, names, _)) = relative(&days) else {
                    return no("BYDAY");
                };
                json!({"type": "relativeMonthly", "interval": interval, "daysOfWeek": names, "index": index})
            }
        }
        "YEARLY" => {
            let m = month.unwrap_or(d.month());
            if m != d.month() {
                return no("the first occurrence is not in its month");
            }
            if days.is_empty() {
                if setpos.is_some() {
                    return no("BYSETPOS");
                }
                let dom = monthday.unwrap_or(d.day());
                if dom != d.day() {
                    return no("the first occurrence is not on its day of the month");
                }
                if m == 2 && dom == 29 {
                    return no(
                        "February 29: Microsoft 365 moves it to February 28 in other years, iCalendar skips those years",
                    );
                }
                json!({"type": "absoluteYearly", "interval": interval, "dayOfMonth": dom, "month": m})
            } else {
                if monthday.is_some() {
                    return no("BYDAY with BYMONTHDAY");
                }
                let Some((index, names, _)) = relative(&days) else {
                    return no("BYDAY");
                };
                json!({"type": "relativeYearly", "interval": interval, "daysOfWeek": names, "index": index, "month": m})
            }
        }
        "" => return no("no FREQ"),
        other => return no(&format!("FREQ={other} with these parts")),
    };
    let tz = if start.all_day {
        "UTC"
    } else {
        windows_zone(&start.zone).unwrap_or("UTC")
    };
    let start_date = d.format("%Y-%m-%d").to_string();
    let range = if let Some(c) = parts.get("COUNT") {
        let Ok(n) = c.parse::<u32>() else {
            return no("COUNT");
        };
        if parts.contains_key("UNTIL") {
            return no("COUNT with UNTIL");
        }
        json!({"type": "numbered", "startDate": start_date, "numberOfOccurrences": n, "recurrenceTimeZone": tz})
    } else if let Some(u) = parts.get("UNTIL") {
        let line = Line {
            name: "UNTIL".into(),
            params: Vec::new(),
            value: u.clone(),
        };
        let until = when(&line)?;
        // UNTIL in UTC: the last day is the local day of that instant.
        let last = if until.all_day {
            until.local.date()
        } else {
            super::zones::from_utc(until.local, &start.zone)
                .unwrap_or(until.local)
                .date()
        };
        json!({"type": "endDate", "startDate": start_date, "endDate": last.format("%Y-%m-%d").to_string(), "recurrenceTimeZone": tz})
    } else {
        json!({"type": "noEnd", "startDate": start_date, "recurrenceTimeZone": tz})
    };
    Ok(json!({"pattern": pattern, "range": range}))
}

/// The fields of one VEVENT as a Graph event (master, single or occurrence). `people`: the
/// text block of organizer and attendees added to the body.
fn fields(ev: &Ev, people: Option<&str>) -> Result<Value, String> {
    let start = when(ev.get("DTSTART").ok_or("has no DTSTART")?)?;
    let end = match ev.get("DTEND") {
        Some(l) => when(l)?,
        None => {
            let d = ev
                .get("DURATION")
                .and_then(|l| duration(&l.value))
                .unwrap_or(if start.all_day {
                    Duration::days(1)
                } else {
                    Duration::zero()
                });
            When {
                local: start.local + d,
                ..start.clone()
            }
        }
    };
    let mut v = json!({
        "subject": ev.text("SUMMARY").unwrap_or_default(),
        "start": start.graph()?,
        "end": end.graph()?,
        "isAllDay": start.all_day,
    });
    let mut body = ev.text("DESCRIPTION").unwrap_or_default();
    if let Some(p) = people {
        if !body.is_empty() {
            body.push_str("\n\n");
        }
        body.push_str(p);
    }
    v["body"] = json!({"contentType": "text", "content": body});
    v["location"] = json!({"displayName": ev.text("LOCATION").unwrap_or_default()});
    let busy = ev
        .get("X-MICROSOFT-CDO-BUSYSTATUS")
        .map(|l| l.value.trim().to_ascii_uppercase());
    v["showAs"] = json!(match busy.as_deref() {
        Some("FREE") => "free",
        Some("TENTATIVE") => "tentative",
        Some("OOF") => "oof",
        Some("WORKINGELSEWHERE") => "workingElsewhere",
        Some(_) => "busy",
        None => match ev
            .get("TRANSP")
            .map(|l| l.value.trim().to_ascii_uppercase())
        {
            Some(t) if t == "TRANSPARENT" => "free",
            _ => "busy",
        },
    });
    v["sensitivity"] = json!(match ev
        .get("CLASS")
        .map(|l| l.value.trim().to_ascii_uppercase())
        .as_deref()
    {
        Some("PRIVATE") => "private",
        Some("CONFIDENTIAL") => "confidential",
        _ => "normal",
    });
    let cats: Vec<String> = ev
        .all("CATEGORIES")
        .flat_map(|l| split_unescaped(&l.value))
        .collect();
    v["categories"] = json!(cats);
    // The first alarm's lead time (Graph keeps one reminder).
    let lead = ev.alarms.iter().find_map(|a| {
        let t = a.iter().find(|l| l.bare_name() == "TRIGGER")?;
        if t.param("VALUE") == Some("DATE-TIME") {
            let at = when(t).ok()?.utc()?;
            let s = start.utc()?;
            return Some((s - at).num_minutes());
        }
        if t.param("RELATED") == Some("END") {
            return None;
        }
        Some(-duration(t.value.trim())?.num_minutes())
    });
    match lead {
        Some(m) if m >= 0 => {
            v["isReminderOn"] = json!(true);
            v["reminderMinutesBeforeStart"] = json!(m);
        }
        _ => v["isReminderOn"] = json!(false),
    }
    Ok(v)
}

/// Organizer and attendees as read (for the extended property), and as a text block.
fn people(ev: &Ev) -> Option<(String, String)> {
    let lines: Vec<&Line> = ev
        .props
        .iter()
        .filter(|l| matches!(l.bare_name(), "ORGANIZER" | "ATTENDEE"))
        .collect();
    if lines.is_empty() {
        return None;
    }
    let raw = lines
        .iter()
        .map(|l| l.render())
        .collect::<Vec<_>>()
        .join("\r\n");
    let mut text =
        String::from("Meeting details kept by cutover (nobody was invited or notified):");
    for l in lines {
        let mail = l.value.trim();
        let mail = mail
            .strip_prefix("mailto:")
            .or_else(|| mail.strip_prefix("MAILTO:"))
            .unwrap_or(mail);
        let who = match l.param("CN") {
            Some(cn) => format!("{cn} <{mail}>"),
            None => mail.to_string(),
        };
        if l.bare_name() == "ORGANIZER" {
            text.push_str(&format!("\nOrganizer: {who}"));
        } else {
            let st = l
                .param("PARTSTAT")
                .unwrap_or("NEEDS-ACTION")
                .to_ascii_lowercase();
            text.push_str(&format!("\nAttendee: {who} ({st})"));
        }
    }
    Some((raw, text))
}

fn attachment(l: &Line) -> Option<(String, String, Vec<u8>)> {
    use base64::Engine as _;
    if l.param("VALUE") != Some("BINARY") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(l.value.trim())
        .ok()?;
    let name = l
        .param("X-FILENAME")
        .or_else(|| l.param("FILENAME"))
        .unwrap_or("attachment")
        .to_string();
    let mime = l
        .param("FMTTYPE")
        .unwrap_or("application/octet-stream")
        .to_string();
    Some((name, mime, bytes))
}

/// The plan for one item (a series with its exceptions, or a single event); Err: why it is
/// refused.
pub(super) fn plan(text: &str) -> Result<Plan, String> {
    let evs = events(text)?;
    let mut master: Option<&Ev> = None;
    let mut overrides = Vec::new();
    for e in &evs {
        if e.get("RECURRENCE-ID").is_some() {
            overrides.push(e);
        } else if master.is_some() {
            return Err("holds two events without RECURRENCE-ID".into());
        } else {
            master = Some(e);
        }
    }
    let Some(m) = master else {
        return Err(if evs.is_empty() {
            "holds no VEVENT".into()
        } else {
            "holds exceptions without their series (no master event); Microsoft 365 cannot create an occurrence on its own".into()
        });
    };
    if m.all("RRULE").count() > 1 || m.get("RDATE").is_some() || m.get("EXRULE").is_some() {
        return Err(
            "has several recurrence rules or RDATE, which Microsoft 365 cannot express".into(),
        );
    }
    let ppl = people(m);
    let mut p = Plan {
        master: fields(m, ppl.as_ref().map(|x| x.1.as_str()))?,
        people: ppl.as_ref().map(|x| x.0.clone()),
        ..Default::default()
    };
    let start = when(m.get("DTSTART").ok_or("has no DTSTART")?)?;
    if let Some(r) = m.get("RRULE") {
        p.master["recurrence"] = recurrence(&r.value, &start)?;
    } else if !overrides.is_empty() || m.get("EXDATE").is_some() {
        return Err("has exceptions but no recurrence rule".into());
    }
    for l in m
        .props
        .iter()
        .chain(overrides.iter().flat_map(|o| o.props.iter()))
    {
        if l.bare_name() == "ATTACH"
            && let Some(a) = attachment(l)
        {
            p.attachments.push(a);
        }
    }
    let first = start.utc().ok_or_else(|| {
        format!(
            "is in the time zone {}, which cutover cannot name for Microsoft 365",
            start.zone
        )
    })?;
    let (mut lo, mut hi) = (first, first);
    let mut seen = |t: NaiveDateTime| {
        lo = lo.min(t);
        hi = hi.max(t);
    };
    for l in m.all("EXDATE") {
        for v in l.value.split(',') {
            let one = Line {
                value: v.to_string(),
                ..l.clone()
            };
            let t = when(&one)?
                .utc()
                .ok_or("has an EXDATE in an unknown time zone")?;
            seen(t);
            p.cancelled.push(key(t));
        }
    }
    for o in &overrides {
        let rid = when(o.get("RECURRENCE-ID").expect("an override"))?
            .utc()
            .ok_or("has a RECURRENCE-ID in an unknown time zone")?;
        seen(rid);
        if o.get("RECURRENCE-ID")
            .and_then(|l| l.param("RANGE"))
            .is_some()
        {
            return Err(
                "has a RECURRENCE-ID with RANGE=THISANDFUTURE, which Microsoft 365 cannot express"
                    .into(),
            );
        }
        let cancelled = o
            .get("STATUS")
            .is_some_and(|s| s.value.trim().eq_ignore_ascii_case("CANCELLED"));
        if cancelled {
            p.cancelled.push(key(rid));
            continue;
        }
        let mut f = fields(o, ppl.as_ref().map(|x| x.1.as_str()))?;
        if let Some(s) = o
            .get("DTSTART")
            .and_then(|l| when(l).ok())
            .and_then(|w| w.utc())
        {
            seen(s);
        }
        f.as_object_mut().map(|x| x.remove("isAllDay"));
        p.exceptions.push((key(rid), f));
    }
    p.cancelled.sort();
    p.cancelled.dedup();
    p.window = Some((lo - Duration::days(2), hi + Duration::days(2)));
    Ok(p)
}

/// The text cutover keeps on the event: the source's, without the bytes of its binary
/// attachments (the event's attachments hold them; they are put back when it is read).
pub(super) fn kept_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for raw in unfold(text) {
        match Line::parse(&raw) {
            Some(mut l) if l.bare_name() == "ATTACH" && l.param("VALUE") == Some("BINARY") => {
                l.value.clear();
                out.push_str(&l.render());
            }
            _ => out.push_str(&raw),
        }
        out.push_str("\r\n");
    }
    out
}

/// The kept text with its binary attachments' bytes put back, in order.
pub(super) fn restored_text(kept: &str, attachments: &[Vec<u8>]) -> String {
    use base64::Engine as _;
    let mut it = attachments.iter();
    let mut out = String::with_capacity(kept.len());
    for raw in unfold(kept) {
        match Line::parse(&raw) {
            Some(mut l)
                if l.bare_name() == "ATTACH"
                    && l.param("VALUE") == Some("BINARY")
                    && l.value.is_empty() =>
            {
                if let Some(b) = it.next() {
                    l.value = base64::engine::general_purpose::STANDARD.encode(b);
                }
                out.push_str(&crate::item::content::fold(&l.render()));
            }
            _ => out.push_str(&crate::item::content::fold(&raw)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:s1\r\nDTSTART;TZID=America/New_York:20260216T090000\r\nDTEND;TZID=America/New_York:20260216T100000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=12\r\nEXDATE;TZID=America/New_York:20260309T090000\r\nSUMMARY:Sync\r\nCLASS:PRIVATE\r\nORGANIZER;CN=Ann:mailto:ann@x.example\r\nATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@x.example\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:s1\r\nRECURRENCE-ID;TZID=America/New_York:20260302T090000\r\nDTSTART;TZID=America/New_York:20260303T140000\r\nDTEND;TZID=America/New_York:20260303T150000\r\nSUMMARY:Sync (moved)\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:s1\r\nRECURRENCE-ID;TZID=America/New_York:20260323T090000\r\nDTSTART;TZID=America/New_York:20260323T090000\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn a_series_becomes_a_master_its_exceptions_and_cancellations() {
        let p = plan(SERIES).expect("plans");
        assert_eq!(p.master["start"]["timeZone"], "Eastern Standard Time");
        assert_eq!(p.master["recurrence"]["pattern"]["type"], "weekly");
        assert_eq!(
            p.master["recurrence"]["pattern"]["daysOfWeek"],
            json!(["monday"])
        );
        assert_eq!(p.master["recurrence"]["range"]["numberOfOccurrences"], 12);
        assert_eq!(p.master["sensitivity"], "private");
        assert_eq!(p.master["reminderMinutesBeforeStart"], 10);
        assert!(p.master.get("attendees").is_none(), "never Graph attendees");
        assert!(
            p.master["body"]["content"]
                .as_str()
                .unwrap()
                .contains("Bob <bob@x.example> (accepted)")
        );
        assert!(p.people.as_deref().unwrap().contains("ATTENDEE"));
        // 2026-03-02 09:00 EST = 14:00 UTC; 2026-03-09 and -23 09:00 EDT = 13:00 UTC.
        assert_eq!(p.exceptions.len(), 1);
        assert_eq!(p.exceptions[0].0, "2026-03-02T14:00:00");
        assert_eq!(p.exceptions[0].1["subject"], "Sync (moved)");
        assert_eq!(
            p.cancelled,
            vec!["2026-03-09T13:00:00", "2026-03-23T13:00:00"]
        );
    }

    #[test]
    fn what_graph_cannot_express_is_refused() {
        let start = When {
            local: NaiveDateTime::parse_from_str("20260105T090000", "%Y%m%dT%H%M%S").unwrap(),
            all_day: false,
            zone: "Europe/Berlin".into(),
        };
        let end_of_month = When {
            local: NaiveDateTime::parse_from_str("20260131T090000", "%Y%m%dT%H%M%S").unwrap(),
            ..start.clone()
        };
        assert!(
            recurrence("FREQ=MONTHLY", &end_of_month)
                .unwrap_err()
                .contains("28th")
        );
        assert!(recurrence("FREQ=MONTHLY", &start).is_ok());
        for bad in [
            "FREQ=HOURLY",
            "FREQ=MONTHLY;BYDAY=5MO",
            "FREQ=WEEKLY;BYHOUR=9",
            "FREQ=WEEKLY;BYDAY=TU",
        ] {
            assert!(recurrence(bad, &start).is_err(), "{bad}");
        }
        let r = recurrence("FREQ=MONTHLY;BYDAY=1MO;UNTIL=20261231T235959Z", &start).unwrap();
        assert_eq!(r["pattern"]["index"], "first");
        assert_eq!(r["range"]["endDate"], "2027-01-01");
        let unknown = SERIES.replace("America/New_York", "Mars/Olympus");
        assert!(plan(&unknown).unwrap_err().contains("Mars/Olympus"));
    }

    #[test]
    fn binary_attachments_are_kept_apart_and_put_back() {
        let t = "BEGIN:VEVENT\r\nATTACH;VALUE=BINARY;ENCODING=BASE64;X-FILENAME=a.txt:aGVsbG8=\r\nEND:VEVENT\r\n";
        let kept = kept_text(t);
        assert!(!kept.contains("aGVsbG8="));
        assert_eq!(restored_text(&kept, &[b"hello".to_vec()]), t);
    }
}
