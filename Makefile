# Nomaly's two entry points (see README.md). Everything else lives in scripts/.
.PHONY: demo test check-infra accuracy bench bench-functions bench-backup bench-auth bench-split bench-stream bench-nab bench-series

demo: ## train on the shipped sample data and print the anomalies found in new rows
	bash scripts/demo.sh

test: ## every test: format, lints, unit, property and integration tests
	bash scripts/test.sh

check-infra: ## offline checks of template.yaml and infra/terraform: sam validate, cfn-lint, checkov, terraform fmt, parity, arm64 build
	bash scripts/check_infra.sh

accuracy: ## ROC-AUC / PR-AUC of every detector on ../shared/datasets (skips when absent)
	cargo run --release -p detection --example accuracy

bench: ## speed side by side with scikit-learn (creates .venv-bench from bench/requirements.txt)
	bash scripts/bench.sh

bench-functions: ## cold start, peak RSS and warm latency of detect, side by side with a Python function
	bash scripts/bench_functions.sh

bench-backup: ## backup and restore time and peak RSS: 1,000 models x 3 versions and 1M jobs locally, 100,000 jobs on moto
	bash scripts/bench_backup.sh

bench-auth: ## the authorizer's cold start and warm check, and what admitting a caller adds to a request
	cargo build --release --locked -p authorizer -p keys --bins
	cargo build --release --locked -p e2e --example auth_latency
	python3 bench/authorizer.py

bench-split: ## 10M rows (1.1 GB) scored by the single invocation and by 1, 2 and 4 range workers, side by side
	python3 bench/batch_split.py

bench-stream: ## records/s of Kinesis batches of 100 and 1,000 records through detect, and record-to-alert time, beside POST /api/v1/detect
	cargo run --release --locked -p e2e --example stream_bench

bench-nab: ## NAB normalized scores of the series detectors (median of 9 seeds) beside the published detectors' on the same 39 files
	cargo run --release --locked -p nab --example detectors

bench-series: ## a series' append cost: one point and 1,000 per call, warm and cold (load-score-save), local store and moto
	cargo run --release --locked -p application --example series_bench
