//! Deserializing a vector with a cap on its length, checked before its elements are read
//! (against the length a binary format announces) and as they are read, so an artifact cannot
//! make the decoder build millions of structs out of a few bytes each: with these caps, a
//! decoded model takes little more memory than its payload has bytes.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};

/// Deserializes a `Vec<T>` of at most `MAX` elements (for `#[serde(deserialize_with)]`).
pub(crate) fn at_most<'de, D, T, const MAX: usize>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    deserializer.deserialize_seq(Bounded::<T, MAX>(PhantomData))
}

/// The visitor of [`at_most`].
struct Bounded<T, const MAX: usize>(PhantomData<T>);

impl<'de, T: Deserialize<'de>, const MAX: usize> Visitor<'de> for Bounded<T, MAX> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a sequence of at most {MAX} elements")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let announced = seq.size_hint().unwrap_or(0);
        if announced > MAX {
            return Err(A::Error::invalid_length(announced, &self));
        }
        let mut out = Vec::with_capacity(announced);
        while let Some(item) = seq.next_element()? {
            if out.len() == MAX {
                return Err(A::Error::invalid_length(MAX + 1, &self));
            }
            out.push(item);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Three {
        #[serde(deserialize_with = "super::at_most::<_, _, 3>")]
        items: Vec<u8>,
    }

    #[test]
    fn when_sequence_is_short_enough_should_read_it() {
        let three: Three = serde_json::from_str(r#"{"items": [1, 2, 3]}"#).unwrap();
        assert_eq!(three.items, [1, 2, 3]);
    }

    #[test]
    fn when_sequence_is_too_long_should_refuse_it_announced_or_not() {
        let err = serde_json::from_str::<Three>(r#"{"items": [1, 2, 3, 4]}"#).unwrap_err();
        assert!(err.to_string().contains("at most 3 elements"), "{err}");
        let value = serde_json::json!({"items": [1, 2, 3, 4]});
        let err = serde_json::from_value::<Three>(value).unwrap_err();
        assert!(err.to_string().contains("at most 3 elements"), "{err}");
    }
}
