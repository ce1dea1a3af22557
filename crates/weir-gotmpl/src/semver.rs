//! Sprig's `semverCompare`: Masterminds constraint syntax (`>=1.23.0-0`, `^1.2`, `~1.2.3`,
//! `1.2.x`, `>= 1.19-0 < 1.25`, `a || b`) over semantic versions with a leading `v` allowed.

use std::cmp::Ordering;

/// A version: numbers and pre-release identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    nums: [u64; 3],
    pre: Vec<String>,
}

fn cmp_pre(a: &[String], b: &[String]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    for (x, y) in a.iter().zip(b) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nums
            .cmp(&other.nums)
            .then_with(|| cmp_pre(&self.pre, &other.pre))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A version and how many of its numbers were given (wildcards and omissions stop it).
fn parse(text: &str) -> Option<(Version, usize)> {
    let text = text.trim().trim_start_matches(['v', 'V', '=']);
    let text = text.split('+').next().unwrap_or(text);
    let (core, pre) = match text.split_once('-') {
        Some((c, p)) => (c, p.split('.').map(str::to_owned).collect()),
        None => (text, Vec::new()),
    };
    let mut nums = [0u64; 3];
    let mut given = 0;
    for (i, part) in core.split('.').enumerate() {
        if i >= 3 {
            return None;
        }
        if matches!(part, "x" | "X" | "*") {
            break;
        }
        nums[i] = part.parse().ok()?;
        given = i + 1;
    }
    Some((Version { nums, pre }, given))
}

fn bump(v: &Version, at: usize) -> Version {
    let mut nums = v.nums;
    nums[at] += 1;
    for n in nums.iter_mut().skip(at + 1) {
        *n = 0;
    }
    Version {
        nums,
        pre: vec!["0".into()],
    }
}

/// Whether `version` satisfies one comparator such as `>=1.2`.
fn check(op: &str, bound: &str, version: &Version) -> Result<bool, String> {
    let (b, given) = parse(bound).ok_or_else(|| format!("improper constraint: {op}{bound}"))?;
    // Pre-release versions only match comparators that name a pre-release on the same
    // numbers (Masterminds' rule).
    if !version.pre.is_empty() && (b.pre.is_empty() || b.nums != version.nums) && op != "!=" {
        let any_pre = !b.pre.is_empty();
        if !any_pre {
            return Ok(false);
        }
    }
    Ok(match op {
        "" | "=" if given < 3 => {
            let upper = bump(&b, given.max(1) - 1);
            given == 0 || (*version >= b && *version < upper)
        }
        "" | "=" => *version == b,
        "!=" => *version != b,
        ">" => *version > b,
        "<" => *version < b,
        ">=" | "=>" => *version >= b,
        "<=" | "=<" => *version <= b,
        "~" | "~>" => {
            let at = if given >= 2 { 1 } else { 0 };
            *version >= b && *version < bump(&b, at)
        }
        "^" => {
            let at = if b.nums[0] > 0 || given == 1 {
                0
            } else if b.nums[1] > 0 || given == 2 {
                1
            } else {
                2
            };
            *version >= b && *version < bump(&b, at)
        }
        other => return Err(format!("improper constraint: {other}{bound}")),
    })
}

/// Major, minor, patch, pre-release and build metadata of `text` (Sprig's `semver`).
pub fn parts(text: &str) -> Option<(u64, u64, u64, String, String)> {
    let (core, meta) = text.split_once('+').unwrap_or((text, ""));
    let (v, given) = parse(core)?;
    if given == 0 {
        return None;
    }
    Some((
        v.nums[0],
        v.nums[1],
        v.nums[2],
        v.pre.join("."),
        meta.to_owned(),
    ))
}

/// How two versions order by semantic-version precedence; a version that does not parse
/// orders below every one that does.
pub fn order(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some((x, _)), Some((y, _))) => x.cmp(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => Ordering::Equal,
    }
}

/// Whether `version` satisfies `constraint`.
pub fn compare(constraint: &str, version: &str) -> Result<bool, String> {
    let (v, _) = parse(version).ok_or_else(|| "Invalid Semantic Version".to_owned())?;
    for alternative in constraint.split("||") {
        let tokens: Vec<&str> = alternative
            .split([' ', ','])
            .filter(|t| !t.is_empty())
            .collect();
        let mut all = true;
        let mut i = 0;
        while i < tokens.len() {
            let token = tokens[i];
            if tokens.get(i + 1) == Some(&"-") && i + 2 < tokens.len() {
                all &= check(">=", token, &v)? && check("<=", tokens[i + 2], &v)?;
                i += 3;
                continue;
            }
            let split = token
                .find(|c: char| !"<>=!~^".contains(c))
                .unwrap_or(token.len());
            let (op, bound) = token.split_at(split);
            let bound = if bound.is_empty() && i + 1 < tokens.len() {
                i += 1;
                tokens[i]
            } else {
                bound
            };
            all &= check(op, bound, &v)?;
            i += 1;
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::compare;

    #[test]
    fn masterminds_constraints() -> Result<(), String> {
        for (c, v, want) in [
            (">=1.23.0-0", "v1.36.0", true),
            (">=1.23.0-0", "1.22.5", false),
            ("<1.25.0-0", "v1.36.0", false),
            (">= 1.19-0", "1.36.0", true),
            (">=1.19-0 <1.25-0", "1.21.3", true),
            ("^1.2", "1.9.0", true),
            ("^1.2", "2.0.0", false),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("1.2.x", "1.2.7", true),
            ("<1.2 || >=2", "2.1.0", true),
            (">=1.16.0-0", "v1.36.0-rc.1", true),
            (">=1.16.0", "v1.36.0-rc.1", false),
        ] {
            assert_eq!(compare(c, v)?, want, "{c} {v}");
        }
        Ok(())
    }
}
