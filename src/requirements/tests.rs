//! Reading whole files: requirements, includes, rejections and their messages.

use std::path::{Path, PathBuf};

use insta::assert_snapshot;

use super::{RequirementsInput, parse_str, read};

/// The path the single-file tests pretend to read.
const PATH: &str = "base-image/requirements.in";

fn parse(contents: &str) -> RequirementsInput {
    parse_str(contents, Path::new(PATH)).unwrap()
}

fn error(contents: &str) -> String {
    parse_str(contents, Path::new(PATH))
        .unwrap_err()
        .to_string()
}

/// `location: text` for each requirement, to snapshot what was read and from where.
fn listing(entries: &[super::InputRequirement]) -> String {
    let lines = entries
        .iter()
        .map(|entry| format!("{}: {}", entry.location, entry.text));
    lines.collect::<Vec<_>>().join("\n")
}

/// `text` with the temporary folder's path replaced by `[TMP]`.
fn scrub(text: &str, dir: &tempfile::TempDir) -> String {
    text.replace(&dir.path().display().to_string(), "[TMP]")
}

/// A temporary folder holding `files` (name, contents).
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, contents) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    dir
}

fn read_error(dir: &tempfile::TempDir, name: &str) -> String {
    scrub(&read(&dir.path().join(name)).unwrap_err().to_string(), dir)
}

#[test]
fn names_specifiers_extras_and_markers() {
    let input = parse(
        "numpy==2.1.3\nrequests[socks, security] >=2.31, <3  # http\n\
         torch ; platform_machine == 'x86_64'\nFoo_Bar\n",
    );
    assert_snapshot!(listing(&input.requirements), @r"
    base-image/requirements.in:1: numpy==2.1.3
    base-image/requirements.in:2: requests[socks, security] >=2.31, <3
    base-image/requirements.in:3: torch ; platform_machine == 'x86_64'
    base-image/requirements.in:4: Foo_Bar
    ");
    let requests = &input.requirements[1].requirement;
    assert_eq!(requests.name.as_ref(), "requests");
    assert_eq!(requests.extras.len(), 2);
    assert_eq!(input.requirements[3].requirement.name.as_ref(), "foo-bar");
    assert_eq!(input.files, [PathBuf::from(PATH)]);
    assert!(input.constraints.is_empty() && input.index_url.is_none());
}

#[test]
fn continuation_keeps_the_first_line() {
    let input = parse("# pins\n\nnumpy>=2,\\\n  <3 \\\n  ; python_version >= '3.11'\nscipy\n");
    assert_snapshot!(listing(&input.requirements), @r"
    base-image/requirements.in:3: numpy>=2,  <3   ; python_version >= '3.11'
    base-image/requirements.in:6: scipy
    ");
}

#[test]
fn the_same_package_twice_is_kept_twice() {
    let input = parse("numpy>=2\nnumpy<3\n");
    assert_eq!(input.requirements.len(), 2);
}

#[test]
fn single_equals_gets_a_hint() {
    assert_snapshot!(error("scipy\n\nnumpy=2.1.3\n"), @r#"base-image/requirements.in:3: invalid requirement `numpy=2.1.3`: no such comparison operator "=", must be one of ~= == != <= >= < > === (did you mean `==`?)"#);
}

#[test]
fn other_syntax_errors_carry_the_parser_message() {
    assert_snapshot!(error("numpy>=\n"), @"base-image/requirements.in:1: invalid requirement `numpy>=`: Unexpected end of version specifier, expected version");
    assert_snapshot!(error("numpy==2 --hash=sha256:00\n"), @"base-image/requirements.in:1: invalid requirement `numpy==2 --hash=sha256:00`: Trailing `--hash=sha256:00` is not allowed (per-requirement options such as `--hash` are not supported: the lock records hashes itself)");
}

#[test]
fn index_url_in_all_forms() {
    for line in [
        "-i https://example.org/simple",
        "--index-url https://example.org/simple",
        "--index-url=https://example.org/simple",
    ] {
        assert_eq!(
            parse(line).index_url.as_deref(),
            Some("https://example.org/simple"),
            "{line}"
        );
    }
    assert_eq!(
        parse("-i https://a.org/simple\n-i https://a.org/simple\n")
            .index_url
            .as_deref(),
        Some("https://a.org/simple")
    );
}

#[test]
fn conflicting_index_urls() {
    assert_snapshot!(error("-i https://a.org/simple\nnumpy\n--index-url https://b.org/simple\n"), @"base-image/requirements.in:3: index URL `https://b.org/simple` conflicts with `https://a.org/simple` set at base-image/requirements.in:1: fave-lock resolves from exactly one index; keep one `-i` line");
    assert_snapshot!(error("-i ftp://a.org\n"), @"base-image/requirements.in:1: `-i` needs an http(s) URL, found `ftp://a.org`");
}

#[test]
fn editables_are_rejected() {
    assert_snapshot!(error("-e ./mypkg\n"), @"base-image/requirements.in:1: editable requirement `-e ./mypkg` is not supported: fave-lock locks released wheels from the index; publish the package and require it by name and version, or install it in the image build");
    assert!(error("--editable=git+https://x.org/r.git\n").contains("editable requirement"));
}

#[test]
fn direct_urls_and_paths_are_rejected() {
    assert_snapshot!(error("pkg @ https://example.org/pkg-1.0-py3-none-any.whl#sha256=00\n"), @"base-image/requirements.in:1: direct URL or path requirement `pkg @ https://example.org/pkg-1.0-py3-none-any.whl#sha256=00` is not supported: fave-lock resolves every package from its index so the lock can be verified; publish the package there and require it by name and version (`name==1.2.3`)");
    for line in [
        "./local",
        "../sibling/pkg",
        "/abs/pkg",
        "https://example.org/pkg.tar.gz",
        "pkg-1.0-py3-none-any.whl",
        "pkg @ file:///tmp/pkg",
    ] {
        assert!(
            error(line).contains("direct URL or path requirement"),
            "{line}: {}",
            error(line)
        );
    }
}

#[test]
fn extra_indexes_and_find_links_are_rejected() {
    assert_snapshot!(error("--extra-index-url https://x.org/simple\n"), @"base-image/requirements.in:1: `--extra-index-url` is not supported: fave-lock resolves from exactly one index; set `index-url` in fave-lock.toml (or use `-i` once)");
    for line in [
        "-f ./wheels",
        "--find-links=./wheels",
        "--find-links ./wheels",
        "--no-index",
    ] {
        assert!(
            error(line).contains("resolves from exactly one index"),
            "{line}"
        );
    }
}

#[test]
fn unknown_options_are_rejected() {
    assert_snapshot!(error("numpy\n--pre\n"), @"base-image/requirements.in:2: unknown option `--pre`: fave-lock requirements files accept only `-r`/`--requirement`, `-c`/`--constraint` and `-i`/`--index-url`");
    assert!(error("-x foo").contains("unknown option `-x`"));
}

#[test]
fn options_need_one_argument() {
    assert_snapshot!(error("-r\n"), @"base-image/requirements.in:1: `-r` needs a file name");
    assert_snapshot!(error("-r a.in b.in\n"), @"base-image/requirements.in:1: `-r` takes one argument, found `a.in b.in`; put each option on its own line, and quote a name that contains spaces");
}

#[test]
fn includes_in_every_form_keep_their_own_locations() {
    let dir = folder(&[
        (
            "base-image/requirements.in",
            "numpy\n-r extra.in\n--requirement ./more/more.in\n--requirement=last.in\nscipy\n",
        ),
        ("base-image/extra.in", "# extra\nrequests\n"),
        ("base-image/more/more.in", "\n\nattrs\n-rsibling.in\n"),
        ("base-image/more/sibling.in", "six\n"),
        ("base-image/last.in", "packaging\n"),
    ]);
    let input = read(&dir.path().join("base-image/requirements.in")).unwrap();
    assert_snapshot!(scrub(&listing(&input.requirements), &dir), @r"
    [TMP]/base-image/requirements.in:1: numpy
    [TMP]/base-image/extra.in:2: requests
    [TMP]/base-image/more/more.in:3: attrs
    [TMP]/base-image/more/sibling.in:1: six
    [TMP]/base-image/last.in:1: packaging
    [TMP]/base-image/requirements.in:5: scipy
    ");
    let files: Vec<_> = input
        .files
        .iter()
        .map(|file| file.strip_prefix(dir.path()).unwrap())
        .collect();
    let expected = [
        "requirements.in",
        "extra.in",
        "more/more.in",
        "more/sibling.in",
        "last.in",
    ];
    assert_eq!(
        files,
        expected.map(|name| Path::new("base-image").join(name))
    );
}

#[test]
fn parse_str_reads_includes_relative_to_its_path() {
    let dir = folder(&[("extra.in", "requests\n")]);
    let input = parse_str("-r extra.in\n", &dir.path().join("requirements.in")).unwrap();
    assert_snapshot!(scrub(&listing(&input.requirements), &dir), @"[TMP]/extra.in:1: requests");
}

#[test]
fn constraints_and_their_includes_are_constraints() {
    let dir = folder(&[
        (
            "requirements.in",
            "numpy\n-c constraints.txt\n--constraint=more.txt\n",
        ),
        ("constraints.txt", "numpy<3\n-r nested.txt\n"),
        ("nested.txt", "scipy==1.14.1\n"),
        ("more.txt", "attrs<25\n"),
    ]);
    let input = read(&dir.path().join("requirements.in")).unwrap();
    assert_snapshot!(scrub(&listing(&input.requirements), &dir), @"[TMP]/requirements.in:1: numpy");
    assert_snapshot!(scrub(&listing(&input.constraints), &dir), @r"
    [TMP]/constraints.txt:1: numpy<3
    [TMP]/nested.txt:1: scipy==1.14.1
    [TMP]/more.txt:1: attrs<25
    ");
}

#[test]
fn constraints_cannot_have_extras() {
    let dir = folder(&[
        ("requirements.in", "-c c.txt\n"),
        ("c.txt", "requests[socks]<3\n"),
    ]);
    assert_snapshot!(read_error(&dir, "requirements.in"), @"[TMP]/c.txt:1: constraint `requests[socks]<3` has extras: constraints only restrict versions; drop the `[...]` here and request the extra in the requirements file");
}

#[test]
fn a_diamond_include_reads_twice_and_lists_the_file_once() {
    let dir = folder(&[
        ("requirements.in", "-r a.in\n-r b.in\n"),
        ("a.in", "-r common.in\n"),
        ("b.in", "-r common.in\n"),
        ("common.in", "six\n"),
    ]);
    let input = read(&dir.path().join("requirements.in")).unwrap();
    assert_eq!(input.requirements.len(), 2);
    assert_eq!(input.files.len(), 4);
}

#[test]
fn a_file_including_itself_is_a_cycle() {
    let dir = folder(&[("requirements.in", "numpy\n-r requirements.in\n")]);
    assert_snapshot!(read_error(&dir, "requirements.in"), @"[TMP]/requirements.in:2: include cycle: `[TMP]/requirements.in` -> `[TMP]/requirements.in`; remove one of these `-r`/`-c` lines");
}

#[test]
fn an_indirect_cycle_names_the_chain() {
    let dir = folder(&[
        ("requirements.in", "-r a.in\n"),
        ("a.in", "six\n-c sub/b.in\n"),
        ("sub/b.in", "\n-r ../a.in\n"),
    ]);
    assert_snapshot!(read_error(&dir, "requirements.in"), @"[TMP]/sub/b.in:2: include cycle: `[TMP]/a.in` -> `[TMP]/sub/b.in` -> `[TMP]/sub/../a.in`; remove one of these `-r`/`-c` lines");
}

#[test]
fn a_missing_include_names_the_including_line() {
    let dir = folder(&[("requirements.in", "numpy\n\n-r missing.in\n")]);
    assert_snapshot!(read_error(&dir, "requirements.in"), @"[TMP]/requirements.in:3: cannot read included file `[TMP]/missing.in`");
}

#[test]
fn a_missing_top_level_file() {
    let dir = folder(&[]);
    assert_snapshot!(read_error(&dir, "nope.in"), @"cannot read `[TMP]/nope.in`");
}
