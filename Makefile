# Symptom Diary: every target sets itself up (virtual environment, dependencies) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
PYBABEL := $(BIN)/pybabel
LANGS := de tr ar ru uk pl
POT ?= locales/messages.pot
CONSOLE_POT ?= locales/console.pot
CONSOLE_LANGS := de

.PHONY: run test test-overlay test-dates test-failover lint migrate bench locales locales-extract locales-update locales-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@ $(RUN_STAMP)

## run: migrate and serve (embedded PostgreSQL and a sandbox bot unless configured otherwise)
run: $(RUN_STAMP)
	$(BIN)/symptom-diary migrate
	$(BIN)/symptom-diary serve

## migrate: apply database migrations to DIARY_DATABASE_URL (or the embedded database)
migrate: $(RUN_STAMP)
	$(BIN)/symptom-diary migrate

## test: lint, layer contracts, catalogs and the whole test suite
test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m tests.debian test
	$(BIN)/pytest

## test-overlay: the test suite again, every test database partitioned by region
test-overlay: $(TEST_STAMP)
	$(BIN)/python -m tests.debian test
	TEST_POSTGRESQL_OVERLAY=1 $(BIN)/pytest -q

## test-dates: the whole suite again at four other dates (libfaketime shifts every process,
##             the embedded PostgreSQL included; installs Debian's faketime when missing);
##             ARGS="dst leap" runs some of them, ARGS="-- -k calendar" passes pytest arguments
test-dates: $(TEST_STAMP)
	$(BIN)/python -m tests.dates $(ARGS)

## test-failover: a three-member Patroni cluster loses its primary twice under load
##                (tests/test_failover.py; installs Debian's patroni, etcd and PostgreSQL 15)
test-failover: $(TEST_STAMP)
	$(BIN)/python -m tests.debian failover
	$(BIN)/pytest -q -rP -m failover tests/test_failover.py  # -rP: its figures, printed

## bench: the benchmarks (about twenty minutes; figures in the README's performance section);
##        ARGS="5." runs those whose name contains "5."
bench: $(TEST_STAMP)
	$(BIN)/python -m tests.bench $(ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

## locales: extract messages from the code and merge them into every catalog (the citizens'
##          and groups' "messages" in every language, the staff console's "console" in German)
locales: locales-extract locales-update

locales-extract: $(RUN_STAMP)
	$(PYBABEL) -q extract -F locales/babel.cfg -k N_ -k Np_:1,2 -k gettext -k ngettext:1,2 \
		--no-location --sort-output --project "Symptom Diary" \
		--copyright-holder "Symptom Diary contributors" -o $(POT) .
	$(PYBABEL) -q extract -F locales/console.cfg -k N_ -k gettext -k ngettext:1,2 \
		--no-location --sort-output --project "Symptom Diary" \
		--copyright-holder "Symptom Diary contributors" -o $(CONSOLE_POT) .

locales-update: $(RUN_STAMP)
	$(PYBABEL) update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching --ignore-obsolete
	$(PYBABEL) update -i locales/console.pot -d locales -D console --no-fuzzy-matching --ignore-obsolete

## locales-check: compile every catalog (to a scratch directory) and report completeness
locales-check: $(RUN_STAMP)
	@for lang in $(LANGS); do \
		$(PYBABEL) compile --statistics -D messages -l $$lang \
			-i locales/$$lang/LC_MESSAGES/messages.po -o /tmp/symptom-diary-$$lang.mo || exit 1; \
	done
	@for lang in $(CONSOLE_LANGS); do \
		$(PYBABEL) compile --statistics -D console -l $$lang \
			-i locales/$$lang/LC_MESSAGES/console.po -o /tmp/symptom-diary-console-$$lang.mo \
			|| exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
