//! Per-connection state: the SQL session and its cancel flag.
//!
//! Stored in pgwire's session extensions, created at the first statement.
//! The cancel flag is shared with the [`CancelRegistry`] so a CancelRequest
//! arriving on another socket stops a query even while it streams rows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use lynx_sql::{CopyIn, Session};

pub struct Conn {
    pub session: tokio::sync::Mutex<Session>,
    /// A `COPY ... FROM STDIN` waiting for CopyData / CopyDone / CopyFail.
    pub copy_in: Mutex<Option<Box<CopyIn>>>,
    /// Held from the COPY FROM STDIN statement until its rows are written.
    pub copy_memory: Mutex<Option<crate::alloc::BulkCopyMemory>>,
    pub cancelled: Arc<AtomicBool>,
    pid: i32,
    registry: Arc<CancelRegistry>,
}

impl Conn {
    pub fn new(session: Session, registry: Arc<CancelRegistry>) -> Conn {
        let pid = session.pid();
        let cancelled = Arc::new(AtomicBool::new(false));
        registry.flags.lock().insert(pid, cancelled.clone());
        Conn {
            session: tokio::sync::Mutex::new(session),
            copy_in: Mutex::new(None),
            copy_memory: Mutex::new(None),
            cancelled,
            pid,
            registry,
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.registry.flags.lock().remove(&self.pid);
    }
}

/// Cancel flags of live connections by backend pid.
#[derive(Default)]
pub struct CancelRegistry {
    flags: Mutex<HashMap<i32, Arc<AtomicBool>>>,
}

impl CancelRegistry {
    pub fn cancel(&self, pid: i32) {
        if let Some(f) = self.flags.lock().get(&pid) {
            f.store(true, Ordering::SeqCst);
        }
    }
}
