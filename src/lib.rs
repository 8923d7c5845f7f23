//! arcp-conform: conformance test harness and fuzzer for ARCP v1.1.
//!
//! Data path: case file -> [`case`] (parsed scenario) -> [`engine`] step ->
//! [`transport`] frame -> [`matcher`] -> [`verdict`] -> [`report`].
//! The peers it tests against live here too: the reference [`runtime`] and
//! the reference [`client`]. [`clienttest`] turns the harness around: it
//! plays the runtime and judges a client (`role: client` cases).

pub mod args;
pub mod case;
pub mod checks;
pub mod cli;
pub mod client;
pub mod clienttest;
pub mod clock;
pub mod conformance;
pub mod duration;
pub mod engine;
pub mod fuzz;
pub mod ids;
pub mod limits;
pub mod matcher;
pub mod probe;
pub mod profile;
pub mod redact;
pub mod report;
pub mod retained;
pub mod runtime;
pub mod schema;
pub mod spec;
pub mod suite;
pub mod target;
pub mod template;
pub mod transport;
pub mod upstream;
pub mod verdict;
pub mod wire;
