//! Values stored in keyring entries of one namespace, split in parts where the keyring limits
//! the size of an entry.
//!
//! Layout: the entry `(service = namespace, account = name)` holds the value itself. When the
//! value is larger than the platform's limit (Windows: 2,560 bytes), that entry holds a small
//! header `airgate-parts:v1:<generation>:<count>` instead, and the value lives in the entries
//! `part:<generation>:<index>:<name>` (index 1..=count). A write stores the new parts under a
//! new generation before it replaces the header, then deletes the old parts, so an interrupted
//! write leaves the previous value readable. A value that itself starts with the header prefix
//! is always stored in parts, so a header is never mistaken for a value.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};

use crate::{Error, Result};

const PARTS_MAGIC: &[u8] = b"airgate-parts:v1:";
const MAX_PARTS: usize = 64;

#[derive(Debug, Clone)]
pub(crate) struct Entries {
    store: Arc<CredentialStore>,
    namespace: String,
    max_len: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    generation: u32,
    count: usize,
}

impl Entries {
    pub(crate) fn new(
        store: Arc<CredentialStore>,
        namespace: &str,
        max_len: Option<usize>,
    ) -> Self {
        Self {
            store,
            namespace: namespace.to_owned(),
            max_len,
        }
    }

    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }

    pub(crate) fn set_max_len(&mut self, max_len: Option<usize>) {
        self.max_len = max_len.map(|len| len.max(1));
    }

    /// How a user finds the entry in their keyring app.
    pub(crate) fn describe(&self, name: &str) -> String {
        format!("(service {:?}, account {name:?})", self.namespace)
    }

    /// The value stored under `name`; `None` when there is none.
    pub(crate) fn read(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let Some(bytes) = self.get(name)? else {
            return Ok(None);
        };
        let header = match parse_header(&bytes) {
            None => return Ok(Some(bytes)),
            Some(Err(reason)) => return Err(self.corrupt(name, reason)),
            Some(Ok(header)) => header,
        };
        let mut value = Vec::new();
        for index in 1..=header.count {
            let part = part_name(header.generation, index, name);
            match self.get(&part)? {
                Some(bytes) => value.extend_from_slice(&bytes),
                None => {
                    return Err(
                        self.corrupt(name, format!("part {index} of {} is missing", header.count))
                    );
                }
            }
        }
        Ok(Some(value))
    }

    /// Stores `value` under `name`, replacing what was there.
    pub(crate) fn write(&self, name: &str, value: &[u8]) -> Result<()> {
        let old = match self.get(name)? {
            Some(bytes) => parse_header(&bytes).and_then(Result::ok),
            None => None,
        };
        let split =
            self.max_len.is_some_and(|max| value.len() > max) || value.starts_with(PARTS_MAGIC);
        if split {
            let size = self.max_len.unwrap_or(value.len()).max(1);
            let chunks: Vec<&[u8]> = value.chunks(size).collect();
            if chunks.len() > MAX_PARTS {
                return Err(Error::TooLong {
                    entry: self.describe(name),
                    what: format!("a value split in at most {MAX_PARTS} parts"),
                    limit: u32::try_from(size * MAX_PARTS).unwrap_or(u32::MAX),
                });
            }
            let generation = old.map_or(1, |old| old.generation.wrapping_add(1));
            for (index, chunk) in chunks.iter().enumerate() {
                self.set(&part_name(generation, index + 1, name), chunk)?;
            }
            let header = Header {
                generation,
                count: chunks.len(),
            };
            self.set(name, &encode_header(header))?;
        } else {
            self.set(name, value)?;
        }
        if let Some(old) = old {
            self.delete_parts(name, old)?;
        }
        Ok(())
    }

    /// Deletes the value under `name`; `false` when there was none.
    pub(crate) fn delete(&self, name: &str) -> Result<bool> {
        let Some(bytes) = self.get(name)? else {
            return Ok(false);
        };
        let existed = self.remove(name)?;
        if let Some(Ok(header)) = parse_header(&bytes) {
            self.delete_parts(name, header)?;
        }
        Ok(existed)
    }

    fn delete_parts(&self, name: &str, header: Header) -> Result<()> {
        for index in 1..=header.count {
            self.remove(&part_name(header.generation, index, name))?;
        }
        Ok(())
    }

    fn entry(&self, name: &str) -> Result<Entry> {
        self.store
            .build(&self.namespace, name, None)
            .map_err(|err| self.map_err(err, "open", name))
    }

    fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self.entry(name)?.get_secret() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(err) => Err(self.map_err(err, "read", name)),
        }
    }

    fn set(&self, name: &str, value: &[u8]) -> Result<()> {
        self.entry(name)?
            .set_secret(value)
            .map_err(|err| self.map_err(err, "write", name))
    }

    fn remove(&self, name: &str) -> Result<bool> {
        match self.entry(name)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(err) => Err(self.map_err(err, "delete", name)),
        }
    }

    fn corrupt(&self, name: &str, reason: String) -> Error {
        Error::Corrupt {
            entry: self.describe(name),
            reason,
        }
    }

    /// Turns a keyring error into ours. Never formats values: only names and platform messages.
    pub(crate) fn map_err(
        &self,
        err: keyring_core::Error,
        action: &'static str,
        name: &str,
    ) -> Error {
        use keyring_core::Error as K;
        let entry = self.describe(name);
        match err {
            K::NoStorageAccess(err) => Error::Locked {
                detail: err.to_string(),
            },
            K::PlatformFailure(err) => match crate::platform::unreachable_reason(err.as_ref()) {
                Some(reason) => Error::NoStore { reason },
                None => Error::Keyring {
                    action,
                    entry,
                    detail: err.to_string(),
                },
            },
            K::TooLong(what, limit) => Error::TooLong { entry, what, limit },
            K::Ambiguous(items) => Error::Ambiguous {
                entry,
                count: items.len(),
            },
            K::BadEncoding(_) => Error::Keyring {
                action,
                entry,
                detail: "the stored value is not valid UTF-8".to_owned(),
            },
            K::BadDataFormat(_, err) => Error::Corrupt {
                entry,
                reason: err.to_string(),
            },
            other => Error::Keyring {
                action,
                entry,
                detail: other.to_string(),
            },
        }
    }
}

fn part_name(generation: u32, index: usize, name: &str) -> String {
    format!("part:{generation}:{index}:{name}")
}

fn encode_header(header: Header) -> Vec<u8> {
    let mut bytes = PARTS_MAGIC.to_vec();
    bytes.extend_from_slice(format!("{}:{}", header.generation, header.count).as_bytes());
    bytes
}

/// `None` when `bytes` is a plain value; the header (or why it is unreadable) otherwise.
fn parse_header(bytes: &[u8]) -> Option<Result<Header, String>> {
    let rest = bytes.strip_prefix(PARTS_MAGIC)?;
    let parsed = std::str::from_utf8(rest)
        .ok()
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(generation, count)| Some((generation.parse().ok()?, count.parse().ok()?)));
    Some(match parsed {
        Some((generation, count)) if (1..=MAX_PARTS).contains(&count) => {
            Ok(Header { generation, count })
        }
        _ => Err("its header of parts is unreadable".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(max_len: Option<usize>) -> (Arc<CredentialStore>, Entries) {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().expect("mock store");
        (store.clone(), Entries::new(store, "ns", max_len))
    }

    fn raw(store: &Arc<CredentialStore>, name: &str) -> Option<Vec<u8>> {
        match store.build("ns", name, None).expect("entry").get_secret() {
            Ok(bytes) => Some(bytes),
            Err(keyring_core::Error::NoEntry) => None,
            Err(err) => panic!("unexpected keyring error: {err}"),
        }
    }

    #[test]
    fn a_small_value_is_one_plain_entry() {
        let (store, entries) = entries(Some(10));
        entries.write("secret:a", b"0123456789").expect("write");
        assert_eq!(raw(&store, "secret:a").as_deref(), Some(&b"0123456789"[..]));
        assert_eq!(
            entries.read("secret:a").expect("read").as_deref(),
            Some(&b"0123456789"[..])
        );
    }

    #[test]
    fn a_large_value_is_split_rewritten_and_deleted_without_leftovers() {
        let (store, entries) = entries(Some(4));
        entries.write("secret:k", b"abcdefghij").expect("write");
        assert_eq!(
            raw(&store, "secret:k").as_deref(),
            Some(&b"airgate-parts:v1:1:3"[..])
        );
        assert_eq!(
            raw(&store, "part:1:3:secret:k").as_deref(),
            Some(&b"ij"[..])
        );
        assert_eq!(
            entries.read("secret:k").expect("read").as_deref(),
            Some(&b"abcdefghij"[..])
        );

        entries.write("secret:k", b"ABCDEF").expect("rewrite");
        assert_eq!(
            entries.read("secret:k").expect("read").as_deref(),
            Some(&b"ABCDEF"[..])
        );
        for index in 1..=3 {
            assert_eq!(
                raw(&store, &format!("part:1:{index}:secret:k")),
                None,
                "old part {index}"
            );
        }

        entries.write("secret:k", b"xy").expect("shrink");
        assert_eq!(raw(&store, "secret:k").as_deref(), Some(&b"xy"[..]));
        assert_eq!(raw(&store, "part:2:1:secret:k"), None);

        entries.write("secret:k", b"0123456789").expect("grow");
        assert!(entries.delete("secret:k").expect("delete"));
        assert_eq!(raw(&store, "secret:k"), None);
        assert_eq!(raw(&store, "part:1:1:secret:k"), None);
        assert!(!entries.delete("secret:k").expect("second delete"));
        assert_eq!(entries.read("secret:k").expect("read"), None);
    }

    #[test]
    fn a_value_that_looks_like_a_header_round_trips() {
        let (store, entries) = entries(None);
        entries
            .write("secret:h", b"airgate-parts:v1:9:9")
            .expect("write");
        assert_ne!(
            raw(&store, "secret:h").as_deref(),
            Some(&b"airgate-parts:v1:9:9"[..])
        );
        assert_eq!(
            entries.read("secret:h").expect("read").as_deref(),
            Some(&b"airgate-parts:v1:9:9"[..])
        );
    }

    #[test]
    fn a_missing_part_is_reported_not_guessed() {
        let (store, entries) = entries(Some(4));
        entries.write("secret:m", b"abcdefghij").expect("write");
        store
            .build("ns", "part:1:2:secret:m", None)
            .expect("entry")
            .delete_credential()
            .expect("remove a part");
        let err = entries.read("secret:m").expect_err("a part is missing");
        assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("part 2 of 3 is missing"), "{err}");
    }

    #[test]
    fn a_value_too_large_even_in_parts_is_refused() {
        let (_store, entries) = entries(Some(1));
        let err = entries
            .write("secret:big", &[b'x'; MAX_PARTS + 1])
            .expect_err("too large");
        assert!(matches!(err, Error::TooLong { .. }), "{err:?}");
    }
}
