//! A one-line progress display on stderr: objects and bytes copied out of
//! those planned for the bucket at hand. Redrawn in place on a terminal;
//! elsewhere (logs, CI) one line per bucket, so logs stay readable.

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

pub struct Progress {
    tty: bool,
    bucket: String,
    done: u64,
    total: u64,
    bytes: u64,
    total_bytes: u64,
    drawn: Option<Instant>,
}

impl Progress {
    pub fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            bucket: String::new(),
            done: 0,
            total: 0,
            bytes: 0,
            total_bytes: 0,
            drawn: None,
        }
    }

    /// Starts a bucket with its plan.
    pub fn start(&mut self, bucket: &str, total: u64, total_bytes: u64) {
        self.bucket = bucket.to_owned();
        self.done = 0;
        self.total = total;
        self.bytes = 0;
        self.total_bytes = total_bytes;
        self.drawn = None;
        self.draw(true);
    }

    /// One object (or version, or delete marker) done.
    pub fn step(&mut self, bytes: u64) {
        self.done += 1;
        self.bytes += bytes;
        self.draw(self.done == self.total);
    }

    /// Ends the bucket's line.
    pub fn end_bucket(&mut self) {
        if self.tty {
            eprintln!();
        } else {
            eprintln!("{}", self.line());
        }
    }

    fn line(&self) -> String {
        let width = 24u64;
        // By bytes; by objects when there are none (delete markers, empty files).
        let filled = self
            .bytes
            .saturating_mul(width)
            .checked_div(self.total_bytes)
            .or_else(|| self.done.saturating_mul(width).checked_div(self.total))
            .unwrap_or(width);
        format!(
            "{}: [{}{}] {}/{} objects, {:.1}/{:.1} MiB",
            self.bucket,
            "#".repeat(usize::try_from(filled).unwrap_or(0)),
            ".".repeat(usize::try_from(width - filled.min(width)).unwrap_or(0)),
            self.done,
            self.total,
            self.bytes as f64 / 1_048_576.0,
            self.total_bytes as f64 / 1_048_576.0
        )
    }

    fn draw(&mut self, force: bool) {
        if !self.tty {
            return;
        }
        if !force
            && self
                .drawn
                .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        self.drawn = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{}\x1b[K", self.line());
        let _ = err.flush();
    }
}
