//! What a Dockerfile builds from: its instructions as Docker reads them (parser
//! directives, the escape character, line continuations, comments, heredocs), the
//! global `ARG`s and every `FROM` with its `--platform` flag, image and stage name; the
//! value of each `FROM` image after `ARG` defaults and build arguments; and a copy of
//! the text with some `FROM` images replaced, every other byte and every line number
//! kept.

use std::collections::BTreeMap;
use std::ops::Range;

/// The platform arguments BuildKit defines in the global scope by itself.
const AUTOMATIC_ARGS: &[&str] = &[
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
];

/// One instruction: its keyword and its text with continuations joined.
#[derive(Debug, Clone)]
pub struct Instruction {
    /// Upper-cased keyword (`FROM`, `RUN`, ...).
    pub keyword: String,
    /// 1-based line of the keyword.
    pub line: usize,
    /// The logical text (continuation lines joined, comment lines inside dropped).
    pub text: String,
    /// Where each piece of `text` comes from: (0-based physical line, byte offset in
    /// that line, byte offset in `text`, length).
    pieces: Vec<(usize, usize, usize, usize)>,
    /// 0-based physical lines the instruction covers (heredoc bodies included).
    lines: Range<usize>,
}

/// A `FROM` instruction.
#[derive(Debug, Clone)]
pub struct From {
    /// Index in [`Dockerfile::instructions`].
    pub index: usize,
    pub line: usize,
    /// `--platform=...` as written (other flags are kept too, in `flags`).
    pub platform: Option<String>,
    pub flags: Vec<String>,
    /// The image as written (`${BASE}:${TAG}`, `python:3.11`, a stage name).
    pub image: String,
    /// Byte range of `image` in the instruction's text.
    image_span: Range<usize>,
    /// `AS name`, lower-cased as Docker does.
    pub stage: Option<String>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    pub escape: char,
    pub instructions: Vec<Instruction>,
    /// Physical lines with their line endings.
    raw_lines: Vec<String>,
}

/// What a `FROM` builds on once its variables are expanded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Base {
    /// An image reference (not yet validated).
    Image(String),
    /// An earlier stage of the same Dockerfile.
    Stage(String),
    /// `FROM scratch`.
    Scratch,
    /// A variable lbc cannot know (no default, no build argument, or a platform
    /// argument); the names are listed.
    Unknown(Vec<String>),
}

/// One `FROM` and what it resolves to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FromImage {
    pub line: usize,
    /// The instruction as written (continuations joined).
    pub instruction: String,
    /// The image expression as written.
    pub written: String,
    pub base: Base,
    pub stage: Option<String>,
    #[serde(skip)]
    pub index: usize,
}

impl Dockerfile {
    pub fn parse(text: &str) -> Dockerfile {
        let raw_lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
        // A UTF-8 byte order mark before the first line is not part of it (as in Docker).
        let bom = if text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        let skip = |i: usize| if i == 0 { bom } else { 0 };
        let content = |i: usize| -> &str { raw_lines[i][skip(i)..].trim_end_matches(['\n', '\r']) };
        let escape = directives((0..raw_lines.len()).map(content))
            .get("escape")
            .and_then(|e| match e.as_str() {
                "`" => Some('`'),
                "\\" => Some('\\'),
                _ => None,
            })
            .unwrap_or('\\');
        let mut instructions = Vec::new();
        let mut i = 0;
        while i < raw_lines.len() {
            let line = content(i);
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                i += 1;
                continue;
            }
            let start = i;
            let mut text = String::new();
            let mut pieces = Vec::new();
            let mut first = true;
            loop {
                if i >= raw_lines.len() {
                    break;
                }
                let l = content(i);
                let lt = l.trim_start();
                if !first && (lt.starts_with('#') || lt.is_empty()) {
                    // Comment and empty lines inside a continuation are dropped.
                    i += 1;
                    continue;
                }
                first = false;
                let (body, continues) = match l.trim_end().strip_suffix(escape) {
                    Some(b) => (b, true),
                    None => (l, false),
                };
                pieces.push((i, skip(i), text.len(), body.len()));
                text.push_str(body);
                i += 1;
                if !continues {
                    break;
                }
            }
            let keyword = text
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
                // Heredoc bodies are data, never instructions.
                for (word, strip_tabs) in heredoc_words(&text) {
                    while i < raw_lines.len() {
                        let l = content(i);
                        i += 1;
                        let l = if strip_tabs {
                            l.trim_start_matches('\t')
                        } else {
                            l
                        };
                        if l == word {
                            break;
                        }
                    }
                }
            }
            instructions.push(Instruction {
                keyword,
                line: start + 1,
                text,
                pieces,
                lines: start..i,
            });
        }
        Dockerfile {
            escape,
            instructions,
            raw_lines,
        }
    }

    /// Every `FROM`, in order.
    pub fn froms(&self) -> Vec<From> {
        self.instructions
            .iter()
            .enumerate()
            .filter(|(_, ins)| ins.keyword == "FROM")
            .filter_map(|(index, ins)| {
                let words = words(&ins.text);
                let mut it = words.into_iter().skip(1).peekable();
                let mut flags = Vec::new();
                let mut platform = None;
                while let Some((w, _)) = it.peek() {
                    if !w.starts_with("--") {
                        break;
                    }
                    if let Some(p) = w.strip_prefix("--platform=") {
                        platform = Some(p.to_owned());
                    }
                    flags.push(w.clone());
                    it.next();
                }
                let (image, image_span) = it.next()?;
                let stage = match (it.next(), it.next()) {
                    (Some((a, _)), Some((name, _))) if a.eq_ignore_ascii_case("as") => {
                        Some(name.to_ascii_lowercase())
                    }
                    _ => None,
                };
                Some(From {
                    index,
                    line: ins.line,
                    platform,
                    flags,
                    image,
                    image_span,
                    stage,
                })
            })
            .collect()
    }

    /// The `ARG`s declared before the first `FROM`, with their defaults (`None` when
    /// declared without one).
    pub fn global_args(&self) -> BTreeMap<String, Option<String>> {
        let mut args = BTreeMap::new();
        for ins in &self.instructions {
            match ins.keyword.as_str() {
                "FROM" => break,
                "ARG" => {
                    for (w, _) in words(&ins.text).into_iter().skip(1) {
                        match w.split_once('=') {
                            Some((k, v)) => args.insert(k.to_owned(), Some(unquote(v))),
                            None => args.insert(w.clone(), None),
                        };
                    }
                }
                _ => {}
            }
        }
        args
    }

    /// Every `FROM` with what it builds on, given the build arguments (`--build-arg`
    /// values override `ARG` defaults, as in Docker).
    pub fn from_images(&self, build_args: &[(String, String)]) -> Vec<FromImage> {
        let declared = self.global_args();
        let mut values: BTreeMap<String, Option<String>> = BTreeMap::new();
        for (k, default) in &declared {
            let given = build_args
                .iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone());
            values.insert(k.clone(), given.or_else(|| default.clone()));
        }
        let mut stages: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for f in self.froms() {
            let base = match expand(&f.image, &values, self.escape) {
                Err(unknown) => Base::Unknown(unknown),
                Ok(v) if v.eq_ignore_ascii_case("scratch") => Base::Scratch,
                Ok(v) if stages.contains(&v.to_ascii_lowercase()) => {
                    Base::Stage(v.to_ascii_lowercase())
                }
                Ok(v) => Base::Image(v),
            };
            if let Some(s) = &f.stage {
                stages.push(s.clone());
            }
            out.push(FromImage {
                line: f.line,
                instruction: self.instructions[f.index].text.trim().to_owned(),
                written: f.image.clone(),
                base,
                stage: f.stage.clone(),
                index: f.index,
            });
        }
        out
    }

    /// The text with the image of some `FROM`s replaced (by instruction index). Every
    /// other byte stays, and so does every line number: Docker's messages about the
    /// copy point at the same lines as the original.
    pub fn rewrite(&self, replacements: &BTreeMap<usize, String>) -> String {
        let mut lines = self.raw_lines.clone();
        let froms = self.froms();
        for f in &froms {
            let Some(new) = replacements.get(&f.index) else {
                continue;
            };
            let ins = &self.instructions[f.index];
            let piece = ins
                .pieces
                .iter()
                .find(|(_, _, at, len)| *at <= f.image_span.start && f.image_span.end <= at + len);
            match piece {
                Some(&(line, offset, at, _)) => {
                    let s = offset + f.image_span.start - at;
                    let e = offset + f.image_span.end - at;
                    lines[line].replace_range(s..e, new);
                }
                None => {
                    // The image is split over continuation lines: write the whole
                    // instruction on its first line and blank the others.
                    let mut text = ins.text.clone();
                    text.replace_range(f.image_span.clone(), new);
                    let first = ins.lines.start;
                    let ending = line_ending(&lines[first]);
                    lines[first] = format!("{text}{ending}");
                    for l in lines.iter_mut().take(ins.lines.end).skip(first + 1) {
                        let ending = line_ending(l);
                        *l = ending.to_owned();
                    }
                }
            }
        }
        lines.concat()
    }
}

impl Dockerfile {
    /// The text with `instruction` (one line, no line ending) added after the last
    /// instruction of the stage `target` (the last stage when `None`); `None` when there
    /// is no such stage. The lines before it keep their numbers.
    pub fn with_instruction_in_stage(
        &self,
        target: Option<&str>,
        instruction: &str,
    ) -> Option<String> {
        let froms = self.froms();
        let at = match target {
            Some(t) => froms.iter().rposition(|f| {
                f.stage
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(t))
            })?,
            None => froms.len().checked_sub(1)?,
        };
        let end = froms
            .get(at + 1)
            .map_or(self.instructions.len(), |next| next.index);
        let last = &self.instructions[end - 1];
        let mut lines = self.raw_lines.clone();
        let after = last.lines.end;
        let ending = lines
            .iter()
            .map(|l| line_ending(l))
            .find(|e| !e.is_empty())
            .unwrap_or("\n");
        if let Some(prev) = lines.get_mut(after - 1) {
            if line_ending(prev).is_empty() {
                prev.push_str(ending);
            }
        }
        lines.insert(after, format!("{instruction}{ending}"));
        Some(lines.concat())
    }
}

fn line_ending(l: &str) -> &'static str {
    if l.ends_with("\r\n") {
        "\r\n"
    } else if l.ends_with('\n') {
        "\n"
    } else {
        ""
    }
}

/// Parser directives (`# syntax=...`, `# escape=...`): lines of the form `# key=value`
/// at the very top; the first other line (a comment, an empty line, an instruction)
/// ends them.
fn directives<'a>(lines: impl Iterator<Item = &'a str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for l in lines {
        let Some(rest) = l.trim().strip_prefix('#') else {
            break;
        };
        let Some((k, v)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().to_ascii_lowercase();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric()) || out.contains_key(&k) {
            break;
        }
        out.insert(k, v.trim().to_owned());
    }
    out
}

/// The words of heredocs opened in an instruction (`<<EOF`, `<<-"EOF"`), in order,
/// with whether leading tabs are stripped before comparing the terminator.
fn heredoc_words(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i + 2 < b.len() {
        // BuildKit looks for heredocs in words that start with `<<`.
        if b[i] == b'<' && b[i + 1] == b'<' && (i == 0 || b[i - 1].is_ascii_whitespace()) {
            let mut j = i + 2;
            let strip = b.get(j) == Some(&b'-');
            if strip {
                j += 1;
            }
            let quote = b.get(j).copied().filter(|c| *c == b'"' || *c == b'\'');
            if quote.is_some() {
                j += 1;
            }
            let start = j;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            if j > start && !b[start].is_ascii_digit() {
                let closed = match quote {
                    Some(q) => b.get(j) == Some(&q),
                    None => true,
                };
                if closed {
                    out.push((text[start..j].to_owned(), strip));
                }
            }
            i = j.max(i + 2);
        } else {
            i += 1;
        }
    }
    out
}

/// Whitespace-separated words with their byte ranges.
fn words(text: &str) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((text[s..i].to_owned(), s..i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((text[s..].to_owned(), s..text.len()));
    }
    out
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            return inner.to_owned();
        }
    }
    v.to_owned()
}

/// Expand `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
/// `${VAR+word}` as Docker does in `FROM`. `Err` lists the variables with no value.
pub fn expand(
    s: &str,
    values: &BTreeMap<String, Option<String>>,
    escape: char,
) -> Result<String, Vec<String>> {
    let mut out = String::new();
    let mut unknown = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let lookup = |name: &str| -> Option<Option<&String>> {
        if AUTOMATIC_ARGS.contains(&name) {
            return None;
        }
        Some(values.get(name).and_then(Option::as_ref))
    };
    while i < chars.len() {
        let c = chars[i];
        if c == escape && chars.get(i + 1) == Some(&'$') {
            out.push('$');
            i += 2;
            continue;
        }
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'{') {
            let Some(close) = chars[i + 2..].iter().position(|&c| c == '}') else {
                out.extend(&chars[i..]);
                break;
            };
            let inner: String = chars[i + 2..i + 2 + close].iter().collect();
            i += close + 3;
            let name_len = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            let (name, op) = inner.split_at(name_len);
            let value = lookup(name);
            let set = |v: &Option<Option<&String>>, colon: bool| match v {
                Some(Some(x)) => !colon || !x.is_empty(),
                _ => false,
            };
            let resolved: Option<String> = if let Some(word) = op.strip_prefix(":-") {
                Some(if set(&value, true) {
                    value.unwrap().unwrap().clone()
                } else {
                    word.to_owned()
                })
            } else if let Some(word) = op.strip_prefix('-') {
                Some(if set(&value, false) {
                    value.unwrap().unwrap().clone()
                } else {
                    word.to_owned()
                })
            } else if let Some(word) = op.strip_prefix(":+") {
                Some(if set(&value, true) {
                    word.to_owned()
                } else {
                    String::new()
                })
            } else if let Some(word) = op.strip_prefix('+') {
                Some(if set(&value, false) {
                    word.to_owned()
                } else {
                    String::new()
                })
            } else {
                match value {
                    Some(Some(v)) => Some(v.clone()),
                    _ => None,
                }
            };
            match resolved {
                Some(v) => out.push_str(&v),
                None => unknown.push(name.to_owned()),
            }
            continue;
        }
        let len = chars[i + 1..]
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
            .unwrap_or(chars.len() - i - 1);
        if len == 0 {
            out.push('$');
            i += 1;
            continue;
        }
        let name: String = chars[i + 1..i + 1 + len].iter().collect();
        i += len + 1;
        match lookup(&name) {
            Some(Some(v)) => out.push_str(v),
            _ => unknown.push(name),
        }
    }
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Issue #14: the build's labels go at the end of the built stage, after its last
    /// instruction (continuations and all), and no other line moves.
    #[test]
    fn an_instruction_lands_at_the_end_of_the_built_stage() {
        let text = "FROM a AS deps\nRUN x \\\n  y\nFROM b AS runtime\nCOPY . .\nCMD [\"z\"]\nFROM deps AS test\nRUN t";
        let df = Dockerfile::parse(text);
        assert_eq!(
            df.with_instruction_in_stage(Some("runtime"), "LABEL \"k\"=\"v\"").unwrap(),
            "FROM a AS deps\nRUN x \\\n  y\nFROM b AS runtime\nCOPY . .\nCMD [\"z\"]\nLABEL \"k\"=\"v\"\nFROM deps AS test\nRUN t"
        );
        assert_eq!(
            df.with_instruction_in_stage(Some("DEPS"), "LABEL l").unwrap(),
            "FROM a AS deps\nRUN x \\\n  y\nLABEL l\nFROM b AS runtime\nCOPY . .\nCMD [\"z\"]\nFROM deps AS test\nRUN t"
        );
        // The last stage, a file without a final line ending.
        assert!(df
            .with_instruction_in_stage(None, "LABEL l")
            .unwrap()
            .ends_with("FROM deps AS test\nRUN t\nLABEL l\n"));
        assert!(df
            .with_instruction_in_stage(Some("nope"), "LABEL l")
            .is_none());
    }

    const MULTI: &str = "# syntax=docker/dockerfile:1\n\
ARG BASE=python\n\
ARG TAG=3.11-slim\n\
ARG PLATFORM\n\
# a comment: FROM nothing:here\n\
FROM --platform=$BUILDPLATFORM ${BASE}:${TAG} AS build\n\
RUN <<EOF\n\
FROM inside:heredoc\n\
EOF\n\
from node:20 as Web\n\
FROM build AS test\n\
FROM \\\n\
  # comment inside a continuation\n\
  debian:bookworm \\\n\
  AS runtime\n\
COPY --from=web /x /y\n\
FROM scratch\n\
FROM web\n";

    #[test]
    fn every_from_with_args_stages_and_heredocs() {
        // #16: every stage's base, ARG defaults and build args included.
        let df = Dockerfile::parse(MULTI);
        let froms = df.from_images(&[]);
        let bases: Vec<(usize, Base)> = froms.iter().map(|f| (f.line, f.base.clone())).collect();
        assert_eq!(
            bases,
            [
                (6, Base::Image("python:3.11-slim".into())),
                (10, Base::Image("node:20".into())),
                (11, Base::Stage("build".into())),
                (12, Base::Image("debian:bookworm".into())),
                (17, Base::Scratch),
                (18, Base::Stage("web".into())),
            ]
        );
        assert_eq!(froms[0].stage.as_deref(), Some("build"));
        assert_eq!(
            froms[1].stage.as_deref(),
            Some("web"),
            "stage names are lower-cased"
        );
        let f = &df.froms()[0];
        assert_eq!(f.platform.as_deref(), Some("$BUILDPLATFORM"));
        assert_eq!(f.image, "${BASE}:${TAG}");
        // --build-arg wins over the default.
        let froms = df.from_images(&args(&[("TAG", "3.12")]));
        assert_eq!(froms[0].base, Base::Image("python:3.12".into()));
    }

    #[test]
    fn unknown_variables_are_named() {
        let df =
            Dockerfile::parse("ARG BASE\nFROM ${BASE}\nFROM ${TARGETARCH}/alpine\nFROM $NEVER\n");
        let f = df.from_images(&[]);
        assert_eq!(f[0].base, Base::Unknown(vec!["BASE".into()]));
        assert_eq!(f[1].base, Base::Unknown(vec!["TARGETARCH".into()]));
        assert_eq!(f[2].base, Base::Unknown(vec!["NEVER".into()]));
        let f = df.from_images(&args(&[("BASE", "lbc-test/python:bookworm")]));
        assert_eq!(f[0].base, Base::Image("lbc-test/python:bookworm".into()));
    }

    #[test]
    fn expansion_forms() {
        let mut v = BTreeMap::new();
        v.insert("A".to_owned(), Some("x".to_owned()));
        v.insert("E".to_owned(), Some(String::new()));
        v.insert("N".to_owned(), None);
        let e = |s: &str| expand(s, &v, '\\');
        assert_eq!(e("$A:${A}"), Ok("x:x".into()));
        assert_eq!(e("${N:-d}"), Ok("d".into()));
        assert_eq!(e("${E:-d}"), Ok("d".into()));
        assert_eq!(e("${E-d}"), Ok("".into()));
        assert_eq!(e("${A:+y}${N:+y}"), Ok("y".into()));
        assert_eq!(e("\\$A"), Ok("$A".into()));
        assert_eq!(e("${N}"), Err(vec!["N".into()]));
    }

    #[test]
    fn directives_and_escape() {
        let text = "# escape=`\n# syntax=docker/dockerfile:1\nARG B=python:3\nFROM `\n  $B\nRUN echo \\\nFROM x\n";
        let df = Dockerfile::parse(text);
        assert_eq!(df.escape, '`');
        let f = df.from_images(&[]);
        assert_eq!(
            f.len(),
            2,
            "with escape=` a backslash does not continue: {f:?}"
        );
        assert_eq!(f[0].base, Base::Image("python:3".into()));
        // Not a directive: after an instruction, or after an empty line.
        let df = Dockerfile::parse("\n# escape=`\nFROM a \\\n  AS b\n");
        assert_eq!(df.escape, '\\');
        assert_eq!(df.froms()[0].stage.as_deref(), Some("b"));
    }

    #[test]
    fn heredoc_forms() {
        let text = "FROM a\nCOPY <<-\"EOT\" <<X /dst\n\tFROM no\n\tEOT\nFROM no2\nX\nRUN echo a<<b\nFROM c\n";
        let df = Dockerfile::parse(text);
        let names: Vec<String> = df.froms().iter().map(|f| f.image.clone()).collect();
        assert_eq!(names, ["a", "c"]);
    }

    #[test]
    fn rewrite_keeps_every_other_byte_and_line() {
        let df = Dockerfile::parse(MULTI);
        let froms = df.from_images(&[]);
        let mut r = BTreeMap::new();
        r.insert(froms[0].index, "mirror/python:3.11-slim".to_owned());
        r.insert(froms[1].index, "mirror/node:20".to_owned());
        r.insert(froms[3].index, "mirror/debian:bookworm".to_owned());
        let out = df.rewrite(&r);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), MULTI.lines().count());
        assert_eq!(
            lines[5],
            "FROM --platform=$BUILDPLATFORM mirror/python:3.11-slim AS build"
        );
        assert_eq!(lines[9], "from mirror/node:20 as Web");
        assert_eq!(lines[7], "FROM inside:heredoc", "heredoc untouched");
        assert_eq!(lines[13], "mirror/debian:bookworm \\");
        let again = Dockerfile::parse(&out).from_images(&[]);
        assert_eq!(again[3].base, Base::Image("mirror/debian:bookworm".into()));
        assert_eq!(again[3].stage.as_deref(), Some("runtime"));
        // Split over lines: the instruction moves onto its first line.
        let df = Dockerfile::parse("FROM py\\\nthon AS x\r\nRUN true\r\n");
        let mut r = BTreeMap::new();
        r.insert(0, "m/python".to_owned());
        assert_eq!(df.rewrite(&r), "FROM m/python AS x\n\r\nRUN true\r\n");
    }

    #[test]
    fn odd_input_never_panics() {
        // #16: a Dockerfile lbc cannot make sense of is left to Docker, never a crash.
        for text in [
            "",
            "FROM",
            "FROM \\",
            "FROM ${",
            "FROM $",
            "FROM ${A:-",
            "FROM é:1 AS ü\nFROM ü",
            "RUN <<\nFROM x",
            "RUN <<-'E\nFROM x",
            "\\\n\\\n",
            "# escape=`\nFROM a`",
        ] {
            let df = Dockerfile::parse(text);
            let froms = df.from_images(&[]);
            let r: BTreeMap<usize, String> =
                froms.iter().map(|f| (f.index, "x".to_owned())).collect();
            let out = df.rewrite(&r);
            assert_eq!(out.lines().count(), text.lines().count(), "{text:?}");
        }
        let df = Dockerfile::parse("\u{feff}FROM python:3 AS a\n");
        assert_eq!(df.from_images(&[])[0].base, Base::Image("python:3".into()));
        let mut r = BTreeMap::new();
        r.insert(0, "m/python:3".to_owned());
        assert_eq!(df.rewrite(&r), "\u{feff}FROM m/python:3 AS a\n");
    }

    #[test]
    fn lowercase_and_crlf() {
        let df = Dockerfile::parse("arg X=busybox:1\r\nfrom $X\r\n");
        assert_eq!(df.from_images(&[])[0].base, Base::Image("busybox:1".into()));
    }
}
