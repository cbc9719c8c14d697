# mailappliance — the two commands. Both set up what they need on a fresh Debian machine.
.PHONY: run test setup lint

run:
	@scripts/setup.sh run
	.venv/bin/python manage.py appliance

test:
	@scripts/setup.sh test
	scripts/test.sh

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy agents webadmin mailappliance mailcore
