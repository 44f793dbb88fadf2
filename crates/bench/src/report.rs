//! What a run measured, per operation: counts, bytes, latency histogram and
//! errors by kind; summed over workers, printed as a table and as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::hist::Histogram;

/// The kinds of request a run sends, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// PutObject.
    Put,
    /// GetObject.
    Get,
    /// HeadObject.
    Head,
    /// DeleteObject.
    Delete,
    /// One ListObjectsV2 page.
    List,
    /// A whole multipart upload: create, parts, complete.
    Multipart,
}

impl Op {
    /// Every kind, indexable by `as usize`.
    pub const ALL: [Op; 6] = [
        Op::Put,
        Op::Get,
        Op::Head,
        Op::Delete,
        Op::List,
        Op::Multipart,
    ];

    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Get => "get",
            Op::Head => "head",
            Op::Delete => "delete",
            Op::List => "list",
            Op::Multipart => "multipart",
        }
    }
}

/// One operation kind's results (per worker, then merged).
#[derive(Clone, Default)]
pub struct OpStats {
    /// Successful operations.
    pub ops: u64,
    /// Body bytes sent or received by successful operations.
    pub bytes: u64,
    /// Listed entries (keys and common prefixes), for LIST.
    pub items: u64,
    /// Latency of successful operations, microseconds.
    pub hist: Histogram,
    /// Failed operations by kind (`403 SignatureDoesNotMatch`, `connect: ...`).
    pub errors: BTreeMap<String, u64>,
}

impl OpStats {
    /// Records a success.
    pub fn ok(&mut self, micros: u64, bytes: u64, items: u64) {
        self.ops += 1;
        self.bytes += bytes;
        self.items += items;
        self.hist.record(micros);
    }

    /// Records a failure.
    pub fn err(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }

    /// How many failed.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Adds another worker's results.
    pub fn merge(&mut self, o: &Self) {
        self.ops += o.ops;
        self.bytes += o.bytes;
        self.items += o.items;
        self.hist.merge(&o.hist);
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }

    fn json(&self, secs: f64) -> Value {
        let ms = |v: u64| v as f64 / 1000.0;
        json!({
            "ops": self.ops,
            "ops_per_s": round2(self.ops as f64 / secs),
            "bytes": self.bytes,
            "mib_per_s": round2(self.bytes as f64 / secs / 1048576.0),
            "items": self.items,
            "items_per_s": round2(self.items as f64 / secs),
            "latency_ms": {
                "p50": ms(self.hist.quantile(0.50)),
                "p90": ms(self.hist.quantile(0.90)),
                "p99": ms(self.hist.quantile(0.99)),
                "max": ms(self.hist.max()),
            },
            "errors": self.error_count(),
            "error_kinds": self.errors,
        })
    }
}

fn round2(v: f64) -> f64 {
    if v.is_finite() {
        (v * 100.0).round() / 100.0
    } else {
        0.0
    }
}

/// A whole run.
pub struct Report {
    /// What was asked (mode, endpoint, size, concurrency...).
    pub settings: Value,
    /// Length of the measured phase, seconds.
    pub secs: f64,
    /// Results per operation kind (only kinds that ran).
    pub ops: Vec<(Op, OpStats)>,
    /// Failures before the measurement (bucket creation, preparing objects).
    pub setup_errors: BTreeMap<String, u64>,
}

impl Report {
    /// Every failed request, measured or during set-up.
    pub fn total_errors(&self) -> u64 {
        self.ops.iter().map(|(_, s)| s.error_count()).sum::<u64>()
            + self.setup_errors.values().sum::<u64>()
    }

    /// The report as JSON (see docs/benchmarks.md for the fields).
    pub fn json(&self) -> Value {
        let ops: serde_json::Map<String, Value> = self
            .ops
            .iter()
            .map(|(op, s)| (op.name().to_owned(), s.json(self.secs)))
            .collect();
        json!({
            "settings": self.settings,
            "duration_s": round2(self.secs),
            "ops": ops,
            "errors": self.total_errors(),
            "setup_errors": self.setup_errors,
        })
    }

    /// The report as a text table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<10} {:>9} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7}",
            "op",
            "ops",
            "ops/s",
            "MiB/s",
            "items/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "errors"
        );
        for (op, s) in &self.ops {
            let ms = |v: u64| v as f64 / 1000.0;
            let _ = writeln!(
                out,
                "{:<10} {:>9} {:>10.1} {:>10.1} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7}",
                op.name(),
                s.ops,
                s.ops as f64 / self.secs,
                s.bytes as f64 / self.secs / 1048576.0,
                s.items as f64 / self.secs,
                ms(s.hist.quantile(0.5)),
                ms(s.hist.quantile(0.9)),
                ms(s.hist.quantile(0.99)),
                ms(s.hist.max()),
                s.error_count(),
            );
        }
        let _ = writeln!(out, "measured for {:.2} s", self.secs);
        let all = self
            .ops
            .iter()
            .flat_map(|(op, s)| s.errors.iter().map(move |(k, v)| (op.name(), k, v)))
            .chain(self.setup_errors.iter().map(|(k, v)| ("setup", k, v)));
        for (op, kind, n) in all {
            let _ = writeln!(out, "errors: {op}: {kind}: {n}");
        }
        out
    }
}
