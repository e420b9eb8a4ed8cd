//! The two tests assurance states in its flags, written out so an auditor
//! can check the arithmetic.
//!
//! In: counts. Out: a two-sided exact binomial p-value, and a robust
//! (median/MAD) z-score. Promises: no approximation that fails on small
//! groups (the binomial is exact, summed in log space); a robust z is
//! `None` where the spread is zero on both the MAD and the mean absolute
//! deviation (everyone alike: no one departs).

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1-x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// ln P(X = k) for X ~ Binomial(n, p), 0 < p < 1.
fn ln_pmf(n: u64, k: u64, p: f64) -> f64 {
    let (n, k) = (n as f64, k as f64);
    ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
        + k * p.ln()
        + (n - k) * (1.0 - p).ln()
}

/// Two-sided exact binomial p-value of `k` successes in `n` trials under
/// success probability `p`: the total probability of every outcome no more
/// likely than `k` (the definition R's `binom.test` uses).
pub fn binomial_two_sided(n: u64, k: u64, p: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    // A degenerate null: only one outcome is possible.
    if p <= 0.0 {
        return if k == 0 { 1.0 } else { 0.0 };
    }
    if p >= 1.0 {
        return if k == n { 1.0 } else { 0.0 };
    }
    let observed = ln_pmf(n, k, p);
    // Relative tolerance for ties, as R uses (1 + 1e-7).
    let limit = observed + 1e-7_f64.ln_1p();
    let total: f64 = (0..=n)
        .map(|i| ln_pmf(n, i, p))
        .filter(|l| *l <= limit)
        .map(f64::exp)
        .sum();
    total.min(1.0)
}

/// Median of `xs` (which must not be empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 0 {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    }
}

/// A robust spread: the median absolute deviation, or where that is zero
/// (more than half the values equal) the mean absolute deviation, each
/// scaled to estimate a standard deviation (1.4826 MAD, 1.2533 MeanAD:
/// Iglewicz and Hoaglin's modified z-score). `None` when both are zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    /// The scaled spread (an estimate of one standard deviation).
    pub scale: f64,
    /// "MAD" or "MeanAD": which estimate `scale` is.
    pub estimate: &'static str,
}

pub fn spread(xs: &[f64]) -> Option<Spread> {
    if xs.is_empty() {
        return None;
    }
    let med = median(xs);
    let dev: Vec<f64> = xs.iter().map(|x| (x - med).abs()).collect();
    let mad = median(&dev);
    if mad > 0.0 {
        return Some(Spread {
            median: med,
            scale: 1.4826 * mad,
            estimate: "MAD",
        });
    }
    let mean_ad = dev.iter().sum::<f64>() / dev.len() as f64;
    (mean_ad > 0.0).then_some(Spread {
        median: med,
        scale: 1.2533 * mean_ad,
        estimate: "MeanAD",
    })
}

impl Spread {
    /// How many robust standard deviations `x` lies from the median.
    pub fn z(&self, x: f64) -> f64 {
        (x - self.median) / self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        for (n, f) in [(1.0, 1.0), (5.0, 24.0), (11.0, 3_628_800.0_f64)] {
            assert!((ln_gamma(n) - f.ln()).abs() < 1e-10, "Γ({n})");
        }
    }

    #[test]
    fn binomial_p_values_match_r() {
        // binom.test(7, 10, 0.5)$p.value = 0.34375 (exact: 352/1024)
        assert!((binomial_two_sided(10, 7, 0.5) - 0.343_75).abs() < 1e-9);
        // binom.test(2, 20, 0.5)$p.value = 0.0004024506
        assert!((binomial_two_sided(20, 2, 0.5) - 4.024_506e-4).abs() < 1e-9);
        // binom.test(9, 10, 0.3)$p.value = 0.0001436859 (asymmetric null)
        assert!((binomial_two_sided(10, 9, 0.3) - 1.436_859e-4).abs() < 1e-9);
        // The expected count is never significant.
        assert!((binomial_two_sided(10, 5, 0.5) - 1.0).abs() < 1e-9);
        assert_eq!(binomial_two_sided(4, 3, 1.0), 0.0);
        assert_eq!(binomial_two_sided(0, 0, 0.4), 1.0);
    }

    #[test]
    fn robust_z_ignores_the_outlier_it_measures() {
        let xs = [10.0, 11.0, 9.0, 10.0, 12.0, 60.0];
        let s = spread(&xs).unwrap();
        assert_eq!(s.median, 10.5);
        assert_eq!(s.estimate, "MAD");
        assert!(s.z(60.0) > 20.0, "{}", s.z(60.0));
        assert!(s.z(12.0).abs() < 3.5);
        // More than half alike: the mean absolute deviation takes over.
        let s = spread(&[5.0, 5.0, 5.0, 5.0, 30.0]).unwrap();
        assert_eq!(s.estimate, "MeanAD");
        assert!(s.z(30.0) > 3.5);
        assert!(spread(&[3.0, 3.0, 3.0]).is_none());
    }
}
