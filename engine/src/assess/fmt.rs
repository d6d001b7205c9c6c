//! Figures as the assessment prints them.

pub fn human(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().si().to_string()
}
