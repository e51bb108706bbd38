# The two commands a newcomer needs: `make run` (the whole stack, embedded defaults) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
VAR_DIR ?= $(CURDIR)/var
ADMIN_EMAIL ?= admin@example.org
export VAR_DIR ADMIN_EMAIL

.PHONY: install migrate seed run test test-unit test-integration test-e2e clean

$(INSTALLED): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(INSTALLED)

$(VAR_DIR)/admin_password:
	mkdir -p $(VAR_DIR)
	$(PY) -c "import secrets; print(secrets.token_urlsafe(12))" > $@

migrate: install
	$(PY) -m services.intake migrate
	$(PY) -m services.review migrate
	$(PY) -m services.notify migrate

seed: migrate
	$(PY) -m services.intake seed

run: seed $(VAR_DIR)/admin_password
	@echo ""
	@echo "  intake (apply):  http://127.0.0.1:$${INTAKE_PORT:-5001}/apply"
	@echo "  review (staff):  http://127.0.0.1:$${REVIEW_PORT:-5002}/login"
	@echo "  notify (mail):   http://127.0.0.1:$${NOTIFY_PORT:-5003}/mailbox"
	@echo "  admin login:     $(ADMIN_EMAIL) / $$(cat $(VAR_DIR)/admin_password)"
	@echo ""
	ADMIN_PASSWORD=$${ADMIN_PASSWORD:-$$(cat $(VAR_DIR)/admin_password)} PATH=$(CURDIR)/$(VENV)/bin:$$PATH \
		$(VENV)/bin/honcho -f deploy/Procfile.embedded -d $(CURDIR) start 2>&1 || true

test: install
	$(PY) -m pytest -q tests

test-unit: install
	$(PY) -m pytest -q tests/unit

test-integration: install
	$(PY) -m pytest -q tests/integration

test-e2e: install
	$(PY) -m pytest -q tests/e2e


clean:
	rm -rf $(VAR_DIR)
