//! Domain verdicts (in progress).
