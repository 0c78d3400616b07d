//! pip's preference order of wheel tags for a CPython interpreter on manylinux: the sequence
//! `packaging.tags.sys_tags()` yields, earliest most preferred.
//!
//! That sequence is a product: `(python, abi)` pairs in an outer loop, platforms in an inner one, followed by
//! the pure-Python pairs with platform `any`. Keeping the two factors apart lets [`crate::tags::Tags`] rank a
//! tag with two small lookups instead of one map over the whole product.

use super::platform::Platform;
use super::python_version::PythonVersion;

/// A `(python, abi)` tag pair.
pub(super) type Pair = (String, String);

/// The pairs that combine with every platform tag, in pip's order (`packaging.tags.cpython_tags`, then the
/// first loop of `compatible_tags`):
///
/// `cp311-cp311`, `cp311-abi3`, `cp311-none`, `cp310-abi3` … `cp32-abi3`, `py311-none`, `py3-none`,
/// `py310-none` … `py30-none`.
///
/// Older CPython versions' `abi3` wheels are accepted because the stable ABI only grows; the range stops at
/// 3.2, the first version with a stable ABI. Debug (`cp311d`) and free-threaded (`cp311t`) ABIs are absent:
/// the images run the default build.
pub(super) fn platform_pairs(python: PythonVersion) -> Vec<Pair> {
    let interpreter = format!("cp{}", python.nodot());
    let mut pairs = vec![
        (interpreter.clone(), interpreter.clone()),
        (interpreter.clone(), "abi3".to_owned()),
        (interpreter, "none".to_owned()),
    ];
    for minor in (2..python.minor).rev() {
        pairs.push((format!("cp{}{minor}", python.major), "abi3".to_owned()));
    }
    pairs.extend(generic_pythons(python).map(|tag| (tag, "none".to_owned())));
    pairs
}

/// The pairs that are installable with platform `any`, in pip's order (the tail of
/// `packaging.tags.compatible_tags`): `cp311-none`, `py311-none`, `py3-none`, `py310-none` … `py30-none`.
pub(super) fn any_pairs(python: PythonVersion) -> Vec<Pair> {
    let interpreter = format!("cp{}", python.nodot());
    std::iter::once(interpreter)
        .chain(generic_pythons(python))
        .map(|tag| (tag, "none".to_owned()))
        .collect()
}

/// Interpreter-independent python tags, most specific first (`packaging.tags._py_interpreter_range`):
/// `py311`, `py3`, `py310` … `py30`.
fn generic_pythons(python: PythonVersion) -> impl Iterator<Item = String> {
    let PythonVersion { major, minor } = python;
    [format!("py{major}{minor}"), format!("py{major}")]
        .into_iter()
        .chain(
            (0..minor)
                .rev()
                .map(move |older| format!("py{major}{older}")),
        )
}

/// Platform tags in pip's order, each rank a list of equivalent spellings: `manylinux_2_G_arch` down to the
/// architecture's oldest manylinux, then `linux_arch`.
///
/// A legacy alias (`manylinux2014` = 2.17, `manylinux2010` = 2.12, `manylinux1` = 2.5, PEP 600) shares its
/// glibc version's rank: the two names promise the same thing, and projects tag one wheel with both.
/// `linux_arch` comes last as in pip, which would install such a wheel on a Linux host; PyPI refuses them,
/// so they appear only on other indexes. `musllinux` tags never appear: the images use glibc.
pub(super) fn platform_ranks(platform: Platform) -> Vec<Vec<String>> {
    let arch = platform.arch;
    let (major, oldest_minor) = arch.oldest_glibc();
    let mut ranks: Vec<Vec<String>> = (oldest_minor..=platform.glibc.1)
        .rev()
        .map(|minor| {
            let mut spellings = vec![format!("manylinux_{major}_{minor}_{arch}")];
            spellings
                .extend(legacy_manylinux((major, minor)).map(|alias| format!("{alias}_{arch}")));
            spellings
        })
        .collect();
    ranks.push(vec![format!("linux_{arch}")]);
    ranks
}

/// The pre-PEP 600 name of a glibc version's manylinux policy, if it had one.
fn legacy_manylinux(glibc: (u16, u16)) -> Option<&'static str> {
    match glibc {
        (2, 17) => Some("manylinux2014"),
        (2, 12) => Some("manylinux2010"),
        (2, 5) => Some("manylinux1"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::Arch;

    const CP311: PythonVersion = PythonVersion {
        major: 3,
        minor: 11,
    };

    fn joined(pairs: &[Pair]) -> Vec<String> {
        pairs
            .iter()
            .map(|(python, abi)| format!("{python}-{abi}"))
            .collect()
    }

    #[test]
    fn orders_pairs_like_pip() {
        insta::assert_snapshot!(joined(&platform_pairs(CP311)).join(" "), @"cp311-cp311 cp311-abi3 cp311-none cp310-abi3 cp39-abi3 cp38-abi3 cp37-abi3 cp36-abi3 cp35-abi3 cp34-abi3 cp33-abi3 cp32-abi3 py311-none py3-none py310-none py39-none py38-none py37-none py36-none py35-none py34-none py33-none py32-none py31-none py30-none");
        insta::assert_snapshot!(joined(&any_pairs(CP311)).join(" "), @"cp311-none py311-none py3-none py310-none py39-none py38-none py37-none py36-none py35-none py34-none py33-none py32-none py31-none py30-none");
    }

    #[test]
    fn orders_x86_64_platforms_like_pip() {
        let platform = Platform::new(Arch::X86_64, (2, 18)).unwrap();
        let ranks: Vec<String> = platform_ranks(platform)
            .iter()
            .map(|rank| rank.join("="))
            .collect();
        insta::assert_snapshot!(ranks.join(" "), @"manylinux_2_18_x86_64 manylinux_2_17_x86_64=manylinux2014_x86_64 manylinux_2_16_x86_64 manylinux_2_15_x86_64 manylinux_2_14_x86_64 manylinux_2_13_x86_64 manylinux_2_12_x86_64=manylinux2010_x86_64 manylinux_2_11_x86_64 manylinux_2_10_x86_64 manylinux_2_9_x86_64 manylinux_2_8_x86_64 manylinux_2_7_x86_64 manylinux_2_6_x86_64 manylinux_2_5_x86_64=manylinux1_x86_64 linux_x86_64");
    }

    #[test]
    fn stops_aarch64_at_manylinux2014() {
        let platform = Platform::new(Arch::Aarch64, (2, 19)).unwrap();
        let ranks: Vec<String> = platform_ranks(platform)
            .iter()
            .map(|rank| rank.join("="))
            .collect();
        insta::assert_snapshot!(ranks.join(" "), @"manylinux_2_19_aarch64 manylinux_2_18_aarch64 manylinux_2_17_aarch64=manylinux2014_aarch64 linux_aarch64");
    }
}
