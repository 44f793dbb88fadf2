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

impl Domains {
    /// The bucket `host` names (`bucket.DOMAIN[:port]`), with the domain it
    /// matched; `None` for path-style hosts.
    fn split<'a>(&'a self, host: &'a str) -> Option<(&'a str, &'a str)> {
        let name = strip_port(host);
        self.0.iter().find_map(|d| {
            (name.len() > d.len() + 1
                && name[name.len() - d.len()..].eq_ignore_ascii_case(d)
                && name.as_bytes()[name.len() - d.len() - 1] == b'.')
                .then(|| (&name[..name.len() - d.len() - 1], d.as_str()))
        })
    }

    /// The bucket a virtual-host-style `host` names, if it is one.
    #[must_use]
    pub fn bucket_of_host<'a>(&'a self, host: &'a str) -> Option<&'a str> {
        self.split(host).map(|(bucket, _)| bucket)
    }
}

impl S3Host for Domains {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        match self.split(host) {
            Some((bucket, domain)) => {
                Ok(VirtualHost::new(domain).with_bucket(bucket.to_ascii_lowercase()))
            }
            None => Ok(VirtualHost::new(strip_port(host))),
        }
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
