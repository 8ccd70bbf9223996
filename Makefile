# 支部组织生活管理 (zhibu). `make run` to try it, `make test` to check it.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint bench e2e clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py collectstatic --noinput -v0
	@mkdir -p var/celery/queue var/celery/processed
	@echo ""
	@echo "  支部组织生活管理 已启动: http://$(HOST):$(PORT)/"
	@echo "  演示账号（密码均为 zhibu2026）:"
	@echo "    office      党委管理员（青溪镇党委）"
	@echo "    leader      党委领导（只读）"
	@echo "    instructor  党建指导员（东山村、西岭村、南塘村、幸福里社区党委）"
	@echo "    secretary   支部书记（幸福里社区第一党支部）"
	@echo "    committee   支委（幸福里社区第一党支部）"
	@echo "    groupleader 党小组长（幸福里社区第一党支部 第一党小组）"
	@echo "    member      党员（幸福里社区第一党支部）"
	@echo "    dongshan    支部书记（东山村党支部）"
	@echo "    admin       系统管理员（/admin/）"
	@echo "  Celery worker + beat 日志: var/celery.log；按 Ctrl+C 停止。"
	@echo ""
	@trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(VENV)/bin/celery -A config worker --beat --loglevel=INFO --concurrency=1 --logfile=var/celery.log & worker=$$!; \
	$(PY) manage.py runserver --noreload $(HOST):$(PORT)

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

# The benchmark prints one table of figures and their targets, measured in one run on generated data
# in a database of its own (PostgreSQL zhibu_bench_<scale> next to DATABASE_URL's, or var/bench-<scale>.sqlite3),
# made on the first run and reused; also written to bench/results.json. SCALE=M or L by hand.
SCALE ?= S
bench: $(STAMP)
	$(PY) manage.py bench --scale $(SCALE)

# Real-browser journeys (e2e/): Playwright drives Debian's chromium (no browser download) against a
# runserver on a seeded scratch database (SQLite, or PostgreSQL next to DATABASE_URL's). Screenshots: e2e-artifacts/.
E2E_STAMP := $(VENV)/.installed-e2e
$(E2E_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,e2e]'
	touch $(E2E_STAMP)

e2e: $(E2E_STAMP)
	@test -x /usr/bin/chromium || { apt-get update -q && apt-get install -y -q chromium fonts-wqy-microhei; }
	$(PY) -m pytest e2e -p no:cacheprovider

clean:
	rm -rf $(VENV) var staticfiles
