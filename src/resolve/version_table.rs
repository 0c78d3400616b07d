//! A package's releases in version order, each with a value (the file it would install, or why it
//! cannot): built in memory when computed from a page, or read in place from a stored selection and
//! decoded one release at a time.
//!
//! An offline run of the base image reads the stored selection of 53 projects, some 12,000 releases
//! across its targets, and the solver looks at a few of each project's newest ones. Decoding every
//! release up front (its version, its file's six strings) and dropping it all at exit was three quarters
//! of that run's instructions (callgrind, 53 M in all: `selection_cache::decode` 26 M, the drops 9 M).
//! A stored table keeps the entry's bytes and parses a version or a value the first time it is asked for.
//!
//! Stored layout, within one buffer holding the whole cache entry (offsets from `base`, little-endian):
//!
//! ```text
//! u32 n · n × u32 offset of an entry · entries (each `str version · value`, in increasing version order)
//! ```
//!
//! The buffer is checked as a whole by its writer's CRC before a table is made of it (see
//! `selection_cache`), so the bytes are the ones written; an entry that still does not decode (a forged
//! file) is left out of every answer rather than trusted, and nothing here panics on any bytes.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Bound, Index, RangeBounds};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use pep440_rs::Version;
use version_ranges::Ranges;

use crate::index::page_codec::{Reader, Writer};

/// A value a stored table decodes from the bytes after an entry's version.
pub(crate) trait StoredValue: Sized {
    fn read(input: &mut Reader<'_>) -> Option<Self>;
}

/// Releases in strictly increasing version order, each with a `T`.
pub struct VersionTable<T> {
    inner: Inner<T>,
}

enum Inner<T> {
    Owned(Vec<(Version, T)>),
    Stored(Stored<T>),
}

struct Stored<T> {
    read: fn(&mut Reader<'_>) -> Option<T>,
    bytes: Arc<Vec<u8>>,
    base: usize,
    /// Where the entry offsets start in `bytes`.
    index: usize,
    slots: Box<[Slot<T>]>,
}

/// What has been decoded of one entry; `Some(None)` when it does not decode.
struct Slot<T> {
    version: OnceLock<Option<Version>>,
    value: OnceLock<Option<Box<T>>>,
}

impl<T> Default for VersionTable<T> {
    fn default() -> Self {
        VersionTable {
            inner: Inner::Owned(Vec::new()),
        }
    }
}

impl<T> VersionTable<T> {
    /// The table [`write_table`] wrote at `base + at` of `bytes`, its offsets counting from `base`;
    /// `None` unless its count and every offset lie within `bytes` (the entries themselves are
    /// decoded when asked for).
    pub(crate) fn stored(bytes: &Arc<Vec<u8>>, base: usize, at: usize) -> Option<VersionTable<T>>
    where
        T: StoredValue,
    {
        let mut input = Reader(bytes.get(base.checked_add(at)?..)?);
        let count = input.len()?;
        let index = base + at + 4;
        let offsets = bytes.get(index..index.checked_add(count.checked_mul(4)?)?)?;
        let in_bounds = offsets.chunks_exact(4).all(|offset| {
            let offset = u32::from_le_bytes([offset[0], offset[1], offset[2], offset[3]]);
            usize::try_from(offset)
                .ok()
                .and_then(|offset| base.checked_add(offset))
                .is_some_and(|at| at < bytes.len())
        });
        if !in_bounds {
            return None;
        }
        let slots = (0..count)
            .map(|_| Slot {
                version: OnceLock::new(),
                value: OnceLock::new(),
            })
            .collect();
        Some(VersionTable {
            inner: Inner::Stored(Stored {
                read: T::read,
                bytes: bytes.clone(),
                base,
                index,
                slots,
            }),
        })
    }
}

impl<T> Stored<T> {
    /// The bytes of entry `at`, from its version to the end of the buffer.
    fn entry(&self, at: usize) -> Reader<'_> {
        let offset = self.index + at * 4;
        let offset = self
            .bytes
            .get(offset..offset + 4)
            .and_then(|offset| <[u8; 4]>::try_from(offset).ok())
            .map_or(usize::MAX, |offset| {
                usize::try_from(u32::from_le_bytes(offset)).unwrap_or(usize::MAX)
            });
        Reader(
            self.base
                .checked_add(offset)
                .and_then(|start| self.bytes.get(start..))
                .unwrap_or_default(),
        )
    }

    fn version(&self, at: usize) -> Option<&Version> {
        self.slots
            .get(at)?
            .version
            .get_or_init(|| Version::from_str(self.entry(at).str()?).ok())
            .as_ref()
    }
}

impl<T> Stored<T> {
    fn value(&self, at: usize) -> Option<&T> {
        self.slots
            .get(at)?
            .value
            .get_or_init(|| self.decode(at).map(Box::new))
            .as_deref()
    }

    fn decode(&self, at: usize) -> Option<T> {
        let mut input = self.entry(at);
        input.str()?;
        (self.read)(&mut input)
    }
}

impl<T> VersionTable<T> {
    /// How many releases the table holds (a stored entry that does not decode counts too).
    pub fn len(&self) -> usize {
        match &self.inner {
            Inner::Owned(entries) => entries.len(),
            Inner::Stored(stored) => stored.slots.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The positions of the releases within `range`'s bounds, oldest first: a search on versions,
    /// which decodes no value.
    pub fn positions(&self, range: &Ranges<Version>) -> std::ops::Range<usize> {
        let Some((low, high)) = range.bounding_range() else {
            return 0..0;
        };
        let start = match low {
            Bound::Included(version) => self.position(version, false),
            Bound::Excluded(version) => self.position(version, true),
            Bound::Unbounded => 0,
        };
        let end = match high {
            Bound::Included(version) => self.position(version, true),
            Bound::Excluded(version) => self.position(version, false),
            Bound::Unbounded => self.len(),
        };
        start..end.max(start)
    }

    /// The version at position `at`, if it decodes; its value is not decoded.
    pub fn version_at(&self, at: usize) -> Option<&Version> {
        match &self.inner {
            Inner::Owned(entries) => entries.get(at).map(|(version, _)| version),
            Inner::Stored(stored) => stored.version(at),
        }
    }

    /// The value at position `at`, if it decodes.
    pub fn value_at(&self, at: usize) -> Option<&T> {
        match &self.inner {
            Inner::Owned(entries) => entries.get(at).map(|(_, value)| value),
            Inner::Stored(stored) => stored.value(at),
        }
    }

    /// Release number `at`, if it decodes.
    fn at(&self, at: usize) -> Option<(&Version, &T)> {
        match &self.inner {
            Inner::Owned(entries) => entries.get(at).map(|(version, value)| (version, value)),
            Inner::Stored(stored) => Some((stored.version(at)?, stored.value(at)?)),
        }
    }

    /// The number of releases ordered before `version` (or also equal to it, with `equal_too`); a
    /// stored version that does not parse orders first.
    fn position(&self, version: &Version, equal_too: bool) -> usize {
        let before = |at: usize| {
            self.version_at(at)
                .is_none_or(|stored| match stored.cmp(version) {
                    Ordering::Less => true,
                    Ordering::Equal => equal_too,
                    Ordering::Greater => false,
                })
        };
        // A hand-written search: the table's positions, not a slice, are what is searched.
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = low + (high - low) / 2;
            if before(middle) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    pub fn get(&self, version: &Version) -> Option<&T> {
        let at = self.position(version, false);
        match self.at(at)? {
            (found, value) if found == version => Some(value),
            _ => None,
        }
    }

    pub fn contains_key(&self, version: &Version) -> bool {
        self.get(version).is_some()
    }

    /// Every release that decodes, in increasing version order (reverse it for newest first).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Version, &T)> {
        (0..self.len()).filter_map(|at| self.at(at))
    }

    /// The releases within `range`, in increasing version order.
    pub fn range(
        &self,
        range: impl RangeBounds<Version>,
    ) -> impl DoubleEndedIterator<Item = (&Version, &T)> {
        let start = match range.start_bound() {
            Bound::Included(version) => self.position(version, false),
            Bound::Excluded(version) => self.position(version, true),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(version) => self.position(version, true),
            Bound::Excluded(version) => self.position(version, false),
            Bound::Unbounded => self.len(),
        };
        (start..end.max(start)).filter_map(|at| self.at(at))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Version> {
        self.iter().map(|(version, _)| version)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.iter().map(|(_, value)| value)
    }

    /// The newest release, if it decodes.
    pub fn last_key_value(&self) -> Option<(&Version, &T)> {
        self.iter().next_back()
    }

    /// Add or replace `version`'s value. A stored table is decoded in full first: only tables being
    /// built are changed.
    pub fn insert(&mut self, version: Version, value: T) {
        if let Inner::Stored(stored) = &self.inner {
            let decoded = (0..stored.slots.len())
                .filter_map(|at| Some((stored.version(at)?.clone(), stored.decode(at)?)))
                .collect();
            self.inner = Inner::Owned(decoded);
        }
        if let Inner::Owned(entries) = &mut self.inner {
            match entries.binary_search_by(|(existing, _)| existing.cmp(&version)) {
                Ok(at) => entries[at].1 = value,
                Err(at) => entries.insert(at, (version, value)),
            }
        }
    }
}

impl<T> Index<&Version> for VersionTable<T> {
    type Output = T;

    /// # Panics
    ///
    /// When the table holds no decodable `version`, as a map does.
    fn index(&self, version: &Version) -> &T {
        self.get(version).expect("the table holds this version")
    }
}

impl<T> FromIterator<(Version, T)> for VersionTable<T> {
    fn from_iter<I: IntoIterator<Item = (Version, T)>>(entries: I) -> Self {
        let mut table = VersionTable::default();
        for (version, value) in entries {
            table.insert(version, value);
        }
        table
    }
}

impl<T: PartialEq> PartialEq for VersionTable<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for VersionTable<T> {}

impl<T: fmt::Debug> fmt::Debug for VersionTable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Append `entries` (in increasing version order) as a stored table whose offsets count from byte
/// `base` of `out`; `write` appends one value.
pub(crate) fn write_table<'a, T: 'a>(
    out: &mut Writer,
    base: usize,
    entries: impl ExactSizeIterator<Item = (&'a Version, &'a T)>,
    mut write: impl FnMut(&mut Writer, &T),
) {
    let count = entries.len();
    out.len(count);
    let index = out.0.len();
    out.0.resize(index + count * 4, 0);
    for (at, (version, value)) in entries.enumerate() {
        let offset = u32::try_from(out.0.len() - base).unwrap_or(u32::MAX);
        out.0[index + at * 4..index + at * 4 + 4].copy_from_slice(&offset.to_le_bytes());
        out.str(&version.to_string());
        write(out, value);
    }
}
