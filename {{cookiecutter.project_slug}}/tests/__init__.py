{%- if cookiecutter.include_worker == "yes" -%}
"""The service's tests. Their jobs run in process: the broker is chosen when ``app.worker.broker`` is first imported,
and pytest imports this package before anything imports the service."""

import os

os.environ["BROKER_URL"] = "memory://"
{% endif -%}
