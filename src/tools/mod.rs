//! Wrappers for the external tools lbc drives. Each builds argument lists and parses
//! the tool's output; none starts a process itself (the runner does, and finds the
//! programs: [`crate::runner::find`]). The read-only probes take the runner to run a
//! query through it.

pub mod docker;
pub mod docker_api;
pub mod git;
pub mod helm;
pub mod kubectl;
