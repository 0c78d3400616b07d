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

/// A value a stored table holds after each entry's version.
pub(crate) trait StoredValue: Sized {
    fn read(input: &mut Reader<'_>) -> Option<Self>;
    fn write(&self, out: &mut Writer);
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
    /// `None` unless its count and offsets lie within `bytes` (the entries themselves are decoded
    /// when asked for).
    pub(crate) fn stored(bytes: &Arc<Vec<u8>>, base: usize, at: usize) -> Option<VersionTable<T>>
    where
        T: StoredValue,
    {
        let mut input = Reader(bytes.get(base.checked_add(at)?..)?);
        let count = input.len()?;
        let index = base + at + 4;
        // The offsets must be there; each is checked when its entry is read (see `Stored::entry`).
        bytes.get(index..index.checked_add(count.checked_mul(4)?)?)?;
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

    /// The releases whose version lies in `range`, newest first, as (position, version): a search on
    /// versions, which decodes no value (take one with [`VersionTable::value_at`]).
    pub fn newest_in<'t, 'r>(
        &'t self,
        range: &'r Ranges<Version>,
    ) -> impl Iterator<Item = (usize, &'t Version)> + use<'t, 'r, T> {
        let span = match range.bounding_range() {
            Some((low, high)) => self.span(low, high),
            None => 0..0,
        };
        span.rev().filter_map(move |at| {
            let version = self.version_at(at)?;
            range.contains(version).then_some((at, version))
        })
    }

    /// The positions of the releases between `low` and `high`.
    fn span(&self, low: Bound<&Version>, high: Bound<&Version>) -> std::ops::Range<usize> {
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
    fn version_at(&self, at: usize) -> Option<&Version> {
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
        Some((self.version_at(at)?, self.value_at(at)?))
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

    /// Every release that decodes, in increasing version order (reverse it for newest first).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Version, &T)> {
        (0..self.len()).filter_map(|at| self.at(at))
    }

    /// The releases within `range`, in increasing version order.
    pub fn range(
        &self,
        range: impl RangeBounds<Version>,
    ) -> impl DoubleEndedIterator<Item = (&Version, &T)> {
        self.span(range.start_bound(), range.end_bound())
            .filter_map(|at| self.at(at))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Version> {
        self.iter().map(|(version, _)| version)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.iter().map(|(_, value)| value)
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

/// Append `table`'s releases as a stored table whose offsets count from byte `base` of `out`.
pub(crate) fn write_table<T: StoredValue>(out: &mut Writer, base: usize, table: &VersionTable<T>) {
    let entries: Vec<_> = table.iter().collect();
    out.len(entries.len());
    let index = out.0.len();
    out.0.resize(index + entries.len() * 4, 0);
    for (at, (version, value)) in entries.into_iter().enumerate() {
        patch_offset(out, index + at * 4, base);
        out.str(&version.to_string());
        value.write(out);
    }
}

/// Write where `out` ends now, counted from `base`, into the four bytes at `slot`.
pub(crate) fn patch_offset(out: &mut Writer, slot: usize, base: usize) {
    let offset = u32::try_from(out.0.len() - base).unwrap_or(u32::MAX);
    out.0[slot..slot + 4].copy_from_slice(&offset.to_le_bytes());
}
