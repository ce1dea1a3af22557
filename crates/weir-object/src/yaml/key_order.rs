//! The order goyaml.v2 writes mapping keys in (`sorter.go`, `keyList.Less`).
//!
//! It is a "natural" order, not byte order: letters sort after other characters, and runs of
//! digits compare by numeric value, so `a2` comes before `a10` and `_x` before `x`.

/// Go's `unicode.IsLetter`. Exact for ASCII; beyond it `char::is_alphabetic` is close (it also
/// counts letter-like numerals and combining marks, which Go does not).
fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        c.is_alphabetic() && !c.is_numeric()
    }
}

/// Go's `unicode.IsDigit` (decimal digits). Exact for ASCII; beyond it `char::is_numeric` also
/// counts other numerals such as `²`.
fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        c.is_numeric()
    }
}

/// Go's `rune - '0'` widened to int64, also for non-ASCII digits.
fn digit_value(c: char) -> i64 {
    i64::from(c as u32) - i64::from(b'0')
}

/// `keyList.Less` for two string keys.
pub(super) fn less(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    for i in 0..a.len().min(b.len()) {
        if a[i] == b[i] {
            continue;
        }
        let (a_letter, b_letter) = (is_letter(a[i]), is_letter(b[i]));
        if a_letter && b_letter {
            return a[i] < b[i];
        }
        if a_letter || b_letter {
            return b_letter;
        }
        // Both runs continue a shared prefix; when that prefix has a non-zero digit the runs
        // are one number, and a leading 1 stands for it so that zeros still count.
        let (mut a_number, mut b_number) = (0i64, 0i64);
        if a[i] == '0' || b[i] == '0' {
            let shared = a[..i].iter().rev().take_while(|c| is_digit(**c));
            if shared.into_iter().any(|&c| c != '0') {
                a_number = 1;
                b_number = 1;
            }
        }
        let run = |chars: &[char], mut number: i64| {
            let mut end = i;
            while end < chars.len() && is_digit(chars[end]) {
                // Go's int64 arithmetic wraps on overflow.
                number = number
                    .wrapping_mul(10)
                    .wrapping_add(digit_value(chars[end]));
                end += 1;
            }
            (number, end)
        };
        let (a_number, a_end) = run(&a, a_number);
        let (b_number, b_end) = run(&b, b_number);
        if a_number != b_number {
            return a_number < b_number;
        }
        if a_end != b_end {
            return a_end < b_end;
        }
        return a[i] < b[i];
    }
    a.len() < b.len()
}

/// Sorts keys as goyaml.v2 does. Go sorts small slices (up to 12) by insertion sort, which is
/// reproduced exactly; larger ones use a merge sort, which agrees with Go's pdqsort whenever
/// `less` is a consistent order (it is for any keys seen in practice) and, unlike the standard
/// library's sort, cannot panic when it is not.
pub(super) fn sort<T>(items: &mut [T], key: impl Fn(&T) -> &str + Copy) {
    if items.len() <= 12 {
        for i in 1..items.len() {
            let mut j = i;
            while j > 0 && less(key(&items[j]), key(&items[j - 1])) {
                items.swap(j, j - 1);
                j -= 1;
            }
        }
        return;
    }
    let middle = items.len() / 2;
    sort(&mut items[..middle], key);
    sort(&mut items[middle..], key);
    // Merge through an index permutation so that `T` need not be `Clone`.
    let mut order = Vec::with_capacity(items.len());
    let (mut left, mut right) = (0, middle);
    while left < middle || right < items.len() {
        let take_right =
            right < items.len() && (left == middle || less(key(&items[right]), key(&items[left])));
        if take_right {
            order.push(right);
            right += 1;
        } else {
            order.push(left);
            left += 1;
        }
    }
    apply_permutation(items, &mut order);
}

/// Rearranges `items` so that position `i` holds what was at `order[i]`.
fn apply_permutation<T>(items: &mut [T], order: &mut [usize]) {
    for start in 0..order.len() {
        let mut current = start;
        while order[current] != start {
            let next = order[current];
            items.swap(current, next);
            order[current] = current;
            current = next;
        }
        order[current] = current;
    }
}

/// [`less`] as an [`Ordering`](std::cmp::Ordering), for tests.
#[cfg(test)]
fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    if less(a, b) {
        Ordering::Less
    } else if less(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::*;

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        sort(&mut keys, String::as_str);
        keys
    }

    #[test]
    fn natural_order() {
        assert_eq!(compare("a2", "a10"), Ordering::Less);
        assert_eq!(compare("a1", "a01"), Ordering::Less);
        assert_eq!(compare("_x", "x"), Ordering::Less);
        assert_eq!(compare("Z", "a"), Ordering::Less);
        assert_eq!(compare("a", "ab"), Ordering::Less);
        assert_eq!(compare("a.b", "ab"), Ordering::Less);
        assert_eq!(
            sorted(&["kind", "apiVersion", "metadata", "data", "spec"]),
            ["apiVersion", "data", "kind", "metadata", "spec"]
        );
    }

    #[test]
    fn large_maps_sort_like_small_ones() {
        let keys: Vec<String> = (0..40).rev().map(|i| format!("k{i}")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let expected: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        assert_eq!(sorted(&refs), expected);
    }
}
