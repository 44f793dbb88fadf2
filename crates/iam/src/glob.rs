//! IAM wildcards: `*` matches any run of characters, `?` exactly one.

/// Whether `text` matches `pattern`; `fold` compares case-insensitively
/// (actions are, resources and most strings are not).
#[must_use]
pub fn matches(pattern: &str, text: &str, fold: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if fold {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    // Iterative matcher with backtracking to the last `*`: linear in practice.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards() {
        assert!(matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y", false));
        assert!(matches(
            "arn:aws:s3:::b/products/tenant_1/*",
            "arn:aws:s3:::b/products/tenant_1/a.jpg",
            false
        ));
        assert!(!matches(
            "arn:aws:s3:::b/products/tenant_1/*",
            "arn:aws:s3:::b/products/tenant_2/a.jpg",
            false
        ));
        assert!(matches("s3:Get*", "s3:getobject", true));
        assert!(!matches("s3:Get*", "s3:PutObject", true));
        assert!(matches("a?c", "abc", false));
        assert!(!matches("a?c", "ac", false));
        assert!(matches("*", "", false));
        assert!(!matches("ARN:*", "arn:x", false));
    }
}
