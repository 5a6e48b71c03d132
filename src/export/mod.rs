//! Exporting App manifests to other systems: Kubernetes objects for users who outgrow one host.

pub mod kubernetes;
