//! The views of finished operations this replica served, kept in memory: a finished operation
//! never changes again (its result, error, counts and work items are written by the finish and
//! only read after; operations are never deleted), so its `GetOperation` answer can be served
//! without a query. Bounded by the size of the kept views; the oldest kept goes first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use prost::Message;
use support_access_proto::google::longrunning::Operation;
use uuid::Uuid;

/// At most this many bytes of encoded views are kept (each is bounded: the first accounts of its
/// result and every count).
const MAX_BYTES: usize = 8 * 1024 * 1024;

/// A finished operation's view and the domains it worked in (for the caller's domain check).
pub struct Finished {
    /// The reseller domains of the operation's request.
    pub domains: Vec<String>,
    /// The API view.
    pub operation: Operation,
    bytes: usize,
}

/// The kept views, by operation id.
#[derive(Default)]
pub struct FinishedOperations {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    views: HashMap<Uuid, Arc<Finished>>,
    /// Oldest first.
    order: VecDeque<Uuid>,
    bytes: usize,
}

impl FinishedOperations {
    /// The kept view of operation `id`.
    pub fn get(&self, id: Uuid) -> Option<Arc<Finished>> {
        self.inner
            .lock()
            .expect("finished operations lock")
            .views
            .get(&id)
            .cloned()
    }

    /// Keeps the view of a finished operation (`operation.done` must be true; others are not
    /// kept) and returns it.
    pub fn put(&self, id: Uuid, domains: Vec<String>, operation: Operation) -> Arc<Finished> {
        let bytes = operation.encoded_len() + domains.iter().map(String::len).sum::<usize>();
        let finished = Arc::new(Finished {
            domains,
            operation,
            bytes,
        });
        if !finished.operation.done || bytes > MAX_BYTES / 4 {
            return finished;
        }
        let mut inner = self.inner.lock().expect("finished operations lock");
        if inner.views.contains_key(&id) {
            return finished;
        }
        while inner.bytes + bytes > MAX_BYTES {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.views.remove(&oldest) {
                inner.bytes -= gone.bytes;
            }
        }
        inner.bytes += bytes;
        inner.order.push_back(id);
        inner.views.insert(id, finished.clone());
        finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(done: bool, padding: usize) -> Operation {
        Operation {
            name: format!("operations/{}{}", Uuid::nil(), "x".repeat(padding)),
            metadata: None,
            done,
            result: None,
        }
    }

    #[test]
    fn only_finished_operations_are_kept() {
        let cache = FinishedOperations::default();
        let running = Uuid::new_v4();
        cache.put(running, vec!["a.example".into()], view(false, 0));
        assert!(cache.get(running).is_none());
        let done = Uuid::new_v4();
        cache.put(done, vec!["a.example".into()], view(true, 0));
        let kept = cache.get(done).unwrap();
        assert!(kept.operation.done);
        assert_eq!(kept.domains, vec!["a.example".to_owned()]);
    }

    #[test]
    fn the_oldest_views_leave_past_the_byte_bound() {
        let cache = FinishedOperations::default();
        let ids: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
        for id in &ids {
            cache.put(*id, Vec::new(), view(true, MAX_BYTES / 5));
        }
        assert!(cache.inner.lock().unwrap().bytes <= MAX_BYTES);
        assert!(cache.get(ids[0]).is_none(), "the oldest left");
        assert!(cache.get(ids[5]).is_some(), "the newest stayed");
    }
}
