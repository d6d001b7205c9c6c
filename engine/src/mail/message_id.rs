//! The Message-ID header of a message (the journal keeps it for resolution and reports;
//! sources list it as part of a message's identity).

/// The Message-ID header, for the journal (resolution and reports use it).
pub fn message_id(body: &[u8]) -> Option<String> {
    mail_parser::MessageParser::default()
        .parse_headers(body)
        .and_then(|m| m.message_id().map(str::to_string))
}
