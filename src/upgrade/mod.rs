//! `lbc upgrade`: bring a repository up to its template's newest version without losing
//! a local edit.

pub mod apply;
pub mod files;
pub mod merge;
pub mod schema;
