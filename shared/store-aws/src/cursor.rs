//! The opaque paging cursor of a model's jobs: the hex form of the last returned job's index sort
//! key (`{created_at:020}#{id}`), from which the query's `ExclusiveStartKey` is rebuilt. Decoding
//! checks everything, so a forged or damaged cursor is [`StoreError::Invalid`], never a panic.

use application::ports::StoreError;

/// Longest cursor accepted, in characters.
const MAX_CURSOR_CHARS: usize = 1024;

/// The cursor of a page ending at the job with index sort key `index_sk`.
pub fn encode(index_sk: &str) -> String {
    hex_encode(index_sk)
}

/// `text` as lowercase hex: the opaque form of every cursor this store hands out.
pub(crate) fn hex_encode(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The text a [`hex_encode`]d cursor of at most `max_chars` stands for; `None` when it is not
/// one (empty, too long, odd, not hex, not UTF-8).
pub(crate) fn hex_decode(cursor: &str, max_chars: usize) -> Option<String> {
    if cursor.is_empty() || cursor.len() > max_chars || !cursor.len().is_multiple_of(2) {
        return None;
    }
    let bytes = cursor
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// The index sort key a cursor stands for.
pub fn decode(cursor: &str) -> Result<String, StoreError> {
    let invalid = || {
        StoreError::Invalid(format!(
            "job cursor '{}' was not handed out by this store",
            cursor.chars().take(64).collect::<String>().escape_debug()
        ))
    };
    let text = hex_decode(cursor, MAX_CURSOR_CHARS).ok_or_else(invalid)?;
    let (millis, id) = text.split_once('#').ok_or_else(invalid)?;
    if millis.len() != 20 || !millis.bytes().all(|b| b.is_ascii_digit()) || id.is_empty() {
        return Err(invalid());
    }
    Ok(text)
}

/// The job id inside an index sort key produced by [`decode`].
pub fn job_id(index_sk: &str) -> &str {
    index_sk
        .split_once('#')
        .map(|(_, id)| id)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_cursor_round_trips_should_give_the_sort_key_and_id() {
        let sk = "00000000001700000000#20240101-abc";
        let cursor = encode(sk);
        assert_eq!(decode(&cursor).unwrap(), sk);
        assert_eq!(job_id(sk), "20240101-abc");
    }

    #[test]
    fn when_cursor_forged_should_be_invalid_not_panic() {
        let long = "a".repeat(5000);
        for bad in [
            "",
            "zz",
            "abc",
            "é1",
            long.as_str(),
            &encode("123#x"),
            &encode("0000000000000000000a#x"),
            &encode("00000000000000000001#"),
            "ff",
        ] {
            assert!(
                matches!(decode(bad), Err(StoreError::Invalid(_))),
                "{bad:?}"
            );
        }
    }
}
