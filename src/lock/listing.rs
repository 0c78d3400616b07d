//! A locked file against the index's current entry for it: the one comparison that `verify` (which
//! words each difference for a file) and `check` (which words it for an image) both make, so the two
//! cannot disagree about what changed on the index.
//!
//! Pure: the caller fetched the project page and found the entry (or did not).

use jiff::Timestamp;

use crate::finding::Code;
use crate::index::DistFile;

/// One way the index's entry differs from the locked file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingChange {
    /// The index no longer lists the file.
    Gone,
    /// The index lists another sha256 than the lock (compared case-insensitively).
    Sha256 { locked: String, listed: String },
    /// The index lists another size than the lock.
    Size { locked: u64, listed: u64 },
    /// The index marks the file yanked; the reason is empty when none was given.
    Yanked { reason: String },
    /// The index says the file was uploaded after the lock's exclude-newer, and the lock says otherwise
    /// (the lock's own upload time is judged without the index).
    UploadedAfterCutoff {
        cutoff: Timestamp,
        uploaded: Timestamp,
    },
}

impl ListingChange {
    /// The finding code of this change, the same in every command.
    pub fn code(&self) -> Code {
        match self {
            ListingChange::Gone => Code::NotOnIndex,
            ListingChange::Sha256 { .. } => Code::IndexHashMismatch,
            ListingChange::Size { .. } => Code::IndexSizeMismatch,
            ListingChange::Yanked { .. } => Code::Yanked,
            ListingChange::UploadedAfterCutoff { .. } => Code::UploadedAfterCutoff,
        }
    }
}

/// Every way `entry` (the index's listing of `locked`'s filename now; `None`: not listed) differs from
/// `locked`, in the order findings are listed. Fields either side leaves out are not compared.
pub fn compare_with_index(
    locked: &DistFile,
    entry: Option<&DistFile>,
    cutoff: Option<Timestamp>,
) -> Vec<ListingChange> {
    let Some(entry) = entry else {
        return vec![ListingChange::Gone];
    };
    let mut changes = Vec::new();
    if let (Some(locked), Some(listed)) = (&locked.sha256, &entry.sha256)
        && !locked.eq_ignore_ascii_case(listed)
    {
        changes.push(ListingChange::Sha256 {
            locked: locked.clone(),
            listed: listed.clone(),
        });
    }
    if let (Some(locked), Some(listed)) = (locked.size, entry.size)
        && locked != listed
    {
        changes.push(ListingChange::Size { locked, listed });
    }
    if let Some(reason) = &entry.yanked {
        changes.push(ListingChange::Yanked {
            reason: reason.clone(),
        });
    }
    if let (Some(cutoff), Some(uploaded)) = (cutoff, entry.upload_time)
        && uploaded > cutoff
        && locked.upload_time != Some(uploaded)
    {
        changes.push(ListingChange::UploadedAfterCutoff { cutoff, uploaded });
    }
    changes
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A locked file as the index lists it, with every field set; `verify`'s tests share it.
    pub(crate) fn dist_file(filename: &str) -> DistFile {
        DistFile {
            filename: filename.to_string(),
            url: format!("https://files.example/{filename}"),
            sha256: Some("ab".repeat(32)),
            size: Some(10),
            upload_time: Some("2024-01-01T00:00:00Z".parse().unwrap()),
            requires_python: None,
            yanked: None,
            core_metadata: false,
        }
    }

    fn file() -> DistFile {
        dist_file("demo-1.0-py3-none-any.whl")
    }

    #[test]
    fn an_unchanged_entry_differs_in_nothing() {
        let locked = file();
        let mut listed = file();
        listed.sha256 = Some("AB".repeat(32));
        assert!(compare_with_index(&locked, Some(&listed), None).is_empty());
        // A field one side does not know is not a difference.
        listed.size = None;
        listed.sha256 = None;
        assert!(compare_with_index(&locked, Some(&listed), None).is_empty());
    }

    #[test]
    fn every_change_has_its_code() {
        let locked = file();
        assert_eq!(
            compare_with_index(&locked, None, None),
            [ListingChange::Gone]
        );
        let mut listed = file();
        listed.sha256 = Some("cd".repeat(32));
        listed.size = Some(11);
        listed.yanked = Some(String::new());
        listed.upload_time = Some("2025-01-01T00:00:00Z".parse().unwrap());
        let cutoff = "2024-06-01T00:00:00Z".parse().ok();
        let codes: Vec<&str> = compare_with_index(&locked, Some(&listed), cutoff)
            .iter()
            .map(|change| change.code().as_str())
            .collect();
        assert_eq!(
            codes,
            [
                "index-hash-mismatch",
                "index-size-mismatch",
                "yanked",
                "uploaded-after-cutoff"
            ]
        );
        // The lock agreeing with the index on a late upload leaves it to the lock's own check.
        let mut late = file();
        late.upload_time = listed.upload_time;
        assert!(
            !compare_with_index(&late, Some(&listed), cutoff)
                .iter()
                .any(|change| change.code() == Code::UploadedAfterCutoff)
        );
    }
}
