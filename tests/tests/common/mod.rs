#![allow(dead_code)] // each test file uses its own part

//! What the event tests build on a store environment: the detect and train functions' handler
//! dependencies, as each function's `main` builds them.

use edge::dispatch::invoke;
use fixtures::events_env::{config, csv_with_anomalies, invocation, EventEnv};

/// The functions' dependencies over an [`EventEnv`]'s ports.
pub trait FunctionDeps {
    /// The `detect` function, with S3 events enabled.
    fn detect(&self) -> detect::handler::HandlerDeps;

    /// The `train` function, with S3 and scheduled events enabled.
    fn train(&self) -> train::handler::HandlerDeps;
}

impl FunctionDeps for EventEnv {
    fn detect(&self) -> detect::handler::HandlerDeps {
        detect::handler::HandlerDeps::new(
            self.objects.clone(),
            self.registry.clone(),
            self.jobs.clone(),
            &config(),
        )
        .with_blobs(self.blobs.clone())
    }

    fn train(&self) -> train::handler::HandlerDeps {
        train::handler::HandlerDeps::new(
            self.objects.clone(),
            self.registry.clone(),
            self.jobs.clone(),
            &config(),
        )
        .with_blobs(self.blobs.clone())
    }
}

/// Trains `payments` through the train function's S3 event.
pub async fn train_payments(env: &EventEnv) {
    env.put(
        "incoming/train/acme/payments/history.csv",
        csv_with_anomalies(3000, &[], 1).as_bytes(),
    )
    .await;
    let event = env
        .s3_event(
            "s3-train-object-created.json",
            "incoming/train/acme/payments/history.csv",
            "t1",
        )
        .await;
    let out = invoke(&env.train(), invocation(event)).await.unwrap();
    assert_eq!(out["status"], "ok", "{}: {out}", env.name);
}
