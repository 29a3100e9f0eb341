//! Unit tests of the entry helpers and the throttle arithmetic.

use super::*;
