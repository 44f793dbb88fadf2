//! Running as one of several nodes on a shared metadata store (PostgreSQL):
//! heartbeats, the background lease, and following configuration that other
//! nodes change.
//!
//! Work that must happen once per cluster (lifecycle passes, scrubbing,
//! garbage collection, event delivery) runs only on the node that holds the
//! `background` lease. The holder renews it every [`BEAT`]; when it dies,
//! the lease lapses after [`LEASE_TTL_MS`] and the next node to ask takes it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use almacen_iam::IamStore;
use almacen_meta::{MetaStore, NodeRow};

/// The lease that designates the node running background work.
pub const BACKGROUND_LEASE: &str = "background";
/// How long the lease lasts without renewal.
pub const LEASE_TTL_MS: i64 = 10_000;
/// How often each node renews (or asks for) the lease and reports itself.
pub const BEAT: Duration = Duration::from_secs(2);
/// How often a node checks whether configuration changed elsewhere.
const CONFIG_POLL: Duration = Duration::from_millis(500);

/// Asks for (or renews) the background lease once and records the answer
/// in `flag`. A store that fails or is slow to answer means "not held":
/// better no node runs background work for a moment than two.
pub async fn take_lease(meta: &dyn MetaStore, node_id: &str, flag: &AtomicBool) -> bool {
    let asked =
        tokio::time::timeout(BEAT, meta.lease(BACKGROUND_LEASE, node_id, LEASE_TTL_MS)).await;
    let held = match asked {
        Ok(Ok(held)) => held,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot renew the background lease");
            false
        }
        Err(_) => {
            tracing::warn!("the metadata store is slow: background lease not renewed in time");
            false
        }
    };
    if flag.swap(held, Ordering::AcqRel) != held {
        if held {
            tracing::info!(
                node = node_id,
                "this node now runs background work (lifecycle, scrubber, garbage collection, event delivery)"
            );
        } else {
            tracing::info!(node = node_id, "another node runs background work now");
        }
    }
    held
}

/// Renews the lease and reports this node alive every [`BEAT`], forever.
pub fn spawn_heartbeat(meta: Arc<dyn MetaStore>, mut node: NodeRow, flag: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(BEAT);
        loop {
            tick.tick().await;
            let held = take_lease(meta.as_ref(), &node.id, &flag).await;
            BACKGROUND_LEASE.clone_into(&mut node.roles);
            if !held {
                node.roles.clear();
            }
            if let Err(e) = meta.heartbeat(&node).await {
                tracing::warn!(error = %e, "cannot report this node alive");
            }
        }
    });
}

/// Reloads users, groups, policies and keys whenever another node changes
/// them (the store's configuration generation moves), within about
/// [`CONFIG_POLL`].
pub fn spawn_config_follower(meta: Arc<dyn MetaStore>, iam: Arc<IamStore>) {
    tokio::spawn(async move {
        let mut seen = meta.config_generation().await.ok();
        let mut tick = tokio::time::interval(CONFIG_POLL);
        loop {
            tick.tick().await;
            match meta.config_generation().await {
                Ok(g) if Some(g) != seen => match iam.reload().await {
                    Ok(()) => seen = Some(g),
                    Err(e) => tracing::warn!(error = %e, "cannot reload users and policies"),
                },
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "cannot read the configuration generation"),
            }
        }
    });
}
