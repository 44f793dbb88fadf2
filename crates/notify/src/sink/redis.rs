//! Redis, as MinIO writes it: `namespace` keeps a hash with one field per
//! object (`HSET key bucket/object {"Records":[...]}`, `HDEL` when it is
//! removed); `access` appends every event to a list
//! (`RPUSH key [{"Event":[...],"EventTime":"..."}]`), which a worker can
//! `BLPOP` as a job queue. One multiplexed connection per target.

use ::redis::aio::MultiplexedConnection;
use ::redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, IntoConnectionInfo as _, RedisConnectionInfo,
};

use super::{CONNECT_TIMEOUT, DELIVERY_TIMEOUT, DeliveryError};
use crate::config::{Format, RedisSpec};
use crate::event::Event;

pub(crate) struct Redis {
    spec: RedisSpec,
    endpoint: String,
    conn: Option<MultiplexedConnection>,
}

impl Redis {
    pub(crate) fn new(spec: RedisSpec, endpoint: String) -> Self {
        Self {
            spec,
            endpoint,
            conn: None,
        }
    }

    pub(crate) fn disconnect(&mut self) {
        self.conn = None;
    }

    fn error(&self, e: &::redis::RedisError) -> DeliveryError {
        // Redis errors name the command and the server's answer, never
        // the password sent with AUTH.
        if e.is_timeout() {
            DeliveryError::Timeout(DELIVERY_TIMEOUT)
        } else if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() {
            DeliveryError::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: e.to_string(),
            }
        } else {
            DeliveryError::Rejected(format!("redis {}: {e}", self.endpoint))
        }
    }

    async fn conn(&mut self) -> Result<&mut MultiplexedConnection, DeliveryError> {
        if self.conn.is_none() {
            let mut redis = RedisConnectionInfo::default().set_skip_set_lib_name();
            if let Some(u) = &self.spec.user {
                redis = redis.set_username(u);
            }
            if let Some(p) = &self.spec.password {
                redis = redis.set_password(p.expose());
            }
            let info = ConnectionAddr::Tcp(self.spec.host.clone(), self.spec.port)
                .into_connection_info()
                .map_err(|e| self.error(&e))?
                .set_redis_settings(redis);
            let client = Client::open(info).map_err(|e| self.error(&e))?;
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(DELIVERY_TIMEOUT));
            let conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .map_err(|e| self.error(&e))?;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    pub(crate) async fn probe(&mut self) -> Result<(), DeliveryError> {
        let r = ::redis::cmd("PING")
            .query_async::<()>(self.conn().await?)
            .await;
        r.map_err(|e| self.error(&e))
    }

    pub(crate) async fn deliver(&mut self, event: &Event) -> Result<(), DeliveryError> {
        let cmd = match self.spec.format {
            Format::Namespace if event.removes() => {
                let mut c = ::redis::cmd("HDEL");
                c.arg(&self.spec.key).arg(&event.key);
                c
            }
            Format::Namespace => {
                let mut c = ::redis::cmd("HSET");
                c.arg(&self.spec.key)
                    .arg(&event.key)
                    .arg(event.records_json().to_string());
                c
            }
            Format::Access => {
                let mut c = ::redis::cmd("RPUSH");
                c.arg(&self.spec.key).arg(event.redis_access_json());
                c
            }
        };
        let r = cmd.query_async::<()>(self.conn().await?).await;
        r.map_err(|e| self.error(&e))
    }
}
