//! A log-bucketed latency histogram: constant memory (about 2,300
//! counters), under 1 % relative error, O(1) recording and merging, so every
//! worker keeps its own and they are summed at the end without locks.

/// Sub-buckets per power of two: 64 gives a relative error below 1/64.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Enough buckets for values up to 2^40 microseconds (about 12 days).
const BUCKETS: usize = ((40 - SUB_BITS as usize) + 2) * SUB as usize;

/// Latencies in microseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < 2 * SUB {
        return v as usize;
    }
    let msb = 63 - u64::from(v.leading_zeros());
    let shift = msb - u64::from(SUB_BITS);
    let idx = (shift * SUB + (v >> shift)) as usize;
    idx.min(BUCKETS - 1)
}

/// The middle of bucket `idx`'s value range.
fn value(idx: usize) -> u64 {
    let idx = idx as u64;
    if idx < 2 * SUB {
        return idx;
    }
    let shift = idx / SUB - 1;
    let base = (idx - shift * SUB) << shift;
    base + (1 << shift) / 2
}

impl Histogram {
    /// Records one latency.
    pub fn record(&mut self, micros: u64) {
        self.counts[index(micros)] += 1;
        self.total += 1;
        self.max = self.max.max(micros);
    }

    /// Adds another worker's histogram.
    pub fn merge(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The largest recorded latency, exact.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The latency below which `q` (0..=1) of the recordings fall.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_precise() {
        let mut last = 0;
        for v in [0u64, 1, 127, 128, 129, 1000, 4096, 65_535, 1 << 20, 1 << 33] {
            let i = index(v);
            assert!(i >= last, "{v}");
            last = i;
            let back = value(i);
            let err = back.abs_diff(v) as f64 / v.max(1) as f64;
            assert!(err < 0.02, "{v} -> {back}");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for v in 1..=1000 {
            h.record(v * 10);
        }
        let p50 = h.quantile(0.5);
        assert!((4900..=5100).contains(&p50), "{p50}");
        assert_eq!(h.max(), 10_000);
        assert!(h.quantile(0.99) <= 10_000);
        let mut g = Histogram::default();
        g.merge(&h);
        assert_eq!(g.quantile(0.5), p50);
    }
}
