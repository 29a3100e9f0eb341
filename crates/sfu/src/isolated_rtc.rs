//! A str0m `Rtc` behind a wall: str0m panics on internal bugs by design, and returns errors
//! that end a session. `with_rtc` turns both into a fault that sticks, so one broken session
//! never takes the worker, the room or the server with it, and is never touched again.

use crate::types::PeerFault;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use str0m::{Rtc, RtcError};

pub struct IsolatedRtc {
    rtc: Rtc,
    /// Set by the first failure; every later call returns it.
    fault: Option<PeerFault>,
}

impl IsolatedRtc {
    pub fn new(rtc: Rtc) -> Self {
        Self { rtc, fault: None }
    }

    /// Runs `f` on the `Rtc`, turning str0m errors and panics into a recorded fault.
    /// After a fault the `Rtc` is never touched again (every later call returns the fault).
    #[inline]
    pub fn with_rtc<T>(
        &mut self,
        f: impl FnOnce(&mut Rtc) -> Result<T, RtcError>,
    ) -> Result<T, PeerFault> {
        if let Some(fault) = &self.fault {
            return Err(fault.clone());
        }
        let rtc = &mut self.rtc;
        let fault = match catch_unwind(AssertUnwindSafe(|| f(rtc))) {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => PeerFault::Rtc(Arc::new(e)),
            Err(_) => PeerFault::Panicked,
        };
        self.fault = Some(fault.clone());
        Err(fault)
    }

    /// The failure that ended the session, if any.
    pub fn fault(&self) -> Option<&PeerFault> {
        self.fault.as_ref()
    }

    /// Forgets a failure that did not break the session (a refused offer), so the client
    /// may try again.
    pub fn forgive(&mut self) {
        self.fault = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_panic_in_str0m_is_contained_and_sticks() {
        let mut rtc = IsolatedRtc::new(Rtc::builder().build(Instant::now()));
        let result: Result<(), _> = rtc.with_rtc(|_| panic!("simulated str0m bug"));
        assert!(matches!(result, Err(PeerFault::Panicked)));
        assert!(matches!(rtc.with_rtc(|_| Ok(1)), Err(PeerFault::Panicked)));
    }
}
