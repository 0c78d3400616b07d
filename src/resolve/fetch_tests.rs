//! Tests of what fetchers derived from one another share: answers (pages, version maps selected
//! alike), never failures, and never what a fetcher reports as its own.

use std::str::FromStr;

use jiff::Timestamp;

use super::*;
use crate::index::{DistFile, IndexSettings};
use crate::resolve::SdistPolicy;
use crate::tags::{Arch, Platform, PythonVersion};

/// CPython 3.`minor` on x86_64 with glibc 2.36.
pub(in crate::resolve) fn target(minor: u8) -> Target {
    let platform = Platform::new(Arch::X86_64, (2, 36)).unwrap();
    Target::new("linux/amd64", PythonVersion { major: 3, minor }, platform)
}

/// An offline client on the cache folder `dir`, that folder's cache, and the client's index URL: a
/// test writes pages into the cache and reads them back through the client.
pub(in crate::resolve) fn offline_cache(
    dir: &std::path::Path,
) -> (Arc<IndexClient>, crate::index::cache::Cache, String) {
    let settings = IndexSettings {
        cache_dir: dir.to_path_buf(),
        offline: true,
        ..IndexSettings::default()
    };
    let client = Arc::new(IndexClient::new(settings).unwrap());
    let index = client.settings().index_url.clone();
    (
        client,
        crate::index::cache::Cache::new(dir.to_path_buf()),
        index,
    )
}

fn name(text: &str) -> PackageName {
    PackageName::from_str(text).unwrap()
}

/// A page of `project` with a wheel and an sdist of 1.0.
fn page(project: &str) -> ProjectPage {
    let file = |filename: String| DistFile {
        url: format!("https://files.example/{filename}"),
        filename,
        sha256: Some("ab".repeat(32)),
        size: Some(1),
        upload_time: Some("2024-01-01T00:00:00Z".parse().unwrap()),
        requires_python: None,
        yanked: None,
        core_metadata: false,
    };
    ProjectPage {
        name: name(project),
        files: vec![
            file(format!("{project}-1.0-py3-none-any.whl")),
            file(format!("{project}-1.0.tar.gz")),
        ]
        .into(),
    }
}

async fn found_page(fetcher: &Fetcher, project: &str) -> Arc<ProjectPage> {
    match fetcher.page(&name(project)).await {
        Ok(ProjectResponse::Found(page)) => page,
        other => panic!("{project}: {other:?}"),
    }
}

async fn map(fetcher: &Fetcher, project: &str) -> Arc<VersionMap> {
    fetcher.versions(0, &name(project)).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variants_share_pages_and_maps_selected_alike_but_not_failures() {
    let dir = tempfile::tempdir().unwrap();
    let (client, cache, index) = offline_cache(dir.path());
    let fetched_at = Timestamp::now();
    let write = async |project: &str| {
        let page = Arc::new(page(project));
        cache.write_page(&index, page, fetched_at).await.unwrap();
    };
    write("demo").await;
    let root = Fetcher::new(client.clone(), vec![target(11)], ResolveOptions::default());
    let with_policy = |policy: SdistPolicy| {
        root.derived(ResolveOptions {
            allow_sdist: policy,
            ..ResolveOptions::default()
        })
    };
    let (root_page, root_map) = (found_page(&root, "demo").await, map(&root, "demo").await);

    // Another project's sdist allowed: demo's files are selected alike, so the variant holds the
    // same map and page, not copies.
    let unrelated = with_policy(SdistPolicy::only([name("other")]));
    assert!(Arc::ptr_eq(&map(&unrelated, "demo").await, &root_map));
    assert!(Arc::ptr_eq(
        &found_page(&unrelated, "demo").await,
        &root_page
    ));
    // demo's own sdist allowed, or another Python: a map of its own, from the same page.
    let sdist = with_policy(SdistPolicy::only([name("demo")]));
    let other_python = root.for_targets(vec![target(10)]);
    for variant in [&sdist, &other_python] {
        assert!(!Arc::ptr_eq(&map(variant, "demo").await, &root_map));
        assert!(Arc::ptr_eq(&found_page(variant, "demo").await, &root_page));
    }
    let same_python = root.for_targets(vec![target(11)]);
    assert!(Arc::ptr_eq(&map(&same_python, "demo").await, &root_map));

    // A failure is not shared: offline, `late` is not cached yet; once it is, a variant finds it
    // while the fetcher that failed keeps its own answer.
    assert!(root.page(&name("late")).await.is_err());
    write("late").await;
    found_page(&unrelated, "late").await;
    assert!(root.page(&name("late")).await.is_err());
    // Each fetcher reports the projects it found itself.
    assert_eq!(root.found_projects(), [name("demo")]);
    let mut found = unrelated.found_projects();
    found.sort();
    assert_eq!(found, [name("demo"), name("late")]);
}

/// A page read only for its version maps is let go of once they are made; asked for again (a
/// diagnosis), it is read back from the cache entry it came from, even with `--refresh` (which would
/// otherwise fetch it), and the fetcher still reports the project as found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_read_for_its_maps_is_let_go_and_read_back_from_its_cache_entry() {
    let dir = tempfile::tempdir().unwrap();
    let settings = IndexSettings {
        cache_dir: dir.path().to_path_buf(),
        // Nothing listens there: any request fails, so an answer can only come from the cache.
        index_url: "http://127.0.0.1:9/simple".to_string(),
        ..IndexSettings::default()
    };
    let cache = crate::index::cache::Cache::new(dir.path().to_path_buf());
    let written = Arc::new(page("demo"));
    let stamp = cache
        .write_page(&settings.index_url, written.clone(), Timestamp::now())
        .await
        .unwrap();
    let client = Arc::new(IndexClient::new(settings.clone()).unwrap());
    let root = Fetcher::new(client, vec![target(11)], ResolveOptions::default());
    map(&root, "demo").await;
    assert!(root.kept_pages.get(&name("demo")).is_none());
    assert!(!root.pages.has(&name("demo")));
    assert_eq!(root.page_stamps.get(&name("demo")), Some(stamp));
    assert_eq!(root.found_projects(), [name("demo")]);

    let refreshing = IndexSettings {
        refresh: true,
        ..settings
    };
    let client = Arc::new(IndexClient::new(refreshing).unwrap());
    let (again, again_stamp) = client.project_again(&name("demo"), stamp).await.unwrap();
    assert_eq!(again_stamp, Some(stamp));
    match again {
        ProjectResponse::Found(page) => {
            assert_eq!(page.files.to_dist_files(), written.files.to_dist_files());
        }
        ProjectResponse::NotFound => panic!("demo not found"),
    }
    // Another entry than the one let go of: the client asks the index (which fails here).
    let other = PageStamp {
        len: stamp.len + 1,
        ..stamp
    };
    assert!(client.project_again(&name("demo"), other).await.is_err());
}
