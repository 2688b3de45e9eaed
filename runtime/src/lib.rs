//! hull: a runc-compatible OCI runtime.
