//! The one way this project talks to Redis, shared by every Redis-backed store (these here, the
//! slot inventory, the SMS codes): a lazily made connection to one server or to a Redis
//! Cluster, a deadline on every call, and one mapping of Redis errors to `StoreError`.
//!
//! `redis.url` names the target: one `redis://` URL is a single server; several, separated by
//! commas, are the seed nodes of a Redis Cluster (the client learns the rest of the cluster
//! from them). Every store sends its commands through [`RedisConnection`], which is either, so
//! no store has code of its own for the cluster: a cluster connection routes each command and
//! script to the node owning its keys' slot, which is why every call's keys share one slot.
//!
//! A single server's `ConnectionManager` multiplexes every call over one socket and reconnects
//! in the background after a failure; it never retries a command itself: the failed call
//! reports `Unavailable`, and a later call uses the new connection. The cluster connection
//! keeps one multiplexed socket per node; it follows `MOVED`/`ASK` redirects (the command did
//! not run) and, after a dropped node connection, reconnects and sends the command again, all
//! within the same deadline. That resend can repeat a write whose reply was lost, which
//! answers as the caller's own retry would have (every store's writes are idempotent or, like
//! `SET NX`, report the first run's effect), so it promises nothing the single server does not.

use crate::StoreError;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{
    Cmd, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, RedisResult,
    ServerErrorKind, Value,
};
use std::sync::OnceLock;
use std::time::Duration;

/// Upper bound on one operation, reconnecting included, so a request fails fast with 503
/// when Redis is down or unreachable instead of hanging.
pub const DEADLINE: Duration = Duration::from_secs(2);

/// Connecting to one server (or one cluster node), and waiting for one answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);

fn manager_config() -> ConnectionManagerConfig {
    // One retry keeps a reconnect attempt (1 s to connect, a short pause, 1 s again) close to
    // DEADLINE; the manager starts a fresh attempt on a later call anyway.
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(Duration::from_millis(500))
}

fn cluster_client(seeds: &[&str]) -> RedisResult<ClusterClient> {
    // Two retries cover a MOVED followed by an ASK, or one reconnect; the library's default
    // waits (over a second before a TRYAGAIN retry) would not fit in DEADLINE.
    ClusterClient::builder(seeds.iter().copied())
        .retries(2)
        .min_retry_wait(50)
        .max_retry_wait(500)
        .overall_response_timeout(Some(DEADLINE))
        .build()
}

fn cluster_config() -> ClusterConfig {
    ClusterConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(RESPONSE_TIMEOUT)
}

/// What `redis.url` names.
enum Target {
    Single(redis::Client),
    Cluster(Box<ClusterClient>),
}

impl Target {
    fn parse(url: &str) -> Result<Self, StoreError> {
        let invalid =
            |e: &dyn std::fmt::Display| StoreError::Unexpected(format!("invalid Redis URL: {e}"));
        let urls: Vec<&str> = url.split(',').map(str::trim).collect();
        if let [single] = urls.as_slice() {
            return redis::Client::open(*single)
                .map(Target::Single)
                .map_err(|e| invalid(&e));
        }
        for node in &urls {
            let info = node.into_connection_info().map_err(|e| invalid(&e))?;
            // The client would SELECT it on every node, which a cluster refuses.
            if info.redis_settings().db() != 0 {
                return Err(invalid(&"a Redis Cluster has only database 0"));
            }
        }
        cluster_client(&urls)
            .map(|client| Target::Cluster(Box::new(client)))
            .map_err(|e| invalid(&e))
    }
}

/// A Redis connection made on first use, because making it needs a Tokio runtime (it spawns its
/// background task there) and stores may be built outside one; and lazy, so a gateway starts
/// while Redis is down.
pub struct LazyRedis {
    target: Target,
    connection: OnceLock<RedisConnection>,
}

impl std::fmt::Debug for LazyRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.write_str("LazyRedis { .. }")
    }
}

impl LazyRedis {
    /// `url` is one `redis://` (or `rediss://`) URL for a single server, or a comma-separated
    /// list of them for the seed nodes of a Redis Cluster. Does not connect; fails only on a
    /// malformed URL (or a cluster node URL naming a database other than 0).
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            target: Target::parse(url)?,
            connection: OnceLock::new(),
        })
    }

    /// The shared connection. The first command connects, and a failed connect is retried by a
    /// later command.
    pub fn connection(&self) -> Result<RedisConnection, StoreError> {
        if let Some(connection) = self.connection.get() {
            return Ok(connection.clone());
        }
        let connection = match &self.target {
            Target::Single(client) => RedisConnection::Single(
                ConnectionManager::new_lazy_with_config(client.clone(), manager_config())
                    .map_err(store_error)?,
            ),
            Target::Cluster(client) => RedisConnection::Cluster(
                client.get_pending_async_connection_with_config(cluster_config()),
            ),
        };
        // Two first callers may both get here; the loser's connection has not connected yet
        // and is simply dropped.
        Ok(self.connection.get_or_init(|| connection).clone())
    }
}

/// One server's connection manager or a cluster connection; either carries any command or
/// script (`query_async`, `Script::invoke_async`), and cloning it shares the connection.
#[derive(Clone)]
pub enum RedisConnection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConnection::Single(con) => con.req_packed_command(cmd),
            RedisConnection::Cluster(con) => con.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConnection::Single(con) => con.req_packed_commands(pipeline, offset, count),
            RedisConnection::Cluster(con) => con.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConnection::Single(con) => con.get_db(),
            RedisConnection::Cluster(con) => con.get_db(),
        }
    }
}

/// Awaits one Redis call within [`DEADLINE`].
pub async fn bounded<T>(call: impl Future<Output = RedisResult<T>>) -> Result<T, StoreError> {
    match tokio::time::timeout(DEADLINE, call).await {
        Ok(result) => result.map_err(store_error),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer from Redis within {DEADLINE:?}"
        ))),
    }
}

pub fn store_error(e: RedisError) -> StoreError {
    // Refused and dropped connections and timeouts are all of kind Io; the server kinds are
    // the ones a restart, failover or resharding produces and that heal by themselves (a
    // redirect is left over only when the cluster client ran out of retries following it).
    // CROSSSLOT is not among them: it is a bug in a store's keys.
    let transient = e.is_io_error()
        || matches!(
            e.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                        | ServerErrorKind::Moved
                        | ServerErrorKind::Ask
                )
        );
    if transient {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Unexpected(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_url_is_a_single_server_and_a_list_is_a_cluster() {
        let single = LazyRedis::open("redis://127.0.0.1:6379/2").unwrap();
        assert!(matches!(single.target, Target::Single(_)));
        let cluster =
            LazyRedis::open("redis://127.0.0.1:7000, redis://127.0.0.1:7001,redis://h:7002/0")
                .unwrap();
        assert!(matches!(cluster.target, Target::Cluster(_)));
        // A cluster behind one configuration endpoint: the address twice.
        let endpoint = LazyRedis::open("redis://cfg:6379,redis://cfg:6379").unwrap();
        assert!(matches!(endpoint.target, Target::Cluster(_)));
    }

    #[test]
    fn malformed_targets_are_refused() {
        for bad in [
            "no-scheme",
            "redis://127.0.0.1:7000,",
            "redis://127.0.0.1:7000,no-scheme",
            "redis://127.0.0.1:7000,redis://127.0.0.1:7001/3",
            "redis://:a@127.0.0.1:7000,redis://:b@127.0.0.1:7001",
        ] {
            assert!(
                matches!(LazyRedis::open(bad), Err(StoreError::Unexpected(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn redirects_and_cluster_outages_are_transient_but_crossslot_is_a_bug() {
        let server = |kind| store_error(RedisError::from((ErrorKind::Server(kind), "x")));
        for transient in [
            ServerErrorKind::Moved,
            ServerErrorKind::Ask,
            ServerErrorKind::ClusterDown,
            ServerErrorKind::TryAgain,
        ] {
            assert!(matches!(server(transient), StoreError::Unavailable(_)));
        }
        assert!(matches!(
            server(ServerErrorKind::CrossSlot),
            StoreError::Unexpected(_)
        ));
    }
}
