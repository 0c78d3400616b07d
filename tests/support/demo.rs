//! The small real-wheel index most command tests start from (six, idna and packaging, with their real
//! upload times), and a [`Project`] fave-lock resolved against it.

#![allow(dead_code)] // Each test binary uses a different part of this.

use std::process::Output;

use super::index_server::{IndexServer, Wheel};
use super::project::{Project, text};

pub const SIX: &str = "six-1.16.0-py2.py3-none-any.whl";
pub const IDNA: &str = "idna-3.10-py3-none-any.whl";
pub const PACKAGING: &str = "packaging-24.2-py3-none-any.whl";
/// six's real sha256.
pub const SIX_SHA256: &str = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254";
/// What a tampered index lists instead of a real hash.
pub const FAKE_SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000bad";

/// The index with the three wheels.
pub fn index() -> IndexServer {
    IndexServer::builder()
        .wheel(Wheel::fixture(SIX).upload_time("2021-05-05T14:18:17Z"))
        .wheel(Wheel::fixture(IDNA).upload_time("2024-09-15T18:07:37Z"))
        .wheel(Wheel::fixture(PACKAGING).upload_time("2024-11-08T09:47:44Z"))
        .start()
}

/// A project whose `requirements` fave-lock resolved against `server` (its lock written, its cache
/// filled).
pub fn resolved(server: &IndexServer, requirements: &str) -> Project {
    resolve(Project::new(&server.url(), requirements))
}

/// A project resolved against `server` whose image builds FROM `base:1.0` of the registry at
/// `authority` and is published there as `fave-base:0.1` (the base tag must exist: the plan pins it).
pub fn resolved_with_registry(server: &IndexServer, authority: &str) -> Project {
    let project = Project::new(&server.url(), "six==1.16.0\nidna\npackaging\n");
    let config = project.root().join("fave-lock.toml");
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str(&format!(
        "registry = \"{authority}/fave-base\"\nbase-image = \"{authority}/base:1.0\"\ntags = [\"0.1\"]\n"
    ));
    std::fs::write(&config, toml).unwrap();
    resolve(project)
}

/// `project` after `fave-lock resolve` succeeded in it (its lock written, its cache filled).
pub fn resolve(project: Project) -> Project {
    let out = project.run(&["resolve", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(project.lock_dir().join("pylock.toml").is_file());
    project
}

/// A run's stdout as JSON.
pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("not JSON ({error}):\n{}", text(output)))
}
