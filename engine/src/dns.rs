//! The domain's DNS against what the destination needs (`[dns]`): the MX records, the
//! autodiscover CNAME, the SPF include and the DKIM selectors, asked of the domain's
//! **authoritative** name servers (its NS records, then each server directly) so that the
//! TTLs are the zone's own, not what a cache has left. Each record says what was found, what
//! is expected, whether they match, its TTL and so when a change made now will have reached
//! every cache (now + TTL). `cutover finalize` prints the report; the `dns-*` checklist items
//! are its verdicts per kind of record.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{Resolver, TokioResolver};

use crate::config::DnsSettings;

/// The kinds of record checked, each a checklist item `dns-<kind>`.
pub const KINDS: &[&str] = &["mx", "autodiscover", "spf", "dkim"];

/// One record as found on the authoritative servers, against what is expected.
#[derive(Debug, Clone)]
pub struct DnsRecord {
    /// `mx`, `autodiscover`, `spf` or `dkim`.
    pub kind: &'static str,
    /// The name asked (`acme.example`, `autodiscover.acme.example`, ...).
    pub name: String,
    /// `MX`, `CNAME` or `TXT`.
    pub rtype: &'static str,
    /// What the servers answered (MX: "10 host"; empty when there is none).
    pub found: Vec<String>,
    pub expected: String,
    pub matches: bool,
    /// The records' TTL in seconds (the smallest of the answer), when there was an answer.
    pub ttl: Option<u32>,
    /// The lookup failed (other than "no such record").
    pub error: Option<String>,
}

impl DnsRecord {
    /// When a change made at `at` has reached every cache: `at` + TTL (now, without one).
    pub fn propagated_by(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at + chrono::Duration::seconds(i64::from(self.ttl.unwrap_or(0)))
    }
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct DnsReport {
    pub domain: String,
    /// The authoritative servers asked (name, address); empty when they could not be found
    /// and the resolver answered instead (`note` says so).
    pub servers: Vec<(String, SocketAddr)>,
    pub note: Option<String>,
    pub records: Vec<DnsRecord>,
    pub at: DateTime<Utc>,
}

impl DnsReport {
    /// The MX records point at the destination.
    pub fn mx_ok(&self) -> bool {
        self.records.iter().any(|r| r.kind == "mx") && self.kind_ok("mx")
    }
    fn kind_ok(&self, kind: &str) -> bool {
        self.records
            .iter()
            .filter(|r| r.kind == kind)
            .all(|r| r.matches)
    }
    /// The checklist item of one kind: (status word, reason). `n/a` when nothing of that
    /// kind is expected.
    pub fn verdict(&self, kind: &str) -> (&'static str, String) {
        let rs: Vec<&DnsRecord> = self.records.iter().filter(|r| r.kind == kind).collect();
        if rs.is_empty() {
            return ("n/a", format!("no {kind} record expected ([dns])"));
        }
        let text: Vec<String> = rs.iter().map(|r| r.line()).collect();
        (
            if rs.iter().all(|r| r.matches) {
                "pass"
            } else {
                "fail"
            },
            text.join("; "),
        )
    }
}

impl DnsRecord {
    /// "MX acme.example: 10 a.example (TTL 300 s), expected a.example: match"
    pub fn line(&self) -> String {
        let found = match (&self.error, self.found.is_empty()) {
            (Some(e), _) => format!("lookup failed: {e}"),
            (None, true) => "none".to_string(),
            (None, false) => self.found.join(", "),
        };
        format!(
            "{} {}: {found}{}, expected {}: {}",
            self.rtype,
            self.name,
            self.ttl
                .map(|t| format!(" (TTL {t} s)"))
                .unwrap_or_default(),
            self.expected,
            if self.matches { "match" } else { "MISMATCH" }
        )
    }
}

fn resolver_at(servers: &[SocketAddr]) -> TokioResolver {
    let mut cfg = ResolverConfig::new();
    for a in servers {
        cfg.add_name_server(NameServerConfig::new(*a, Protocol::Udp));
        cfg.add_name_server(NameServerConfig::new(*a, Protocol::Tcp));
    }
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_secs(5);
    opts.attempts = 1;
    opts.cache_size = 0;
    Resolver::builder_with_config(cfg, TokioConnectionProvider::default())
        .with_options(opts)
        .build()
}

fn host(n: &hickory_resolver::proto::rr::Name) -> String {
    n.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// (records' text, smallest TTL) of one name and type; Ok(empty) when there is none.
async fn ask(
    r: &TokioResolver,
    name: &str,
    rtype: RecordType,
) -> Result<(Vec<String>, Option<u32>), String> {
    match r.lookup(format!("{name}."), rtype).await {
        Ok(l) => {
            let mut out = Vec::new();
            let mut ttl: Option<u32> = None;
            for rec in l.records().iter().filter(|x| x.record_type() == rtype) {
                ttl = Some(ttl.map_or(rec.ttl(), |t| t.min(rec.ttl())));
                match rec.data() {
                    RData::MX(mx) => {
                        out.push(format!("{} {}", mx.preference(), host(mx.exchange())))
                    }
                    RData::CNAME(c) => out.push(host(&c.0)),
                    RData::NS(n) => out.push(host(&n.0)),
                    RData::TXT(t) => out.push(
                        t.txt_data()
                            .iter()
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                            .collect::<String>(),
                    ),
                    _ => {}
                }
            }
            out.sort();
            Ok((out, ttl))
        }
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok((Vec::new(), None)),
        Err(e) => Err(e.to_string()),
    }
}

/// The domain's authoritative servers: its NS records, each name's addresses (asked of
/// `resolver` when set, else the system's), on port 53, or on the resolver's port when one
/// is set (a test server that serves the zone and its own address on one port).
async fn authoritative(
    domain: &str,
    resolver: Option<SocketAddr>,
) -> Result<(TokioResolver, Vec<(String, SocketAddr)>), String> {
    let base = match resolver {
        Some(a) => resolver_at(&[a]),
        None => Resolver::builder_tokio()
            .map_err(|e| {
                format!("cannot read the system's DNS configuration ({e}); set [dns] resolver")
            })?
            .build(),
    };
    let (ns, _) = ask(&base, domain, RecordType::NS).await?;
    if ns.is_empty() {
        return Err(format!("{domain} has no NS record"));
    }
    let port = resolver.map_or(53, |a| a.port());
    let mut servers = Vec::new();
    for n in &ns {
        if let Ok(ips) = base.lookup_ip(format!("{n}.")).await {
            for ip in ips.iter() {
                servers.push((n.clone(), SocketAddr::new(ip, port)));
            }
        }
    }
    if servers.is_empty() {
        return Err(format!(
            "no address found for the name server(s) of {domain}: {}",
            ns.join(", ")
        ));
    }
    let addrs: Vec<SocketAddr> = servers.iter().map(|(_, a)| *a).collect();
    Ok((resolver_at(&addrs), servers))
}

/// The report for `[dns]`; None without a domain.
pub async fn check(settings: &DnsSettings) -> Option<DnsReport> {
    let domain = settings.domain.clone()?;
    let at = Utc::now();
    let (r, servers, note) = match authoritative(&domain, settings.resolver).await {
        Ok((r, s)) => (r, s, None),
        Err(e) => {
            let fallback = match settings.resolver {
                Some(a) => resolver_at(&[a]),
                None => match Resolver::builder_tokio() {
                    Ok(b) => b.build(),
                    Err(_) => resolver_at(&[]),
                },
            };
            (
                fallback,
                Vec::new(),
                Some(format!(
                    "the authoritative servers could not be asked ({e}): answers from the resolver, whose TTLs may be what its cache has left"
                )),
            )
        }
    };
    let mut records = Vec::new();
    let mut push = |kind,
                    name: String,
                    rtype,
                    res: Result<(Vec<String>, Option<u32>), String>,
                    expected: String,
                    ok: &dyn Fn(&[String]) -> bool| {
        let (found, ttl, error) = match res {
            Ok((f, t)) => (f, t, None),
            Err(e) => (Vec::new(), None, Some(e)),
        };
        let matches = error.is_none() && ok(&found);
        records.push(DnsRecord {
            kind,
            name,
            rtype,
            found,
            expected,
            matches,
            ttl,
            error,
        });
    };
    if !settings.mx.is_empty() {
        let res = ask(&r, &domain, RecordType::MX).await;
        let want = settings.mx.clone();
        push(
            "mx",
            domain.clone(),
            "MX",
            res,
            settings.mx.join(" or "),
            &|f: &[String]| {
                !f.is_empty()
                    && f.iter().all(|x| {
                        let h = x.split_once(' ').map_or(x.as_str(), |(_, h)| h);
                        want.iter().any(|w| w == h)
                    })
            },
        );
    }
    if let Some(a) = &settings.autodiscover {
        let name = format!("autodiscover.{domain}");
        let res = ask(&r, &name, RecordType::CNAME).await;
        push(
            "autodiscover",
            name,
            "CNAME",
            res,
            a.clone(),
            &|f: &[String]| f.len() == 1 && &f[0] == a,
        );
    }
    if !settings.spf_include.is_empty() {
        let res = ask(&r, &domain, RecordType::TXT).await.map(|(f, t)| {
            let spf: Vec<String> = f
                .into_iter()
                .filter(|x| x.to_ascii_lowercase().starts_with("v=spf1"))
                .collect();
            let t = if spf.is_empty() { None } else { t };
            (spf, t)
        });
        let want = settings.spf_include.clone();
        push(
            "spf",
            domain.clone(),
            "TXT",
            res,
            format!(
                "v=spf1 with {}",
                want.iter()
                    .map(|w| format!("include:{w}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            &|f: &[String]| {
                f.len() == 1 && {
                    let terms: Vec<String> = f[0]
                        .split_whitespace()
                        .map(|t| t.to_ascii_lowercase())
                        .collect();
                    want.iter().all(|w| {
                        terms
                            .iter()
                            .any(|t| t == &format!("include:{w}") || t == &format!("+include:{w}"))
                    })
                }
            },
        );
    }
    for sel in &settings.dkim_selectors {
        let name = format!("{sel}._domainkey.{domain}");
        // A DKIM key is a TXT record (v=DKIM1; p=...) or, as Microsoft 365 publishes it, a
        // CNAME to the provider's key.
        let cname = ask(&r, &name, RecordType::CNAME).await;
        let (res, rtype) = match cname {
            Ok((f, t)) if !f.is_empty() => (Ok((f, t)), "CNAME"),
            _ => (ask(&r, &name, RecordType::TXT).await, "TXT"),
        };
        push(
            "dkim",
            name,
            rtype,
            res,
            "a DKIM key (TXT with p=, or a CNAME)".into(),
            &|f: &[String]| {
                !f.is_empty()
                    && (rtype == "CNAME"
                        || f.iter().any(|x| {
                            x.replace(' ', "").contains("p=") && !x.replace(' ', "").contains("p=;")
                        }))
            },
        );
    }
    Some(DnsReport {
        domain,
        servers,
        note,
        records,
        at,
    })
}
