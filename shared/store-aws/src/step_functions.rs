//! Asynchronous jobs on AWS Step Functions: each job is an execution of the jobs state machine
//! (`infra/statemachine/jobs.asl.json`) named by its job id, so starting a job twice starts it
//! once (an execution name is unique per state machine for 90 days).

use async_trait::async_trait;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use aws_sdk_sfn::Client;
use serde_json::json;

use crate::errors::classify;
use application::domain::JobTicket;
use application::ports::{JobRunner, StoreError};

/// Starts executions of one state machine.
#[derive(Debug, Clone)]
pub struct StepFunctionsRunner {
    client: Client,
    state_machine_arn: String,
}

impl StepFunctionsRunner {
    /// A runner starting executions of `state_machine_arn` through `client`.
    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }
}

#[async_trait]
impl JobRunner for StepFunctionsRunner {
    /// `StartExecution` named by the job id with input `{"job": ticket}`; an execution of that
    /// name that exists already is the same job started before.
    async fn start(&self, ticket: &JobTicket) -> Result<(), StoreError> {
        let input = serde_json::to_string(&json!({ "job": ticket }))
            .map_err(|e| StoreError::Invalid(format!("job ticket: {e}")))?;
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(&ticket.id)
            .input(input)
            .send()
            .await;
        match result {
            Ok(output) => {
                tracing::info!(job_id = %ticket.id, execution = output.execution_arn(), "started the job's execution");
                Ok(())
            }
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(StartExecutionError::ExecutionAlreadyExists(_))
                ) =>
            {
                tracing::info!(job_id = %ticket.id, "the job's execution was started before");
                Ok(())
            }
            Err(e) => Err(classify("StartExecution", e)),
        }
    }
}
