//! Standard Webhooks signing and verification of notice bodies.

use std::fmt;

use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// How far a `webhook-timestamp` may be from the verifier's clock (5 minutes).
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// A Standard Webhooks symmetric secret (`whsec_<base64>`). The key is the
/// base64-decoded part. Zeroized on drop; `Debug` does not show it.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Zeroizing<Vec<u8>>,
}

/// Why a webhook secret string is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("webhook secret must start with whsec_")]
    Prefix,
    #[error("webhook secret is not valid base64")]
    Base64,
    #[error("webhook secret must decode to 24..=64 bytes, got {0}")]
    Length(usize),
}

pub(crate) const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl WebhookSecret {
    /// Parses `whsec_<base64>` (padding optional). The key must be 24 to 64
    /// bytes, the range the spec recommends.
    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let b64 = s.trim().strip_prefix("whsec_").ok_or(SecretError::Prefix)?;
        let key = Zeroizing::new(LENIENT_B64.decode(b64).map_err(|_| SecretError::Base64)?);
        Self::from_bytes(&key)
    }

    /// A secret from raw key bytes (24 to 64 of them).
    pub fn from_bytes(key: &[u8]) -> Result<Self, SecretError> {
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        Ok(Self {
            key: Zeroizing::new(key.to_vec()),
        })
    }

    /// A new random secret of 32 bytes from the OS generator.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new(vec![0u8; 32]);
        getrandom::fill(&mut key).expect("OS random generator unavailable");
        Self { key }
    }

    /// The `whsec_<base64>` form, to hand to a receiver. Zeroized on drop.
    pub fn to_whsec(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("whsec_{}", STANDARD.encode(&*self.key)))
    }

    /// A name for the secret in logs and the audit log: `w` and 8 hex
    /// digits of a SHA-256 over a fixed label and the key (which a whsec_
    /// secret lacks). It tells two secrets apart and reveals nothing
    /// usable: 32 bits of a one-way hash of 24 or more random bytes.
    pub fn key_id(&self) -> String {
        use sha2::Digest;
        let mut h = Sha256::new();
        h.update(b"outcomesd webhook key id\0");
        h.update(&*self.key);
        format!("w{}", hex::encode(&h.finalize()[..4]))
    }

    pub(crate) fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let mut out = [0u8; 32];
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl FromStr for WebhookSecret {
    type Err = SecretError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The `webhook-signature` value for one message:
/// `v1,<base64(HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}"))>`.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        STANDARD.encode(secret.mac(msg_id, timestamp, body))
    )
}

/// Why a webhook fails verification.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("missing or empty header {0}")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not an integer")]
    BadTimestamp,
    #[error("webhook-timestamp is too old")]
    TooOld,
    #[error("webhook-timestamp is too far in the future")]
    TooNew,
    #[error("no matching v1 signature")]
    NoMatchingSignature,
}

/// Verifies one webhook per Standard Webhooks: the timestamp must be within
/// [`TIMESTAMP_TOLERANCE_SECS`] of `now` (unix seconds), and at least one
/// `v1,<sig>` entry of the space-separated `webhook_signature` must equal the
/// expected signature (compared in constant time). Other versions are skipped.
pub fn verify(
    secret: &WebhookSecret,
    webhook_id: &str,
    webhook_timestamp: &str,
    webhook_signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    if webhook_id.is_empty() {
        return Err(VerifyError::MissingHeader("webhook-id"));
    }
    if webhook_timestamp.is_empty() {
        return Err(VerifyError::MissingHeader("webhook-timestamp"));
    }
    if webhook_signature.trim().is_empty() {
        return Err(VerifyError::MissingHeader("webhook-signature"));
    }
    let ts: i64 = webhook_timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if ts < now.saturating_sub(TIMESTAMP_TOLERANCE_SECS) {
        return Err(VerifyError::TooOld);
    }
    if ts > now.saturating_add(TIMESTAMP_TOLERANCE_SECS) {
        return Err(VerifyError::TooNew);
    }
    let expected = secret.mac(webhook_id, ts, body);
    let mut ok = subtle::Choice::from(0u8);
    for entry in webhook_signature.split(' ').filter(|e| !e.is_empty()) {
        let Some((version, sig)) = entry.split_once(',') else {
            continue;
        };
        if version != "v1" {
            continue;
        }
        let Ok(sig) = STANDARD.decode(sig) else {
            continue;
        };
        ok |= expected.as_slice().ct_eq(&sig);
    }
    if bool::from(ok) {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}
