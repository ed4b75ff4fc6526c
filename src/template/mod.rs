//! Templates: the format lbc scaffolds repositories from (a public contract, see
//! `docs/templates.md`). A template is a directory, or a git repository, with
//! `template.toml` at its root and the files to generate beside it. Only files whose
//! names end in `.jinja` are rendered (minijinja, undefined variables are errors); every
//! other file is copied byte for byte, so Helm's `{{ }}` and GitHub's `${{ }}` need no
//! escaping. Path names may contain variables.
//!
//! - [`source`] reads a template from the binary (built-in stacks), a directory or git;
//! - [`manifest`] is `template.toml`;
//! - [`answers`] resolves variables from `--set`, prompts and defaults;
//! - [`render`] renders into memory, with the escape checks;
//! - [`write`] compares with the destination, stages in a temporary directory and moves
//!   into place;
//! - [`provenance`] is `.lbc/template.toml`, what `lbc upgrade` needs to re-render;
//! - [`generate`] renders a template with answers into files plus provenance.

pub mod answers;
pub mod builtin;
pub mod generate;
pub mod manifest;
pub mod provenance;
pub mod render;
pub mod source;
pub mod write;

pub use answers::{Answers, Value};
pub use manifest::Manifest;
pub use source::{Origin, SourceFile, Template};
