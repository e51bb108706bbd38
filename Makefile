# The two commands a newcomer needs: `make run` (the whole stack, embedded defaults) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
VAR_DIR ?= $(CURDIR)/var
ADMIN_EMAIL ?= admin@example.org
export VAR_DIR ADMIN_EMAIL

INTAKE_I18N := services/intake/translations
INTAKE_MO := $(patsubst %.po,%.mo,$(wildcard $(INTAKE_I18N)/*/LC_MESSAGES/messages.po))

.PHONY: install migrate seed run test test-unit test-integration test-e2e test-contract clean

$(INSTALLED): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,ops,bench]'
	touch $@

install: $(INSTALLED) $(INTAKE_MO)

# umask 077: the password file and var/ are readable by this user only
$(VAR_DIR)/admin_password:
	umask 077 && mkdir -p $(VAR_DIR) && chmod 700 $(VAR_DIR)
	umask 077 && $(PY) -c "import secrets; print(secrets.token_urlsafe(16))" > $@

.PHONY: keys
# a fresh .env block with every production key (docs/security.md); the backup key last: give it to the backup
# job and keep a copy off the cluster with whoever may restore (docs/operations.md, "Back up and restore")
keys: install
	@$(PY) -m shared.keys
	@$(PY) -m shared.backup new-key

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

# pyflakes and pycodestyle's error rules (ruff's defaults), and mypy on shared/ and services/; both configured in
# pyproject.toml; .ci/run runs it
.PHONY: lint
lint: install
	$(VENV)/bin/ruff check shared services loadgen bench tests
	$(VENV)/bin/mypy

test-unit: install
	$(PY) -m pytest -q tests/unit

test-integration: install
	$(PY) -m pytest -q tests/integration

test-e2e: install
	$(PY) -m pytest -q tests/e2e

# schemathesis against each service's /openapi.json: every answer as documented, never a 5xx
test-contract: install
	$(PY) -m pytest -q tests/contract

# the whole stack, both modes, disturbed under bursts (pool children killed, Redis restarted, database
# connections cut, SMTP away): a few minutes on two cores; part of `make test`
.PHONY: test-resilience
test-resilience: install
	$(PY) -m pytest -q tests/resilience


.PHONY: demo bench
DEMO_COUNT ?= 40
# a few dozen synthetic applications into the stack `make run` started (in another terminal)
demo: install
	$(VENV)/bin/nip-load --url http://127.0.0.1:$${INTAKE_PORT:-5001} -n $(DEMO_COUNT) -c 4 --ineligible 0.15 --incomplete 0.1 --seed $$(date +%s)

# the benchmarks (not part of `make test`): a table in bench/results/latest.md; BENCH_ARGS="--burst-count 50" for a quick run
bench: install
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VAR_DIR)

# the applicants' catalogs (intake: en and fr) and the staff's (review: fr, English being the source): extract
# every _(), merge, compile (docs/operations.md)
REVIEW_I18N := services/review/translations
.PHONY: i18n
i18n: $(INSTALLED)
	$(VENV)/bin/pybabel -q extract -F services/intake/babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project nip-intake -o $(INTAKE_I18N)/messages.pot services/intake
	$(VENV)/bin/pybabel -q update --ignore-obsolete --no-fuzzy-matching -i $(INTAKE_I18N)/messages.pot -d $(INTAKE_I18N)
	$(VENV)/bin/pybabel compile --statistics -d $(INTAKE_I18N)
	$(VENV)/bin/pybabel -q extract -F services/review/babel.cfg -k _l -k lazy_gettext -k N_ --no-location \
		--sort-output --project nip-review -o $(REVIEW_I18N)/messages.pot services/review
	$(VENV)/bin/pybabel -q update --ignore-obsolete --no-fuzzy-matching -i $(REVIEW_I18N)/messages.pot -d $(REVIEW_I18N)
	$(VENV)/bin/pybabel compile --statistics -d $(REVIEW_I18N)

# a clean clone compiles its catalogs once, at install; `make i18n` after editing a .po
$(INTAKE_I18N)/%/LC_MESSAGES/messages.mo: $(INTAKE_I18N)/%/LC_MESSAGES/messages.po $(INSTALLED)
	$(VENV)/bin/pybabel -q compile -i $< -o $@
