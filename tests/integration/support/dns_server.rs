//! Signed-zone DNS fixture (in progress).
