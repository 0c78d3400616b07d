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
    assert_snapshot!(error("numpy==2 --hash=sha256:00\n"), @"base-image/requirements.in:1: `--hash=sha256:00`: a SHA-256 digest is 64 hex digits, found 2 characters");
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
    assert_snapshot!(error("numpy\n--frobnicate\n"), @"base-image/requirements.in:2: unknown option `--frobnicate`: fave-lock requirements files accept `-r`, `-c`, `-i`, `--pre`, `--only-binary`, `--prefer-binary`, `--trusted-host`, `--use-feature`, `--require-hashes` and, after a requirement, `--hash`");
    assert!(error("-x foo").contains("unknown option `-x`"));
}

#[test]
fn options_need_one_argument() {
    assert_snapshot!(error("-r\n"), @"base-image/requirements.in:1: `-r` needs a value");
    assert_snapshot!(error("-r a.in b.in\n"), @"base-image/requirements.in:1: unexpected `b.in`: a line holds one requirement or options; put each requirement on its own line, and quote a value that contains spaces");
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

const SIX_SHA256: &str = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254";
const OTHER_SHA256: &str = "1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926";

#[test]
fn spellings_pip_and_uv_accept() {
    let input = parse(
        "six\t>=1.0\t;\tpython_version\t>=\t'3'\n\
         packaging[x](>=20,<30)\n\
         pyzmq >=3.6,\n\
         idna ; \"foo\" in extras\n\
         attrs ; extra == 'x'\n",
    );
    let shown: Vec<String> = input
        .requirements
        .iter()
        .map(|entry| entry.requirement.to_string())
        .collect();
    assert_eq!(
        shown,
        [
            "six>=1.0 ; python_full_version >= '3'",
            "packaging[x]>=20,<30",
            "pyzmq>=3.6",
            "idna ; extra == 'foo'",
            "attrs ; extra == 'x'",
        ]
    );
}

#[test]
fn hashes_are_recorded_per_requirement_across_continuations() {
    let input = parse(&format!(
        "six==1.16.0 \\\n    --hash=sha256:{SIX_SHA256} \\\n    --hash sha256:{} # both\nidna\n",
        OTHER_SHA256.to_uppercase()
    ));
    assert_eq!(input.requirements[0].text, "six==1.16.0");
    assert_eq!(input.requirements[0].hashes, [SIX_SHA256, OTHER_SHA256]);
    assert!(input.requirements[1].hashes.is_empty());
    assert_snapshot!(error("six==1 --hash=sha512:00\n"), @"base-image/requirements.in:1: `--hash=sha512:...` is not supported: fave-lock matches files by the SHA-256 the index lists; give `--hash=sha256:...` (`pip hash FILE` prints it)");
    assert_snapshot!(error("six==1 --pre\n"), @"base-image/requirements.in:1: `--pre` cannot follow a requirement: only `--hash` can; put other options on their own line");
    assert_snapshot!(error(&format!("--hash=sha256:{SIX_SHA256}\n")), @"base-image/requirements.in:1: `--hash` must follow a requirement on the same logical line (`name==1.0 --hash=sha256:...`)");
}

#[test]
fn pip_options_are_honoured_accepted_with_a_warning_or_refused() {
    use super::OnlyBinary;
    let input = parse(
        "--pre --prefer-binary\n--trusted-host example.org\n--use-feature=fast-deps\n\
         --only-binary six,Foo_Bar\n--no-binary :none:\n--require-hashes\nsix\n",
    );
    assert!(input.prereleases);
    assert_eq!(
        input.only_binary,
        OnlyBinary::Packages(vec!["six".parse().unwrap(), "foo-bar".parse().unwrap()])
    );
    let warnings: Vec<String> = input.warnings.iter().map(ToString::to_string).collect();
    assert_snapshot!(warnings.join("\n"), @r"
    base-image/requirements.in:1: `--prefer-binary` changes nothing: fave-lock installs wheels only
    base-image/requirements.in:2: `--trusted-host example.org` is ignored: fave-lock always checks the index's TLS certificate
    base-image/requirements.in:3: `--use-feature fast-deps` is ignored: pip feature flags do not change the lock
    base-image/requirements.in:5: `--no-binary :none:` changes nothing: fave-lock installs wheels
    base-image/requirements.in:6: `--require-hashes` changes nothing here: the lock pins every file by hash
    ");
    assert_eq!(parse("--only-binary=:all:\n").only_binary, OnlyBinary::All);
    assert_eq!(
        parse("--only-binary=:all:\n--only-binary :none:\n").only_binary,
        OnlyBinary::None
    );
    assert_snapshot!(error("six\n--no-binary :all:\n"), @"base-image/requirements.in:2: `--no-binary :all:` cannot be honoured: the image installs wheels only, with no compiler to build sdists; remove the line (a package with no wheel for the image can be listed in `allow-sdist` in fave-lock.toml)");
}

#[test]
fn a_comment_glued_after_a_continuation() {
    let input = parse("six\\\n#pinned below\nidna\n");
    assert_eq!(input.requirements[0].text, "six");
    assert_eq!(input.requirements.len(), 2);
    assert_snapshot!(error("six\\\n==1.0#note\n"), @"base-image/requirements.in:1: invalid requirement `six==1.0#note`: after parsing `1.0`, found `#note`, which is not part of a valid version");
}

#[test]
fn markers_that_crash_pep508_rs_are_errors_at_their_line() {
    assert_snapshot!(error("six\nidna ; '2.7.0' ~= os_name\n"), @"base-image/requirements.in:2: invalid requirement `idna ; '2.7.0' ~= os_name`: marker `'2.7.0' ~= os_name` compares a string with `~=`, which is undefined for strings (packaging raises UndefinedComparison); use `==`, `!=` or `in`");
    let deep = format!(
        "six ; {}os_name == 'posix'{}\n",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let message = error(&format!("\n{deep}"));
    assert!(
        message.starts_with("base-image/requirements.in:2: invalid requirement `six ; (((("),
        "{message}"
    );
    assert!(
        message.ends_with("…`: parentheses nest more than 32 deep"),
        "{message}"
    );
    let long = format!(
        "six ; {}\n",
        "os_name == 'posix' and ".repeat(1000) + "os_name == 'posix'"
    );
    assert!(
        error(&long).contains("the limit is 16384"),
        "{}",
        error(&long)
    );
    let huge = format!("six {}\n", "--hash=sha256:00 ".repeat(70_000));
    assert_eq!(
        error(&huge),
        "base-image/requirements.in:1: line is 1190003 bytes long; the limit is 1048576"
    );
}

#[test]
fn encodings_pip_and_uv_read() {
    let utf16 = |text: &str, big_endian: bool| -> Vec<u8> {
        let mark: [u8; 2] = if big_endian {
            [0xFE, 0xFF]
        } else {
            [0xFF, 0xFE]
        };
        let units = text.encode_utf16();
        let bytes: Vec<u8> = if big_endian {
            units.flat_map(u16::to_be_bytes).collect()
        } else {
            units.flat_map(u16::to_le_bytes).collect()
        };
        mark.into_iter().chain(bytes).collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut bom = b"\xEF\xBB\xBFsix\n".to_vec();
    bom.extend(b"-r le.in\n-r be.in\n");
    std::fs::write(dir.path().join("requirements.in"), bom).unwrap();
    std::fs::write(dir.path().join("le.in"), utf16("idna\r\n", false)).unwrap();
    std::fs::write(dir.path().join("be.in"), utf16("packaging\n", true)).unwrap();
    let input = read(&dir.path().join("requirements.in")).unwrap();
    let names: Vec<&str> = input
        .requirements
        .iter()
        .map(|entry| entry.requirement.name.as_ref())
        .collect();
    assert_eq!(names, ["six", "idna", "packaging"]);
    std::fs::write(dir.path().join("le.in"), b"idna\n\nsix\xFF\n").unwrap();
    assert_snapshot!(read_error(&dir, "requirements.in"), @"[TMP]/le.in:3: byte 0xFF is not UTF-8; save the file as UTF-8");
}

#[test]
fn includes_only_from_regular_files() {
    let dir = folder(&[("requirements.in", "six\n-r /dev/zero\n")]);
    let error = read(&dir.path().join("requirements.in")).unwrap_err();
    assert_snapshot!(
        scrub(&format!("{error}: {}", std::error::Error::source(&error).unwrap()), &dir),
        @"[TMP]/requirements.in:2: cannot read included file `/dev/zero`: it is a character device, not a regular file: input files are read only from regular files"
    );
    let fifo = dir.path().join("fifo.in");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    std::fs::write(dir.path().join("requirements.in"), "-c fifo.in\n").unwrap();
    let error = read(&dir.path().join("requirements.in")).unwrap_err();
    assert!(
        std::error::Error::source(&error)
            .unwrap()
            .to_string()
            .contains("a FIFO"),
        "{error}"
    );
    assert!(
        read(&dir.path().join("fifo.in"))
            .unwrap_err()
            .to_string()
            .starts_with("cannot read")
    );
}

#[test]
fn include_depth_is_limited_and_the_chain_named() {
    let dir = tempfile::tempdir().unwrap();
    for level in 0..40 {
        let text = format!("pkg{level}\n-r level{}.in\n", level + 1);
        std::fs::write(dir.path().join(format!("level{level}.in")), text).unwrap();
    }
    let error = read_error(&dir, "level0.in");
    assert!(
        error.starts_with("[TMP]/level31.in:2: includes nest more than 32 deep: `[TMP]/level0.in` -> `[TMP]/level1.in` ->"),
        "{error}"
    );
    assert!(
        error.ends_with("`[TMP]/level32.in`; flatten some of these `-r`/`-c` lines"),
        "{error}"
    );
}

#[test]
fn an_include_diamond_cannot_read_forever() {
    let dir = tempfile::tempdir().unwrap();
    // 30 levels, each including the next twice: 2^30 reads without a limit.
    for level in 0..30 {
        let next = format!("level{}.in", level + 1);
        let text = format!("-r {next}\n-c {next}\n");
        std::fs::write(dir.path().join(format!("level{level}.in")), text).unwrap();
    }
    std::fs::write(dir.path().join("level30.in"), "six\n").unwrap();
    let error = read_error(&dir, "level0.in");
    assert!(
        error.ends_with(": includes read more than 10000 files (a file included from several places counts each time); include each file once"),
        "{error}"
    );
}

#[test]
fn the_number_of_requirement_lines_is_limited() {
    let error = error(&"six\n".repeat(100_001));
    assert_eq!(
        error,
        "base-image/requirements.in:100001: more than 100000 requirement and constraint lines; split \
         the input, or drop repeated lines"
    );
}

#[test]
fn the_bytes_read_over_all_includes_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    // Each file is under the per-file cap; read four times over, they pass the total.
    let comment = format!("# {}\nsix\n", "x".repeat(3 * 1024 * 1024));
    std::fs::write(dir.path().join("big.in"), comment).unwrap();
    std::fs::write(
        dir.path().join("requirements.in"),
        "-r big.in\n-r big.in\n-r big.in\n-r big.in\n",
    )
    .unwrap();
    assert_snapshot!(read_error(&dir, "requirements.in"), @"[TMP]/requirements.in:4: includes read more than 10 MB in total (a file included from several places counts each time); include each file once");
}

#[test]
fn an_index_url_line_must_name_the_configured_index() {
    let input = parse("numpy\n\n-i https://pypi.org/simple/\n");
    assert!(input.check_index_url("https://pypi.org/simple").is_ok());
    assert_snapshot!(input.check_index_url("https://mirror.example/simple").unwrap_err(), @"base-image/requirements.in:3: `-i https://pypi.org/simple/` is not the index fave-lock resolves from (`https://mirror.example/simple`, from `index-url` in fave-lock.toml, `--index-url` or FAVE_LOCK_INDEX_URL); fave-lock uses exactly one index: remove the line or point the setting at that index");
    assert!(
        parse("numpy\n")
            .check_index_url("https://mirror.example/simple")
            .is_ok()
    );
}
