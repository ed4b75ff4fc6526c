//! Three-way merge of text, line by line (diff3): base is what the template generated
//! before, ours is what the repository holds, theirs is what the template generates now.
//! Changes on one side apply; identical changes on both sides apply once; overlapping
//! different changes become a conflict with the base section and labels:
//!
//! ```text
//! <<<<<<< local
//! (the repository's lines)
//! ||||||| base
//! (the old template's lines)
//! =======
//! (the new template's lines)
//! >>>>>>> template 1.1.0
//! ```

use similar::{capture_diff_slices, Algorithm, DiffOp};

/// The result of a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub text: String,
    pub conflicts: usize,
}

/// A change of one side: base lines `start..end` become `lines`.
#[derive(Debug, Clone)]
struct Hunk<'a> {
    start: usize,
    end: usize,
    lines: Vec<&'a str>,
}

fn split_lines(s: &str) -> Vec<&str> {
    s.split_inclusive('\n').collect()
}

/// Does `ops` walk `base` and `other` from start to end in order, with equal runs that
/// really are equal? (`similar` 2.7's Myers sometimes returns operations out of order
/// or with wrong indices, mitsuhiko/similar#78 and #80: found by the fuzz test of issue
/// #9, where it made `hunks` panic or could have dropped lines.)
fn consistent(ops: &[DiffOp], base: &[&str], other: &[&str]) -> bool {
    let (mut o, mut n) = (0usize, 0usize);
    for op in ops {
        match *op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => {
                if old_index != o
                    || new_index != n
                    || base.get(o..o + len) != other.get(n..n + len)
                    || o + len > base.len()
                {
                    return false;
                }
                o += len;
                n += len;
            }
            DiffOp::Delete {
                old_index, old_len, ..
            } => {
                if old_index != o {
                    return false;
                }
                o += old_len;
            }
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => {
                if old_index != o || new_index != n {
                    return false;
                }
                n += new_len;
            }
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                if old_index != o || new_index != n {
                    return false;
                }
                o += old_len;
                n += new_len;
            }
        }
    }
    o == base.len() && n == other.len()
}

/// The operations turning `base` into `other`: Myers, else LCS, else (when both are
/// inconsistent) one replacement between the common prefix and suffix, which is always
/// right if not minimal.
fn diff_ops(base: &[&str], other: &[&str]) -> Vec<DiffOp> {
    for alg in [Algorithm::Myers, Algorithm::Lcs] {
        let ops = capture_diff_slices(alg, base, other);
        if consistent(&ops, base, other) {
            return ops;
        }
    }
    let prefix = base.iter().zip(other).take_while(|(a, b)| a == b).count();
    let suffix = base[prefix..]
        .iter()
        .rev()
        .zip(other[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    vec![DiffOp::Replace {
        old_index: prefix,
        old_len: base.len() - prefix - suffix,
        new_index: prefix,
        new_len: other.len() - prefix - suffix,
    }]
}

fn hunks<'a>(base: &[&'a str], other: &[&'a str]) -> Vec<Hunk<'a>> {
    let mut out: Vec<Hunk<'a>> = Vec::new();
    for op in diff_ops(base, other) {
        let (start, end, new) = match op {
            DiffOp::Equal { .. } => continue,
            DiffOp::Delete {
                old_index, old_len, ..
            } => (old_index, old_index + old_len, &other[0..0]),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => (old_index, old_index, &other[new_index..new_index + new_len]),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (
                old_index,
                old_index + old_len,
                &other[new_index..new_index + new_len],
            ),
        };
        // Adjacent operations (a delete next to an insert) form one hunk.
        match out.last_mut() {
            Some(last) if last.end == start => {
                last.end = end;
                last.lines.extend_from_slice(new);
            }
            _ => out.push(Hunk {
                start,
                end,
                lines: new.to_vec(),
            }),
        }
    }
    out
}

/// Apply one side's hunks that fall in `start..end` to the base lines of that range.
fn apply_range<'a>(
    base: &[&'a str],
    hunks: &[&Hunk<'a>],
    start: usize,
    end: usize,
) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut pos = start;
    for h in hunks {
        out.extend_from_slice(&base[pos..h.start]);
        out.extend_from_slice(&h.lines);
        pos = h.end;
    }
    out.extend_from_slice(&base[pos..end]);
    out
}

/// Merge `ours` and `theirs`, both derived from `base`. `theirs_label` names the new
/// template version in conflict markers.
pub fn merge(base: &str, ours: &str, theirs: &str, theirs_label: &str) -> Merged {
    if ours == theirs {
        return Merged {
            text: ours.to_owned(),
            conflicts: 0,
        };
    }
    if base == ours {
        return Merged {
            text: theirs.to_owned(),
            conflicts: 0,
        };
    }
    if base == theirs {
        return Merged {
            text: ours.to_owned(),
            conflicts: 0,
        };
    }
    let b = split_lines(base);
    let o = split_lines(ours);
    let t = split_lines(theirs);
    let ho = hunks(&b, &o);
    let ht = hunks(&b, &t);

    let mut text = String::with_capacity(ours.len().max(theirs.len()));
    let mut conflicts = 0;
    let mut pos = 0usize; // next base line not yet emitted
    let (mut i, mut j) = (0usize, 0usize);
    while i < ho.len() || j < ht.len() {
        // Start a cluster with the earliest hunk, then pull in every hunk of either side
        // that overlaps or touches it.
        let first_is_ours = match (ho.get(i), ht.get(j)) {
            (Some(a), Some(c)) => a.start <= c.start,
            (Some(_), None) => true,
            _ => false,
        };
        let (mut start, mut end) = if first_is_ours {
            (ho[i].start, ho[i].end)
        } else {
            (ht[j].start, ht[j].end)
        };
        let (oi, ti) = (i, j);
        loop {
            let mut grew = false;
            while i < ho.len() && ho[i].start <= end {
                start = start.min(ho[i].start);
                end = end.max(ho[i].end);
                i += 1;
                grew = true;
            }
            while j < ht.len() && ht[j].start <= end {
                start = start.min(ht[j].start);
                end = end.max(ht[j].end);
                j += 1;
                grew = true;
            }
            if !grew {
                break;
            }
        }
        for line in &b[pos..start] {
            text.push_str(line);
        }
        let ours_h: Vec<&Hunk> = ho[oi..i].iter().collect();
        let theirs_h: Vec<&Hunk> = ht[ti..j].iter().collect();
        let o_side = apply_range(&b, &ours_h, start, end);
        let t_side = apply_range(&b, &theirs_h, start, end);
        if theirs_h.is_empty() || o_side == t_side {
            o_side.iter().for_each(|l| text.push_str(l));
        } else if ours_h.is_empty() {
            t_side.iter().for_each(|l| text.push_str(l));
        } else {
            conflicts += 1;
            push_marker(&mut text, "<<<<<<< local");
            push_lines(&mut text, &o_side);
            push_marker(&mut text, "||||||| base");
            push_lines(&mut text, &b[start..end]);
            push_marker(&mut text, "=======");
            push_lines(&mut text, &t_side);
            push_marker(&mut text, &format!(">>>>>>> template {theirs_label}"));
        }
        pos = end;
    }
    for line in &b[pos..] {
        text.push_str(line);
    }
    Merged { text, conflicts }
}

fn push_marker(text: &mut String, marker: &str) {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(marker);
    text.push('\n');
}

fn push_lines(text: &mut String, lines: &[&str]) {
    for l in lines {
        text.push_str(l);
    }
}

/// Does the text hold conflict markers lbc writes?
pub fn has_markers(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("<<<<<<< local"))
        && text.lines().any(|l| l.starts_with(">>>>>>> template"))
}

/// Share of lines two texts have in common (0.0 to 1.0), for rename detection.
pub fn similarity(a: &str, b: &str) -> f64 {
    let la = split_lines(a);
    let lb = split_lines(b);
    if la.is_empty() && lb.is_empty() {
        return 1.0;
    }
    let same: usize = capture_diff_slices(Algorithm::Myers, &la, &lb)
        .iter()
        .map(|op| match op {
            DiffOp::Equal { len, .. } => *len,
            _ => 0,
        })
        .sum();
    (2 * same) as f64 / (la.len() + lb.len()) as f64
}

#[cfg(test)]
mod tests {

    /// Issue #9 (found by the fuzz test): on these lines `similar`'s Myers diff returns
    /// operations out of order; the merge panicked. The checked operations rebuild
    /// `theirs` exactly, and the merge goes through.
    #[test]
    fn out_of_order_diff_operations_are_not_trusted() {
        let base = "\na\n \na\n\n0\nA\nA\nA\nA\na\n \na\n\n";
        let theirs = "\n0\n\n\n\n\n\n\n\n\n\n!\n1\n\n1\nB\nb\nA";
        let b = split_lines(base);
        let t = split_lines(theirs);
        let ops = diff_ops(&b, &t);
        assert!(consistent(&ops, &b, &t));
        let rebuilt: String =
            apply_range(&b, &hunks(&b, &t).iter().collect::<Vec<_>>(), 0, b.len()).concat();
        assert_eq!(rebuilt, theirs);
        let m = merge(base, "", theirs, "1.1.0");
        assert_eq!(m.conflicts, 1, "{}", m.text);
    }
    use super::*;

    const BASE: &str = "a\nb\nc\nd\ne\n";

    #[test]
    fn one_sided_changes_apply() {
        let m = merge(BASE, "a\nB\nc\nd\ne\n", "a\nb\nc\nd\nE\n", "2");
        assert_eq!(
            m,
            Merged {
                text: "a\nB\nc\nd\nE\n".into(),
                conflicts: 0
            }
        );
    }

    #[test]
    fn identical_changes_apply_once() {
        let m = merge(BASE, "a\nX\nc\nd\ne\n", "a\nX\nc\nd\ne\n", "2");
        assert_eq!(m.text, "a\nX\nc\nd\ne\n");
        let m = merge(BASE, "a\nX\nc\nd\ne\nlocal\n", "a\nX\nc\nd\ne\n", "2");
        assert_eq!(
            m,
            Merged {
                text: "a\nX\nc\nd\ne\nlocal\n".into(),
                conflicts: 0
            }
        );
    }

    #[test]
    fn overlapping_changes_conflict_with_labels_and_base() {
        let m = merge(BASE, "a\nours\nc\nd\ne\n", "a\ntheirs\nc\nd\ne\n", "1.1.0");
        assert_eq!(m.conflicts, 1);
        assert_eq!(
            m.text,
            "a\n<<<<<<< local\nours\n||||||| base\nb\n=======\ntheirs\n>>>>>>> template 1.1.0\nc\nd\ne\n"
        );
        assert!(has_markers(&m.text));
    }

    #[test]
    fn insertions_at_both_ends() {
        let m = merge(BASE, "top\na\nb\nc\nd\ne\n", "a\nb\nc\nd\ne\nbottom\n", "2");
        assert_eq!(
            m,
            Merged {
                text: "top\na\nb\nc\nd\ne\nbottom\n".into(),
                conflicts: 0
            }
        );
    }

    #[test]
    fn deletion_against_edit_conflicts() {
        let m = merge(BASE, "a\nc\nd\ne\n", "a\nbb\nc\nd\ne\n", "2");
        assert_eq!(m.conflicts, 1);
        assert!(m
            .text
            .contains("<<<<<<< local\n||||||| base\nb\n=======\nbb\n>>>>>>> template 2\n"));
    }

    #[test]
    fn missing_final_newline_is_kept() {
        let m = merge("a\nb", "a\nb\nc", "z\na\nb", "2");
        assert_eq!(
            m,
            Merged {
                text: "z\na\nb\nc".into(),
                conflicts: 0
            }
        );
    }

    #[test]
    fn similarity_scores() {
        assert!(similarity(BASE, BASE) > 0.99);
        assert!(similarity(BASE, "a\nb\nc\nd\nX\n") > 0.7);
        assert!(similarity(BASE, "v\nw\nx\ny\nz\n") < 0.01);
    }
}
