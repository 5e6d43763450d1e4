//! What the C flow remembers across compiles, shared by every connection through `Services`:
//! the drivers whose identity the server has found (`DriversSeen`, `flow::c`), the include
//! search lists of command lines (`SearchLists`, `flow::c_search`) and the manifest keys the
//! depend path could not record (`DependRefused`, `flow::c_depend`). Each is a bounded set or
//! map behind a mutex; none decides anything on its own.

use sccache_core::hash_key::CacheKey;
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::sync::{Arc, Mutex};

/// The C compiler drivers (by the path a request names) whose identity (`driver_probe`) was
/// found at least once: a direct lookup for one it has not found yet does not wait for the
/// probe before preprocessing (`flow::c`).
#[derive(Clone, Default)]
pub struct DriversSeen(Arc<Mutex<HashSet<OsString>>>);

impl DriversSeen {
    pub fn contains(&self, exe: &OsString) -> bool {
        self.0.lock().is_ok_and(|seen| seen.contains(exe))
    }

    pub fn insert(&self, exe: &OsString) {
        if let Ok(mut seen) = self.0.lock() {
            if !seen.contains(exe) {
                seen.insert(exe.clone());
            }
        }
    }
}

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

/// How many refused manifest keys the server remembers; past it, all are forgotten.
const REFUSED_LIMIT: usize = 4096;

/// The manifest keys whose compile could not be recorded by the depend path: their next
/// compile takes the preprocessor's path. Shared by every connection.
#[derive(Clone, Default)]
pub struct DependRefused(Arc<Mutex<HashSet<CacheKey>>>);

impl DependRefused {
    pub fn contains(&self, key: &CacheKey) -> bool {
        self.0.lock().is_ok_and(|refused| refused.contains(key))
    }

    pub fn insert(&self, key: CacheKey) {
        if let Ok(mut refused) = self.0.lock() {
            if refused.len() >= REFUSED_LIMIT {
                refused.clear();
            }
            refused.insert(key);
        }
    }
}
