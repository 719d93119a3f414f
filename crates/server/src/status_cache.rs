//! The `GetDomainStatus` answers this replica built, kept in memory until something they were
//! built from changes, so that a domain read many times between changes costs no query.
//!
//! Postgres announces every change: the triggers of migration `20261205100000` send the domain of
//! every written row the answer is built from on the store's `STATUS_CHANNEL` when the writing
//! transaction commits (`*`: every domain). [`listen`] receives those announcements on a connection of its
//! own and forgets the answers they name. An answer is kept only when it was built entirely
//! while the announcements were being received: [`StatusCache::ticket`] is taken before the
//! answer's first query, and [`StatusCache::put`] refuses it when its domain was announced (or
//! the listener lost its connection, and with it the announcements) since. A change committed
//! before the ticket is in the answer; one committed after it is announced after it.
//!
//! What this costs in consistency: another replica's change reaches this replica's answers when
//! its announcement arrives (delivered at commit, received in well under a millisecond on an idle
//! listener). This replica's own writes are not left to that race: a mutating RPC forgets every
//! answer before its response leaves (the auth gate's `AfterWrite` hook), and the operations API
//! forgets a domain's answer when it first reads one of the domain's operations finished.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use sqlx::postgres::PgPool;
use support_access_proto::v1;
use support_access_store::wake::{EVERY_DOMAIN, StatusListener};
use tokio_util::sync::CancellationToken;

/// At most this many answers are kept (one per domain; each is bounded).
const MAX_ENTRIES: usize = 4096;

/// At most this many bytes of answers (encoded) are kept: an answer lists up to 120 drift
/// events, so a few thousand domains full of drift must not take the replica's memory.
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// Generations kept per domain before they are all dropped (with the answers) and restarted.
const MAX_GENERATIONS: usize = 65_536;

/// The answers of this replica, by domain.
#[derive(Default)]
pub struct StatusCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// True while the listener is subscribed: answers are kept only then.
    listening: bool,
    /// Bumped whenever every answer is forgotten.
    epoch: u64,
    /// Bumped for a domain whenever its answer is forgotten.
    generations: HashMap<String, u64>,
    answers: HashMap<String, Kept>,
    /// The encoded size of every kept answer.
    bytes: usize,
}

struct Kept {
    answer: Arc<v1::DomainStatus>,
    bytes: usize,
}

/// What a reader holds while it builds an answer: the state of the cache before its first query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    epoch: u64,
    generation: u64,
}

impl Inner {
    fn ticket(&self, domain: &str) -> Ticket {
        Ticket {
            epoch: self.epoch,
            generation: self.generations.get(domain).copied().unwrap_or(0),
        }
    }

    fn forget_all(&mut self) {
        self.epoch += 1;
        self.answers.clear();
        self.bytes = 0;
        self.generations.clear();
    }

    fn remove(&mut self, domain: &str) {
        if let Some(kept) = self.answers.remove(domain) {
            self.bytes -= kept.bytes;
        }
    }
}

impl StatusCache {
    /// The kept answer of `domain`, if any.
    pub fn get(&self, domain: &str) -> Option<Arc<v1::DomainStatus>> {
        let inner = self.inner.lock().expect("status cache lock");
        inner.answers.get(domain).map(|kept| kept.answer.clone())
    }

    /// Taken before the first query of an answer that may be kept; `None` when answers cannot
    /// be kept now (the listener is not subscribed).
    pub fn ticket(&self, domain: &str) -> Option<Ticket> {
        let inner = self.inner.lock().expect("status cache lock");
        inner.listening.then(|| inner.ticket(domain))
    }

    /// Keeps `answer` unless `domain` was announced, or announcements were lost, since `ticket`.
    /// Returns whether it was kept.
    pub fn put(&self, domain: &str, ticket: Ticket, answer: Arc<v1::DomainStatus>) -> bool {
        let mut inner = self.inner.lock().expect("status cache lock");
        if !inner.listening || inner.ticket(domain) != ticket {
            return false;
        }
        let bytes = answer.encoded_len() + domain.len();
        if bytes > MAX_BYTES / 16 {
            return false;
        }
        inner.remove(domain);
        // Any ones go: the next read of their domains builds them again.
        while inner.answers.len() >= MAX_ENTRIES || inner.bytes + bytes > MAX_BYTES {
            let Some(victim) = inner.answers.keys().next().cloned() else {
                break;
            };
            inner.remove(&victim);
        }
        inner.bytes += bytes;
        inner
            .answers
            .insert(domain.to_owned(), Kept { answer, bytes });
        true
    }

    /// Forgets the answer of `domain` (`*`: of every domain).
    pub fn forget(&self, domain: &str) {
        let mut inner = self.inner.lock().expect("status cache lock");
        if domain == EVERY_DOMAIN {
            inner.forget_all();
            return;
        }
        if inner.generations.len() >= MAX_GENERATIONS && !inner.generations.contains_key(domain) {
            inner.forget_all();
        }
        *inner.generations.entry(domain.to_owned()).or_insert(0) += 1;
        inner.remove(domain);
    }

    /// Forgets every answer.
    pub fn forget_all(&self) {
        self.inner.lock().expect("status cache lock").forget_all();
    }

    /// Whether announcements are being received; every answer is forgotten on either change.
    fn set_listening(&self, listening: bool) {
        let mut inner = self.inner.lock().expect("status cache lock");
        inner.forget_all();
        inner.listening = listening;
    }
}

/// Receives the store's status announcements until `shutdown`, reconnecting (and
/// forgetting everything, since announcements were lost) whenever the connection drops.
pub async fn listen(cache: Arc<StatusCache>, pool: PgPool, shutdown: CancellationToken) {
    let mut delay = Duration::from_millis(200);
    loop {
        let mut listener = match StatusListener::connect(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "cannot listen for status changes; answers are not kept meanwhile");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.cancelled() => return,
                }
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        delay = Duration::from_millis(200);
        cache.set_listening(true);
        loop {
            let received = tokio::select! {
                received = listener.next_domain() => received,
                () = shutdown.cancelled() => {
                    cache.set_listening(false);
                    return;
                }
            };
            match received {
                Ok(Some(domain)) => cache.forget(&domain),
                // The connection dropped: what was announced meanwhile is lost.
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(error = %error, "lost the status change listener; reconnecting");
                    break;
                }
            }
        }
        cache.set_listening(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(name: &str) -> Arc<v1::DomainStatus> {
        Arc::new(v1::DomainStatus {
            name: name.into(),
            ..Default::default()
        })
    }

    fn listening() -> StatusCache {
        let cache = StatusCache::default();
        cache.set_listening(true);
        cache
    }

    #[test]
    fn nothing_is_kept_unless_the_listener_is_subscribed() {
        let cache = StatusCache::default();
        assert_eq!(cache.ticket("a.example"), None);
        let cache = listening();
        let ticket = cache.ticket("a.example").unwrap();
        cache.set_listening(false);
        assert!(!cache.put("a.example", ticket, answer("a")));
        assert!(cache.get("a.example").is_none());
    }

    #[test]
    fn an_answer_is_kept_until_its_domain_is_announced() {
        let cache = listening();
        let ticket = cache.ticket("a.example").unwrap();
        assert!(cache.put("a.example", ticket, answer("a")));
        let other = cache.ticket("b.example").unwrap();
        assert!(cache.put("b.example", other, answer("b")));
        cache.forget("a.example");
        assert!(cache.get("a.example").is_none());
        assert_eq!(cache.get("b.example").unwrap().name, "b");
    }

    #[test]
    fn an_answer_built_across_an_announcement_is_not_kept() {
        let cache = listening();
        let ticket = cache.ticket("a.example").unwrap();
        cache.forget("a.example");
        assert!(!cache.put("a.example", ticket, answer("stale")));
        // Another domain's announcement does not spoil it.
        let ticket = cache.ticket("a.example").unwrap();
        cache.forget("b.example");
        assert!(cache.put("a.example", ticket, answer("a")));
    }

    #[test]
    fn every_domain_and_a_lost_connection_forget_everything() {
        let cache = listening();
        let ticket = cache.ticket("a.example").unwrap();
        assert!(cache.put("a.example", ticket, answer("a")));
        let pending = cache.ticket("b.example").unwrap();
        cache.forget(EVERY_DOMAIN);
        assert!(cache.get("a.example").is_none());
        assert!(!cache.put("b.example", pending, answer("b")));

        let ticket = cache.ticket("a.example").unwrap();
        cache.set_listening(false);
        cache.set_listening(true);
        assert!(!cache.put("a.example", ticket, answer("a")));
    }

    #[test]
    fn the_bytes_of_answers_are_bounded() {
        let cache = listening();
        let big = |name: &str| {
            Arc::new(v1::DomainStatus {
                name: format!("{name}{}", "x".repeat(MAX_BYTES / 20)),
                ..Default::default()
            })
        };
        for i in 0..40 {
            let domain = format!("d{i}.example");
            let ticket = cache.ticket(&domain).unwrap();
            assert!(cache.put(&domain, ticket, big(&domain)));
        }
        let inner = cache.inner.lock().unwrap();
        assert!(inner.bytes <= MAX_BYTES, "{} bytes kept", inner.bytes);
        assert_eq!(
            inner.bytes,
            inner.answers.values().map(|k| k.bytes).sum::<usize>()
        );
    }

    #[test]
    fn the_number_of_answers_is_bounded() {
        let cache = listening();
        for i in 0..MAX_ENTRIES + 10 {
            let domain = format!("d{i}.example");
            let ticket = cache.ticket(&domain).unwrap();
            assert!(cache.put(&domain, ticket, answer(&domain)));
        }
        assert_eq!(
            cache.inner.lock().unwrap().answers.len(),
            MAX_ENTRIES,
            "one answer leaves for every one kept beyond the bound"
        );
    }
}
