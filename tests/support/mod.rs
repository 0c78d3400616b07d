//! Helpers shared by the integration tests. Each test binary includes this with `mod support;`.

pub mod demo;
pub mod fault_proxy;
pub mod index_server;
pub mod live;
pub mod project;
