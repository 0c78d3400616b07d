//! How far apart two names are, for "did you mean" suggestions (a misspelt config key, a requirement
//! naming a project the index does not have).

/// The optimal string alignment distance between `a` and `b`, by characters: insertions, deletions,
/// substitutions and swaps of two adjacent characters each count one. Swapped letters (`pstuil` for
/// `psutil`) are the commonest typing slip, and plain Levenshtein would count them as two.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: the one before last is needed for a swap.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let substitution = last[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = substitution.min(last[j] + 1).min(row[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            row[j] = best;
        }
        std::mem::swap(&mut before, &mut last);
        std::mem::swap(&mut last, &mut row);
    }
    last[b.len()]
}

#[cfg(test)]
mod tests {
    use super::distance;

    #[test]
    fn distances_count_an_adjacent_swap_as_one_edit() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("same", "same"), 0);
        assert_eq!(distance("pstuil", "psutil"), 1);
        assert_eq!(distance("plaftorms", "platforms"), 1);
        assert_eq!(distance("ca", "abc"), 3);
        assert_eq!(distance("numpyy", "numpy"), 1);
    }
}
