//! Whole files through [`super::load_str`]: the repository's own config, every kind of error with its
//! line, and the stability of `canonical`.

use std::path::Path;

use insta::assert_snapshot;

use super::{Config, ConfigError, ImageConfig, load, load_str};

fn parse(contents: &str) -> Config {
    load_str(contents, Path::new("fave-lock.toml")).unwrap()
}

fn error(contents: &str) -> String {
    load_str(contents, Path::new("fave-lock.toml"))
        .unwrap_err()
        .to_string()
}

/// A valid image table, which tests extend or edit.
const IMAGE: &str = r#"[[image]]
name = "fave-base"
python-version = "3.11"
requirements = "base-image/requirements.in"
output = "locks/fave-base"
platforms = [{ platform = "linux/amd64", manylinux = "2_36" }]
"#;

/// [`IMAGE`] with `from` replaced by `to`.
fn image_with(from: &str, to: &str) -> String {
    assert!(IMAGE.contains(from), "{from}");
    IMAGE.replace(from, to)
}

/// One line per image: the values the rest of fave-lock reads.
fn summary(image: &ImageConfig) -> String {
    let platforms: Vec<String> = image
        .platforms
        .iter()
        .map(|target| {
            format!(
                "{} {:?} glibc {:?}",
                target.oci, target.platform.arch, target.platform.glibc
            )
        })
        .collect();
    format!(
        "{} (line {}): python {}, {} -> {}, registry {:?}, allow-sdist {:?}, platforms [{}]",
        image.name,
        image.line,
        image.python_version,
        image.requirements.display(),
        image.output.display(),
        image.registry,
        image
            .allow_sdist
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        platforms.join(", ")
    )
}

#[test]
fn the_repository_config_parses() {
    let config = parse(include_str!("../../fave-lock.toml"));
    assert_eq!(config.root, Path::new("."));
    assert_eq!(config.index_url.as_deref(), Some("https://pypi.org/simple"));
    assert_eq!(
        config.exclude_newer,
        Some("2026-11-01T00:00:00Z".parse().unwrap())
    );
    assert_eq!(config.images.len(), 3);
    assert_eq!(config.images[2].name, "fave-vad");
    assert_eq!(
        config.images[2].allow_sdist,
        ["webrtcvad".parse::<pep508_rs::PackageName>().unwrap()]
    );
    assert_eq!(config.images[1].name, "fave-stt");
    assert_eq!(config.images[1].python_version.to_string(), "3.9");
    assert_eq!(config.images[1].platforms.len(), 1);
    assert_snapshot!(summary(&config.images[0]), @r#"fave-base (line 13): python 3.11, base-image/requirements.in -> locks/fave-base, registry Some("ghcr.io/fave-project/fave-base"), allow-sdist [], platforms [linux/amd64 X86_64 glibc (2, 36), linux/arm64 Aarch64 glibc (2, 36)]"#);
    assert_snapshot!(config.images[0].canonical, @r#"
    exclude-newer = "2026-11-01T00:00:00Z"
    index-url = "https://pypi.org/simple"

    [image]
    allow-sdist = []
    name = "fave-base"
    output = "locks/fave-base"
    platforms = [{ manylinux = "2_36", platform = "linux/amd64" }, { manylinux = "2_36", platform = "linux/arm64" }]
    python-version = "3.11"
    registry = "ghcr.io/fave-project/fave-base"
    requirements = "base-image/requirements.in"
    "#);
}

#[test]
fn root_is_the_config_folder() {
    let config = load_str(IMAGE, Path::new("configs/fave-lock.toml")).unwrap();
    assert_eq!(config.root, Path::new("configs"));
    assert_eq!(parse(IMAGE).root, Path::new("."));
}

#[test]
fn optional_keys_default() {
    let config = parse(IMAGE);
    assert_eq!((config.index_url, config.exclude_newer), (None, None));
    assert_snapshot!(summary(&config.images[0]), @"fave-base (line 1): python 3.11, base-image/requirements.in -> locks/fave-base, registry None, allow-sdist [], platforms [linux/amd64 X86_64 glibc (2, 36)]");
}

#[test]
fn platforms_as_array_of_tables() {
    let contents = image_with(
        "platforms = [{ platform = \"linux/amd64\", manylinux = \"2_36\" }]\n",
        "\n[[image.platforms]]\nplatform = \"linux/amd64\"\nmanylinux = \"2_36\"\n\n[[image.platforms]]\nplatform = \"linux/arm64\"\nmanylinux = \"2_28\"\n",
    );
    let config = parse(&contents);
    assert_snapshot!(summary(&config.images[0]), @"fave-base (line 1): python 3.11, base-image/requirements.in -> locks/fave-base, registry None, allow-sdist [], platforms [linux/amd64 X86_64 glibc (2, 36), linux/arm64 Aarch64 glibc (2, 28)]");
}

#[test]
fn allow_sdist_is_normalised() {
    let config = parse(&format!(
        "{IMAGE}allow-sdist = [\"PyCairo\", \"ruamel.yaml\", \"pycairo\"]\n"
    ));
    assert_snapshot!(summary(&config.images[0]), @r#"fave-base (line 1): python 3.11, base-image/requirements.in -> locks/fave-base, registry None, allow-sdist ["pycairo", "ruamel-yaml"], platforms [linux/amd64 X86_64 glibc (2, 36)]"#);
}

#[test]
fn allow_sdist_true_allows_every_package_and_changes_the_input_hash_text() {
    let all = parse(&format!("{IMAGE}allow-sdist = true\n"));
    assert!(all.images[0].allow_all_sdists && all.images[0].allow_sdist.is_empty());
    assert!(all.images[0].canonical.contains("allow-sdist = true"));
    let none = parse(&format!("{IMAGE}allow-sdist = false\n"));
    assert!(!none.images[0].allow_all_sdists);
    let listed = parse(&format!("{IMAGE}allow-sdist = [\"webrtcvad\"]\n"));
    assert!(!listed.images[0].allow_all_sdists);
    assert!(error(&format!("{IMAGE}allow-sdist = 3\n")).contains("must be `true` or an array"));
}

#[test]
fn exclude_newer_forms() {
    let expected = Some("2026-11-01T00:00:00Z".parse().unwrap());
    for line in [
        "exclude-newer = \"2026-11-01\"",
        "exclude-newer = \"2026-11-01T01:00:00+01:00\"",
        "exclude-newer = 2026-11-01T00:00:00Z",
        "exclude-newer = 2026-11-01",
    ] {
        assert_eq!(
            parse(&format!("{line}\n{IMAGE}")).exclude_newer,
            expected,
            "{line}"
        );
    }
    assert_snapshot!(error(&format!("exclude-newer = \"2026-11-01T00:00:00\"\n{IMAGE}")), @r#"fave-lock.toml:1: `exclude-newer` must be an RFC 3339 timestamp with an offset ("2026-11-01T00:00:00Z") or a date ("2026-11-01", meaning midnight UTC), found "2026-11-01T00:00:00""#);
    assert_snapshot!(error(&format!("exclude-newer = 2026-11-01T00:00:00\n{IMAGE}")), @r#"fave-lock.toml:1: `exclude-newer` must be an RFC 3339 timestamp with an offset ("2026-11-01T00:00:00Z") or a date ("2026-11-01", meaning midnight UTC), found "2026-11-01T00:00:00""#);
    assert_snapshot!(error(&format!("exclude-newer = 20261101\n{IMAGE}")), @r#"fave-lock.toml:1: `exclude-newer` must be a string like "2026-11-01T00:00:00Z", found the integer `20261101`"#);
}

#[test]
fn unknown_keys_suggest_the_closest() {
    assert_snapshot!(error(&format!("index_url = \"https://pypi.org/simple\"\n{IMAGE}")), @"fave-lock.toml:1: unknown key `index_url` in the top-level table; did you mean `index-url`?");
    assert_snapshot!(error(&image_with("python-version", "python_version")), @"fave-lock.toml:3: unknown key `python_version` in `[[image]]`; did you mean `python-version`?");
    assert_snapshot!(error(&format!("{IMAGE}wheels = true\n")), @"fave-lock.toml:7: unknown key `wheels` in `[[image]]`; valid keys are `name`, `python-version`, `requirements`, `output`, `registry`, `registry-insecure`, `allow-sdist`, `platforms`, `base-image`, `tags`, `apt-packages` and `labels`");
    assert_snapshot!(error(&image_with("manylinux", "glibc")), @r"
    fave-lock.toml:6: missing key `manylinux` in a `platforms` entry
    fave-lock.toml:6: unknown key `glibc` in a `platforms` entry; valid keys are `platform` and `manylinux`
    ");
}

#[test]
fn missing_keys_are_all_reported_at_the_header() {
    let contents = "# images\n\n[[image]]\nname = \"fave-base\"\npython-version = \"3.11\"\n";
    assert_snapshot!(error(contents), @r"
    fave-lock.toml:3: missing key `output` in `[[image]]`
    fave-lock.toml:3: missing key `platforms` in `[[image]]`
    fave-lock.toml:3: missing key `requirements` in `[[image]]`
    ");
    assert_snapshot!(error(&image_with(", manylinux = \"2_36\"", "")), @"fave-lock.toml:6: missing key `manylinux` in a `platforms` entry");
}

#[test]
fn wrong_types() {
    assert_snapshot!(error(&image_with("\"3.11\"", "3.11")), @r#"fave-lock.toml:3: `python-version` must be a string like "3.11", found the number `3.11`"#);
    assert_snapshot!(error(&image_with("\"fave-base\"", "1")), @r#"fave-lock.toml:2: `name` must be a string like "fave-base", found the integer `1`"#);
    assert_snapshot!(error(&image_with("[{ platform = \"linux/amd64\", manylinux = \"2_36\" }]", "\"linux/amd64\"")), @r#"fave-lock.toml:6: `platforms` must be an array of tables like `{ platform = "linux/amd64", manylinux = "2_36" }`, found the string `linux/amd64`"#);
    assert_snapshot!(error(&image_with("[{ platform = \"linux/amd64\", manylinux = \"2_36\" }]", "[\"linux/amd64\"]")), @r#"fave-lock.toml:6: each entry of `platforms` must be a table like `{ platform = "linux/amd64", manylinux = "2_36" }`, found the string `linux/amd64`"#);
    assert_snapshot!(error(&format!("{IMAGE}allow-sdist = \"pycairo\"\n")), @r#"fave-lock.toml:7: `allow-sdist` must be `true` or an array of package names like ["pycairo"], found the string `pycairo`"#);
    assert_snapshot!(error(&format!("{IMAGE}allow-sdist = [1, \"not a name!\"]\n")), @r#"
    fave-lock.toml:7: `allow-sdist` entries must be package names, found the integer `1`
    fave-lock.toml:7: `allow-sdist` entry "not a name!" is not a valid package name
    "#);
    assert_snapshot!(error(&format!("index-url = true\n{IMAGE}")), @r#"fave-lock.toml:1: `index-url` must be a string like "https://pypi.org/simple", found the boolean `true`"#);
}

#[test]
fn image_must_be_an_array_of_tables() {
    assert_snapshot!(error("index-url = \"https://pypi.org/simple\"\n"), @"fave-lock.toml:1: no `[[image]]` table: add one for each image to lock");
    assert_snapshot!(error(&IMAGE.replace("[[image]]", "[image]")), @"fave-lock.toml:1: `image` must be an array of tables like `[[image]]`, found a table");
}

#[test]
fn duplicate_images_and_outputs() {
    let second = IMAGE.replace("locks/fave-base", "locks/other");
    assert_snapshot!(error(&format!("{IMAGE}\n{second}")), @"fave-lock.toml:8: duplicate image name `fave-base` (first at line 1): image names must be unique");
    let second = IMAGE
        .replace("\"fave-base\"", "\"other\"")
        .replace("locks/fave-base", "./locks/fave-base/");
    assert_snapshot!(error(&format!("{IMAGE}\n{second}")), @"fave-lock.toml:8: image `other` writes to `locks/fave-base` like image `fave-base` (line 1): each image needs its own `output`");
}

#[test]
fn duplicate_platforms() {
    let platforms = "platforms = [\n  { platform = \"linux/amd64\", manylinux = \"2_36\" },\n  { platform = \"linux/amd64\", manylinux = \"2_28\" },\n]\n";
    let contents = image_with(
        "platforms = [{ platform = \"linux/amd64\", manylinux = \"2_36\" }]\n",
        platforms,
    );
    assert_snapshot!(error(&contents), @r#"fave-lock.toml:8: platform "linux/amd64" is listed twice (first at line 7); keep one entry"#);
}

#[test]
fn bad_values() {
    assert_snapshot!(error(&image_with("locks/fave-base", "../outside")), @r#"fave-lock.toml:5: `output` must be a relative path inside the repository (like "locks/fave-base"), without `..` or a leading `/`, found "../outside""#);
    assert_snapshot!(error(&image_with("locks/fave-base", "/abs/locks")), @r#"fave-lock.toml:5: `output` must be a relative path inside the repository (like "locks/fave-base"), without `..` or a leading `/`, found "/abs/locks""#);
    assert_snapshot!(error(&image_with("linux/amd64", "linux/riscv64")), @r#"fave-lock.toml:6: unsupported platform "linux/riscv64": fave-lock supports `linux/amd64` and `linux/arm64`"#);
    assert_snapshot!(error(&image_with("\"2_36\"", "\"2.36\"")), @r#"fave-lock.toml:6: `manylinux` must be the image's glibc version written `2_N` ("2_36" for glibc 2.36, as in the wheel tag `manylinux_2_36`), found "2.36""#);
    assert_snapshot!(error(&image_with("\"2_36\"", "2.36")), @r#"fave-lock.toml:6: `manylinux` must be a string like "2_36", found the number `2.36`"#);
    assert_snapshot!(error(&image_with("\"fave-base\"", "\"Fave Base\"")), @r#"fave-lock.toml:2: image name "Fave Base" is invalid: use lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit (like "fave-base")"#);
    assert_snapshot!(error(&image_with("\"3.11\"", "\"3.11.9\"")), @r#"fave-lock.toml:3: `python-version` must be a CPython `major.minor` version like "3.11", found "3.11.9""#);
    assert_snapshot!(error(&image_with("platforms = [{ platform = \"linux/amd64\", manylinux = \"2_36\" }]", "platforms = []")), @r#"fave-lock.toml:6: `platforms` is empty: list at least one, like `{ platform = "linux/amd64", manylinux = "2_36" }`"#);
    assert_snapshot!(error(&format!("index-url = \"pypi.org/simple\"\n{IMAGE}registry = \"https://ghcr.io/x\"\n")), @r#"
    fave-lock.toml:1: `index-url` must be an http(s) URL like "https://pypi.org/simple", found "pypi.org/simple"
    fave-lock.toml:8: `registry` must be a lowercase repository like "ghcr.io/fave-project/fave-base", without `https://` or a digest, found "https://ghcr.io/x"
    "#);
}

#[test]
fn every_problem_is_reported_in_line_order() {
    let contents = format!(
        "exclude_newer = \"2026-11-01\"\n{}",
        image_with("locks/fave-base", "/abs").replace("\"3.11\"", "3.11")
    );
    let error = load_str(&contents, Path::new("fave-lock.toml")).unwrap_err();
    let lines: Vec<usize> = error
        .problems()
        .iter()
        .map(|problem| problem.line)
        .collect();
    assert_eq!(lines, [1, 4, 6]);
    assert_snapshot!(error, @r#"
    fave-lock.toml:1: unknown key `exclude_newer` in the top-level table; did you mean `exclude-newer`?
    fave-lock.toml:4: `python-version` must be a string like "3.11", found the number `3.11`
    fave-lock.toml:6: `output` must be a relative path inside the repository (like "locks/fave-base"), without `..` or a leading `/`, found "/abs"
    "#);
}

#[test]
fn toml_syntax_errors_have_a_line() {
    assert_snapshot!(error(&format!("{IMAGE}registry = ghcr.io/x\n")), @"fave-lock.toml:7: invalid TOML: string values must be quoted, expected literal string at `ghcr.io/x`");
    assert_snapshot!(error(&format!("{IMAGE}name = \"again\"\n")), @"fave-lock.toml:7: invalid TOML: duplicate key at `name`");
}

#[test]
fn a_missing_file() {
    let error = load(Path::new("/nonexistent/fave-lock.toml")).unwrap_err();
    assert!(matches!(error, ConfigError::Io { .. }));
    assert_snapshot!(error, @"cannot read `/nonexistent/fave-lock.toml`");
}

#[test]
fn only_a_regular_utf8_file_is_read() {
    let error = load(Path::new("/dev/zero")).unwrap_err();
    assert_snapshot!(
        format!("{error}: {}", std::error::Error::source(&error).unwrap()),
        @"cannot read `/dev/zero`: it is a character device, not a regular file: input files are read only from regular files"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fave-lock.toml");
    std::fs::write(&path, b"# config\nindex-url = \"https://x.org/\xE9\"\n").unwrap();
    let error = load(&path).unwrap_err().to_string();
    assert!(
        error.ends_with(
            "fave-lock.toml:2: the file is not UTF-8, which TOML requires; save it as UTF-8"
        ),
        "{error}"
    );
}

/// The canonical text of the only image in `contents`.
fn canonical(contents: &str) -> String {
    parse(contents).images.remove(0).canonical
}

#[test]
fn canonical_ignores_comments_layout_and_equivalent_spellings() {
    let base = canonical(&format!(
        "index-url = \"https://pypi.org/simple\"\nexclude-newer = \"2026-11-01\"\n{IMAGE}"
    ));
    let commented = "# top\nexclude-newer   = '2026-11-01T00:00:00Z'  # cutoff\n\n[[image]]  # the image\noutput = \"./locks/fave-base/\"\n\
         name = \"fave-base\"\n# python\npython-version = \"3.11\"\nrequirements = \"base-image/requirements.in\"\n\
         allow-sdist = []\n\n[[image.platforms]]\nmanylinux = \"2_36\"  # bookworm\nplatform = \"linux/amd64\"\n";
    assert_eq!(canonical(commented), base);
}

#[test]
fn canonical_changes_with_meaning() {
    let base = canonical(IMAGE);
    for (from, to) in [
        ("2_36", "2_28"),
        ("\"3.11\"", "\"3.12\""),
        ("locks/fave-base", "locks/x"),
        ("requirements.in", "other.in"),
    ] {
        assert_ne!(canonical(&image_with(from, to)), base, "{from} -> {to}");
    }
    assert_ne!(
        canonical(&format!(
            "index-url = \"https://mirror.example/simple\"\n{IMAGE}"
        )),
        base
    );
    assert_ne!(
        canonical(&format!("exclude-newer = \"2026-11-01\"\n{IMAGE}")),
        base
    );
    assert_ne!(
        canonical(&format!("{IMAGE}allow-sdist = [\"pycairo\"]\n")),
        base
    );
}

#[test]
fn document_keeps_comments_for_rewriting() {
    let contents = include_str!("../../fave-lock.toml");
    let config = parse(contents);
    let mut document = config.document().unwrap();
    assert_eq!(document.to_string(), contents);
    document["exclude-newer"] = toml_edit::value("2026-12-01T00:00:00Z");
    let edited = document.to_string();
    assert!(edited.contains("# Ignore files uploaded after this instant"));
    assert!(edited.contains("exclude-newer = \"2026-12-01T00:00:00Z\""));
}

#[test]
fn registry_insecure_is_a_boolean() {
    assert!(!parse(IMAGE).images[0].registry_insecure);
    let image = parse(&format!(
        "{IMAGE}registry = \"registry.lan:5000/fave-base\"\nregistry-insecure = true\n"
    ));
    assert!(image.images[0].registry_insecure);
    assert_snapshot!(error(&format!("{IMAGE}registry-insecure = \"yes\"\n")), @"fave-lock.toml:7: `registry-insecure` must be true or false (true for a plain-HTTP registry), found the string `yes`");
    assert_snapshot!(error(&format!("{IMAGE}[apt]\ncheck-valid-until = \"no\"\n")), @"fave-lock.toml:8: `check-valid-until` must be true or false (false for a snapshot archive), found the string `no`");
}
