//! Catalogue patterns: image references with `*` (any characters but `/`) and `**`
//! (any characters), compared in Docker's normalised form, so that `python:*` matches
//! `docker.io/library/python:3.11-slim`. What the wildcards matched fills the wildcards
//! of the target, in order: `"python:*" = "mirror.corp/python:*"`.

use crate::image::{ImageRef, ParseError};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(String),
    /// `*`: any characters but `/`.
    Star,
    /// `**`: any characters.
    Stars,
}

/// A reference or a pattern, as written in the catalogue.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub written: String,
    tokens: Vec<Token>,
    /// The normalised reference, for patterns without wildcards.
    exact: Option<ImageRef>,
}

impl Pattern {
    pub fn parse(written: &str) -> Result<Pattern, ParseError> {
        let r = ImageRef::parse_with(written, true)?;
        if !written.contains('*') {
            return Ok(Pattern {
                written: written.to_owned(),
                tokens: vec![Token::Lit(r.canonical())],
                exact: Some(r),
            });
        }
        // `**` and `docker.io/**` mean every Docker Hub image, not `docker.io/library/**`.
        let path = match r.path.strip_prefix("library/") {
            Some(rest)
                if r.registry == crate::image::DEFAULT_REGISTRY
                    && rest.contains("**")
                    && !written.contains("library/") =>
            {
                rest.to_owned()
            }
            _ => r.path.clone(),
        };
        let text = crate::image::join(
            format!("{}/{}", r.registry, path),
            r.tag.as_deref(),
            r.digest.as_deref(),
        );
        Ok(Pattern {
            written: written.to_owned(),
            tokens: tokenize(&text),
            exact: None,
        })
    }

    pub fn is_exact(&self) -> bool {
        self.exact.is_some()
    }

    /// Number of wildcards.
    pub fn wildcards(&self) -> usize {
        self.tokens
            .iter()
            .filter(|t| !matches!(t, Token::Lit(_)))
            .count()
    }

    /// How specific the pattern is: literal characters count, so that `python:3.*`
    /// wins over `python:*`, which wins over `docker.io/**`.
    pub fn specificity(&self) -> usize {
        self.tokens
            .iter()
            .map(|t| match t {
                Token::Lit(s) => s.len() * 4,
                Token::Star => 1,
                Token::Stars => 0,
            })
            .sum()
    }

    /// Does `image` match? Returns what each wildcard matched.
    pub fn matches(&self, image: &ImageRef) -> Option<Vec<String>> {
        if let Some(e) = &self.exact {
            return same_image(e, image).then(Vec::new);
        }
        let mut caps = Vec::new();
        let text = match (&image.tag, &image.digest) {
            // `python:*` matches `python` (which is `python:latest`).
            (None, None) => image.canonical(),
            // ... and `python@sha256:...`, whose digest fills the target's `*`.
            (None, Some(d)) => format!("{}:@{d}", image.name()),
            _ => image.qualified(),
        };
        glob(&self.tokens, &text, &mut caps).then_some(caps)
    }

    /// The target with its wildcards filled by `caps`, in order (a digest-only
    /// reference fills `name:*` as `name@digest`).
    pub fn fill(&self, caps: &[String]) -> String {
        self.fill_raw(caps).replace(":@", "@")
    }

    fn fill_raw(&self, caps: &[String]) -> String {
        let mut out = String::new();
        let mut i = 0;
        for t in tokenize(&self.written) {
            match t {
                Token::Lit(s) => out.push_str(&s),
                Token::Star | Token::Stars => {
                    out.push_str(caps.get(i).map(String::as_str).unwrap_or(""));
                    i += 1;
                }
            }
        }
        out
    }
}

/// Two references name the same image: same name, and the same digest when both pin
/// one, else the same tag.
pub fn same_image(a: &ImageRef, b: &ImageRef) -> bool {
    if a.name() != b.name() {
        return false;
    }
    match (&a.digest, &b.digest) {
        (Some(x), Some(y)) => x == y,
        (Some(_), None) => false,
        (None, _) => a.effective_tag() == b.effective_tag() || (a.tag.is_none() && b.tag.is_none()),
    }
}

fn tokenize(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '*' {
            if !lit.is_empty() {
                out.push(Token::Lit(std::mem::take(&mut lit)));
            }
            if chars.peek() == Some(&'*') {
                chars.next();
                out.push(Token::Stars);
            } else {
                out.push(Token::Star);
            }
        } else {
            lit.push(c);
        }
    }
    if !lit.is_empty() {
        out.push(Token::Lit(lit));
    }
    out
}

fn glob(tokens: &[Token], s: &str, caps: &mut Vec<String>) -> bool {
    match tokens.split_first() {
        None => s.is_empty(),
        Some((Token::Lit(l), rest)) => s
            .strip_prefix(l.as_str())
            .is_some_and(|r| glob(rest, r, caps)),
        Some((wild, rest)) => {
            let limit = match wild {
                Token::Star => s.find('/').unwrap_or(s.len()),
                _ => s.len(),
            };
            // Shortest first would make `python:*` capture too little with later
            // literals; take the longest match that lets the rest match.
            for n in (0..=limit).rev() {
                if !s.is_char_boundary(n) {
                    continue;
                }
                caps.push(s[..n].to_owned());
                if glob(rest, &s[n..], caps) {
                    return true;
                }
                caps.pop();
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap()
    }

    #[test]
    fn patterns_match_in_normalised_form() {
        // #16: every `python:*` goes to the mirror's `python:*`.
        let p = Pattern::parse("python:*").unwrap();
        let caps = p.matches(&r("python:3.11-slim")).unwrap();
        assert_eq!(caps, ["3.11-slim"]);
        assert!(p.matches(&r("docker.io/library/python:3.12")).is_some());
        assert!(p.matches(&r("python")).is_some(), "python is python:latest");
        assert!(p.matches(&r("acme/python:3")).is_none());
        assert!(p.matches(&r("ghcr.io/library/python:3")).is_none());
        let target = Pattern::parse("127.0.0.1:5055/mirror/python:*").unwrap();
        assert_eq!(target.fill(&caps), "127.0.0.1:5055/mirror/python:3.11-slim");

        let hub = Pattern::parse("docker.io/**").unwrap();
        let caps = hub.matches(&r("node:20")).unwrap();
        assert_eq!(caps, ["library/node:20"]);
        assert_eq!(
            Pattern::parse("mirror.corp/hub/**").unwrap().fill(&caps),
            "mirror.corp/hub/library/node:20"
        );
        assert!(hub.matches(&r("team/app:1")).is_some());
        assert!(hub.matches(&r("ghcr.io/acme/tool:1")).is_none());

        let ghcr = Pattern::parse("ghcr.io/acme/*").unwrap();
        assert!(ghcr.matches(&r("ghcr.io/acme/tool:1.2")).is_some());
        assert!(
            ghcr.matches(&r("ghcr.io/acme/sub/tool:1.2")).is_none(),
            "* stops at /"
        );
        assert!(Pattern::parse("ghcr.io/acme/**")
            .unwrap()
            .matches(&r("ghcr.io/acme/sub/tool:1.2"))
            .is_some());

        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let caps = p.matches(&r(&format!("python@{d}"))).unwrap();
        assert_eq!(
            target.fill(&caps),
            format!("127.0.0.1:5055/mirror/python@{d}")
        );
        let caps = p.matches(&r(&format!("python:3.12@{d}"))).unwrap();
        assert_eq!(
            target.fill(&caps),
            format!("127.0.0.1:5055/mirror/python:3.12@{d}")
        );

        let node = Pattern::parse("node:20*").unwrap();
        assert!(node.matches(&r("node:20-bookworm")).is_some());
        assert!(node.matches(&r("node:22")).is_none());
    }

    #[test]
    fn exact_references_compare_like_docker() {
        let p = Pattern::parse("node:20").unwrap();
        assert!(p.is_exact());
        assert!(p.matches(&r("docker.io/library/node:20")).is_some());
        assert!(p.matches(&r("node:22")).is_none());
        let debian = Pattern::parse("debian").unwrap();
        assert!(debian.matches(&r("debian:latest")).is_some());
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let pinned = Pattern::parse(&format!("mirror.corp/node@{d}")).unwrap();
        assert!(pinned
            .matches(&r(&format!("mirror.corp/node:20@{d}")))
            .is_some());
        assert!(pinned.matches(&r("mirror.corp/node:20")).is_none());
        assert!(
            p.matches(&r(&format!("node:20@{d}"))).is_some(),
            "a pinned approved tag"
        );
    }

    #[test]
    fn specificity_orders_patterns() {
        let s = |p: &str| Pattern::parse(p).unwrap().specificity();
        assert!(s("python:3.*") > s("python:*"));
        assert!(s("python:*") > s("docker.io/**"));
    }
}
