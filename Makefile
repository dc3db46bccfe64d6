# Infirmary: `make run` starts the embedded default with demo data; `make test` runs everything.
PORT ?= 5000
HOST ?= 127.0.0.1
FLASK = .venv/bin/flask --app wsgi

.PHONY: run test setup lint
run:
	@scripts/setup.sh run
	@$(FLASK) db upgrade
	@$(FLASK) demo seed
	@echo "Infirmary on http://$(HOST):$(PORT)"
	@$(FLASK) serve --host $(HOST) --port $(PORT)

test:
	@scripts/setup.sh test
	@scripts/test.sh $(PYTEST_ARGS)

lint:
	.venv/bin/ruff check . && .venv/bin/mypy app
