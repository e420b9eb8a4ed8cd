//! Input hygiene: what a delivery's bytes must not be before any row is read.
//!
//! In: a delivery's raw bytes, a field's bytes, or one JSON Lines row. Out: a
//! reason a whole file is not a text export at all ([`not_text`]), whether a
//! field holds a control character ([`has_control`]), and a JSON object's
//! members with every repeated key kept ([`Members`]).
//!
//! Promises: the reasons say what the file looks like, never what it holds;
//! the per-field check is one vectorisable pass over the bytes, because it
//! runs on every row of every delivery.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use super::Format;

/// Why the bytes are not a UTF-8 text export, if they plainly are not: a
/// compressed archive, or UTF-16. Looks at the first bytes only.
pub(crate) fn not_text(bytes: &[u8], format: Format) -> Option<String> {
    let what = match format {
        Format::Csv => "the CSV",
        Format::Jsonl => "the JSON Lines file",
    };
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Some(format!(
            "this looks like a gzip file: send {what} uncompressed"
        ));
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Some(format!(
            "this looks like a zip file (or an Excel workbook): send {what} itself, uncompressed"
        ));
    }
    if bytes.starts_with(&[0xff, 0xfe])
        || bytes.starts_with(&[0xfe, 0xff])
        || nul_interleaved(bytes)
    {
        return Some(format!(
            "this looks like UTF-16 text: save {what} as UTF-8 and send that"
        ));
    }
    None
}

/// ASCII saved as UTF-16 without a byte-order mark: every other byte of the
/// first line is NUL, and the bytes between are not.
fn nul_interleaved(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64) & !1];
    if head.len() < 4 {
        return false;
    }
    let (mut even, mut odd) = (0usize, 0usize);
    for pair in head.chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    let pairs = head.len() / 2;
    (odd * 2 >= pairs && even == 0) || (even * 2 >= pairs && odd == 0)
}

/// Whether the bytes hold a C0 control character other than tab, CR or LF
/// (a NUL in a surname, say). The common case, no byte below 0x20 at all,
/// is settled by one minimum over the bytes, which the compiler vectorises.
#[inline]
pub(crate) fn has_control(bytes: &[u8]) -> bool {
    let low = bytes.iter().fold(0xffu8, |m, &b| m.min(b));
    low < 0x20
        && bytes
            .iter()
            .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
}

/// A JSON object's members in the order sent, every one kept: serde_json's
/// own map keeps the last of a repeated key, which would let one of two
/// conflicting values win silently.
pub(crate) struct Members(pub Vec<(String, serde_json::Value)>);

impl Members {
    /// The index of the first member whose key an earlier member already had.
    pub(crate) fn first_repeat(&self) -> Option<usize> {
        let m = &self.0;
        if m.len() <= 32 {
            // Rows carry a dozen keys or so: pairwise beats hashing.
            (1..m.len()).find(|&i| m[..i].iter().any(|(k, _)| *k == m[i].0))
        } else {
            let mut seen = std::collections::HashSet::with_capacity(m.len());
            m.iter().position(|(k, _)| !seen.insert(k.as_str()))
        }
    }
}

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Each;
        impl<'de> Visitor<'de> for Each {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(kv) = map.next_entry::<String, serde_json::Value>()? {
                    out.push(kv);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(Each)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_and_utf16_are_named() {
        let gz = not_text(&[0x1f, 0x8b, 8, 0], Format::Csv).unwrap();
        assert!(gz.contains("gzip") && gz.contains("uncompressed"), "{gz}");
        let zip = not_text(b"PK\x03\x04rest", Format::Jsonl).unwrap();
        assert!(zip.contains("zip") && zip.contains("JSON Lines"), "{zip}");
        for bytes in [
            &b"\xff\xfer\0e\0"[..],
            b"\xfe\xff\0r\0e",
            b"r\0e\0c\0o\0r\0d\0_\0t\0",
            b"\0r\0e\0c\0o\0r\0d\0_",
        ] {
            let u = not_text(bytes, Format::Csv).unwrap();
            assert!(u.contains("UTF-16") && u.contains("UTF-8"), "{u}");
        }
        for ok in [
            &b"record_type,surname\n"[..],
            b"\xEF\xBB\xBFa,b\n",
            b"ab",
            b"",
        ] {
            assert_eq!(not_text(ok, Format::Csv), None);
        }
    }

    #[test]
    fn control_characters_but_not_tab_cr_lf() {
        assert!(!has_control(b"Smith"));
        assert!(!has_control(b"a\tb\r\nc"));
        assert!(!has_control("Ó Súilleabháin".as_bytes()));
        assert!(has_control(b"Smi\0th"));
        assert!(has_control(b"\x1b[2J"));
        assert!(has_control(b"x\x7f\x01"));
        assert!(!has_control(b""));
    }

    #[test]
    fn repeated_keys_are_kept_and_found() {
        let m: Members = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(m.0.len(), 3);
        assert_eq!(m.first_repeat(), Some(2));
        let m: Members = serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
        assert_eq!(m.first_repeat(), None);
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let text = format!("{{{},\"k7\":0}}", many.join(","));
        let m: Members = serde_json::from_str(&text).unwrap();
        assert_eq!(m.first_repeat(), Some(40));
        assert!(serde_json::from_str::<Members>("[1,2]").is_err());
    }
}
