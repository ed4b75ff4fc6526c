//! Kubernetes manifests as YAML documents: the project's image put into the containers
//! that run it (an edit at the YAML positions of those `image` values, so the rest of
//! the text, comments included, stays as written), and the workloads they declare.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;
use yaml_rust2::{Yaml, YamlLoader};

use crate::image::ImageRef;

/// The keys whose sequences hold containers.
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

#[derive(Debug)]
struct Frame {
    map: bool,
    /// The key under which this node sits in its parent mapping.
    parent_key: Option<String>,
    /// For a mapping: the key whose value comes next.
    key: Option<String>,
    expecting_key: bool,
}

/// Replace the `image` of every container whose image is in `repository` by `new`.
pub fn substitute_image(text: &str, repository: &str, new: &str) -> String {
    let mut spans = Vec::new();
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    // Byte offsets of char indices (the parser counts characters).
    let offsets: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    loop {
        let Ok((event, mark)) = parser.next_token() else {
            // Not YAML: leave it as it is; kubectl will say why.
            return text.to_owned();
        };
        match event {
            Event::StreamEnd => break,
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let parent_key = take_value_key(&mut stack);
                stack.push(Frame {
                    map: matches!(event, Event::MappingStart(..)),
                    parent_key,
                    key: None,
                    expecting_key: true,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Scalar(value, style, ..) => {
                let in_container = stack.len() >= 2 && {
                    let seq = &stack[stack.len() - 2];
                    !seq.map
                        && seq
                            .parent_key
                            .as_deref()
                            .is_some_and(|k| CONTAINER_LISTS.contains(&k))
                };
                match stack.last_mut() {
                    Some(f) if f.map && f.expecting_key => {
                        f.key = Some(value);
                        f.expecting_key = false;
                    }
                    Some(f) if f.map => {
                        if in_container
                            && f.key.as_deref() == Some("image")
                            && ImageRef::parse(&value).is_ok_and(|r| r.is_in(repository))
                        {
                            let start = offsets.get(mark.index()).copied().unwrap_or(text.len());
                            if let Some(end) = scalar_end(text, start, &value, style) {
                                spans.push((start, end));
                            }
                        }
                        f.key = None;
                        f.expecting_key = true;
                    }
                    _ => {}
                }
            }
            Event::Alias(_) => {
                take_value_key(&mut stack);
            }
            _ => {}
        }
    }
    let mut out = text.to_owned();
    for (start, end) in spans.into_iter().rev() {
        out.replace_range(start..end, new);
    }
    out
}

/// A node started as a mapping's value: the key it sits under (and the mapping now
/// expects its next key).
fn take_value_key(stack: &mut [Frame]) -> Option<String> {
    match stack.last_mut() {
        Some(f) if f.map && !f.expecting_key => {
            f.expecting_key = true;
            f.key.take()
        }
        Some(f) if f.map => {
            // A complex key: rare in manifests.
            f.expecting_key = false;
            None
        }
        _ => None,
    }
}

/// Where a scalar that starts at `start` ends in the text.
fn scalar_end(text: &str, start: usize, value: &str, style: TScalarStyle) -> Option<usize> {
    let rest = &text[start..];
    match style {
        TScalarStyle::Plain => rest.starts_with(value).then(|| start + value.len()),
        TScalarStyle::SingleQuoted => {
            let body = &rest[1..];
            let mut i = 0;
            let bytes = body.as_bytes();
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return Some(start + 1 + i + 1);
                }
                i += 1;
            }
            None
        }
        TScalarStyle::DoubleQuoted => {
            let body = &rest[1..];
            let bytes = body.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => return Some(start + 1 + i + 1),
                    _ => i += 1,
                }
            }
            None
        }
        _ => None,
    }
}

/// The Deployments and StatefulSets the manifests declare, named as `kubectl apply -o
/// name` prints them (`deployment.apps/hello`).
pub fn workloads(text: &str) -> Vec<String> {
    let Ok(docs) = YamlLoader::load_from_str(text) else {
        return vec![];
    };
    let mut out = Vec::new();
    let mut add = |doc: &Yaml| {
        let kind = doc["kind"].as_str().unwrap_or("");
        let name = doc["metadata"]["name"].as_str().unwrap_or("");
        if matches!(kind, "Deployment" | "StatefulSet") && !name.is_empty() {
            out.push(format!("{}.apps/{name}", kind.to_lowercase()));
        }
    };
    for doc in &docs {
        if doc["kind"].as_str().is_some_and(|k| k.ends_with("List")) {
            if let Some(items) = doc["items"].as_vec() {
                items.iter().for_each(&mut add);
            }
        } else {
            add(doc);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_only_the_project_image() {
        let text = "spec:\n  containers:\n  - name: app\n    image: r.io/team/hello:old\n  - name: side\n    image: \"busybox:1\"\n";
        let out = substitute_image(text, "r.io/team/hello", "r.io/team/hello:new@sha256:ab");
        assert!(out.contains("    image: r.io/team/hello:new@sha256:ab\n"));
        assert!(out.contains("image: \"busybox:1\""));
    }

    /// #8: a YAML edit, not a line edit: an `image:` that is not a container's stays,
    /// quoted and flow-style values are replaced, comments and layout are kept.
    #[test]
    fn substitution_follows_the_yaml_structure() {
        let text = "# keep me\nmetadata:\n  annotations:\n    image: r.io/team/hello:doc\nspec:\n  template:\n    spec:\n      initContainers: [{name: init, image: 'r.io/team/hello:1'}]\n      containers:\n      - image: \"r.io/team/hello:2\"  # the app\n        name: app\n---\nkind: Pod\nspec:\n  containers:\n  - {image: nginx, name: x}\n";
        let out = substitute_image(text, "r.io/team/hello", "r.io/team/hello:new");
        assert!(out.starts_with("# keep me\n"));
        assert!(out.contains("    image: r.io/team/hello:doc\n"), "{out}");
        assert!(
            out.contains("[{name: init, image: r.io/team/hello:new}]"),
            "{out}"
        );
        assert!(
            out.contains("      - image: r.io/team/hello:new  # the app\n"),
            "{out}"
        );
        let out = substitute_image(text, "docker.io/library/nginx", "nginx:2");
        assert!(out.contains("{image: nginx:2, name: x}"), "{out}");
    }

    #[test]
    fn workloads_are_named_as_kubectl_prints_them() {
        let text = "kind: Deployment\nmetadata:\n  name: a\n---\nkind: Service\nmetadata:\n  name: s\n---\nkind: StatefulSet\nmetadata:\n  name: b\n";
        assert_eq!(workloads(text), ["deployment.apps/a", "statefulset.apps/b"]);
    }
}
