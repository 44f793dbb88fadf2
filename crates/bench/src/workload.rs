//! The operations a run sends and the worker loop around them: each worker
//! owns one connection and its own statistics; workers share only atomic
//! counters (next key, remaining count).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::body::RepeatBody;
use crate::client::{Conn, Target, key_path, query_value, xml_tag};
use crate::report::{Op, OpStats};

/// What every worker of a run shares.
pub struct Shared {
    /// Endpoint and identity.
    pub target: Arc<Target>,
    /// The bucket under test.
    pub bucket: String,
    /// Prefix of every key the run writes or reads.
    pub prefix: String,
    /// Object size.
    pub size: u64,
    /// The one pre-filled buffer every body is cut from.
    pub pattern: Bytes,
    /// How many prepared objects GET/LIST/DELETE work on.
    pub objects: u64,
    /// Part size of multipart uploads.
    pub part_size: u64,
    /// LIST: page size and optional delimiter.
    pub max_keys: u32,
    /// LIST: group keys by this delimiter.
    pub delimiter: Option<String>,
    /// Mixed runs: operation and weight.
    pub mix: Vec<(Op, u32)>,
    /// The next key number for PUT, prepare and DELETE.
    pub next_key: AtomicU64,
    /// Operations still allowed when the run is bounded by a count.
    pub budget: Option<AtomicU64>,
}

impl Shared {
    /// Key number `i`: `PREFIX/NNNNN/NNNNNNNNN`, a thousand keys per folder,
    /// so a delimiter listing at the top of a million keys answers a
    /// thousand common prefixes.
    pub fn key(&self, i: u64) -> String {
        format!("{}{:05}/{:09}", self.prefix, i / 1000, i)
    }

    /// Takes one operation from the count budget; false when spent.
    fn take(&self) -> bool {
        match &self.budget {
            None => true,
            Some(b) => b
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

/// What a worker loop runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Upload keys `0..objects` (then stop).
    Prepare,
    /// One kind of operation.
    Only(Op),
    /// Weighted random kinds.
    Mixed,
}

/// A worker's own state between operations.
pub struct Worker {
    id: u64,
    workers: u64,
    conn: Conn,
    get_cursor: u64,
    list_token: Option<String>,
    own_keys: VecDeque<String>,
    own_seq: u64,
    rng: u64,
    /// Results, indexed by `Op as usize`.
    pub stats: Vec<OpStats>,
}

/// What one operation did.
enum Outcome {
    Done {
        bytes: u64,
        items: u64,
    },
    /// Nothing left to do (prepare or delete ran out of keys).
    Exhausted,
}

impl Worker {
    /// Worker `id` of `workers`, connected lazily.
    pub fn new(shared: &Shared, id: u64, workers: u64) -> Self {
        Self {
            id,
            workers,
            conn: Conn::new(shared.target.clone()),
            get_cursor: id,
            list_token: None,
            own_keys: VecDeque::new(),
            own_seq: 0,
            rng: 0x2545_F491_4F6C_DD1D ^ (id + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            stats: vec![OpStats::default(); Op::ALL.len()],
        }
    }

    /// Runs `work` until `until` (if given) or until the count budget or the
    /// keys run out. `record` false runs a warm-up: nothing is counted.
    pub async fn run(&mut self, shared: &Shared, work: Work, until: Option<Instant>, record: bool) {
        loop {
            if until.is_some_and(|end| Instant::now() >= end) {
                return;
            }
            if record && work != Work::Prepare && !shared.take() {
                return;
            }
            let op = match work {
                Work::Prepare => Op::Put,
                Work::Only(op) => op,
                Work::Mixed => self.pick(&shared.mix),
            };
            let start = Instant::now();
            let (op, result) = self.one(shared, work, op).await;
            let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
            match result {
                Ok(Outcome::Exhausted) => return,
                Ok(Outcome::Done { bytes, items }) if record => {
                    self.stats[op as usize].ok(micros, bytes, items);
                }
                Err(kind) if record => self.stats[op as usize].err(kind),
                _ => {}
            }
        }
    }

    fn pick(&mut self, mix: &[(Op, u32)]) -> Op {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let total: u32 = mix.iter().map(|(_, w)| w).sum();
        let mut r = (self.rng % u64::from(total.max(1))) as u32;
        for (op, w) in mix {
            if r < *w {
                return *op;
            }
            r -= w;
        }
        mix.first().map_or(Op::Get, |(op, _)| *op)
    }

    /// One operation, and the kind that really ran (a mixed DELETE with no
    /// key of its own left uploads one instead).
    async fn one(&mut self, s: &Shared, work: Work, op: Op) -> (Op, Result<Outcome, String>) {
        let result = match (work, op) {
            (Work::Prepare, _) => {
                let i = s.next_key.fetch_add(1, Ordering::Relaxed);
                if i >= s.objects {
                    return (op, Ok(Outcome::Exhausted));
                }
                self.put(s, &s.key(i)).await
            }
            (Work::Mixed, Op::Put) => self.mixed_put(s).await,
            (Work::Mixed, Op::Delete) => match self.own_keys.pop_front() {
                Some(key) => self.delete(s, &key).await,
                None => return (Op::Put, self.mixed_put(s).await),
            },
            (_, Op::Put) => {
                let i = s.next_key.fetch_add(1, Ordering::Relaxed);
                self.put(s, &s.key(i)).await
            }
            (_, Op::Get | Op::Head) => {
                let i = self.get_cursor % s.objects.max(1);
                self.get_cursor += self.workers;
                self.get(s, &s.key(i), op == Op::Head).await
            }
            (_, Op::Delete) => {
                let i = s.next_key.fetch_add(1, Ordering::Relaxed);
                if i >= s.objects {
                    return (op, Ok(Outcome::Exhausted));
                }
                self.delete(s, &s.key(i)).await
            }
            (_, Op::List) => self.list(s).await,
            (_, Op::Multipart) => self.multipart(s).await,
        };
        (op, result)
    }

    async fn mixed_put(&mut self, s: &Shared) -> Result<Outcome, String> {
        let key = format!("{}mixed/{}/{:09}", s.prefix, self.id, self.own_seq);
        self.own_seq += 1;
        let out = self.put(s, &key).await?;
        self.own_keys.push_back(key);
        Ok(out)
    }

    async fn put(&mut self, s: &Shared, key: &str) -> Result<Outcome, String> {
        let path = key_path(&s.bucket, key);
        let body = RepeatBody::new(&s.pattern, s.size);
        let r = self
            .conn
            .send(Method::PUT, &path, body, s.size, false)
            .await?;
        expect(&r, StatusCode::OK)?;
        Ok(Outcome::Done {
            bytes: s.size,
            items: 0,
        })
    }

    async fn get(&mut self, s: &Shared, key: &str, head: bool) -> Result<Outcome, String> {
        let path = key_path(&s.bucket, key);
        let method = if head { Method::HEAD } else { Method::GET };
        let r = self
            .conn
            .send(method, &path, RepeatBody::new(&s.pattern, 0), 0, false)
            .await?;
        expect(&r, StatusCode::OK)?;
        if !head && r.received != s.size {
            return Err(format!(
                "short body: {} of {} bytes (objects of another size?)",
                r.received, s.size
            ));
        }
        Ok(Outcome::Done {
            bytes: r.received,
            items: 0,
        })
    }

    async fn delete(&mut self, s: &Shared, key: &str) -> Result<Outcome, String> {
        let path = key_path(&s.bucket, key);
        let r = self
            .conn
            .send(
                Method::DELETE,
                &path,
                RepeatBody::new(&s.pattern, 0),
                0,
                false,
            )
            .await?;
        expect(&r, StatusCode::NO_CONTENT)?;
        Ok(Outcome::Done { bytes: 0, items: 0 })
    }

    /// One page; the next call continues where it stopped, and starts over
    /// after the last page.
    async fn list(&mut self, s: &Shared) -> Result<Outcome, String> {
        let mut path = format!(
            "/{}?list-type=2&max-keys={}&prefix={}",
            s.bucket,
            s.max_keys,
            query_value(&s.prefix)
        );
        if let Some(d) = &s.delimiter {
            path.push_str("&delimiter=");
            path.push_str(&query_value(d));
        }
        if let Some(t) = &self.list_token {
            path.push_str("&continuation-token=");
            path.push_str(&query_value(t));
        }
        let r = self
            .conn
            .send(Method::GET, &path, RepeatBody::new(&s.pattern, 0), 0, true)
            .await?;
        expect(&r, StatusCode::OK)?;
        let items: u64 = xml_tag(&r.body, "KeyCount")
            .and_then(|v| v.parse().ok())
            .ok_or("listing without KeyCount")?;
        self.list_token = if xml_tag(&r.body, "IsTruncated") == Some("true") {
            Some(
                xml_tag(&r.body, "NextContinuationToken")
                    .ok_or("truncated listing without NextContinuationToken")?
                    .to_owned(),
            )
        } else {
            None
        };
        Ok(Outcome::Done {
            bytes: r.received,
            items,
        })
    }

    /// Create, upload every part, complete.
    async fn multipart(&mut self, s: &Shared) -> Result<Outcome, String> {
        let i = s.next_key.fetch_add(1, Ordering::Relaxed);
        let key = key_path(&s.bucket, &s.key(i));
        let empty = || RepeatBody::new(&s.pattern, 0);
        let r = self
            .conn
            .send(Method::POST, &format!("{key}?uploads"), empty(), 0, true)
            .await?;
        expect(&r, StatusCode::OK)?;
        let id = query_value(xml_tag(&r.body, "UploadId").ok_or("no UploadId")?);
        let part = s.part_size.max(1);
        let parts = s.size.div_ceil(part).max(1);
        let mut xml = String::from("<CompleteMultipartUpload>");
        for n in 1..=parts {
            let len = part.min(s.size - (n - 1) * part);
            let body = RepeatBody::new(&s.pattern, len);
            let path = format!("{key}?partNumber={n}&uploadId={id}");
            let r = self.conn.send(Method::PUT, &path, body, len, false).await?;
            expect(&r, StatusCode::OK)?;
            let etag = r
                .headers
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .ok_or("part without ETag")?;
            xml.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let xml = Bytes::from(xml);
        let len = xml.len() as u64;
        let r = self
            .conn
            .send(
                Method::POST,
                &format!("{key}?uploadId={id}"),
                RepeatBody::new(&xml, len),
                len,
                true,
            )
            .await?;
        expect(&r, StatusCode::OK)?;
        // CompleteMultipartUpload can fail with 200 and an error document.
        if xml_tag(&r.body, "Code").is_some() {
            return Err(r.error_kind());
        }
        Ok(Outcome::Done {
            bytes: s.size,
            items: 0,
        })
    }
}

fn expect(r: &crate::client::Reply, want: StatusCode) -> Result<(), String> {
    if r.status == want || (want == StatusCode::OK && r.status.is_success()) {
        Ok(())
    } else {
        Err(r.error_kind())
    }
}
