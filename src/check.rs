//! Human report (in progress).
