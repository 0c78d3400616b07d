//! Debian package versions and their order, as dpkg defines them (deb-version(7)): `[epoch:]upstream[-revision]`,
//! compared epoch first (as a number), then upstream, then revision, each with dpkg's `verrevcmp`:
//! alternating runs of non-digits (compared character by character, letters before other characters
//! and `~` before everything, even the end of the string) and digits (compared as numbers).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A parsed Debian version. Equality is dpkg's: `1.0` and `0:1.0` are the same version, as are `1.00`
/// and `1.0`, so [`Eq`] and [`Ord`] agree with `dpkg --compare-versions`.
#[derive(Debug, Clone)]
pub struct DebVersion {
    epoch: u64,
    upstream: String,
    revision: String,
    /// The text as written, for display (and the lock): `7:5.1.6-0+deb12u1`.
    text: String,
}

/// Why a version string is not a Debian version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a Debian version: {reason}")]
pub struct VersionError {
    pub text: String,
    pub reason: &'static str,
}

impl FromStr for DebVersion {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<DebVersion, VersionError> {
        let error = |reason| VersionError {
            text: text.to_string(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(error("it is empty"));
        }
        if trimmed.chars().any(char::is_whitespace) {
            return Err(error("it contains whitespace"));
        }
        let (epoch, rest) = match trimmed.split_once(':') {
            Some((epoch, rest)) => {
                if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(error("the epoch is not a number"));
                }
                let epoch = epoch.parse().map_err(|_| error("the epoch is too large"))?;
                (epoch, rest)
            }
            None => (0, trimmed),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((_, "")) => return Err(error("the revision after `-` is empty")),
            Some((upstream, revision)) => (upstream, revision),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(error("the upstream version is empty"));
        }
        if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
            // dpkg only warns here; the archive never has such versions, but a lock may be hand-edited.
            return Err(error("the upstream version does not start with a digit"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".+-~:".contains(c);
        if !upstream.chars().all(allowed)
            || !revision.chars().all(|c| allowed(c) && c != '-' && c != ':')
        {
            return Err(error("it contains a character dpkg does not allow"));
        }
        Ok(DebVersion {
            epoch,
            upstream: upstream.to_string(),
            revision: revision.to_string(),
            text: trimmed.to_string(),
        })
    }
}

impl DebVersion {
    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for DebVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for DebVersion {
    fn cmp(&self, other: &DebVersion) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &DebVersion) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DebVersion {
    fn eq(&self, other: &DebVersion) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DebVersion {}

/// The weight of one non-digit character: `~` below the end of the string (0), letters by their code,
/// everything else after all letters.
fn weight(byte: Option<u8>) -> i32 {
    match byte {
        None => 0,
        Some(b'~') => -1,
        Some(b) if b.is_ascii_digit() => 0,
        Some(b) if b.is_ascii_alphabetic() => i32::from(b),
        Some(b) => i32::from(b) + 256,
    }
}

/// dpkg's `verrevcmp` on one part (upstream or revision).
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (wa, wb) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> DebVersion {
        text.parse().unwrap()
    }

    /// Vectors from dpkg's own test suite (lib/dpkg/t/t-version.c) and deb-version(7).
    #[test]
    fn orders_as_dpkg_documents() {
        let less = [
            ("1.0~rc1", "1.0"),
            ("1.0~~", "1.0~"),
            ("1.0~~a", "1.0~"),
            ("1.0~", "1.0"),
            ("1.0", "1.0a"),
            ("1.0", "1.0+b1"),
            ("1.0-1", "1.0-1+b1"),
            ("1:0.5", "2:0.1"),
            ("9.9", "1:0.1"),
            ("1.2.3", "1.2.10"),
            ("1.0-1", "1.0-2"),
            ("1.0-1~bpo1", "1.0-1"),
            ("2.36-9+deb12u8", "2.36-9+deb12u10"),
            ("0:1.0a", "0:1.0+"),
            ("1a", "1+"),
            ("1.0", "1.0.0"),
        ];
        for (a, b) in less {
            assert!(v(a) < v(b), "{a} < {b}");
            assert!(v(b) > v(a), "{b} > {a}");
        }
        for (a, b) in [
            ("1.0", "0:1.0"),
            ("1.00", "1.0"),
            ("1.0-0", "1.0-0"),
            ("01", "1"),
        ] {
            assert_eq!(v(a), v(b), "{a} = {b}");
        }
    }

    #[test]
    fn refuses_what_is_no_version() {
        for text in [
            "", "a1.0", ":1.0", "x:1.0", "1.0-", "1.0 2", "1.0-a_b", "1:", "1.0/2",
        ] {
            assert!(text.parse::<DebVersion>().is_err(), "{text:?} parsed");
        }
    }
}
