//! What the C flow remembers across compiles, shared by every connection through `Services`:
//! the drivers whose identity the server has found (`DriversSeen`, `flow::c`), the include
//! search lists of command lines (`SearchLists`, `flow::c_search`) and the manifest keys the
//! depend path could not record (`Unrecorded`, `flow::c_depend`; rust direct mode keeps one
//! too). Each is a bounded set or map behind a mutex; none decides anything on its own.

use sccache_core::hash_key::CacheKey;
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// A set of at most `LIMIT` members: past it, all are forgotten.
#[derive(Clone)]
pub struct BoundedSet<T, const LIMIT: usize>(Arc<Mutex<HashSet<T>>>);

impl<T, const LIMIT: usize> Default for BoundedSet<T, LIMIT> {
    fn default() -> Self {
        BoundedSet(Arc::default())
    }
}

impl<T: Eq + Hash + Clone, const LIMIT: usize> BoundedSet<T, LIMIT> {
    pub fn contains(&self, member: &T) -> bool {
        self.0.lock().is_ok_and(|set| set.contains(member))
    }

    pub fn insert(&self, member: &T) {
        if let Ok(mut set) = self.0.lock() {
            if set.contains(member) {
                return;
            }
            if set.len() >= LIMIT {
                set.clear();
            }
            set.insert(member.clone());
        }
    }
}

/// The C compiler drivers (by the path a request names) whose identity (`driver_probe`) was
/// found at least once: a direct lookup for one it has not found yet does not wait for the
/// probe before preprocessing (`flow::c`).
pub type DriversSeen = BoundedSet<OsString, 1024>;

/// The compilers (by the path a request names) the detector has identified at least once: a
/// query for one not yet identified runs at once, uncached (`flow::dispatch`).
pub type CompilersSeen = BoundedSet<OsString, 1024>;

/// How many search lists the server remembers; past it, all are forgotten.
const SEARCH_LISTS_LIMIT: usize = 256;

/// A command line's include search list: every directory its `-v` report names.
pub type SearchList = Arc<Vec<Vec<u8>>>;

/// A search list as found, with what each of its paths was then (`flow::c_search::kinds`).
pub type FoundList = (SearchList, Arc<Vec<u8>>);

/// The search lists found, shared by every connection.
#[derive(Clone, Default)]
pub struct SearchLists(Arc<Mutex<HashMap<CacheKey, FoundList>>>);

impl SearchLists {
    pub fn get(&self, key: &CacheKey) -> Option<FoundList> {
        self.0.lock().ok()?.get(key).cloned()
    }

    pub fn remember(&self, key: CacheKey, dirs: FoundList) {
        if let Ok(mut known) = self.0.lock() {
            if known.len() >= SEARCH_LISTS_LIMIT {
                known.clear();
            }
            known.insert(key, dirs);
        }
    }
}

/// The manifest keys whose direct miss could not be recorded (C's depend path, rust direct
/// mode): their next compile takes the path that keys by what the compiler read before it
/// compiles (the preprocessor's, the dep-info run's).
pub type Unrecorded = BoundedSet<CacheKey, 4096>;
