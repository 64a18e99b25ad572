# Nomaly's two entry points (see README.md). Everything else lives in scripts/.
.PHONY: demo test accuracy bench bench-functions

demo: ## train on the shipped sample data and print the anomalies found in new rows
	bash scripts/demo.sh

test: ## every test: format, lints, unit, property and integration tests
	bash scripts/test.sh

accuracy: ## ROC-AUC / PR-AUC of every detector on ../shared/datasets (skips when absent)
	cargo run --release -p detection --example accuracy

bench: ## speed side by side with scikit-learn (creates .venv-bench from bench/requirements.txt)
	bash scripts/bench.sh

bench-functions: ## cold start, peak RSS and warm latency of detect, side by side with a Python function
	bash scripts/bench_functions.sh
