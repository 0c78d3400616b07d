//! Writing the wheels of one build environment with a few worker threads: several wheels at once, and
//! a big one (torch: 15,000 files, 1.5 GB unpacked) in slices of its entries, each slice reading
//! through its own handle on the file, so that inflating, hashing and the disk's writes of a 3 GB set
//! use every core instead of one (`install.rs` decides what one wheel writes where).
//!
//! Wheels are added as their downloads arrive, in any order, each with its place in the set, and the
//! outcome is the one of installing them one after the other in that order:
//! - a file that two wheels (or two entries of one wheel) ship is written once, with the bytes and mode
//!   of the last in order (pip, and this installer when it was serial, let a later wheel replace an
//!   earlier one's file); each wheel's RECORD lists the hash of its own bytes;
//! - a path one wheel writes as a file and another needs as a folder is a conflict, reported for the
//!   later of the two in order, as the serial installer did;
//! - of several failures the one first in order is reported, and no step after it in order is started.
//!
//! Every path is claimed (in a map shared by the workers) when its wheel is planned, before anything
//! of that wheel is written; a file claimed more than once is only hashed by its claimants while the
//! workers run, and written once, by the last claimant in order, when they are done.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{Read, Write};
use std::ops::Range;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use base64::Engine;
use sha2::{Digest, Sha256};

use super::install::{
    self, Checked, Content, Hashing, InstallError, Installed, Layout, Step, WheelPlan,
};
use crate::index::zip::{Entry, ZipError};
use crate::index::zip_file::{self, ZipFileError};

/// A worker takes a wheel's steps in slices of at most this many unpacked bytes or steps: torch makes
/// some fifty, enough for the workers to share one wheel evenly, few enough that each slice reads a
/// long run of the archive.
const SLICE_LEN: u64 = 32 << 20;
const SLICE_STEPS: usize = 512;
/// The most worker threads, whatever the machine.
const MAX_WORKERS: usize = 8;

/// Where a step stands in the one-after-the-other order: the wheel's place in the set, then the
/// step's place in its wheel (0 is the wheel's planning, 1 its first step).
type Slot = (usize, usize);

/// [`Slot`] as one number, for the lock-free "has a step before this one failed?".
fn slot_key((order, step): Slot) -> u64 {
    ((order as u64) << 32) | (step as u64 & 0xffff_ffff)
}

/// A poisoned lock still holds consistent data here (each holder finishes its update before
/// anything can panic), and a worker's panic must not stop the others from draining the queue.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Installs wheels into one new environment with worker threads (see the module's comment). A file an
/// earlier wheel wrote may be replaced by a later one; anything else already there (the venv's own
/// `bin/python`, a symbolic link to the base interpreter) is a conflict, never written through.
pub(super) struct Installer {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// The wheels added since the last [`Installer::wait`], by place.
    added: BTreeMap<usize, Arc<str>>,
    /// The place [`Installer::install`] gives the next wheel.
    next_order: usize,
}

impl Installer {
    /// An installer with a worker per core and one more, whose writes overlap the others' inflating.
    pub fn new(layout: Layout) -> Installer {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Installer::with_workers(layout, (cores + 1).min(MAX_WORKERS))
    }

    /// An installer with `count` worker threads (at least one).
    pub fn with_workers(layout: Layout, count: usize) -> Installer {
        let shared = Arc::new(Shared {
            layout,
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
            dropped: AtomicBool::new(false),
            claims: Mutex::new(Claims::default()),
            failure: Mutex::new(None),
            first_failure: AtomicU64::new(u64::MAX),
            installed: Mutex::new(BTreeMap::new()),
        });
        let workers = (0..count.max(1))
            .map(|_| {
                let shared = shared.clone();
                std::thread::spawn(move || shared.work())
            })
            .collect();
        Installer {
            shared,
            workers,
            added: BTreeMap::new(),
            next_order: 0,
        }
    }

    /// Start installing the wheel at `path` (named `filename` on the index), `order`th of the set.
    /// Does not block.
    pub fn add(&mut self, order: usize, path: PathBuf, filename: &str) {
        let filename: Arc<str> = filename.into();
        self.added.insert(order, filename.clone());
        self.next_order = self.next_order.max(order + 1);
        // Before any slice queued: the sooner a wheel is planned, the sooner its slices can run.
        self.shared.push(
            Job::Plan {
                order,
                path,
                filename,
            },
            true,
        );
    }

    /// Wait until every wheel added is installed: what each put where, in order, or the failure first
    /// in order. Blocking: call it off the async threads.
    pub fn wait(&mut self) -> Result<Vec<Installed>, InstallError> {
        {
            let mut queue = lock(&self.shared.queue);
            while !queue.jobs.is_empty() || queue.running > 0 {
                queue = self
                    .shared
                    .changed
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        self.shared.settle();
        let added = std::mem::take(&mut self.added);
        let mut installed = std::mem::take(&mut *lock(&self.shared.installed));
        let failure = lock(&self.shared.failure).take();
        self.shared.first_failure.store(u64::MAX, Ordering::Release);
        if let Some((_, error)) = failure {
            return Err(error);
        }
        added
            .into_iter()
            .map(|(order, filename)| {
                installed
                    .remove(&order)
                    .ok_or_else(|| InstallError::Invalid {
                        wheel: filename.to_string(),
                        reason: "the installer stopped before it was written".to_string(),
                    })
            })
            .collect()
    }

    /// Install the wheel at `path` (named `filename` on the index) after the ones before, and wait
    /// for it: the serial installer's call, kept for the tests that compare with it. Blocking.
    #[cfg(test)]
    pub fn install(&mut self, path: &Path, filename: &str) -> Result<Installed, InstallError> {
        self.add(self.next_order, path.to_path_buf(), filename);
        let mut installed = self.wait()?;
        Ok(installed.remove(0))
    }
}

impl Drop for Installer {
    fn drop(&mut self) {
        // The slices being written stop at their next file: a drop (a failed download, a build
        // out of time) waits for one file per worker, not for the rest of torch.
        self.shared.dropped.store(true, Ordering::Release);
        lock(&self.shared.queue).closed = true;
        self.shared.changed.notify_all();
        for worker in self.workers.drain(..) {
            // A worker that panicked has said so on stderr already.
            let _ = worker.join();
        }
    }
}

/// What the workers share.
struct Shared {
    layout: Layout,
    queue: Mutex<Queue>,
    /// A job was queued, the queue was drained, or it was closed.
    changed: Condvar,
    /// The installer is dropped.
    dropped: AtomicBool,
    claims: Mutex<Claims>,
    /// The failure first in order so far.
    failure: Mutex<Option<(Slot, InstallError)>>,
    /// Its [`slot_key`], `u64::MAX` when none.
    first_failure: AtomicU64,
    /// The wheels installed, by place.
    installed: Mutex<BTreeMap<usize, Installed>>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Jobs taken by a worker and not done yet.
    running: usize,
    /// The installer is dropped: the workers stop.
    closed: bool,
}

enum Job {
    /// Read a wheel's directory, decide where its files go, claim them and queue its slices.
    Plan {
        order: usize,
        path: PathBuf,
        filename: Arc<str>,
    },
    /// Write these steps of a planned wheel.
    Slice {
        wheel: Arc<Wheel>,
        steps: Range<usize>,
    },
}

/// A planned wheel being written.
struct Wheel {
    order: usize,
    filename: Arc<str>,
    path: PathBuf,
    dist_info: String,
    /// The plan's steps, RECORD last (unless `entry_points.txt` failed: then there is none).
    steps: Vec<Step>,
    has_record: bool,
    /// The steps not done yet but RECORD: the slice that does the last writes RECORD.
    remaining: AtomicUsize,
    /// What RECORD lists: each file relative to the root ─▶ (its step, hash, length); the last step in
    /// order of several writing one path is the one its RECORD names, as when they were written in
    /// order.
    record: Mutex<BTreeMap<PathBuf, (usize, String, u64)>>,
}

/// Every path of the environment that a step writes as a file or needs as a folder, relative to the
/// root.
#[derive(Default)]
struct Claims {
    paths: HashMap<PathBuf, Claim>,
    /// The files with deferred steps, settled once the workers are done.
    contested: Vec<PathBuf>,
}

#[derive(Default)]
struct Claim {
    file: Option<FileClaim>,
    /// The first step in order that needs a folder here, and its wheel.
    folder: Option<(Slot, Arc<str>)>,
}

struct FileClaim {
    /// The first step in order that writes this file, and its wheel.
    first: (Slot, Arc<str>),
    /// How many steps write it.
    writers: usize,
    /// The step whose bytes are on disk (or being written).
    written_by: Option<Slot>,
    /// Steps that only hashed their bytes because the file has other writers: the last in order writes
    /// them once the workers are done.
    deferred: Vec<(Slot, Arc<Wheel>, usize)>,
}

/// Why a step wrote nothing.
enum Failure {
    Install(InstallError),
    /// It met a path that another step of the set wants as the other kind (file or folder): that
    /// conflict was reported, for the step later in order, when the paths were claimed.
    Clash,
}

impl From<InstallError> for Failure {
    fn from(error: InstallError) -> Failure {
        Failure::Install(error)
    }
}

/// Where a step's bytes go: its new file, or nowhere when another step writes the file.
enum Out {
    File(File),
    Discard,
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Out::File(file) => file.write(buf),
            Out::Discard => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::File(file) => file.flush(),
            Out::Discard => Ok(()),
        }
    }
}

impl Shared {
    fn push(&self, job: Job, first: bool) {
        let mut queue = lock(&self.queue);
        if first {
            queue.jobs.push_front(job);
        } else {
            queue.jobs.push_back(job);
        }
        drop(queue);
        self.changed.notify_all();
    }

    /// A worker: take jobs until the installer is dropped.
    fn work(&self) {
        loop {
            let job = {
                let mut queue = lock(&self.queue);
                loop {
                    if queue.closed {
                        return;
                    }
                    if let Some(job) = queue.jobs.pop_front() {
                        queue.running += 1;
                        break job;
                    }
                    queue = self
                        .changed
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            // Counted as done even when it panics, and the worker goes on (the panic hook has
            // printed it): `wait` returns and reports the wheel that was not finished, instead of
            // waiting for jobs no worker is left to take.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run(job)));
            let mut queue = lock(&self.queue);
            queue.running -= 1;
            let drained = queue.jobs.is_empty() && queue.running == 0;
            drop(queue);
            if drained {
                self.changed.notify_all();
            }
        }
    }

    fn run(&self, job: Job) {
        match job {
            Job::Plan {
                order,
                path,
                filename,
            } => self.plan(order, path, filename),
            Job::Slice { wheel, steps } => {
                let mut buffer = vec![0; 64 << 10];
                let count = steps.len();
                for index in steps {
                    if self.dropped.load(Ordering::Acquire) {
                        return;
                    }
                    self.step(&wheel, index, &mut buffer);
                }
                if wheel.remaining.fetch_sub(count, Ordering::AcqRel) == count && wheel.has_record {
                    self.finish(&wheel, &mut buffer);
                }
            }
        }
    }

    fn failed_before(&self, slot: Slot) -> bool {
        self.first_failure.load(Ordering::Acquire) < slot_key(slot)
    }

    fn fail(&self, slot: Slot, error: InstallError) {
        let mut failure = lock(&self.failure);
        if failure.as_ref().is_none_or(|(first, _)| slot < *first) {
            *failure = Some((slot, error));
            self.first_failure.store(slot_key(slot), Ordering::Release);
        }
    }

    fn relative_to_root(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.layout.root)
            .unwrap_or(path)
            .to_path_buf()
    }

    fn plan(&self, order: usize, path: PathBuf, filename: Arc<str>) {
        if self.failed_before((order, 0)) {
            return;
        }
        let WheelPlan {
            dist_info,
            steps,
            late_error,
        } = match install::plan_wheel(&self.layout, &path, &filename) {
            Ok(plan) => plan,
            Err(error) => return self.fail((order, 0), error),
        };
        let has_record = late_error.is_none();
        if let Some(error) = late_error {
            self.fail((order, steps.len() + 1), error);
        }
        let written = steps.len() - usize::from(has_record);
        let wheel = Arc::new(Wheel {
            order,
            filename,
            path,
            dist_info,
            steps,
            has_record,
            remaining: AtomicUsize::new(written),
            record: Mutex::new(BTreeMap::new()),
        });
        self.claim(&wheel);
        let mut start = 0;
        let mut len = 0;
        for index in 0..written {
            if let Content::Entry { entry, .. } = &wheel.steps[index].content {
                len += entry.uncompressed_len;
            }
            if len >= SLICE_LEN || index + 1 - start >= SLICE_STEPS || index + 1 == written {
                self.push(
                    Job::Slice {
                        wheel: wheel.clone(),
                        steps: start..index + 1,
                    },
                    false,
                );
                start = index + 1;
                len = 0;
            }
        }
        if written == 0 && has_record {
            self.finish(&wheel, &mut vec![0; 64 << 10]);
        }
    }

    /// Claim every path the wheel's steps write, and the folders on their way; a file/folder clash
    /// with another step is reported for the later of the two in order.
    fn claim(&self, wheel: &Wheel) {
        let mut clashes = Vec::new();
        let mut claims = lock(&self.claims);
        for (index, step) in wheel.steps.iter().enumerate() {
            let slot = (wheel.order, index + 1);
            let mut folder = step.base.clone();
            let mut parts: Vec<_> = step.relative.iter().collect();
            let name = parts.pop();
            for part in parts {
                folder.push(part);
                let key = self.relative_to_root(&folder);
                let claim = claims.paths.entry(key.clone()).or_default();
                if claim.folder.as_ref().is_none_or(|(first, _)| slot < *first) {
                    claim.folder = Some((slot, wheel.filename.clone()));
                }
                clashes.extend(claim.clash(&key));
            }
            let Some(name) = name else { continue };
            let key = self.relative_to_root(&folder.join(name));
            let claim = claims.paths.entry(key.clone()).or_default();
            match &mut claim.file {
                None => {
                    claim.file = Some(FileClaim {
                        first: (slot, wheel.filename.clone()),
                        writers: 1,
                        written_by: None,
                        deferred: Vec::new(),
                    });
                }
                Some(file) => {
                    file.writers += 1;
                    if slot < file.first.0 {
                        file.first = (slot, wheel.filename.clone());
                    }
                }
            }
            clashes.extend(claim.clash(&key));
        }
        drop(claims);
        for (slot, wheel, path) in clashes {
            self.fail(
                slot,
                InstallError::Conflict {
                    wheel: wheel.to_string(),
                    path: self.layout.root.join(path),
                },
            );
        }
    }

    /// Whether `path` (below the root) is wanted as a file by one step and as a folder by another.
    fn is_clash(&self, path: &Path) -> bool {
        let key = self.relative_to_root(path);
        lock(&self.claims)
            .paths
            .get(&key)
            .is_some_and(|claim| claim.file.is_some() && claim.folder.is_some())
    }

    /// Whether the step at `slot` writes its file now (it is the file's only writer so far), or only
    /// hashes its bytes and leaves the writing to [`Shared::settle`].
    fn decide(&self, key: &Path, slot: Slot, wheel: &Arc<Wheel>, index: usize) -> bool {
        let mut claims = lock(&self.claims);
        let Some(file) = claims
            .paths
            .get_mut(key)
            .and_then(|claim| claim.file.as_mut())
        else {
            return true;
        };
        if file.writers == 1 && file.written_by.is_none() {
            file.written_by = Some(slot);
            return true;
        }
        file.deferred.push((slot, wheel.clone(), index));
        if file.deferred.len() == 1 {
            claims.contested.push(key.to_path_buf());
        }
        false
    }

    fn step(&self, wheel: &Arc<Wheel>, index: usize, buffer: &mut [u8]) {
        let slot = (wheel.order, index + 1);
        if self.failed_before(slot) {
            return;
        }
        let step = &wheel.steps[index];
        let key = self.relative_to_root(&step.base.join(&step.relative));
        let write = self.decide(&key, slot, wheel, index);
        match self.put(wheel, step, write, false, buffer) {
            Ok((hash, len)) => {
                let mut record = lock(&wheel.record);
                if record.get(&key).is_none_or(|(last, _, _)| *last < index) {
                    record.insert(key, (index, hash, len));
                }
            }
            Err(Failure::Install(error)) => self.fail(slot, error),
            Err(Failure::Clash) => {}
        }
    }

    /// RECORD, once every other step of the wheel is done.
    fn finish(&self, wheel: &Arc<Wheel>, buffer: &mut [u8]) {
        let index = wheel.steps.len() - 1;
        self.step(wheel, index, buffer);
        let files = lock(&wheel.record).keys().cloned().collect();
        lock(&self.installed).insert(
            wheel.order,
            Installed {
                dist_info: wheel.dist_info.clone(),
                files,
            },
        );
    }

    /// Write each file that several steps write, once, with the bytes of the last of them in order.
    fn settle(&self) {
        let mut contested = std::mem::take(&mut lock(&self.claims).contested);
        contested.sort();
        let mut buffer = vec![0; 64 << 10];
        for key in contested {
            let mut claims = lock(&self.claims);
            let Some(file) = claims
                .paths
                .get_mut(&key)
                .and_then(|claim| claim.file.as_mut())
            else {
                continue;
            };
            let deferred = std::mem::take(&mut file.deferred);
            let Some((slot, wheel, index)) = deferred.into_iter().max_by_key(|(slot, ..)| *slot)
            else {
                continue;
            };
            let written_by = file.written_by;
            if written_by.is_some_and(|written| written > slot) {
                continue;
            }
            file.written_by = Some(slot);
            let first = file.first.clone();
            drop(claims);
            if self.failed_before(slot) {
                continue;
            }
            let target = self.layout.root.join(&key);
            // Nobody wrote it yet, yet something is there: the venv's, met first by the first writer.
            if written_by.is_none()
                && std::fs::symlink_metadata(&target).is_ok()
                && !self.is_clash(&target)
            {
                self.fail(
                    first.0,
                    InstallError::Conflict {
                        wheel: first.1.to_string(),
                        path: target,
                    },
                );
                continue;
            }
            let replace = written_by.is_some();
            if let Err(Failure::Install(error)) =
                self.put(&wheel, &wheel.steps[index], true, replace, &mut buffer)
            {
                self.fail(slot, error);
            }
        }
    }

    /// Write (or, when `write` is false, only hash) one step's bytes: RECORD's urlsafe base64 SHA-256
    /// of them and their length.
    fn put(
        &self,
        wheel: &Wheel,
        step: &Step,
        write: bool,
        replace: bool,
        buffer: &mut [u8],
    ) -> Result<(String, u64), Failure> {
        let record;
        let bytes: &[u8] = match &step.content {
            Content::Entry { entry, script } => {
                return self.extract(wheel, step, entry, *script, (write, replace), buffer);
            }
            Content::Bytes(bytes) => bytes,
            Content::Record => {
                // Without RECORD's own line, which only a second writer of it (settling) finds.
                let own = self.relative_to_root(&step.base.join(&step.relative));
                let files = lock(&wheel.record);
                let files = files
                    .iter()
                    .filter(|(path, _)| **path != own)
                    .map(|(path, (_, hash, len))| (path, hash.as_str(), *len));
                record = install::record_text(&self.layout, &wheel.dist_info, files);
                record.as_bytes()
            }
        };
        let (target, mut out) = self.create(wheel, step, write, replace)?;
        out.write_all(bytes)
            .map_err(|error| write_error(wheel, &target, error))?;
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes));
        Ok((hash, bytes.len() as u64))
    }

    /// Stream one entry into its place, checking its size and CRC-32; a script's `#!python` line names
    /// the environment's interpreter instead.
    fn extract(
        &self,
        wheel: &Wheel,
        step: &Step,
        entry: &Entry,
        script: bool,
        (write, replace): (bool, bool),
        buffer: &mut [u8],
    ) -> Result<(String, u64), Failure> {
        let read_error = |source: ZipFileError| InstallError::Read {
            wheel: wheel.filename.to_string(),
            source,
        };
        let inflate_error = |error: std::io::Error| {
            read_error(
                ZipError::Inflate {
                    name: entry.name.clone(),
                    message: error.to_string(),
                }
                .into(),
            )
        };
        let file = File::open(&wheel.path).map_err(|error| read_error(error.into()))?;
        let reader = zip_file::entry_reader(file, entry).map_err(read_error)?;
        let mut source = Checked::new(reader);
        let head = if script {
            install::script_head(&mut source, &self.layout.python()).map_err(inflate_error)?
        } else {
            Vec::new()
        };
        let (target, out) = self.create(wheel, step, write, replace)?;
        let mut sink = Hashing::new(out);
        sink.write_all(&head)
            .map_err(|error| write_error(wheel, &target, error))?;
        loop {
            let read = source.read(buffer).map_err(inflate_error)?;
            if read == 0 {
                break;
            }
            sink.write_all(&buffer[..read])
                .map_err(|error| write_error(wheel, &target, error))?;
        }
        source
            .finish(entry)
            .map_err(|error| read_error(error.into()))?;
        Ok(sink.finish())
    }

    /// Create the step's file (when `write`), making the folders on the way one at a time: a component
    /// that exists must be a real folder, never a symbolic link (a venv's `lib64` is one). Only when
    /// `replace` may a file be there already (one an earlier wheel of the set wrote).
    fn create(
        &self,
        wheel: &Wheel,
        step: &Step,
        write: bool,
        replace: bool,
    ) -> Result<(PathBuf, Out), Failure> {
        let target = step.base.join(&step.relative);
        if !write {
            return Ok((target, Out::Discard));
        }
        let conflict = |path: &Path| {
            if self.is_clash(path) {
                Failure::Clash
            } else {
                Failure::Install(InstallError::Conflict {
                    wheel: wheel.filename.to_string(),
                    path: path.to_path_buf(),
                })
            }
        };
        let mut parts: Vec<&std::ffi::OsStr> = step.relative.iter().collect();
        let name = parts.pop().ok_or_else(|| conflict(&step.base))?;
        std::fs::create_dir_all(&step.base)
            .map_err(|error| write_error(wheel, &step.base, error))?;
        let mut folder = step.base.clone();
        for part in parts {
            folder.push(part);
            match std::fs::symlink_metadata(&folder) {
                Ok(meta) if meta.file_type().is_dir() => {}
                Ok(_) => return Err(conflict(&folder)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    match std::fs::create_dir(&folder) {
                        Ok(()) => {}
                        // Another worker made it meanwhile: fine if it is a real folder.
                        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                            if !std::fs::symlink_metadata(&folder)
                                .is_ok_and(|meta| meta.file_type().is_dir())
                            {
                                return Err(conflict(&folder));
                            }
                        }
                        Err(error) => return Err(self.io_failure(wheel, &folder, error)),
                    }
                }
                Err(error) => return Err(self.io_failure(wheel, &folder, error)),
            }
        }
        let target = folder.join(name);
        match std::fs::symlink_metadata(&target) {
            Ok(meta) if replace && meta.file_type().is_file() => {
                std::fs::remove_file(&target)
                    .map_err(|error| write_error(wheel, &target, error))?;
            }
            Ok(_) => return Err(conflict(&target)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(write_error(wheel, &target, error).into()),
        }
        // O_EXCL: never through a symbolic link, never over something that appeared meanwhile.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(step.mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&target)
            .map_err(|error| self.io_failure(wheel, &target, error))?;
        Ok((target, Out::File(file)))
    }

    /// A write error, unless `path` is one of the set's file/folder clashes: then another worker made
    /// the other kind there between this one's look and its write (reported already).
    fn io_failure(&self, wheel: &Wheel, path: &Path, error: std::io::Error) -> Failure {
        if self.is_clash(path) {
            Failure::Clash
        } else {
            Failure::Install(write_error(wheel, path, error))
        }
    }
}

impl Claim {
    /// The conflict when this path is wanted both as a file and as a folder: for the later in order of
    /// the first file writer and the first folder user (the one that, installing in order, would
    /// have found the other's file or folder there).
    fn clash(&self, key: &Path) -> Option<(Slot, Arc<str>, PathBuf)> {
        let (file, folder) = (self.file.as_ref()?, self.folder.as_ref()?);
        let (slot, wheel) = if file.first.0 > folder.0 {
            &file.first
        } else {
            folder
        };
        Some((*slot, wheel.clone(), key.to_path_buf()))
    }
}

fn write_error(wheel: &Wheel, path: &Path, source: std::io::Error) -> InstallError {
    InstallError::Write {
        wheel: wheel.filename.to_string(),
        path: path.to_path_buf(),
        source,
    }
}
