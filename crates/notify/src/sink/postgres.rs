//! PostgreSQL, as MinIO writes it: `namespace` keeps one row per object
//! in `(key VARCHAR PRIMARY KEY, value JSONB)`, upserted by each event and
//! deleted when the object is removed; `access` inserts every event into
//! `(event_time TIMESTAMP WITH TIME ZONE NOT NULL, event_data JSONB)`.
//! The table is created if missing, as MinIO does. One connection per
//! target, without TLS (`sslmode=disable` or `prefer`).

use tokio_postgres::{Client, NoTls, Statement};

use super::DeliveryError;
use crate::config::{Format, PostgresSpec};
use crate::event::Event;

pub(crate) struct Postgres {
    spec: PostgresSpec,
    endpoint: String,
    conn: Option<Conn>,
}

struct Conn {
    client: Client,
    /// Namespace: upsert; access: insert.
    write: Statement,
    /// Namespace only: delete.
    delete: Option<Statement>,
}

impl Postgres {
    pub(crate) fn new(spec: PostgresSpec, endpoint: String) -> Self {
        Self {
            spec,
            endpoint,
            conn: None,
        }
    }

    pub(crate) fn disconnect(&mut self) {
        self.conn = None;
    }

    /// tokio-postgres errors name the server's message and SQLSTATE, never
    /// the connection string.
    fn error(&self, e: &tokio_postgres::Error) -> DeliveryError {
        if e.as_db_error().is_none() && (e.is_closed() || source_is_io(e)) {
            DeliveryError::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: e.to_string(),
            }
        } else {
            let detail = e.as_db_error().map_or_else(
                || e.to_string(),
                |d| format!("{} ({})", d.message(), d.code().code()),
            );
            DeliveryError::Rejected(format!("postgresql {}: {detail}", self.endpoint))
        }
    }

    async fn conn(&mut self) -> Result<&mut Conn, DeliveryError> {
        if self.conn.is_none() {
            let (client, connection) = self
                .spec
                .config
                .connect(NoTls)
                .await
                .map_err(|e| self.error(&e))?;
            let endpoint = self.endpoint.clone();
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(endpoint = %endpoint, error = %e, "postgresql connection ended");
                }
            });
            let t = &self.spec.table;
            let (create, write, delete) = match self.spec.format {
                Format::Namespace => (
                    format!(
                        "CREATE TABLE IF NOT EXISTS {t} (key VARCHAR PRIMARY KEY, value JSONB)"
                    ),
                    format!(
                        "INSERT INTO {t} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
                    ),
                    Some(format!("DELETE FROM {t} WHERE key = $1")),
                ),
                Format::Access => (
                    format!(
                        "CREATE TABLE IF NOT EXISTS {t} (event_time TIMESTAMP WITH TIME ZONE NOT NULL, event_data JSONB)"
                    ),
                    format!("INSERT INTO {t} (event_time, event_data) VALUES ($1, $2)"),
                    None,
                ),
            };
            client
                .batch_execute(&create)
                .await
                .map_err(|e| self.error(&e))?;
            let write = client.prepare(&write).await.map_err(|e| self.error(&e))?;
            let delete = match delete {
                Some(d) => Some(client.prepare(&d).await.map_err(|e| self.error(&e))?),
                None => None,
            };
            self.conn = Some(Conn {
                client,
                write,
                delete,
            });
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    pub(crate) async fn probe(&mut self) -> Result<(), DeliveryError> {
        let r = self.conn().await?.client.simple_query("SELECT 1").await;
        r.map(drop).map_err(|e| self.error(&e))
    }

    pub(crate) async fn deliver(&mut self, event: &Event) -> Result<(), DeliveryError> {
        let format = self.spec.format;
        let conn = self.conn().await?;
        let r = match format {
            Format::Namespace if event.removes() => {
                let delete = conn
                    .delete
                    .as_ref()
                    .expect("namespace has a delete statement");
                conn.client.execute(delete, &[&event.key]).await
            }
            Format::Namespace => {
                conn.client
                    .execute(&conn.write, &[&event.key, &event.records_json()])
                    .await
            }
            Format::Access => {
                let time = time::OffsetDateTime::parse(
                    &event.time,
                    &time::format_description::well_known::Rfc3339,
                )
                .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
                conn.client
                    .execute(&conn.write, &[&time, &event.records_json()])
                    .await
            }
        };
        r.map(drop).map_err(|e| self.error(&e))
    }
}

fn source_is_io(e: &tokio_postgres::Error) -> bool {
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if s.is::<std::io::Error>() {
            return true;
        }
        src = s.source();
    }
    false
}
