//! The ledger: every call the emulator answered and every effect it applied, for tests to assert
//! on ("exactly one role assignment per user", "3 writes per provisioned user").
//!
//! A call entry records the method (discovery id, or `oauth2.token`), the customer and subject,
//! a natural key (email, org unit path, `productId/skuId/email`, …) and the outcome (`200`,
//! `409 duplicate`, `reset`). An effect entry records one change to the world (`created`,
//! `updated`, `deleted` of a resource), with the call that caused it — including effects of
//! calls whose response then failed or was dropped, and side effects such as automatic
//! licensing.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Whether an entry is a call or an effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A request and its outcome.
    Call,
    /// A change applied to the world.
    Effect,
}

/// One ledger entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Position in the ledger, from 1.
    pub seq: u64,
    /// Milliseconds since the emulator started.
    pub at_ms: u64,
    /// Call or effect.
    pub kind: EntryKind,
    /// Discovery method id (`directory.users.insert`) or `oauth2.token`.
    pub method: String,
    /// Customer id the call addressed (the subject's customer), when known.
    pub customer_id: Option<String>,
    /// Impersonated admin (calls) or service account (token calls).
    pub subject: Option<String>,
    /// For effects: `user`, `orgUnit`, `role`, `roleAssignment`, `licenseAssignment`.
    pub resource: Option<String>,
    /// Natural key: email, org unit path, role name, `roleId/userId`, `productId/skuId/email`.
    pub natural_key: Option<String>,
    /// Calls: HTTP status and reason (`200`, `409 duplicate`), or `reset`. Effects: `created`,
    /// `updated`, `deleted`.
    pub outcome: String,
    /// For effects: why, when not the call itself (`automatic licensing`, `site license`,
    /// `user deleted`).
    pub cause: Option<String>,
    /// For effects: `seq` of the call entry that caused it.
    pub call_seq: Option<u64>,
}

/// One change applied by an operation, before it enters the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effect {
    /// Resource type (see [`LedgerEntry::resource`]).
    pub resource: &'static str,
    /// `created`, `updated` or `deleted`.
    pub action: &'static str,
    /// Natural key.
    pub key: String,
    /// Side-effect cause.
    pub cause: Option<&'static str>,
}

impl Effect {
    /// A direct effect of the call.
    pub fn new(resource: &'static str, action: &'static str, key: impl Into<String>) -> Self {
        Self {
            resource,
            action,
            key: key.into(),
            cause: None,
        }
    }

    /// A side effect with a cause.
    pub fn caused(
        resource: &'static str,
        action: &'static str,
        key: impl Into<String>,
        cause: &'static str,
    ) -> Self {
        Self {
            resource,
            action,
            key: key.into(),
            cause: Some(cause),
        }
    }
}

/// Counters over the ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// All call entries.
    pub calls: u64,
    /// All effect entries.
    pub effects: u64,
    /// Calls per method.
    pub calls_by_method: BTreeMap<String, u64>,
    /// Calls per `method outcome`, e.g. `directory.users.insert 409 duplicate`.
    pub outcomes: BTreeMap<String, u64>,
    /// Effects per `resource action`, e.g. `roleAssignment created`.
    pub effects_by_kind: BTreeMap<String, u64>,
    /// Effects per `resource action natural_key`.
    pub effects_by_key: BTreeMap<String, u64>,
}

/// The ledger itself.
#[derive(Debug)]
pub struct Ledger {
    started: Instant,
    /// The newest entries, at most [`MAX_ENTRIES`]; older ones are dropped (counters keep
    /// counting them).
    entries: VecDeque<LedgerEntry>,
    /// Last `seq` handed out, so numbering goes on after a clear.
    last_seq: u64,
    /// Kept up to date on every record, so they stay exact when old entries are dropped.
    counters: Counters,
}

/// Entries kept in memory; a long-running `serve` would otherwise grow without bound.
pub const MAX_ENTRIES: usize = 200_000;

impl Ledger {
    /// An empty ledger whose clock starts now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            entries: VecDeque::new(),
            last_seq: 0,
            counters: Counters::default(),
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }

    /// Records a call and its effects; returns the call's `seq`.
    pub fn record(
        &mut self,
        method: &str,
        customer_id: Option<&str>,
        subject: Option<&str>,
        natural_key: Option<&str>,
        outcome: String,
        effects: &[Effect],
    ) -> u64 {
        let at_ms = self.started.elapsed().as_millis() as u64;
        let call_seq = self.next_seq();
        self.push(LedgerEntry {
            seq: call_seq,
            at_ms,
            kind: EntryKind::Call,
            method: method.to_owned(),
            customer_id: customer_id.map(str::to_owned),
            subject: subject.map(str::to_owned),
            resource: None,
            natural_key: natural_key.map(str::to_owned),
            outcome,
            cause: None,
            call_seq: None,
        });
        for effect in effects {
            let seq = self.next_seq();
            self.push(LedgerEntry {
                seq,
                at_ms,
                kind: EntryKind::Effect,
                method: method.to_owned(),
                customer_id: customer_id.map(str::to_owned),
                subject: subject.map(str::to_owned),
                resource: Some(effect.resource.to_owned()),
                natural_key: Some(effect.key.clone()),
                outcome: effect.action.to_owned(),
                cause: effect.cause.map(str::to_owned),
                call_seq: Some(call_seq),
            });
        }
        call_seq
    }

    /// Entries with `seq > after`.
    pub fn entries_after(&self, after: u64) -> Vec<LedgerEntry> {
        self.entries
            .iter()
            .filter(|e| e.seq > after)
            .cloned()
            .collect()
    }

    /// Forgets every entry and resets the counters (sequence numbers go on).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.counters = Counters::default();
    }

    fn push(&mut self, entry: LedgerEntry) {
        self.counters.count(&entry);
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// Counters over everything recorded since start or the last clear.
    pub fn counters(&self) -> Counters {
        self.counters.clone()
    }
}

impl Counters {
    fn count(&mut self, entry: &LedgerEntry) {
        match entry.kind {
            EntryKind::Call => {
                self.calls += 1;
                *self
                    .calls_by_method
                    .entry(entry.method.clone())
                    .or_default() += 1;
                *self
                    .outcomes
                    .entry(format!("{} {}", entry.method, entry.outcome))
                    .or_default() += 1;
            }
            EntryKind::Effect => {
                self.effects += 1;
                let resource = entry.resource.clone().unwrap_or_default();
                *self
                    .effects_by_kind
                    .entry(format!("{resource} {}", entry.outcome))
                    .or_default() += 1;
                *self
                    .effects_by_key
                    .entry(format!(
                        "{resource} {} {}",
                        entry.outcome,
                        entry.natural_key.clone().unwrap_or_default()
                    ))
                    .or_default() += 1;
            }
        }
    }
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new()
    }
}
