//! arcp-conform: conformance test harness and fuzzer for ARCP v1.1.
//!
//! Data path: case file -> [`case`] (parsed scenario) -> [`engine`] step ->
//! [`transport`] frame -> [`matcher`] -> [`verdict`] -> [`report`].
//! The peers it tests against live here too: the reference [`runtime`] and
//! the reference [`client`].

pub mod case;
pub mod clock;
pub mod ids;
pub mod matcher;
pub mod template;
pub mod transport;
pub mod wire;
