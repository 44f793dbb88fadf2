//! Virtual-host-style addressing under `MINIO_DOMAIN`, the way MinIO reads
//! it: `bucket.DOMAIN[:port]` names a bucket; every other Host (an IP,
//! `localhost:9000`, a compose service name, the bare domain) is path style.
//! s3s's own parsers keep the port and treat unknown hosts as bucket names
//! (CNAME style), which breaks `http://localhost:9000` once a domain is set.

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// The configured base domains, lower-case, without ports.
#[derive(Debug, Clone)]
pub struct Domains(Vec<String>);

impl Domains {
    /// Base domains from `MINIO_DOMAIN` (comma-separated there).
    #[must_use]
    pub fn new(domains: &[String]) -> Self {
        Self(
            domains
                .iter()
                .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect(),
        )
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host;
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

impl S3Host for Domains {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = strip_port(host);
        for d in &self.0 {
            if name.len() > d.len() + 1
                && name[name.len() - d.len()..].eq_ignore_ascii_case(d)
                && name.as_bytes()[name.len() - d.len() - 1] == b'.'
            {
                let bucket = name[..name.len() - d.len() - 1].to_ascii_lowercase();
                return Ok(VirtualHost::new(d.as_str()).with_bucket(bucket));
            }
        }
        Ok(VirtualHost::new(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_only_under_the_domain() {
        let d = Domains::new(&["s3.example.test".into()]);
        assert_eq!(
            d.parse_host_header("pics.s3.example.test:9000")
                .unwrap()
                .bucket(),
            Some("pics")
        );
        assert_eq!(
            d.parse_host_header("s3.example.test:9000")
                .unwrap()
                .bucket(),
            None
        );
        assert_eq!(
            d.parse_host_header("localhost:9000").unwrap().bucket(),
            None
        );
        assert_eq!(d.parse_host_header("minio").unwrap().bucket(), None);
    }
}
