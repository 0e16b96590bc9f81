//! Real peers that tests and the sandbox run against.
