//! reconcile (in progress).
