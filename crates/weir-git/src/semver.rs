//! Semver ranges over tags, as Flux reads `spec.ref.semver` (Masterminds syntax: comparators
//! separated by spaces or commas, `||` between alternatives, `1.2 - 1.4` hyphen ranges, `~`,
//! `^`, `x` wildcards; a leading `v` on tags is ignored; pre-releases only match ranges that
//! mention one).

use semver_crate::{Version, VersionReq};

/// Masterminds' range syntax as `semver` requirements, one per `||` alternative.
fn requirements(range: &str) -> Result<Vec<VersionReq>, String> {
    range
        .split("||")
        .map(|alternative| {
            let tokens: Vec<&str> = alternative
                .split([' ', ','])
                .filter(|t| !t.is_empty())
                .collect();
            let mut parts: Vec<String> = Vec::new();
            let mut i = 0;
            while i < tokens.len() {
                let token = tokens[i];
                if tokens.get(i + 1) == Some(&"-") && i + 2 < tokens.len() {
                    parts.push(format!(">={}", strip_v(token)));
                    parts.push(format!("<={}", strip_v(tokens[i + 2])));
                    i += 3;
                    continue;
                }
                let is_operator = token.chars().all(|c| "<>=!~^".contains(c));
                if is_operator && i + 1 < tokens.len() {
                    parts.push(format!("{token}{}", strip_v(tokens[i + 1])));
                    i += 2;
                    continue;
                }
                let split = token.find(|c: char| !"<>=!~^".contains(c)).unwrap_or(0);
                parts.push(format!("{}{}", &token[..split], strip_v(&token[split..])));
                i += 1;
            }
            let text = if parts.is_empty() {
                "*".to_owned()
            } else {
                parts.join(", ")
            };
            VersionReq::parse(&text).map_err(|e| e.to_string())
        })
        .collect()
}

fn strip_v(text: &str) -> &str {
    text.strip_prefix('v').unwrap_or(text)
}

/// A tag as a version: `v1.2.3`, `1.2.3`, also `1.2` and `1` (completed with zeros).
fn version(tag: &str) -> Option<Version> {
    let text = strip_v(tag);
    if let Ok(v) = Version::parse(text) {
        return Some(v);
    }
    let (core, rest) = match text.find(['-', '+']) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let dots = core.matches('.').count();
    let padded = match dots {
        0 => format!("{core}.0.0{rest}"),
        1 => format!("{core}.0{rest}"),
        _ => return None,
    };
    Version::parse(&padded).ok()
}

/// The highest of `tags` (name, target) matching `range`, or none.
pub(crate) fn highest<T>(
    range: &str,
    tags: impl Iterator<Item = (String, T)>,
) -> Result<Option<(String, T)>, String> {
    let requirements = requirements(range)?;
    let mut best: Option<(Version, String, T)> = None;
    for (name, target) in tags {
        let Some(v) = version(&name) else { continue };
        if !requirements.iter().any(|r| r.matches(&v)) {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _, _)| v > *b) {
            best = Some((v, name, target));
        }
    }
    Ok(best.map(|(_, name, target)| (name, target)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(range: &str, tags: &[&str]) -> Option<String> {
        highest(range, tags.iter().map(|t| ((*t).to_owned(), ())))
            .expect("valid range")
            .map(|(name, ())| name)
    }

    #[test]
    fn masterminds_ranges_pick_the_highest_tag() {
        let tags = [
            "v1.0.0",
            "v1.2.3",
            "v1.10.0",
            "v2.0.0",
            "v2.1.0-rc.1",
            "latest",
            "1.5",
        ];
        assert_eq!(pick(">=1.0.0 <2.0.0", &tags).as_deref(), Some("v1.10.0"));
        assert_eq!(pick(">= 1.0.0, < 2.0.0", &tags).as_deref(), Some("v1.10.0"));
        assert_eq!(pick("~1.2", &tags).as_deref(), Some("v1.2.3"));
        assert_eq!(pick("^1", &tags).as_deref(), Some("v1.10.0"));
        assert_eq!(pick("*", &tags).as_deref(), Some("v2.0.0"));
        assert_eq!(pick("1.0.0 - 1.5.0", &tags).as_deref(), Some("1.5"));
        assert_eq!(pick("<1.0.0 || >=2.0.0", &tags).as_deref(), Some("v2.0.0"));
        assert_eq!(pick(">3", &tags), None);
        assert!(highest("not a range", std::iter::empty::<(String, ())>()).is_err());
    }
}
