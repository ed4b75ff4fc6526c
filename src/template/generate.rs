//! Generation: a template rendered with answers into files, provenance included. Both
//! `lbc init` and `lbc upgrade` (which re-renders the old and the new version) call it.

use crate::error::Error;
use crate::template::answers::{self, Answers};
use crate::template::provenance::{self, Provenance};
use crate::template::render::{self, OutContent, OutFile};
use crate::template::Template;

/// Everything a template generates for given answers, provenance included.
pub struct Generated {
    pub files: Vec<OutFile>,
    pub provenance: Provenance,
}

/// Render `template` with `answers`: the files, plus `.lbc/template.toml`. Pure: the same
/// inputs give the same bytes.
pub fn generate(
    template: &Template,
    dir_name: &str,
    answers: &Answers,
) -> Result<Generated, Error> {
    let ctx = answers::context(template, dir_name, answers);
    let mut files = render::render(template, &ctx)?;
    let provenance = Provenance::new(template, answers);
    files.push(OutFile {
        path: provenance::PATH.to_owned(),
        content: OutContent::File {
            bytes: provenance.to_text().into_bytes(),
            executable: false,
        },
        source: String::new(),
    });
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Generated { files, provenance })
}
