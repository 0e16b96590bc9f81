use std::fmt;

use zeroize::Zeroize;

/// A secret value (private key, passphrase, token). Its `Debug` prints `<redacted>`, it has no
/// `Display` and it is deliberately not `Serialize`, so it cannot end up in a log line, an
/// error message or an IPC payload by accident; its memory is zeroed when it is dropped. Read
/// it with [`Sensitive::expose`].
#[derive(Default)]
pub struct Sensitive<T: Zeroize>(T);

impl<T: Zeroize> Drop for Sensitive<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; every call site is a place where the value leaves its wrapper.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// The secret, out of its wrapper (which is left empty): the caller keeps it safe.
    pub fn into_inner(mut self) -> T
    where
        T: Default,
    {
        std::mem::take(&mut self.0)
    }
}

impl<T: Zeroize> From<T> for Sensitive<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T: Zeroize> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use std::marker::PhantomData;

    use super::Sensitive;

    #[test]
    fn debug_output_never_shows_the_value() {
        let secret = Sensitive::new("hunter2-passphrase".to_owned());
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{secret:#?}"), "<redacted>");
        let nested = Some(vec![Sensitive::new("hunter2-passphrase".to_owned())]);
        assert!(!format!("{nested:?}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2-passphrase");
        assert_eq!(secret.into_inner(), "hunter2-passphrase");
    }

    // Probe whether a type implements `Serialize`: the inherent method only applies when the
    // bound holds, otherwise method resolution falls back to the trait method.
    struct Probe<T>(PhantomData<T>);
    trait NotSerialize {
        fn is_serialize(&self) -> bool {
            false
        }
    }
    impl<T> NotSerialize for Probe<T> {}
    impl<T: serde::Serialize> Probe<T> {
        fn is_serialize(&self) -> bool {
            true
        }
    }

    #[test]
    fn cannot_be_serialized() {
        assert!(
            Probe::<String>(PhantomData).is_serialize(),
            "the probe detects Serialize"
        );
        assert!(!Probe::<Sensitive<String>>(PhantomData).is_serialize());
    }
}
