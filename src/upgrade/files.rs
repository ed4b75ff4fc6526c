//! The file-by-file decision of an upgrade. base = the old template version rendered
//! with the recorded answers, theirs = the new version rendered with the same answers,
//! ours = what the repository holds. Pure: it reads the repository through a closure
//! and returns what to write; nothing is written here.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::upgrade::merge::{merge, similarity};

/// A file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileData {
    pub bytes: Vec<u8>,
    pub executable: bool,
}

pub type Tree = BTreeMap<String, FileData>;

/// What happened to one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Unchanged locally: replaced by the template's new version.
    Updated,
    /// Changed locally, not by the template: kept.
    KeptLocal,
    /// Changed on both sides, merged without overlap.
    Merged,
    /// Changed on both sides with overlaps: conflict markers written.
    Conflict,
    /// Binary, changed on both sides: local bytes kept, the template's beside as `.lbc-new`.
    BinaryConflict,
    /// New in the template: added.
    Added,
    /// New in the template, and a different file already stands at that path.
    AddedConflict,
    /// The template still has it, but it was deleted locally: stays deleted.
    StaysDeleted,
    /// Removed by the template and unmodified locally: removed.
    Removed,
    /// Removed by the template but modified locally: kept.
    KeptRemoved,
    /// Renamed by the template: moved, with the local edits.
    Renamed,
}

impl Outcome {
    pub fn is_conflict(self) -> bool {
        matches!(
            self,
            Outcome::Conflict | Outcome::BinaryConflict | Outcome::AddedConflict
        )
    }
    /// Worth telling the user even when nothing conflicts.
    pub fn is_notable(self) -> bool {
        matches!(self, Outcome::StaysDeleted | Outcome::KeptRemoved) || self.is_conflict()
    }
}

/// One decision: what to write where.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub path: String,
    pub outcome: Outcome,
    /// For a rename: the path the file had.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The new content of `path` (None: leave or delete, see `delete`).
    #[serde(skip)]
    pub write: Option<FileData>,
    /// Paths to delete.
    #[serde(skip)]
    pub delete: Vec<String>,
    /// A file to write beside (`FILE.lbc-new` for binary conflicts).
    #[serde(skip)]
    pub beside: Option<(String, FileData)>,
    /// Number of conflict regions (text conflicts).
    #[serde(skip_serializing_if = "is_zero")]
    pub conflicts: usize,
    /// For a conflict: the three versions (base, local, template), so that the conflict
    /// can be recorded in git's index as a merge would.
    #[serde(skip)]
    pub sides: Option<[Vec<u8>; 3]>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Change {
    fn new(path: &str, outcome: Outcome) -> Self {
        Change {
            path: path.to_owned(),
            outcome,
            from: None,
            write: None,
            delete: vec![],
            beside: None,
            conflicts: 0,
            sides: None,
        }
    }
}

pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8000).any(|b| *b == 0) || std::str::from_utf8(bytes).is_err()
}

/// Renames from `base` to `theirs`: those the template declares, then those found by
/// content (a path gone from the template and a new one at least 60% alike).
pub fn renames(
    base: &Tree,
    theirs: &Tree,
    declared: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = declared
        .iter()
        .filter(|(from, to)| {
            base.contains_key(*from) && theirs.contains_key(*to) && !base.contains_key(*to)
        })
        .map(|(a, b)| (a.clone(), b.clone()))
        .collect();
    let taken: BTreeSet<String> = out.values().cloned().collect();
    let gone: Vec<&String> = base
        .keys()
        .filter(|p| !theirs.contains_key(*p) && !out.contains_key(*p))
        .collect();
    let mut new: Vec<&String> = theirs
        .keys()
        .filter(|p| !base.contains_key(*p) && !taken.contains(*p))
        .collect();
    for g in gone {
        let old = &base[g];
        let best = new
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let cand = &theirs[*n];
                let score = if old.bytes == cand.bytes {
                    1.0
                } else if is_binary(&old.bytes) || is_binary(&cand.bytes) {
                    0.0
                } else {
                    similarity(
                        &String::from_utf8_lossy(&old.bytes),
                        &String::from_utf8_lossy(&cand.bytes),
                    )
                };
                (i, score)
            })
            .filter(|(_, s)| *s >= 0.6)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, _)) = best {
            out.insert(g.clone(), new.remove(i).clone());
        }
    }
    out
}

/// Decide every path. `ours` reads the repository's current file at a path.
pub fn decide(
    base: &Tree,
    theirs: &Tree,
    renames: &BTreeMap<String, String>,
    ours: &dyn Fn(&str) -> Option<FileData>,
    label: &str,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let renamed_to: BTreeSet<&String> = renames.values().collect();

    for (path, b) in base {
        let target = renames.get(path).unwrap_or(path);
        let t = theirs.get(target);
        let o = ours(path);
        let mut c = match (t, &o) {
            // Removed by the template.
            (None, None) => continue,
            (None, Some(o)) if o.bytes == b.bytes => {
                let mut c = Change::new(path, Outcome::Removed);
                c.delete.push(path.clone());
                c
            }
            (None, Some(_)) => Change::new(path, Outcome::KeptRemoved),
            // Deleted locally.
            (Some(t), None) => {
                if t.bytes == b.bytes && target == path {
                    continue;
                }
                Change::new(target, Outcome::StaysDeleted)
            }
            (Some(t), Some(o)) => three_way(target, b, o, t, label),
        };
        if target != path {
            if c.outcome == Outcome::StaysDeleted {
                c.from = Some(path.clone());
            } else if let Some(local) = o {
                c.from = Some(path.clone());
                c.delete.push(path.clone());
                if c.write.is_none() {
                    // Unchanged on both sides but moved: carry the local file over.
                    c.write = Some(local);
                }
                if matches!(
                    c.outcome,
                    Outcome::Updated | Outcome::KeptLocal | Outcome::Merged
                ) {
                    c.outcome = Outcome::Renamed;
                }
            }
        }
        if c.write.is_none() && c.delete.is_empty() && c.beside.is_none() && !c.outcome.is_notable()
        {
            continue;
        }
        changes.push(c);
    }
    for (path, t) in theirs {
        if base.contains_key(path) || renamed_to.contains(path) {
            continue;
        }
        match ours(path) {
            None => {
                let mut c = Change::new(path, Outcome::Added);
                c.write = Some(t.clone());
                changes.push(c);
            }
            Some(o) if o.bytes == t.bytes => {}
            Some(o) => {
                // A file the user created where the template now adds one: merge as if
                // both had started from nothing.
                let empty = FileData {
                    bytes: vec![],
                    executable: t.executable,
                };
                let mut c = three_way(path, &empty, &o, t, label);
                c.outcome = if c.outcome.is_conflict() {
                    Outcome::AddedConflict
                } else {
                    c.outcome
                };
                changes.push(c);
            }
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    changes
}

fn three_way(path: &str, b: &FileData, o: &FileData, t: &FileData, label: &str) -> Change {
    if o.bytes == t.bytes {
        return Change::new(path, Outcome::KeptLocal);
    }
    if o.bytes == b.bytes {
        let mut c = Change::new(path, Outcome::Updated);
        c.write = Some(FileData {
            bytes: t.bytes.clone(),
            executable: o.executable || t.executable,
        });
        return c;
    }
    if t.bytes == b.bytes {
        return Change::new(path, Outcome::KeptLocal);
    }
    if is_binary(&b.bytes) || is_binary(&o.bytes) || is_binary(&t.bytes) {
        let mut c = Change::new(path, Outcome::BinaryConflict);
        c.beside = Some((format!("{path}.lbc-new"), t.clone()));
        c.sides = Some([b.bytes.clone(), o.bytes.clone(), t.bytes.clone()]);
        return c;
    }
    let m = merge(
        &String::from_utf8_lossy(&b.bytes),
        &String::from_utf8_lossy(&o.bytes),
        &String::from_utf8_lossy(&t.bytes),
        label,
    );
    let mut c = Change::new(
        path,
        if m.conflicts > 0 {
            Outcome::Conflict
        } else {
            Outcome::Merged
        },
    );
    c.conflicts = m.conflicts;
    if m.conflicts > 0 {
        c.sides = Some([b.bytes.clone(), o.bytes.clone(), t.bytes.clone()]);
    }
    c.write = Some(FileData {
        bytes: m.text.into_bytes(),
        executable: o.executable,
    });
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> FileData {
        FileData {
            bytes: s.as_bytes().to_vec(),
            executable: false,
        }
    }
    fn tree(items: &[(&str, &str)]) -> Tree {
        items.iter().map(|(p, c)| ((*p).to_owned(), f(c))).collect()
    }

    fn run(base: &Tree, theirs: &Tree, ours: &Tree) -> Vec<Change> {
        let r = renames(base, theirs, &BTreeMap::new());
        decide(base, theirs, &r, &|p| ours.get(p).cloned(), "2.0")
    }

    #[test]
    fn every_case() {
        let base = tree(&[
            ("same", "x\n"),
            ("tmpl-only", "a\nb\n"),
            ("local-only", "a\nb\n"),
            ("both", "1\n2\n3\n4\n5\n"),
            ("clash", "a\n"),
            ("deleted", "d\n"),
            ("removed-clean", "r\n"),
            ("removed-edited", "r\n"),
            ("old/name.txt", "l1\nl2\nl3\nl4\nl5\n"),
        ]);
        let theirs = tree(&[
            ("same", "x\n"),
            ("tmpl-only", "a\nB\n"),
            ("local-only", "a\nb\n"),
            ("both", "1\n2\n3\n4\nFIVE\n"),
            ("clash", "theirs\n"),
            ("deleted", "d2\n"),
            ("new/name.txt", "l1\nl2\nl3\nl4\nl5\nl6\n"),
            ("added", "new\n"),
        ]);
        let ours = tree(&[
            ("same", "x\n"),
            ("tmpl-only", "a\nb\n"),
            ("local-only", "a\nLOCAL\n"),
            ("both", "ONE\n2\n3\n4\n5\n"),
            ("clash", "ours\n"),
            ("removed-clean", "r\n"),
            ("removed-edited", "r edited\n"),
            ("old/name.txt", "L1\nl2\nl3\nl4\nl5\n"),
        ]);
        let changes = run(&base, &theirs, &ours);
        let get = |p: &str| {
            changes
                .iter()
                .find(|c| c.path == p)
                .unwrap_or_else(|| panic!("no change for {p}: {changes:?}"))
        };
        assert_eq!(get("tmpl-only").outcome, Outcome::Updated);
        assert_eq!(get("tmpl-only").write.as_ref().unwrap().bytes, b"a\nB\n");
        assert!(changes
            .iter()
            .all(|c| c.path != "local-only" && c.path != "same"));
        assert_eq!(get("both").outcome, Outcome::Merged);
        assert_eq!(
            get("both").write.as_ref().unwrap().bytes,
            b"ONE\n2\n3\n4\nFIVE\n"
        );
        assert_eq!(get("clash").outcome, Outcome::Conflict);
        assert_eq!(get("deleted").outcome, Outcome::StaysDeleted);
        assert!(get("deleted").write.is_none());
        assert_eq!(get("removed-clean").outcome, Outcome::Removed);
        assert_eq!(
            get("removed-clean").delete,
            vec!["removed-clean".to_owned()]
        );
        assert_eq!(get("removed-edited").outcome, Outcome::KeptRemoved);
        assert!(get("removed-edited").delete.is_empty());
        let moved = get("new/name.txt");
        assert_eq!(moved.outcome, Outcome::Renamed);
        assert_eq!(moved.from.as_deref(), Some("old/name.txt"));
        assert_eq!(
            moved.write.as_ref().unwrap().bytes,
            b"L1\nl2\nl3\nl4\nl5\nl6\n"
        );
        assert_eq!(moved.delete, vec!["old/name.txt".to_owned()]);
        assert_eq!(get("added").outcome, Outcome::Added);
    }

    #[test]
    fn binary_changed_on_both_sides_keeps_local_bytes() {
        let bin = |b: &[u8]| FileData {
            bytes: b.to_vec(),
            executable: false,
        };
        let base: Tree = [("logo.png".to_owned(), bin(b"\x89PNG\0base"))].into();
        let theirs: Tree = [("logo.png".to_owned(), bin(b"\x89PNG\0theirs"))].into();
        let ours: Tree = [("logo.png".to_owned(), bin(b"\x89PNG\0ours"))].into();
        let changes = run(&base, &theirs, &ours);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].outcome, Outcome::BinaryConflict);
        assert!(changes[0].write.is_none(), "local bytes stay");
        let (p, d) = changes[0].beside.as_ref().unwrap();
        assert_eq!(
            (p.as_str(), d.bytes.as_slice()),
            ("logo.png.lbc-new", b"\x89PNG\0theirs".as_slice())
        );
    }
}
