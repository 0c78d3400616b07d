//! Why each package is in the lock, read back from the `# via` comments of the `requirements.txt` that
//! [`requirements_txt`](super::requirements_txt) writes.
//!
//! PEP 751 has no field for it, so a lock read from `pylock.toml` knows its packages' dependencies but
//! not which ones the input file declared. The SBOM needs exactly that (the image's direct
//! dependencies are the declared requirements), so `fave-lock sbom` restores it from the
//! `requirements.txt` beside the lock, which the same run wrote.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::str::FromStr;

use pep508_rs::PackageName;

use super::Lock;
use crate::resolve::Via;

impl Lock {
    /// Fill each package's `via` from `requirements_txt` (matched by name and version); packages the
    /// file does not list keep what they had. Returns how many packages got a `via`.
    pub fn restore_via(&mut self, requirements_txt: &str) -> usize {
        let vias = read_via(requirements_txt);
        let mut restored = 0;
        for package in &mut self.packages {
            let key = (package.name.clone(), package.version.to_string());
            if let Some(via) = vias.get(&key) {
                package.via.clone_from(via);
                restored += 1;
            }
        }
        restored
    }

    /// The packages some input file names (`# via -r <input>`): the declared requirements.
    pub fn declared(&self) -> BTreeSet<&PackageName> {
        self.packages
            .iter()
            .filter(|package| package.via.iter().any(|via| matches!(via, Via::Input(_))))
            .map(|package| &package.name)
            .collect()
    }
}

/// The `# via` entries of each `name==version` requirement of a fave-lock `requirements.txt`.
fn read_via(text: &str) -> BTreeMap<(PackageName, String), BTreeSet<Via>> {
    let mut vias: BTreeMap<(PackageName, String), BTreeSet<Via>> = BTreeMap::new();
    let mut current: Option<(PackageName, String)> = None;
    for line in text.lines() {
        if !line.starts_with([' ', '\t', '#']) {
            current = pinned(line);
            continue;
        }
        let Some(comment) = line.trim_start().strip_prefix('#') else {
            continue;
        };
        let Some(key) = &current else {
            continue;
        };
        // `# via NAME` (one entry) or `# via` followed by `#   NAME` lines.
        let entry = match comment.trim_start().strip_prefix("via") {
            Some(rest) if rest.is_empty() || rest.starts_with(' ') => rest.trim(),
            _ if line.starts_with([' ', '\t']) => comment.trim(),
            _ => continue,
        };
        if entry.is_empty() {
            continue;
        }
        let via = match entry.strip_prefix("-r ") {
            Some(path) => Via::Input(PathBuf::from(path.trim())),
            None => match PackageName::from_str(entry) {
                Ok(name) => Via::Package(name),
                Err(_) => continue,
            },
        };
        vias.entry(key.clone()).or_default().insert(via);
    }
    vias
}

/// `name==version` at the start of a requirement line, if it is one.
fn pinned(line: &str) -> Option<(PackageName, String)> {
    let (name, rest) = line.split_once("==")?;
    let version = rest
        .split([' ', ';', '\\'])
        .next()
        .filter(|version| !version.is_empty())?;
    let name = PackageName::from_str(name.trim()).ok()?;
    Some((name, version.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    use super::*;
    use crate::lock::{parse_pylock, requirements_txt};

    /// The requirements `base-image/requirements.in` declares, sorted.
    pub(crate) const FAVE_BASE_DECLARED: [&str; 10] = [
        "boto3",
        "httpx",
        "librosa",
        "minio",
        "numpy",
        "onnxruntime",
        "opencv-python-headless",
        "pydantic",
        "scipy",
        "soundfile",
    ];

    const PYLOCK: &str = include_str!("../../locks/fave-base/pylock.toml");
    const REQUIREMENTS: &str = include_str!("../../locks/fave-base/requirements.txt");

    #[test]
    fn the_committed_lock_gets_back_what_requirements_txt_says() {
        let mut lock = parse_pylock(PYLOCK, Path::new("pylock.toml")).unwrap();
        assert!(lock.declared().is_empty(), "pylock.toml records no via");
        assert_eq!(lock.restore_via(REQUIREMENTS), lock.packages.len());
        // Written back, the via comments are the same bytes: nothing lost or invented.
        assert_eq!(requirements_txt(&lock), REQUIREMENTS);
        let declared: Vec<&str> = lock.declared().into_iter().map(AsRef::as_ref).collect();
        assert_eq!(declared, FAVE_BASE_DECLARED);
    }

    #[test]
    fn entries_on_one_line_and_on_many() {
        let text = "# header\n#\nsix==1.17.0 \\\n    --hash=sha256:00\n    # via -r in.txt\n\
                    numpy==2.1.3 ; platform_machine == 'x86_64'\n    # via\n    #   -r a.in\n    #   scipy\n";
        let vias = read_via(text);
        let six = &vias[&(PackageName::from_str("six").unwrap(), "1.17.0".to_string())];
        assert_eq!(
            six.iter().collect::<Vec<_>>(),
            [&Via::Input("in.txt".into())]
        );
        let numpy = &vias[&(PackageName::from_str("numpy").unwrap(), "2.1.3".to_string())];
        assert_eq!(
            numpy.iter().collect::<Vec<_>>(),
            [
                &Via::Input("a.in".into()),
                &Via::Package(PackageName::from_str("scipy").unwrap())
            ]
        );
        assert_eq!(vias.len(), 2);
    }
}
