//! Compatibility and priority against pip's behaviour for the images' real target, CPython 3.11.

use super::*;
use crate::tags::Arch;

/// The tags of CPython 3.11 on `platform` (`x86_64-manylinux_2_36`).
fn tags(platform: &str) -> Tags {
    Tags::new("3.11".parse().unwrap(), platform.parse().unwrap())
}

fn compatibility(tags: &Tags, filename: &str) -> TagCompatibility {
    let wheel: WheelFilename = filename.parse().unwrap_or_else(|error| panic!("{error}"));
    tags.compatibility(&wheel)
}

/// The wheel of `filenames` that `max()` picks, as pip would.
fn best<'a>(tags: &Tags, filenames: &[&'a str]) -> &'a str {
    let best = filenames
        .iter()
        .max_by_key(|filename| compatibility(tags, filename))
        .unwrap();
    assert!(
        compatibility(tags, best).is_compatible(),
        "no wheel of {filenames:?} fits"
    );
    best
}

fn incompatible(tag: IncompatibleTag) -> TagCompatibility {
    TagCompatibility::Incompatible(tag)
}

#[test]
fn ranks_tags_in_pips_order() {
    let tags = tags("x86_64-manylinux_2_36");
    let descending = [
        "a-1-cp311-cp311-manylinux_2_36_x86_64.whl",
        "a-1-cp311-cp311-manylinux_2_28_x86_64.whl",
        "a-1-cp311-cp311-manylinux_2_17_x86_64.whl",
        "a-1-cp311-cp311-manylinux_2_5_x86_64.whl",
        "a-1-cp311-cp311-linux_x86_64.whl",
        "a-1-cp311-abi3-manylinux_2_36_x86_64.whl",
        "a-1-cp311-abi3-manylinux_2_17_x86_64.whl",
        "a-1-cp311-none-manylinux_2_17_x86_64.whl",
        "a-1-cp310-abi3-manylinux_2_28_x86_64.whl",
        "a-1-cp39-abi3-manylinux_2_17_x86_64.whl",
        "a-1-cp32-abi3-manylinux1_x86_64.whl",
        "a-1-py311-none-manylinux_2_17_x86_64.whl",
        "a-1-py3-none-manylinux_2_31_x86_64.whl",
        "a-1-py310-none-manylinux_2_31_x86_64.whl",
        "a-1-py30-none-linux_x86_64.whl",
        "a-1-cp311-none-any.whl",
        "a-1-py311-none-any.whl",
        "a-1-py3-none-any.whl",
        "a-1-py310-none-any.whl",
        "a-1-py30-none-any.whl",
    ];
    let priorities: Vec<TagCompatibility> = descending
        .iter()
        .map(|name| compatibility(&tags, name))
        .collect();
    for (index, pair) in priorities.windows(2).enumerate() {
        assert!(
            pair[0] > pair[1],
            "{} should beat {}",
            descending[index],
            descending[index + 1]
        );
    }
    assert!(priorities.iter().all(|priority| priority.is_compatible()));
}

#[test]
fn ranks_legacy_aliases_like_their_pep600_names() {
    let tags = tags("x86_64-manylinux_2_36");
    let same = |left: &str, right: &str| {
        assert_eq!(
            compatibility(&tags, left),
            compatibility(&tags, right),
            "{left} vs {right}"
        );
    };
    same(
        "a-1-cp311-cp311-manylinux2014_x86_64.whl",
        "a-1-cp311-cp311-manylinux_2_17_x86_64.whl",
    );
    same(
        "a-1-cp311-cp311-manylinux2010_x86_64.whl",
        "a-1-cp311-cp311-manylinux_2_12_x86_64.whl",
    );
    same(
        "a-1-cp311-cp311-manylinux1_x86_64.whl",
        "a-1-cp311-cp311-manylinux_2_5_x86_64.whl",
    );
    same(
        "numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.whl",
    );
}

#[test]
fn gives_compressed_sets_their_best_triple() {
    let tags = tags("x86_64-manylinux_2_36");
    assert_eq!(
        compatibility(
            &tags,
            "a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl"
        ),
        compatibility(&tags, "a-1-cp311-cp311-manylinux_2_28_x86_64.whl"),
    );
    assert_eq!(
        compatibility(
            &tags,
            "soundfile-0.12.1-py2.py3-none-manylinux_2_31_x86_64.whl"
        ),
        compatibility(&tags, "soundfile-0.12.1-py3-none-manylinux_2_31_x86_64.whl"),
    );
}

#[test]
fn classifies_misses() {
    let tags = tags("x86_64-manylinux_2_36");
    let cases = [
        (
            "scipy-1.14.1-cp311-cp311-musllinux_1_1_x86_64.whl",
            IncompatibleTag::Platform,
        ),
        (
            "scipy-1.14.1-cp311-cp311-win_amd64.whl",
            IncompatibleTag::Platform,
        ),
        (
            "scipy-1.14.1-cp311-cp311-macosx_14_0_arm64.whl",
            IncompatibleTag::Platform,
        ),
        (
            "scipy-1.14.1-cp311-cp311-manylinux_2_17_aarch64.whl",
            IncompatibleTag::Platform,
        ),
        (
            "a-1-cp311-cp311-manylinux_2_39_x86_64.whl",
            IncompatibleTag::Platform,
        ),
        ("a-1-cp311-abi3-any.whl", IncompatibleTag::Platform),
        (
            "deepspeech-0.9.3-cp39-cp39-manylinux1_x86_64.whl",
            IncompatibleTag::Python,
        ),
        (
            "a-1-cp312-abi3-manylinux_2_17_x86_64.whl",
            IncompatibleTag::Python,
        ),
        (
            "a-1-cp312-cp312-manylinux_2_17_x86_64.whl",
            IncompatibleTag::Python,
        ),
        ("a-1-py2-none-any.whl", IncompatibleTag::Python),
        (
            "a-1-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl",
            IncompatibleTag::Python,
        ),
        (
            "a-1-cp311-cp311d-manylinux_2_17_x86_64.whl",
            IncompatibleTag::Abi,
        ),
        (
            "a-1-cp311-cp311t-manylinux_2_17_x86_64.whl",
            IncompatibleTag::Abi,
        ),
        ("a-1-py3-abi3-any.whl", IncompatibleTag::Abi),
        ("a-1-cp310-none-any.whl", IncompatibleTag::Abi),
    ];
    for (filename, expected) in cases {
        assert_eq!(
            compatibility(&tags, filename),
            incompatible(expected),
            "{filename}"
        );
    }
}

#[test]
fn reports_the_nearest_miss() {
    let tags = tags("x86_64-manylinux_2_36");
    let nearest = |filename| compatibility(&tags, filename);
    assert_eq!(
        nearest("a-1-cp39.cp311-cp39.cp311-musllinux_1_1_x86_64.whl"),
        incompatible(IncompatibleTag::Platform)
    );
    assert_eq!(
        nearest("a-1-cp39.cp311-cp39-manylinux_2_17_x86_64.whl"),
        incompatible(IncompatibleTag::Python)
    );
    assert_eq!(
        nearest("a-1-cp311-cp311d.cp39-win_amd64.whl"),
        incompatible(IncompatibleTag::Abi)
    );
    assert!(
        IncompatibleTag::Python < IncompatibleTag::Abi
            && IncompatibleTag::Abi < IncompatibleTag::Platform
    );
}

#[test]
fn accepts_real_wheels_on_their_platform() {
    let x86_64 = tags("x86_64-manylinux_2_36");
    let aarch64 = tags("aarch64-manylinux_2_28");
    let numpy = "numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
    let onnxruntime =
        "onnxruntime-1.19.2-cp311-cp311-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl";
    let soundfile = "soundfile-0.12.1-py2.py3-none-manylinux_2_31_x86_64.whl";
    assert!(compatibility(&x86_64, numpy).is_compatible());
    assert!(compatibility(&x86_64, soundfile).is_compatible());
    assert!(compatibility(&aarch64, onnxruntime).is_compatible());
    assert_eq!(
        compatibility(&aarch64, numpy),
        incompatible(IncompatibleTag::Platform)
    );
    assert_eq!(
        compatibility(&x86_64, onnxruntime),
        incompatible(IncompatibleTag::Platform)
    );
    // The floor matters: glibc 2.26 cannot load a 2.27 wheel, nor 2.28 a 2.31 one.
    assert_eq!(
        compatibility(&tags("aarch64-manylinux_2_26"), onnxruntime),
        incompatible(IncompatibleTag::Platform)
    );
    assert_eq!(
        compatibility(&tags("x86_64-manylinux_2_28"), soundfile),
        incompatible(IncompatibleTag::Platform)
    );
}

#[test]
fn never_offers_manylinux1_on_aarch64() {
    let aarch64 = tags("aarch64-manylinux_2_28");
    assert_eq!(
        compatibility(&aarch64, "a-1-cp311-cp311-manylinux1_aarch64.whl"),
        incompatible(IncompatibleTag::Platform)
    );
    assert_eq!(
        compatibility(&aarch64, "a-1-cp311-cp311-manylinux_2_12_aarch64.whl"),
        incompatible(IncompatibleTag::Platform)
    );
    assert!(compatibility(&aarch64, "a-1-cp311-cp311-manylinux2014_aarch64.whl").is_compatible());
    assert!(compatibility(&aarch64, "a-1-cp311-cp311-linux_aarch64.whl").is_compatible());
}

#[test]
fn compares_tags_case_insensitively() {
    let tags = tags("x86_64-manylinux_2_36");
    assert_eq!(
        compatibility(&tags, "a-1-PY3-NONE-ANY.whl"),
        compatibility(&tags, "a-1-py3-none-any.whl")
    );
}

#[test]
fn picks_the_wheel_pip_picks() {
    let numpy = [
        "numpy-2.1.3-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "numpy-2.1.3-cp311-cp311-macosx_14_0_arm64.whl",
        "numpy-2.1.3-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        "numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "numpy-2.1.3-cp311-cp311-musllinux_1_2_x86_64.whl",
        "numpy-2.1.3-cp311-cp311-win_amd64.whl",
        "numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ];
    assert_eq!(best(&tags("x86_64-manylinux_2_36"), &numpy), numpy[3]);
    assert_eq!(best(&tags("aarch64-manylinux_2_36"), &numpy), numpy[2]);

    // The newest glibc the image has wins, but never one above its floor.
    let glibc = [
        "a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "a-1-cp311-cp311-manylinux_2_28_x86_64.whl",
        "a-1-cp311-cp311-manylinux_2_34_x86_64.whl",
    ];
    assert_eq!(best(&tags("x86_64-manylinux_2_36"), &glibc), glibc[2]);
    assert_eq!(best(&tags("x86_64-manylinux_2_28"), &glibc), glibc[1]);
    assert_eq!(best(&tags("x86_64-manylinux2014"), &glibc), glibc[0]);

    // The python/ABI pair outranks the platform: a newer abi3 baseline beats a newer glibc, and a specific
    // build beats a pure-Python wheel.
    let cryptography = [
        "cryptography-43.0.3-cp37-abi3-manylinux_2_34_x86_64.whl",
        "cryptography-43.0.3-cp39-abi3-manylinux_2_28_x86_64.whl",
        "cryptography-43.0.3-py3-none-any.whl",
    ];
    assert_eq!(
        best(&tags("x86_64-manylinux_2_36"), &cryptography),
        cryptography[1]
    );
    let mixed = [
        "a-1-py3-none-any.whl",
        "a-1-cp39-abi3-manylinux_2_17_x86_64.whl",
    ];
    assert_eq!(best(&tags("x86_64-manylinux_2_36"), &mixed), mixed[1]);
}

#[test]
fn survives_a_floor_without_manylinux_wheels() {
    // `Platform`'s fields are public, so a caller can skip `Platform::new`'s check; the tags then hold only
    // `linux_aarch64` rather than panicking or inventing tags.
    let platform = Platform {
        arch: Arch::Aarch64,
        glibc: (2, 12),
    };
    let tags = Tags::new("3.11".parse().unwrap(), platform);
    assert_eq!(
        compatibility(&tags, "a-1-cp311-cp311-manylinux2014_aarch64.whl"),
        incompatible(IncompatibleTag::Platform)
    );
    assert!(compatibility(&tags, "a-1-cp311-cp311-linux_aarch64.whl").is_compatible());
}
