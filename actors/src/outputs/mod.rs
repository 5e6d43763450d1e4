//! Moving a compile's output files into and out of cache entries.
//!
//! Collecting reads the files a compile wrote; restoring writes an entry's files where this
//! invocation wants them, each to a temporary file beside its target and then renamed over it,
//! so a concurrent reader (make, another rustc reading an rlib) never sees a partial file. A
//! target that already holds the entry's bytes (a rebuild whose output did not change) is only
//! given a new modification time, as rewriting it would.
//!
//! A restore is prepared (temporary files written, identical targets found) and then put in
//! place (touches and renames); the C flow prepares while the preprocessor's driver exits and
//! puts in place once it exited cleanly. Reading and writing run on tokio's blocking pool,
//! never on an actor's thread; only putting in place may run there, when it is a metadata
//! call or two on a local file system.
//!
//! A file whose bytes a backend keeps in a content file (`External`: the disk cache's large
//! outputs) is restored from that file by clone or kernel copy (`content_copy`), never by a
//! hard link, so the target is a file of its own: whatever a build later writes into it leaves
//! the cache as it was. The copy is kept only if the content file still has the metadata it had
//! when the backend checked its digest, and the copy has the recorded length.

mod collect;
mod file;
mod restore;

pub use collect::{collect, existing};
pub use file::{OutputError, OutputFile};
pub use restore::{created_mode, prepare, put_in_place, restore, Prepared, Restored};
