//! The `"kind"` field of an optimiser's serde form.
//!
//! Adam and AdamW have the same fields, and serde skips unknown fields, so without a tag an
//! Adam state read as `Sgd` or as `AdamW` would come back `Ok` and wrong. Each optimiser
//! writes its kind first (`"kind": "Adam"`) and refuses any other kind when read; a state
//! written before the tag existed has none and reads as before (the model-file loader in
//! [`crate::io::json`] adds the checks that make such a state unambiguous).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// An optimiser kind, as its serde form names it.
pub(crate) trait Named {
    /// The name written in the `"kind"` field, e.g. `"Adam"`.
    const NAME: &'static str;
}

/// The zero-sized `"kind"` field of optimiser `K`: writes `K::NAME`, reads only `K::NAME`.
pub(crate) struct Kind<K>(PhantomData<fn() -> K>);

impl<K> Kind<K> {
    pub(crate) const fn new() -> Self {
        Kind(PhantomData)
    }
}

impl<K> Default for Kind<K> {
    fn default() -> Self {
        Kind::new()
    }
}

impl<K> Clone for Kind<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Kind<K> {}

impl<K> PartialEq for Kind<K> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<K: Named> fmt::Debug for Kind<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", K::NAME)
    }
}

impl<K: Named> Serialize for Kind<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(K::NAME)
    }
}

impl<'de, K: Named> Deserialize<'de> for Kind<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let got = String::deserialize(d)?;
        if got == K::NAME {
            Ok(Kind::new())
        } else {
            Err(de::Error::custom(format!("the state of optimizer kind {got:?}, not of {:?} as asked", K::NAME)))
        }
    }
}

macro_rules! kinds {
    ($($marker:ident => $name:literal),+ $(,)?) => {
        $(
            #[doc = concat!("Marker of the `", $name, "` kind.")]
            #[derive(Debug)]
            pub(crate) enum $marker {}

            impl Named for $marker {
                const NAME: &'static str = $name;
            }
        )+
    };
}

kinds! {
    SgdKind => "Sgd",
    AdamKind => "Adam",
    AdamWKind => "AdamW",
    RmsPropKind => "RmsProp",
}
