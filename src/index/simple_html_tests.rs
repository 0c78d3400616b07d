//! Tests of the PEP 503 HTML reader: a trimmed real page, the attribute forms indexes use, and garbage.

use std::str::FromStr;

use super::*;

const REQUESTS: &str = include_str!("../../tests/fixtures/pages/requests.html");

fn name() -> PackageName {
    PackageName::from_str("demo").unwrap()
}

fn page_url() -> Url {
    Url::parse("https://index.example/simple/demo/").unwrap()
}

fn files(html: &str) -> Vec<DistFile> {
    parse(html, &page_url(), &name()).files.to_dist_files()
}

#[test]
fn parses_a_trimmed_real_page() {
    let page = parse(
        REQUESTS,
        &Url::parse("https://pypi.org/simple/requests/").unwrap(),
        &name(),
    );
    let json = include_str!("../../tests/fixtures/pages/requests.json");
    let from_json = super::super::simple_json::parse(
        json.as_bytes(),
        &Url::parse("https://pypi.org/simple/requests/").unwrap(),
        &name(),
    )
    .unwrap();
    let (page, from_json) = (page.files.to_dist_files(), from_json.files.to_dist_files());
    assert_eq!(page.len(), 5);
    // HTML carries no size or upload time; everything else agrees with the JSON page.
    for (html, json) in page.iter().zip(&from_json) {
        let json_without_extras = DistFile {
            size: None,
            upload_time: None,
            ..json.clone()
        };
        assert_eq!(html, &json_without_extras);
    }
    assert_eq!(page[1].requires_python.as_deref(), Some(">=3.7"));
    assert_eq!(
        page[3].yanked.as_deref(),
        Some("Yanked due to conflicts with CVE-2024-35195 mitigation ")
    );
}

#[test]
fn resolves_relative_links_and_base() {
    let found = files(
        r#"<a href="../../files/a-1.0.tar.gz#sha256=AB&#67;DEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789">a-1.0.tar.gz</a>
           <a href="/root/a-1.1.tar.gz#md5=0123">a-1.1.tar.gz</a>
           <base href="https://mirror.example/pkgs/">
           <a href="a-1.2.tar.gz">a-1.2.tar.gz</a>"#,
    );
    let urls: Vec<&str> = found.iter().map(|file| file.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://index.example/files/a-1.0.tar.gz",
            "https://index.example/root/a-1.1.tar.gz",
            "https://mirror.example/pkgs/a-1.2.tar.gz"
        ]
    );
    assert_eq!(
        found[0].sha256.as_deref(),
        Some("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
    );
    assert_eq!(found[1].sha256, None);
}

#[test]
fn reads_attributes_in_every_form() {
    let found = files(
        "<A HREF='a-1.0.whl' Data-Requires-Python='&gt;=3.8,&lt;4' data-yanked>a-1.0.whl</A>\n\
         <a href=a-1.1.whl data-yanked=\"bad &amp; broken\" data-dist-info-metadata=\"sha256=00\">a-1.1.whl</a>\n\
         <a data-core-metadata=\"true\" href=\"a-1.2.whl\" data-requires-python=\"\">  a-1.2.whl  </a>\n\
         <a href=\"a-1.3.whl\" data-core-metadata=\"false\" data-dist-info-metadata=\"true\"></a>\n\
         <a href=\"a-1.4.whl\" data-dist-info-metadata>a-1.4.whl</a>",
    );
    assert_eq!(found.len(), 5);
    assert_eq!(found[0].requires_python.as_deref(), Some(">=3.8,<4"));
    assert_eq!(found[0].yanked.as_deref(), Some(""));
    assert!(!found[0].core_metadata);
    assert_eq!(found[1].yanked.as_deref(), Some("bad & broken"));
    assert!(found[1].core_metadata);
    assert_eq!(found[2].filename, "a-1.2.whl");
    assert_eq!(found[2].requires_python, None);
    assert!(found[2].core_metadata);
    // No anchor text: the filename comes from the URL; `data-core-metadata` wins (PEP 714).
    assert_eq!(found[3].filename, "a-1.3.whl");
    assert!(!found[3].core_metadata);
    assert!(found[4].core_metadata);
}

#[test]
fn skips_comments_non_links_and_anchors_without_href() {
    let found = files(
        "<!DOCTYPE html><!-- <a href=\"hidden.whl\">hidden.whl</a> --><abbr href=\"x\">x</abbr>\
         <a name=\"top\">top</a><a href=\"kept.whl\">kept.whl</a>",
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].filename, "kept.whl");
}

#[test]
fn decodes_entities() {
    assert_eq!(decode_entities("&gt;=3.8"), ">=3.8");
    assert_eq!(
        decode_entities("&#62;&#x3e;&#X3E;&amp;&quot;&apos;"),
        ">>>&\"'"
    );
    assert_eq!(
        decode_entities("&unknown; & &; &#xZZ; &#0; &#xD800;"),
        "&unknown; & &; &#xZZ; \u{fffd} \u{fffd}"
    );
    assert_eq!(
        decode_entities("&#99999999999999999999;"),
        "&#99999999999999999999;"
    );
    assert_eq!(decode_entities("ü&gt;ß&"), "ü>ß&");
}

#[test]
fn survives_garbage() {
    let samples = [
        "",
        "<",
        "<a",
        "<a href",
        "<a href=",
        "<a href=\"",
        "<a href='x.whl",
        "<a href=x.whl>x.whl",
        "<a href=x.whl>x.whl</a",
        "<a =\"x\" href=y.whl/>",
        "<a\u{0}href=\"\u{ff}\">é</a>",
        "<!--",
        "<a href=\"http://[::1\">bad url</a>",
        "<<<>>><a/><a//><a href=\"ü.whl\">ü</a>",
        "&&&&;;;<a href=\"&#xFFFFFFFFF;\">&#</a>",
    ];
    for html in samples {
        let _ = files(html);
        let _ = text_snippet(html, 120);
    }
    // Every prefix and every char-boundary split of a real page.
    for end in (0..=REQUESTS.len()).filter(|&end| REQUESTS.is_char_boundary(end)) {
        let _ = files(&REQUESTS[..end]);
        let _ = files(&REQUESTS[end..]);
        let _ = text_snippet(&REQUESTS[..end], 120);
        let _ = text_snippet(&REQUESTS[end..], 120);
    }
    assert_eq!(files("<a href=x.whl>x.whl").len(), 1);
}

#[test]
fn stays_linear_on_unclosed_anchors() {
    let html =
        "<a href=\"x.whl\">".repeat(30_000) + &"<!--".repeat(10_000) + &"<a href='".repeat(10_000);
    let started = std::time::Instant::now();
    assert_eq!(files(&html).len(), 30_000);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn survives_random_bytes() {
    let alphabet = [
        "<", ">", "a", " ", "=", "\"", "'", "&", ";", "#", "/", "href", "!--", "-->", "é", "x",
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..2000 {
        let mut html = String::new();
        for _ in 0..40 {
            // xorshift: deterministic, no dependency.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            html.push_str(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        let page = parse(&html, &page_url(), &name());
        let _ = is_project_page(&html, &page);
        let _ = text_snippet(&html, 20);
    }
}

/// Whether `html` passes for a project page.
fn is_page(html: &str) -> bool {
    is_project_page(html, &parse(html, &page_url(), &name()))
}

#[test]
fn project_pages_are_told_from_error_pages() {
    // A project with no files, as warehouse and pypiserver write it: still a project page.
    assert!(is_page(
        "<!DOCTYPE html><html><head><meta name=\"pypi:repository-version\" content=\"1.1\">\
         <title>Links for demo</title></head><body><h1>Links for demo</h1></body></html>"
    ));
    assert!(is_page(
        "<html><head><title>Links for demo</title></head><body></body></html>"
    ));
    assert!(is_page("<h1>  LINKS FOR demo</h1>"));
    assert!(is_page("<META NAME='pypi:repository-version' content=1.0>"));
    // Files and nothing else (PEP 503 asks for no more).
    assert!(is_page(
        "<a href=\"demo-1.0-py3-none-any.whl\">demo-1.0-py3-none-any.whl</a>"
    ));
    assert!(is_page("<a href=\"/f/demo-1.0.tar.gz#sha256=00\"></a>"));
    assert!(is_page(REQUESTS));

    // Error pages, portals and other bodies.
    assert!(!is_page(
        "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>\
         </center><hr><center>nginx</center></body></html>"
    ));
    assert!(!is_page(
        "<html><title>Sign in</title><a href=\"/login\">Sign in</a> <a href=\"/help\">Help</a></html>"
    ));
    assert!(!is_page("Service Unavailable"));
    assert!(!is_page(""));
    // "Links for" elsewhere than the title or heading proves nothing.
    assert!(!is_page("<p>Links for demo are gone</p>"));
}

#[test]
fn snippets_are_the_visible_text() {
    assert_eq!(
        text_snippet(
            "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title>\
             <style>body { color: red }</style><script>var x = \"<b>\";</script></head>\
             <!-- a comment --><body><h1>502&nbsp;Bad   Gateway</h1>\n<hr><center>nginx</center></body></html>",
            120
        ),
        "502 Bad Gateway 502\u{a0}Bad Gateway nginx"
    );
    assert_eq!(
        text_snippet(
            "<title>502 Bad Gateway</title><h1>502 Bad Gateway</h1><p>nginx</p>",
            120
        ),
        "502 Bad Gateway nginx"
    );
    assert_eq!(text_snippet("no no no", 120), "no no");
    assert_eq!(
        text_snippet("Service  Unavailable\n", 120),
        "Service Unavailable"
    );
    assert_eq!(text_snippet("<p></p>", 120), "");
    let long: Vec<String> = (0..100).map(|number| format!("w{number}")).collect();
    let long = format!("<p>{}</p>", long.join("\n"));
    assert_eq!(text_snippet(&long, 12), "w0 w1 w2 w3…");
    assert_eq!(text_snippet(&long, 13), "w0 w1 w2 w3 w…");
    assert_eq!(text_snippet("<p>w0 w1 w2 w3</p>", 11), "w0 w1 w2 w3");
    // An unclosed script hides the rest, as in a browser.
    assert_eq!(text_snippet("before<SCRIPT>after", 120), "before");
}
