//! Sagas at one participant: the saga log of a session, the store transaction a commit or a
//! compensation writes through ([`Tx`]), and the order compensations run in.
//!
//! Per (session, participant) the log keeps, in [`Table::Saga`]:
//!
//! * a *claim* per transaction name: committed (with the commit's index and logged result)
//!   or aborted (with the reason). The claim is written in the same [`Batch`] as every
//!   application record the commit wrote, so a commit happened exactly when its claim exists;
//! * the *commit order*: commit `i` names its transaction, `i` counting from 0. Compensation
//!   walks this list backwards: an ordered log, never a map's iteration order;
//! * a *compensated* mark per commit, written in the same batch as the compensation's own
//!   records, so a compensation happened exactly when its mark exists;
//! * the *failed* mark: the session's failure, written when this participant learns of it.
//!   A commit checks for it (and for the session's failure in memory) under the same lock as
//!   its own write, so a commit and the failure notice are ordered: a commit either precedes
//!   the mark (and is compensated) or is refused.
//!
//! A restarted participant replays: its transactions return their logged results and register
//! their compensations again. Once the replay has re-registered every logged commit, a
//! recorded failure is applied again, and the compensations that have no mark yet run.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ChoreoError;
use crate::ident::{ParticipantId, SessionId};
use crate::net::transport::lock;
use crate::store::{Batch, MemoryStore, Store, StoreError, Table};

/// The store transaction of one commit or compensation: reads see the node's application
/// records ([`Table::App`], shared by every session on the node) and this transaction's own
/// writes; the writes are applied in one batch together with the saga log's record, or not at
/// all.
///
/// A read that fails (the store, or a value that does not decode as the type asked for) fails
/// the whole transaction: nothing is written, and the session fails with an error naming the
/// key.
pub struct Tx<'a> {
    store: &'a dyn Store,
    /// Namespace of application keys (empty on a node; the role in the reference run).
    ns: Vec<u8>,
    key: String,
    batch: Batch,
    overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    error: RefCell<Option<String>>,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(store: &'a dyn Store, ns: Vec<u8>, key: String) -> Tx<'a> {
        Tx {
            store,
            ns,
            key,
            batch: Batch::new(),
            overlay: BTreeMap::new(),
            error: RefCell::new(None),
        }
    }

    fn app_key(&self, key: &str) -> Vec<u8> {
        let mut k = self.ns.clone();
        k.extend_from_slice(key.as_bytes());
        k
    }

    fn failed(&self, what: String) {
        self.error.borrow_mut().get_or_insert(what);
    }

    /// The idempotency key of this transaction: `<session>/<participant>/<name>`, the same in
    /// every replay. Pass it to outside services so that a retried call is recognised.
    pub fn idempotency_key(&self) -> &str {
        &self.key
    }

    /// The application record `key`, decoded as `T`; `None` if there is none.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let k = self.app_key(key);
        let bytes = match self.overlay.get(&k) {
            Some(v) => v.clone(),
            None => match self.store.get(Table::App, &k) {
                Ok(v) => v,
                Err(e) => {
                    self.failed(format!("reading application record `{key}`: {e}"));
                    return None;
                }
            },
        }?;
        match postcard::from_bytes(&bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                self.failed(format!(
                    "application record `{key}` does not decode as {}: {e}",
                    std::any::type_name::<T>()
                ));
                None
            }
        }
    }

    /// The application record `key`, or `default` if there is none.
    pub fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> T {
        self.get(key).unwrap_or(default)
    }

    /// Sets the application record `key` to `value` (when the transaction commits).
    pub fn put<T: Serialize>(&mut self, key: &str, value: &T) {
        match postcard::to_stdvec(value) {
            Ok(bytes) => {
                let k = self.app_key(key);
                self.batch.put(Table::App, k.clone(), bytes.clone());
                self.overlay.insert(k, Some(bytes));
            }
            Err(e) => self.failed(format!("application record `{key}` does not encode: {e}")),
        }
    }

    /// Removes the application record `key` (when the transaction commits).
    pub fn delete(&mut self, key: &str) {
        let k = self.app_key(key);
        self.batch.delete(Table::App, k.clone());
        self.overlay.insert(k, None);
    }

    /// The writes, or why the transaction cannot commit.
    pub(crate) fn into_batch(self) -> Result<Batch, String> {
        match self.error.into_inner() {
            Some(e) => Err(e),
            None => Ok(self.batch),
        }
    }
}

/// The reference run's sagas: one application store for the whole run (every role's records
/// under its own name, nested sessions included) and each session's commits in order.
pub(crate) struct CentralSaga {
    pub(crate) app: Arc<dyn Store>,
    /// (namespace, idempotency key, compensation, result) per commit, in commit order.
    pub(crate) commits: Mutex<Vec<CentralCommit>>,
}

impl CentralSaga {
    /// A reference run's first session: an empty application store.
    pub(crate) fn root() -> CentralSaga {
        CentralSaga {
            app: Arc::new(MemoryStore::new()),
            commits: Mutex::new(Vec::new()),
        }
    }

    /// A nested session of the same reference run: the same application store.
    pub(crate) fn child(&self) -> CentralSaga {
        CentralSaga {
            app: self.app.clone(),
            commits: Mutex::new(Vec::new()),
        }
    }

    /// The session failed: compensate its commits, last first.
    pub(crate) fn compensate(&self) {
        let commits = std::mem::take(&mut *lock(&self.commits));
        for (ns, key, handler, result) in commits.into_iter().rev() {
            let mut tx = Tx::new(&*self.app, ns, key);
            if handler(&mut tx, &result).is_ok() {
                if let Ok(batch) = tx.into_batch() {
                    let _ = self.app.commit(&batch);
                }
            }
        }
    }
}

/// A commit of the reference run: (namespace, idempotency key, compensation, result).
pub(crate) type CentralCommit = (Vec<u8>, String, Handler, Vec<u8>);

/// A compensation: runs with the commit's logged result, encoded.
pub(crate) type Handler = Arc<dyn Fn(&mut Tx<'_>, &[u8]) -> Result<(), String> + Send + Sync>;

/// What the log says about a transaction name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Claim {
    /// Committed as commit `index`, with this result.
    Committed { index: u64, result: Vec<u8> },
    /// Its commit said no.
    Aborted { reason: String },
}

#[derive(Default)]
struct SagaState {
    loaded: bool,
    claims: BTreeMap<String, Claim>,
    /// Transaction names in commit order.
    commits: Vec<String>,
    compensated: BTreeSet<u64>,
    failed: Option<ChoreoError>,
    /// Compensations registered by this incarnation, by commit index.
    handlers: BTreeMap<u64, Handler>,
    /// Whether this incarnation announced the abort (trace event) already.
    announced: bool,
    /// Planted double compensation: commits compensated once already.
    twice: BTreeSet<u64>,
}

/// One participant's saga log in one session (see the module docs).
pub(crate) struct SagaLog {
    prefix: [u8; 10],
    store: OnceLock<Arc<dyn Store>>,
    state: Mutex<SagaState>,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain owned data always encodes.
    postcard::to_stdvec(value).unwrap_or_default()
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        path: "(saga log)".into(),
        detail: format!("a {what} record does not decode: {e}"),
    }
}

/// A commit or compensation that this module wrote, for the caller to announce.
pub(crate) struct Written {
    /// The commit's index.
    pub index: u64,
    /// The transaction's name.
    pub name: String,
}

impl SagaLog {
    pub fn new(session: SessionId, me: ParticipantId) -> SagaLog {
        let mut prefix = [0u8; 10];
        prefix[..8].copy_from_slice(&session.0.to_be_bytes());
        prefix[8..].copy_from_slice(&me.0.to_be_bytes());
        SagaLog {
            prefix,
            store: OnceLock::new(),
            state: Mutex::new(SagaState::default()),
        }
    }

    fn key(&self, tag: u8, rest: &[u8]) -> Vec<u8> {
        let mut k = self.prefix.to_vec();
        k.push(tag);
        k.extend_from_slice(rest);
        k
    }

    /// Reads the log from `store` the first time (later calls do nothing).
    pub fn load(&self, store: &Arc<dyn Store>) -> Result<(), StoreError> {
        let mut st = lock(&self.state);
        if st.loaded {
            return Ok(());
        }
        let _ = self.store.set(store.clone());
        let n = self.prefix.len();
        for (k, v) in store.scan(Table::Saga, &self.prefix)? {
            match k.get(n) {
                Some(b'N') => {
                    let name = String::from_utf8_lossy(&k[n + 1..]).into_owned();
                    let claim = postcard::from_bytes(&v).map_err(|e| corrupt("claim", e))?;
                    st.claims.insert(name, claim);
                }
                Some(b'C') => {
                    let name: String =
                        postcard::from_bytes(&v).map_err(|e| corrupt("commit", e))?;
                    st.commits.push(name);
                }
                Some(b'X') if k.len() == n + 9 => {
                    let mut i = [0u8; 8];
                    i.copy_from_slice(&k[n + 1..]);
                    st.compensated.insert(u64::from_be_bytes(i));
                }
                Some(b'F') => {
                    st.failed = Some(postcard::from_bytes(&v).map_err(|e| corrupt("failure", e))?);
                }
                _ => {}
            }
        }
        st.loaded = true;
        Ok(())
    }

    /// What the log says about transaction `name`.
    pub fn claim(&self, name: &str) -> Option<Claim> {
        lock(&self.state).claims.get(name).cloned()
    }

    /// Registers the compensation of commit `index` (replayed or new).
    pub fn register(&self, index: u64, handler: Handler) {
        lock(&self.state).handlers.insert(index, handler);
    }

    /// Replay: the recorded failure, once every logged commit has its compensation registered
    /// again (the replay is where the failure found the participant).
    pub fn caught_up(&self) -> Option<ChoreoError> {
        let st = lock(&self.state);
        let all = (0..st.commits.len() as u64).all(|i| st.handlers.contains_key(&i));
        if all { st.failed.clone() } else { None }
    }

    /// Runs `commit` and writes its records with the claim and the commit's place in the
    /// order, in one batch (synced). `refuse` is checked under the log's lock first: a
    /// failure (in memory, or the recorded mark) refuses the commit, so the failure notice and
    /// commits are serialized here.
    pub fn commit<T>(
        &self,
        store: &Arc<dyn Store>,
        name: &str,
        refuse: impl FnOnce() -> Option<ChoreoError>,
        commit: impl FnOnce(&mut Tx<'_>) -> T,
        outcome: impl FnOnce(&T) -> Option<Result<Vec<u8>, String>>,
        key: String,
    ) -> Result<Committed<T>, ChoreoError> {
        let mut st = lock(&self.state);
        if planted() != Some(Bug::CommitAfterNotice) {
            if let Some(e) = refuse().or_else(|| st.failed.clone()) {
                return Err(e);
            }
        }
        let mut tx = Tx::new(&**store, Vec::new(), key);
        let value = commit(&mut tx);
        let Some(verdict) = outcome(&value) else {
            return Ok(Committed::Nothing(value));
        };
        let mut batch = tx.into_batch().map_err(|detail| store_error(&detail))?;
        let index = st.commits.len() as u64;
        let claim = match &verdict {
            Ok(result) => Claim::Committed {
                index,
                result: result.clone(),
            },
            Err(reason) => {
                // An abort writes nothing of the application's.
                batch = Batch::new();
                Claim::Aborted {
                    reason: reason.clone(),
                }
            }
        };
        batch.put(Table::Saga, self.key(b'N', name.as_bytes()), encode(&claim));
        if verdict.is_ok() {
            batch.put(
                Table::Saga,
                self.key(b'C', &index.to_be_bytes()),
                encode(&name.to_string()),
            );
        }
        store
            .commit(&batch)
            .and_then(|()| store.sync())
            .map_err(|e| store_error(&e.to_string()))?;
        st.claims.insert(name.to_string(), claim);
        match verdict {
            Ok(_) => {
                st.commits.push(name.to_string());
                Ok(Committed::Yes(value, index))
            }
            Err(reason) => Ok(Committed::No(reason)),
        }
    }

    /// Marks the saga failed with `error`, durably, if this incarnation read the log and the
    /// participant committed something (otherwise there is nothing to compensate). A shutdown
    /// of the node is not a failure of the saga.
    pub fn mark_failed(&self, error: &ChoreoError) -> Result<(), StoreError> {
        if matches!(error, ChoreoError::Closed { .. }) {
            return Ok(());
        }
        let mut st = lock(&self.state);
        if !st.loaded || st.failed.is_some() || st.commits.is_empty() {
            return Ok(());
        }
        let Some(store) = self.store.get() else {
            return Ok(());
        };
        let mut b = Batch::new();
        b.put(Table::Saga, self.key(b'F', &[]), encode(error));
        store.commit(&b)?;
        store.sync()?;
        st.failed = Some(error.clone());
        Ok(())
    }

    /// The first time this incarnation compensates: how many commits wait for compensation
    /// (`None` if it announced already or has nothing committed).
    pub fn announce(&self) -> Option<u64> {
        let mut st = lock(&self.state);
        if st.announced || st.commits.is_empty() {
            return None;
        }
        st.announced = true;
        Some(st.commits.len() as u64 - st.compensated.len() as u64)
    }

    /// Compensates the next commit due, in reverse commit order: runs its compensation and
    /// writes its records with the commit's mark in one batch (synced). `None` when every
    /// commit is compensated.
    pub fn compensate_next(&self, store: &Arc<dyn Store>) -> Option<Result<Written, ChoreoError>> {
        let mut st = lock(&self.state);
        let n = st.commits.len() as u64;
        let next = if planted() == Some(Bug::CompensateInCommitOrder) {
            (0..n).find(|i| !st.compensated.contains(i))
        } else {
            (0..n).rev().find(|i| !st.compensated.contains(i))
        }?;
        let name = st.commits[next as usize].clone();
        let Some(handler) = st.handlers.get(&next).cloned() else {
            return Some(Err(store_error(&format!(
                "commit #{next} (`{name}`) has no compensation registered: the replay did not \
                 reach its transaction; expected every logged commit to be replayed first"
            ))));
        };
        let Some(Claim::Committed { result, .. }) = st.claims.get(&name).cloned() else {
            return Some(Err(store_error(&format!(
                "commit #{next} (`{name}`) has no committed claim in the saga log"
            ))));
        };
        let key = format!("{}/{name}", self.idempotency_prefix());
        let mut tx = Tx::new(&**store, Vec::new(), key);
        if let Err(reason) = handler(&mut tx, &result) {
            return Some(Err(store_error(&format!(
                "the compensation of `{name}` failed: {reason}"
            ))));
        }
        let mut batch = match tx.into_batch() {
            Ok(b) => b,
            Err(detail) => return Some(Err(store_error(&detail))),
        };
        batch.put(Table::Saga, self.key(b'X', &next.to_be_bytes()), Vec::new());
        if let Err(e) = store.commit(&batch).and_then(|()| store.sync()) {
            return Some(Err(store_error(&e.to_string())));
        }
        // The planted double compensation: the mark is written, but this incarnation
        // forgets it once, so the compensation comes up again.
        if planted() != Some(Bug::CompensateTwice) || !st.twice.insert(next) {
            st.compensated.insert(next);
        }
        Some(Ok(Written { index: next, name }))
    }

    fn idempotency_prefix(&self) -> String {
        let mut s = [0u8; 8];
        s.copy_from_slice(&self.prefix[..8]);
        let mut p = [0u8; 2];
        p.copy_from_slice(&self.prefix[8..]);
        format!("s{:016x}/p{}", u64::from_be_bytes(s), u16::from_be_bytes(p))
    }

    /// The idempotency key of transaction `name` in this session at this participant.
    pub fn idempotency_key(&self, name: &str) -> String {
        format!("{}/{name}", self.idempotency_prefix())
    }
}

/// What a commit did.
pub(crate) enum Committed<T> {
    /// Committed, as commit `index`, with this value.
    Yes(T, u64),
    /// Said no, for this reason (logged).
    No(String),
    /// Wrote nothing (the commit crashed): the value says how.
    Nothing(T),
}

fn store_error(detail: &str) -> ChoreoError {
    ChoreoError::Store {
        role: "saga".into(),
        detail: detail.to_string(),
    }
}

#[cfg(feature = "planted-bugs")]
#[doc(hidden)]
pub use crate::planted::plant;
#[doc(hidden)]
pub use crate::planted::{Bug, planted};
