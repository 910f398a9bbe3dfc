//! De-duplication of HA Prometheus pairs (the Cortex/Mimir scheme).
//!
//! Two Prometheus servers scrape the same targets and both remote-write,
//! each with an external label naming the cluster and one naming itself
//! (the replica). Per cluster one replica is elected: the first one seen.
//! Its requests are stored, with the replica label removed so both
//! replicas' series are the same series; the other replica's requests are
//! answered 202 and dropped. When the elected replica has sent nothing for
//! `failover_timeout`, the next replica to send is elected.
//!
//! A request is judged by its first series that carries both labels (one
//! request comes from one Prometheus); series without them pass. The
//! election lives in memory: after a restart the first replica to send wins.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::decode::ParsedWrite;

pub struct HaTracker {
    pub cluster_label: String,
    pub replica_label: String,
    failover_timeout: Duration,
    elected: Mutex<HashMap<String, (String, Instant)>>,
}

/// The decision for one request.
#[derive(Debug, PartialEq, Eq)]
pub enum HaDecision {
    /// Store it (the elected replica, or no HA labels).
    Accept,
    /// Drop it: another replica of the cluster is elected.
    Drop {
        cluster: String,
        replica: String,
        elected: String,
    },
}

impl HaTracker {
    pub fn new(cluster_label: String, replica_label: String, failover_timeout: Duration) -> Self {
        HaTracker {
            cluster_label,
            replica_label,
            failover_timeout,
            elected: Mutex::new(HashMap::new()),
        }
    }

    pub fn check(&self, parsed: &ParsedWrite<'_>, now: Instant) -> HaDecision {
        let found = parsed.series.iter().find_map(|s| {
            let labels = parsed.labels(s);
            let find = |name: &str| labels.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
            Some((find(&self.cluster_label)?, find(&self.replica_label)?))
        });
        let Some((cluster, replica)) = found else {
            return HaDecision::Accept;
        };
        let mut elected = self.elected.lock();
        match elected.get_mut(cluster) {
            Some((current, last)) if current == replica => {
                *last = now;
                HaDecision::Accept
            }
            Some((current, last))
                if now.saturating_duration_since(*last) <= self.failover_timeout =>
            {
                HaDecision::Drop {
                    cluster: cluster.to_string(),
                    replica: replica.to_string(),
                    elected: current.clone(),
                }
            }
            _ => {
                tracing::info!(cluster, replica, "HA replica elected");
                elected.insert(cluster.to_string(), (replica.to_string(), now));
                HaDecision::Accept
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::prom::decode::{parse, Limits, WriteMessage};
    use crate::prom::proto::{Label, TimeSeries, WriteRequest};

    fn request(labels: &[(&str, &str)]) -> WriteMessage {
        WriteMessage::V1(WriteRequest {
            timeseries: vec![TimeSeries {
                labels: labels
                    .iter()
                    .map(|(n, v)| Label {
                        name: Bytes::copy_from_slice(n.as_bytes()),
                        value: Bytes::copy_from_slice(v.as_bytes()),
                    })
                    .collect(),
                samples: vec![],
                exemplars: vec![],
                histograms: vec![],
            }],
            metadata: vec![],
        })
    }

    #[test]
    fn first_replica_is_elected_and_fails_over_after_the_timeout() {
        let ha = HaTracker::new("cluster".into(), "replica".into(), Duration::from_secs(30));
        let a = request(&[("__name__", "up"), ("cluster", "c1"), ("replica", "a")]);
        let b = request(&[("__name__", "up"), ("cluster", "c1"), ("replica", "b")]);
        let other = request(&[("__name__", "up"), ("cluster", "c2"), ("replica", "b")]);
        let plain = request(&[("__name__", "up")]);
        let limits = Limits::default();
        let p = |m| parse(m, &limits, 1_700_000_000_000).unwrap();
        let t0 = Instant::now();
        assert_eq!(ha.check(&p(&a), t0), HaDecision::Accept);
        assert_eq!(
            ha.check(&p(&b), t0 + Duration::from_secs(10)),
            HaDecision::Drop {
                cluster: "c1".into(),
                replica: "b".into(),
                elected: "a".into()
            }
        );
        assert_eq!(ha.check(&p(&other), t0), HaDecision::Accept);
        assert_eq!(ha.check(&p(&plain), t0), HaDecision::Accept);
        assert_eq!(
            ha.check(&p(&a), t0 + Duration::from_secs(20)),
            HaDecision::Accept
        );
        // a last sent at t0+20; b takes over only after 30 s of silence.
        assert!(matches!(
            ha.check(&p(&b), t0 + Duration::from_secs(50)),
            HaDecision::Drop { .. }
        ));
        assert_eq!(
            ha.check(&p(&b), t0 + Duration::from_secs(51)),
            HaDecision::Accept
        );
        assert!(matches!(
            ha.check(&p(&a), t0 + Duration::from_secs(52)),
            HaDecision::Drop { .. }
        ));
    }
}
