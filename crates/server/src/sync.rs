//! The one way this server takes its locks.
//!
//! A lock is poisoned when a thread panicked while holding it. Every structure behind these
//! locks is changed by code that does not panic halfway through an update (a panic there
//! would be a bug caught by tests, not a state to recover into), so the data is consistent
//! and the guard is taken over rather than the poison spreading to every later caller, which
//! would turn one failed request into a dead server.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `mutex`, taking over a poisoned one.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Takes a read lock on `lock`, taking over a poisoned one.
pub fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Takes a write lock on `lock`, taking over a poisoned one.
pub fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_poisoned_lock_is_taken_over_with_its_data() {
        let shared = Arc::new(Mutex::new(1));
        let rw = Arc::new(RwLock::new(2));
        let (s, r) = (shared.clone(), rw.clone());
        let _ = std::thread::spawn(move || {
            let _m = s.lock().expect("first");
            let _w = r.write().expect("first");
            panic!("poison both");
        })
        .join();
        assert!(shared.is_poisoned() && rw.is_poisoned());
        *lock(&shared) += 1;
        *write(&rw) += 1;
        assert_eq!((*lock(&shared), *read(&rw)), (2, 3));
    }
}
