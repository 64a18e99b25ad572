//! Dead letters on the local store: appended to `{data_dir}/dead-letters.jsonl`, one
//! [`DeadLetter`] as JSON per line (the body the AWS adapter sends to its queue).

use std::path::Path;

use async_trait::async_trait;

use application::ports::{DeadLetter, DeadLetterSink, StoreError};

use crate::jsonl::JsonLinesFile;

/// The dead-letter file's name in the data directory.
pub const DEAD_LETTERS_FILE: &str = "dead-letters.jsonl";

/// A [`DeadLetterSink`] appending to a JSON-lines file.
#[derive(Debug)]
pub struct JsonLinesDeadLetters {
    file: JsonLinesFile,
}

impl JsonLinesDeadLetters {
    /// Letters appended to [`DEAD_LETTERS_FILE`] in `data_dir` (created with the first letter).
    pub fn new(data_dir: &Path) -> Self {
        Self {
            file: JsonLinesFile::new(data_dir.join(DEAD_LETTERS_FILE)),
        }
    }

    /// The file letters go to.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

#[async_trait]
impl DeadLetterSink for JsonLinesDeadLetters {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), StoreError> {
        self.file.append(letters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[tokio::test]
    async fn when_letters_sent_should_append_each_as_one_json_line() {
        let dir = tempfile::tempdir().unwrap();
        let sink = JsonLinesDeadLetters::new(dir.path());
        let first = DeadLetter::new(
            "kinesis",
            "arn:aws:kinesis:us-east-1:1:stream/s",
            "shard-1:42",
            "unrouted_source",
            "no route",
            b"{\"a\":1}\n",
            7,
        );
        let second = DeadLetter::new("sqs", "arn:q", "m-2", "malformed_record", "bad", b"\xff", 8);
        sink.send(std::slice::from_ref(&first)).await.unwrap();
        sink.send(&[]).await.unwrap();
        sink.send(std::slice::from_ref(&second)).await.unwrap();
        let text = std::fs::read_to_string(dir.path().join(DEAD_LETTERS_FILE)).unwrap();
        let got: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(
            got,
            vec![
                serde_json::to_value(&first).unwrap(),
                serde_json::to_value(&second).unwrap()
            ]
        );
        assert_eq!(got[0]["data"], json!("{\"a\":1}\n"));
        assert_eq!(got[1]["reason"], json!("bad"));
        assert!(text.ends_with('\n'));
    }
}
