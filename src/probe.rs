//! Probe orchestration (in progress).
