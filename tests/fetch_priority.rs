//! Awaited requests never wait behind speculative ones (issue 16): guesses (the resolver's crawl and
//! fetch-ahead, the ABI check's head start) hold at most half of the index client's permits, so a
//! request something waits for finds a free one however many guesses are queued; and a guess that
//! becomes needed is promoted out of the guesses' queue. Against the local test index, whose answers
//! for chosen paths are held back (a slow index without a clock).

mod support;

use std::sync::Arc;
use std::time::Duration;

use fave_lock::index::{DistFile, IndexClient, IndexSettings, ProjectResponse, Speculation};
use pep508_rs::PackageName;
use support::index_server::{IndexServer, Wheel};

/// Long enough never to pass on a working run, however loaded the machine: the test fails instead of
/// hanging when a request waits for a held one.
const GIVE_UP: Duration = Duration::from_secs(60);

fn release(name: &str) -> Wheel {
    Wheel::posing_as(
        &format!("{name}-1.0-py3-none-any.whl"),
        &format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"),
    )
    // One request per metadata, by a path the test can wait for.
    .advertise_metadata()
}

async fn file_of(client: &IndexClient, name: &str) -> DistFile {
    let name: PackageName = name.parse().unwrap();
    let ProjectResponse::Found(page) = client.project(&name).await.unwrap() else {
        panic!("{name} is listed");
    };
    page.files.get(0).unwrap().to_dist_file()
}

fn metadata_path(name: &str) -> String {
    format!("/files/{name}-1.0-py3-none-any.whl.metadata")
}

/// Wait (polling the server, not a clock) until one of `paths` has arrived at the server.
async fn arrival(server: &IndexServer, paths: &[String]) {
    tokio::time::timeout(GIVE_UP, async {
        while !server.arrived().iter().any(|seen| paths.contains(seen)) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("none of {paths:?} arrived: {:?}", server.arrived()));
}

/// Only one of the guesses has gone out: the speculative share of two permits.
fn assert_one_guess_sent(server: &IndexServer, guessed_paths: &[String]) {
    let arrived = server.arrived();
    let sent = arrived
        .iter()
        .filter(|path| guessed_paths.contains(path))
        .count();
    assert_eq!(sent, 1, "guesses in flight: {arrived:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_awaited_fetch_is_served_while_guesses_hold_back_and_a_promoted_guess_jumps_the_queue() {
    let guessed = ["g1", "g2", "g3", "g4"];
    let mut builder = IndexServer::builder().wheel(release("awaited"));
    for name in guessed.iter().chain(&["late"]) {
        builder = builder.wheel(release(name));
    }
    let server = builder.start();
    let cache = tempfile::tempdir().unwrap();
    // Two permits: one for guesses, one always free for awaited requests.
    let client = Arc::new(
        IndexClient::new(IndexSettings {
            index_url: server.url(),
            cache_dir: cache.path().to_path_buf(),
            concurrency: 2,
            ..IndexSettings::default()
        })
        .unwrap(),
    );
    let mut files = Vec::new();
    for name in guessed {
        files.push(file_of(&client, name).await);
        server.hold(&metadata_path(name));
    }
    let awaited = file_of(&client, "awaited").await;
    let late = file_of(&client, "late").await;

    // Four guesses against a slow index: only one may be in flight.
    let mut guesses = Vec::new();
    for file in files {
        let client = client.clone();
        let guess = async move { client.metadata(&file).await.map(|_| ()) };
        guesses.push(tokio::spawn(Speculation::new().scope(guess)));
    }
    let guessed_paths: Vec<String> = guessed.iter().map(|name| metadata_path(name)).collect();
    // Whichever guess took the speculative permit.
    arrival(&server, &guessed_paths).await;
    // The awaited request is answered while every guess is still held or queued.
    let answered = tokio::time::timeout(GIVE_UP, client.metadata(&awaited))
        .await
        .expect("the awaited fetch waited behind the guesses")
        .unwrap();
    assert_eq!(answered.name.to_string(), "awaited");
    assert_one_guess_sent(&server, &guessed_paths);

    // A guess queued behind the held one is promoted: it goes out at once (without a guess's permit).
    let speculation = Speculation::new();
    let promoted = tokio::spawn(speculation.clone().scope({
        let client = client.clone();
        async move { client.metadata(&late).await.map(|_| ()) }
    }));
    tokio::task::yield_now().await;
    speculation.promote();
    tokio::time::timeout(GIVE_UP, promoted)
        .await
        .expect("the promoted guess stayed behind the held ones")
        .unwrap()
        .unwrap();
    assert_one_guess_sent(&server, &guessed_paths);

    // Released, every guess completes.
    for name in guessed {
        server.release(&metadata_path(name));
    }
    for guess in guesses {
        guess.await.unwrap().unwrap();
    }
}
