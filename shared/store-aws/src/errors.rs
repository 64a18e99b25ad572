//! SDK errors mapped onto [`StoreError`]: lost conditions are conflicts, anything the network,
//! a timeout, throttling or a 5xx caused is unavailability (after the SDK's own retries), and
//! malformed requests are bugs.

use std::error::Error as StdError;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

use application::ports::StoreError;

/// Error codes of a lost conditional write.
const CONFLICT_CODES: [&str; 4] = [
    "ConditionalCheckFailedException",
    "PreconditionFailed",
    // S3: another conditional write to the same key was in flight.
    "ConditionalRequestConflict",
    "TransactionConflictException",
];

/// Error codes of requests the service refuses as malformed (a bug on our side).
const INVALID_CODES: [&str; 4] = [
    "ValidationException",
    "InvalidRequest",
    "InvalidArgument",
    "KeyTooLongError",
];

/// Maps an SDK error of `operation` onto a [`StoreError`].
pub fn classify<E>(operation: &str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let message = format!("{operation}: {}", DisplayErrorContext(&err));
    match &err {
        SdkError::ConstructionFailure(_) => StoreError::Invalid(message),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(message)
        }
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = context.err().code().unwrap_or_default();
            if status == 412 || CONFLICT_CODES.contains(&code) {
                StoreError::Conflict(message)
            } else if INVALID_CODES.contains(&code) {
                StoreError::Invalid(message)
            } else {
                // 5xx, throttling, missing table or bucket, denied access: the store is not
                // usable right now, and a caller can only retry later.
                StoreError::Unavailable(message)
            }
        }
        _ => StoreError::Unavailable(message),
    }
}

/// Maps a `TransactWriteItems` error: a cancellation because a condition failed or another
/// transaction touched the same items is a [`StoreError::Conflict`] (re-read and retry); any
/// other cancellation reason (throttling, capacity) is [`StoreError::Unavailable`].
pub fn classify_transaction(err: SdkError<TransactWriteItemsError, HttpResponse>) -> StoreError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) =
        err.as_service_error()
    {
        let reasons: Vec<&str> = canceled
            .cancellation_reasons()
            .iter()
            .filter_map(|r| r.code())
            .collect();
        let message = format!(
            "TransactWriteItems canceled: {}",
            canceled.message().unwrap_or_default()
        );
        let lost = reasons
            .iter()
            .any(|c| matches!(*c, "ConditionalCheckFailed" | "TransactionConflict"))
            || (reasons.is_empty() && message.contains("ConditionalCheckFailed"));
        return if lost {
            StoreError::Conflict(message)
        } else {
            StoreError::Unavailable(format!("{message} (reasons: {reasons:?})"))
        };
    }
    classify("TransactWriteItems", err)
}

/// A request builder refused its input: a bug in the adapter.
pub fn build_error(e: BuildError) -> StoreError {
    StoreError::Invalid(format!("request could not be built: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_s3::primitives::SdkBody;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), SdkBody::empty())
    }

    fn service(code: &str, status: u16) -> SdkError<GetItemError, HttpResponse> {
        SdkError::service_error(
            GetItemError::generic(ErrorMetadata::builder().code(code).build()),
            response(status),
        )
    }

    fn canceled(reasons: &[&str]) -> SdkError<TransactWriteItemsError, HttpResponse> {
        let mut e = TransactionCanceledException::builder().message("canceled");
        for r in reasons {
            e = e.cancellation_reasons(CancellationReason::builder().code(*r).build());
        }
        SdkError::service_error(
            TransactWriteItemsError::TransactionCanceledException(e.build()),
            response(400),
        )
    }

    #[test]
    fn when_service_errors_classified_should_map_by_code_and_status() {
        let cases = [
            ("ConditionalCheckFailedException", 400, "conflict"),
            ("PreconditionFailed", 412, "conflict"),
            ("Whatever", 412, "conflict"),
            ("ConditionalRequestConflict", 409, "conflict"),
            ("ThrottlingException", 400, "unavailable"),
            ("ProvisionedThroughputExceededException", 400, "unavailable"),
            ("InternalServerError", 500, "unavailable"),
            ("ServiceUnavailable", 503, "unavailable"),
            ("ResourceNotFoundException", 400, "unavailable"),
            ("ValidationException", 400, "invalid"),
        ];
        for (code, status, want) in cases {
            let got = match classify("GetItem", service(code, status)) {
                StoreError::Conflict(_) => "conflict",
                StoreError::Unavailable(_) => "unavailable",
                StoreError::Invalid(_) => "invalid",
                StoreError::Corrupted(_) => "corrupted",
            };
            assert_eq!(got, want, "{code} {status}");
        }
        let timeout: SdkError<GetItemError, HttpResponse> = SdkError::timeout_error("slow");
        assert!(matches!(
            classify("GetItem", timeout),
            StoreError::Unavailable(_)
        ));
    }

    #[test]
    fn when_transaction_canceled_should_be_conflict_only_for_lost_conditions() {
        for reasons in [
            &["None", "ConditionalCheckFailed"][..],
            &["TransactionConflict", "None"][..],
        ] {
            assert!(
                matches!(
                    classify_transaction(canceled(reasons)),
                    StoreError::Conflict(_)
                ),
                "{reasons:?}"
            );
        }
        assert!(matches!(
            classify_transaction(canceled(&["ThrottlingError", "None"])),
            StoreError::Unavailable(_)
        ));
    }
}
