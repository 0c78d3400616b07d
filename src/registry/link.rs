//! The `Link` header of a paginated tag list (`</v2/x/tags/list?n=100&last=b>; rel="next"`, RFC 8288),
//! resolved against the page's URL and kept on the same registry: a registry cannot send the client to
//! another host through it.

use reqwest::Url;

/// The `rel="next"` target of `header`, resolved against `page`, if it stays on `page`'s origin.
///
/// # Errors
///
/// A message when there is a next link but it is malformed or leaves the registry.
pub(crate) fn next_page(page: &Url, header: &str) -> Result<Option<Url>, String> {
    for link in header.split(',') {
        let link = link.trim();
        let Some(rest) = link.strip_prefix('<') else {
            continue;
        };
        let Some((target, params)) = rest.split_once('>') else {
            continue;
        };
        let is_next = params.split(';').any(|param| {
            let param = param.trim().to_ascii_lowercase();
            param == "rel=next" || param == "rel=\"next\""
        });
        if !is_next {
            continue;
        }
        let url = page
            .join(target)
            .map_err(|error| format!("bad `Link` target `{target}`: {error}"))?;
        if url.origin() != page.origin() {
            return Err(format!(
                "the `Link` header points to another origin ({}); refusing to follow",
                url.origin().ascii_serialization()
            ));
        }
        return Ok(Some(url));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("http://127.0.0.1:5000/v2/a/tags/list?n=2").unwrap()
    }

    #[test]
    fn follows_relative_next_links() {
        let next = next_page(&page(), r#"</v2/a/tags/list?last=b&n=2>; rel="next""#).unwrap();
        assert_eq!(
            next.unwrap().as_str(),
            "http://127.0.0.1:5000/v2/a/tags/list?last=b&n=2"
        );
        let next = next_page(
            &page(),
            "<http://127.0.0.1:5000/v2/a/tags/list?last=c>;rel=next",
        )
        .unwrap();
        assert!(next.is_some());
        assert_eq!(next_page(&page(), r#"</x>; rel="prev""#).unwrap(), None);
        assert_eq!(next_page(&page(), "garbage").unwrap(), None);
    }

    #[test]
    fn refuses_other_origins() {
        for target in [
            "http://evil.example/v2/",
            "//evil.example/x",
            "https://127.0.0.1:5000/v2/",
        ] {
            let header = format!("<{target}>; rel=\"next\"");
            assert!(next_page(&page(), &header).is_err(), "{target}");
        }
    }
}
