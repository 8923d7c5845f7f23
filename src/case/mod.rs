//! Cases: the YAML scenarios that drive an implementation and judge it.
//!
//! A case file holds one case (or several YAML documents separated by
//! `---`). [`load_dir`] / [`load_file`] / [`parse_str`] turn files into
//! validated [`Case`]s; every problem is a single [`CaseError`] of the form
//! `file:line:col: problem`. The format is documented in
//! `docs/case-language.md`.
//!
//! What the loader guarantees about a returned `Case`:
//! * every field has its default filled in (sessions default to `"a"`,
//!   `within` to 5s, `resume` tokens to `${session.<s>.resume_token}`, ...);
//! * every pattern passed [`crate::matcher::validate_pattern`], every
//!   template is well formed, every error code is a §12 code, every
//!   duration parsed;
//! * every session is opened (`open`/`connect`/`resume`) before a step uses
//!   it and is not used after `drop`/`expect_close` until reopened;
//! * every `${name}` is a [`crate::template::Builtin`], `${i}` inside a
//!   `repeat`, or captured/`set` by an earlier step;
//! * `requires.agents`, `requires.principals`, `requires.sessions` and
//!   `requires.reconnect` include what the steps use;
//! * each [`Step`] knows its 1-based line in [`Case::source`].

mod client_check;
mod de;

mod load;
mod model;
mod names;
mod validate;
pub use names::step_names;

#[cfg(test)]
mod tests;

pub use crate::duration::parse_duration;
pub use load::{
    case_files, check_dependencies, check_levels, load_dir, load_file, load_sources,
    parse_rendered, parse_str, CaseError,
};
pub use model::*;
