//! `[dns]`: the records the destination needs for the cutover (`cutover finalize`, the `dns-*`
//! checklist items). The destination's preset fills in the expected values (Microsoft 365:
//! the MX host, the autodiscover CNAME and the SPF include; Gmail: Google's MX set and SPF
//! include); each one can be set in the file instead.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::endpoints::{EndpointKind, Preset};
use super::lines::ConfigError;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDns {
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    dkim_selectors: Vec<String>,
    #[serde(default)]
    mx: Option<Vec<String>>,
    #[serde(default)]
    autodiscover: Option<String>,
    #[serde(default)]
    spf_include: Option<Vec<String>>,
    #[serde(default)]
    resolver: Option<Spanned<String>>,
}

/// What the domain's DNS must say once mail goes to the destination (`[dns]`).
#[derive(Debug, Clone, Default)]
pub struct DnsSettings {
    /// The mail domain (None: no DNS checks).
    pub domain: Option<String>,
    /// DKIM selectors whose `SELECTOR._domainkey.DOMAIN` record must exist.
    pub dkim_selectors: Vec<String>,
    /// Host names the MX records must point to (any of them; lowercase, no trailing dot).
    pub mx: Vec<String>,
    /// The target `autodiscover.DOMAIN` must be a CNAME to (None: not checked).
    pub autodiscover: Option<String>,
    /// Hosts the SPF record (`v=spf1` TXT of the domain) must include.
    pub spf_include: Vec<String>,
    /// DNS server asked for the NS records (and, on its port, the name servers themselves);
    /// the system's resolver and port 53 when None.
    pub resolver: Option<SocketAddr>,
}

fn norm(s: &str) -> String {
    s.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Google Workspace's MX hosts.
pub const GMAIL_MX: &[&str] = &[
    "aspmx.l.google.com",
    "alt1.aspmx.l.google.com",
    "alt2.aspmx.l.google.com",
    "alt3.aspmx.l.google.com",
    "alt4.aspmx.l.google.com",
    "smtp.google.com",
];

/// Parse a resolver address: "IP" (port 53) or "IP:PORT".
pub(super) fn parse_resolver(
    path: &Path,
    text: &str,
    key: &str,
    r: &Spanned<String>,
) -> Result<SocketAddr, ConfigError> {
    let s = r.get_ref().trim();
    let addr = s
        .parse::<SocketAddr>()
        .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| {
            ConfigError::at(
                path,
                text,
                r.span().start,
                format!(
                    "{key}: expected an IP address or IP:PORT such as \"127.0.0.1:5353\", got {s:?}"
                ),
            )
        })?;
    if addr.port() == 0 {
        return Err(ConfigError::at(
            path,
            text,
            r.span().start,
            format!("{key}: port 0 is not a port"),
        ));
    }
    Ok(addr)
}

/// The `[dns]` settings, with what the destination's preset (or kind) implies where the file
/// says nothing.
pub(super) fn dns_of(
    path: &Path,
    text: &str,
    raw: &RawDns,
    dst_kind: EndpointKind,
    dst_preset: Preset,
) -> Result<DnsSettings, ConfigError> {
    let domain = raw.domain.as_deref().map(norm).filter(|d| !d.is_empty());
    let resolver = match &raw.resolver {
        Some(r) => Some(parse_resolver(path, text, "dns.resolver", r)?),
        None => None,
    };
    let m365 = dst_preset == Preset::M365 || dst_kind == EndpointKind::Graph;
    let gmail = dst_preset == Preset::Gmail || dst_kind == EndpointKind::Gmail;
    let (mx, autodiscover, spf): (Vec<String>, Option<String>, Vec<String>) = match &domain {
        Some(d) if m365 => (
            vec![format!(
                "{}.mail.protection.outlook.com",
                d.replace('.', "-")
            )],
            Some("autodiscover.outlook.com".into()),
            vec!["spf.protection.outlook.com".into()],
        ),
        Some(_) if gmail => (
            GMAIL_MX.iter().map(|s| s.to_string()).collect(),
            None,
            vec!["_spf.google.com".into()],
        ),
        _ => (Vec::new(), None, Vec::new()),
    };
    Ok(DnsSettings {
        domain,
        dkim_selectors: raw
            .dkim_selectors
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        mx: raw
            .mx
            .as_ref()
            .map(|v| v.iter().map(|s| norm(s)).collect())
            .unwrap_or(mx),
        autodiscover: match &raw.autodiscover {
            Some(a) if norm(a).is_empty() => None,
            Some(a) => Some(norm(a)),
            None => autodiscover,
        },
        spf_include: raw
            .spf_include
            .as_ref()
            .map(|v| v.iter().map(|s| norm(s)).collect())
            .unwrap_or(spf),
        resolver,
    })
}

#[cfg(test)]
mod tests {
    fn load(dst: &str, dns: &str) -> Result<crate::config::DnsSettings, String> {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("p.toml");
        std::fs::write(
            &path,
            format!(
                "[project]\nname = \"t\"\nstate = \"j.sqlite\"\n[source]\nkind = \"imap\"\nhost = \"h\"\n\
                 [destination]\n{dst}\n[[mailbox]]\n\
                 source = {{ user = \"a\", password = \"x\" }}\ndestination = {{ user = \"a\", password = \"x\" }}\n\
                 [dns]\n{dns}\n"
            ),
        )
        .unwrap();
        crate::config::load(&path)
            .map(|p| p.dns)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_destination_preset_fills_in_the_expected_records_and_the_file_overrides_them() {
        let m = load(
            "kind = \"imap\"\npreset = \"m365\"",
            "domain = \"Acme.Example.\"\ndkim_selectors = [\"selector1\"]",
        )
        .unwrap();
        assert_eq!(m.domain.as_deref(), Some("acme.example"));
        assert_eq!(m.mx, vec!["acme-example.mail.protection.outlook.com"]);
        assert_eq!(m.autodiscover.as_deref(), Some("autodiscover.outlook.com"));
        assert_eq!(m.spf_include, vec!["spf.protection.outlook.com"]);
        assert_eq!(m.dkim_selectors, vec!["selector1"]);
        let g = load(
            "kind = \"imap\"\npreset = \"gmail\"",
            "domain = \"acme.example\"",
        )
        .unwrap();
        assert!(g.mx.contains(&"aspmx.l.google.com".to_string()));
        assert_eq!(g.autodiscover, None);
        assert_eq!(g.spf_include, vec!["_spf.google.com"]);
        let o = load(
            "kind = \"imap\"\npreset = \"m365\"",
            "domain = \"acme.example\"\nmx = [\"MX.Other.Example.\"]\nautodiscover = \"\"\nresolver = \"127.0.0.1:5353\"",
        )
        .unwrap();
        assert_eq!(o.mx, vec!["mx.other.example"]);
        assert_eq!(o.autodiscover, None);
        assert_eq!(o.resolver, Some("127.0.0.1:5353".parse().unwrap()));
        // A generic destination expects nothing unless told.
        let n = load("kind = \"imap\"\nhost = \"h\"", "domain = \"acme.example\"").unwrap();
        assert!(n.mx.is_empty() && n.spf_include.is_empty() && n.autodiscover.is_none());
        let e = load("kind = \"imap\"\nhost = \"h\"", "resolver = \"nope\"").unwrap_err();
        assert!(e.contains("dns.resolver") && e.contains(":14:"), "{e}");
        let e = load("kind = \"imap\"\nhost = \"h\"", "domains = \"x\"").unwrap_err();
        assert!(e.contains("domains"), "{e}");
    }
}
