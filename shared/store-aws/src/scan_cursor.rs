//! The opaque cursor of a table scan (jobs, series): the hex form of the `LastEvaluatedKey`'s `PK`
//! and `SK` (joined by a newline), from which the next `Scan`'s `ExclusiveStartKey` is rebuilt.
//! Decoding checks everything, so a forged or damaged cursor is [`StoreError::Invalid`], never a
//! panic.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::cursor::{hex_decode, hex_encode};
use crate::schema::{PK, SK};
use application::ports::StoreError;

/// Longest cursor accepted, in characters.
const MAX_CURSOR_CHARS: usize = 2048;

/// The cursor of a scan page that ended at `key`.
pub fn encode(key: &HashMap<String, AttributeValue>) -> String {
    let part = |name: &str| {
        key.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    hex_encode(&format!("{}\n{}", part(PK), part(SK)))
}

/// The `ExclusiveStartKey` a cursor stands for.
pub fn decode(cursor: &str) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let invalid = || StoreError::Invalid("scan cursor was not handed out by this store".into());
    let text = hex_decode(cursor, MAX_CURSOR_CHARS).ok_or_else(invalid)?;
    let (pk, sk) = text.split_once('\n').ok_or_else(invalid)?;
    if !pk.starts_with("T#") || sk.is_empty() {
        return Err(invalid());
    }
    Ok(HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk.to_owned())),
        (SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_cursor_round_trips_should_give_the_key_and_refuse_forgeries() {
        let key = HashMap::from([
            (PK.to_owned(), AttributeValue::S("T#acme#JOB#j1".into())),
            (SK.to_owned(), AttributeValue::S("JOB".into())),
        ]);
        assert_eq!(decode(&encode(&key)).unwrap(), key);
        for forged in ["", "zz", "4142", &"41".repeat(2000)] {
            assert!(
                matches!(decode(forged), Err(StoreError::Invalid(_))),
                "{forged}"
            );
        }
    }
}
