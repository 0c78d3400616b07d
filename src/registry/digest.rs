//! Content digests (`sha256:<hex>`), as OCI descriptors and `Docker-Content-Digest` carry them.
//!
//! Only the algorithms this module can verify are accepted (sha256, and sha512 which the OCI image spec
//! also registers): a digest that cannot be checked against the bytes is no better than none.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use sha2::{Digest as _, Sha256, Sha512};

/// A verified-format content digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    /// Lowercase hex, of the algorithm's length.
    hex: String,
}

/// A digest algorithm from the OCI image spec's registered set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

impl Digest {
    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// The digest of `bytes` computed with this digest's algorithm, to compare against it.
    pub fn recompute(&self, bytes: &[u8]) -> Digest {
        let hex = match self.algorithm {
            Algorithm::Sha256 => hex::encode(Sha256::digest(bytes)),
            Algorithm::Sha512 => hex::encode(Sha512::digest(bytes)),
        };
        Digest {
            algorithm: self.algorithm,
            hex,
        }
    }

    /// Whether `bytes` hash to this digest.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        self.recompute(bytes) == *self
    }

    /// `sha256` or `sha512`.
    pub fn algorithm(&self) -> &'static str {
        self.algorithm.name()
    }

    /// The hex part, lowercase.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex digits, as `docker images` shows an id: enough to tell digests apart by eye.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl FromStr for Digest {
    type Err = String;

    fn from_str(text: &str) -> Result<Digest, String> {
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err(format!(
                "`{}` is not a digest (`sha256:<hex>`)",
                shorten(text)
            ));
        };
        let algorithm = match algorithm {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => {
                return Err(format!(
                    "digest algorithm `{}` is not supported (sha256 or sha512)",
                    shorten(other)
                ));
            }
        };
        let is_hex = hex
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
        if hex.len() != algorithm.hex_len() || !is_hex {
            return Err(format!(
                "`{}` is not a {} digest: expected {} lowercase hex digits",
                shorten(text),
                algorithm.name(),
                algorithm.hex_len()
            ));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `text` cut to a length fit for an error message (registry-provided text can be anything).
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 200;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let text = format!("sha256:{}", "ab".repeat(32));
        let digest: Digest = text.parse().unwrap();
        assert_eq!(digest.to_string(), text);
        assert_eq!(digest.short(), "abababababab");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "sha256",
            "sha256:",
            "sha256:ABAB",
            &format!("sha256:{}", "AB".repeat(32)),
            &format!("md5:{}", "ab".repeat(16)),
            &format!("sha256:{}", "ab".repeat(33)),
            "sha256:../../etc/passwd",
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
    }

    #[test]
    fn verifies_bytes() {
        let digest = Digest::sha256_of(b"{}");
        assert_eq!(
            digest.to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert!(digest.matches(b"{}"));
        assert!(!digest.matches(b"{ }"));
        let sha512: Digest = format!("sha512:{}", hex::encode(Sha512::digest(b"x")))
            .parse()
            .unwrap();
        assert!(sha512.matches(b"x"));
        assert!(!sha512.matches(b"y"));
    }

    #[test]
    fn shortens_long_text_on_a_char_boundary() {
        let long = "é".repeat(300);
        let short = shorten(&long);
        assert!(short.ends_with('…'));
        assert!(short.len() <= 204);
    }
}
